package org.vsa.nfs;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.common.util.concurrent.MoreExecutors;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;

/**
 * One write lane per file: the file's WRITE calls run one after another, in the order they
 * arrived, on one lane thread at a time (Guava's sequential executor over the lane threads), so
 * that a stream of writes to one vDisk is appended without its locks changing hands between
 * threads at every call. Measured before lanes, with fio's 64 KiB sequential writes at iodepth
 * 32: eight NFS workers writing one vDisk reached 202-415 MB/s and one worker 575-624 MB/s; the
 * difference was the futex hand-offs and wake-ups of the vDisk's append lock (bench/README-frontends.md).
 *
 * <p>A lane thread never waits for a disk or the DTL on a write's behalf: the durability wait of
 * a stable WRITE is left to a worker ({@link Namespace#writeDeferred}). It may wait for room
 * (the write buffer's back-pressure, the DTL's lag): then that file's writes wait, as they should.
 * A lane exists while something refers to it (weak values): an idle file costs nothing.
 *
 * <p>Memory: the calls queued in lanes hold at most {@link #QUEUED_BYTES_MAX} bytes of WRITE
 * data. A call beyond that waits for room on a worker thread, never on the selector thread, and
 * lanes run on threads of their own, so a waiting call cannot take the thread a lane needs to
 * make the room.
 */
final class WriteLanes {
  static final int QUEUED_BYTES_MAX = 64 << 20;

  private final Executor laneThreads;
  private final Executor workers;
  private final Cache<FileHandle, Executor> lanes = Caffeine.newBuilder().weakValues().build();
  private final Semaphore room = new Semaphore(QUEUED_BYTES_MAX);

  /**
   * @param laneThreads runs the lanes; must not be used for anything that can wait for room
   * @param workers where a call waits for room when the lanes hold {@link #QUEUED_BYTES_MAX}
   */
  WriteLanes(Executor laneThreads, Executor workers) {
    this.laneThreads = laneThreads;
    this.workers = workers;
  }

  /**
   * Runs {@code write} in {@code file}'s lane after the writes submitted to it before; counts
   * {@code bytes} (the call's data, negative if unknown) against the queued bound. Never blocks.
   */
  void submit(FileHandle file, int bytes, Runnable write) {
    int n = Math.min(Math.max(bytes, 0), QUEUED_BYTES_MAX);
    if (room.tryAcquire(n)) {
      lane(file).execute(released(n, write));
      return;
    }
    workers.execute(() -> {
      room.acquireUninterruptibly(n);
      lane(file).execute(released(n, write));
    });
  }

  private Executor lane(FileHandle file) {
    return lanes.get(file, f -> MoreExecutors.newSequentialExecutor(laneThreads));
  }

  private Runnable released(int n, Runnable write) {
    return () -> {
      try {
        write.run();
      } finally {
        room.release(n);
      }
    };
  }

  /** Bytes of WRITE data queued in lanes now (tests). */
  int queuedBytes() {
    return QUEUED_BYTES_MAX - room.availablePermits();
  }
}
