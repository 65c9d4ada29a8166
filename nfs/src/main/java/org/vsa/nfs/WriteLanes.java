package org.vsa.nfs;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One write lane per file: the file's WRITE calls run one after another, in the order they
 * arrived, so that a stream of writes to one vDisk is appended without its locks changing hands
 * between threads at every call. Measured before lanes, with fio's 64 KiB sequential writes at
 * iodepth 32: eight NFS workers writing one vDisk reached 202-415 MB/s and one worker 575-624
 * MB/s; the difference was the futex hand-offs and wake-ups of the vDisk's locks
 * (bench/README-frontends.md).
 *
 * <p>A call finding its lane idle is first offered to run right here, on the connection's
 * selector thread ({@link Write#tryHere}): a write that needs no wait (whole clusters inside a
 * vDisk with room, see {@link Namespace#writeAtOnce}) is appended and answered without any thread
 * hand-off. Any other call, or one finding its lane busy, is queued; the lane runs on a lane
 * thread then. Neither waits for a disk or the DTL on a write's behalf: the durability wait of a
 * stable WRITE is left to a worker ({@link Namespace#writeDeferred}). A queued write may wait for
 * room (the write buffer's back-pressure, the DTL's lag): then that file's writes wait, as they
 * should. A lane exists while something refers to it (weak values): an idle file costs nothing.
 *
 * <p>Memory: the calls queued in lanes hold at most {@link #QUEUED_BYTES_MAX} bytes of WRITE
 * data. A call beyond that waits for room on a worker thread, never on the selector thread; lanes
 * run on threads of their own, so a waiting call cannot take the thread a lane needs to make room.
 */
final class WriteLanes {
  private static final Logger log = LoggerFactory.getLogger(WriteLanes.class);
  static final int QUEUED_BYTES_MAX = 64 << 20;

  /** A WRITE call, as a lane runs it. */
  interface Write {
    /** Does the write here and now if it needs no wait, and answers it; false if not (nothing done). */
    boolean tryHere();

    /** Does the write, waiting for room if need be, and answers it. */
    void run();
  }

  private final Executor laneThreads;
  private final Executor workers;
  private final Cache<FileHandle, Lane> lanes = Caffeine.newBuilder().weakValues().build();
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
   * Runs {@code write} in {@code file}'s lane after the writes submitted to it before: here if the
   * lane is idle and the write needs no wait, else on a lane thread. {@code bytes}, the call's data
   * (negative if unknown), counts against the bound of queued data. Never waits.
   */
  void submit(FileHandle file, int bytes, Write write) {
    Lane lane = lanes.get(file, f -> new Lane());
    if (lane.tryHere(write)) {
      return;
    }
    int n = Math.min(Math.max(bytes, 0), QUEUED_BYTES_MAX);
    if (room.tryAcquire(n)) {
      lane.execute(released(n, write));
      return;
    }
    workers.execute(() -> {
      room.acquireUninterruptibly(n);
      lane.execute(released(n, write));
    });
  }

  private Runnable released(int n, Write write) {
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

  /**
   * A sequential executor that also runs a task on the caller's thread when it is idle.
   * {@code pending} counts the queued tasks plus the one running, so whoever takes it from 0
   * runs the lane, and whoever leaves it above 0 when done hands the rest to a lane thread.
   */
  private final class Lane {
    private final ConcurrentLinkedQueue<Runnable> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger pending = new AtomicInteger();

    boolean tryHere(Write write) {
      if (!pending.compareAndSet(0, 1)) {
        return false;
      }
      try {
        return write.tryHere();
      } catch (RuntimeException e) {
        log.warn("NFS WRITE failed on the selector thread: {}", e.toString(), e);
        return true; // answered or not, it must not run twice
      } finally {
        if (pending.decrementAndGet() > 0) {
          laneThreads.execute(this::drain);
        }
      }
    }

    void execute(Runnable task) {
      queue.add(task); // before the count: a counted task is always in the queue
      if (pending.getAndIncrement() == 0) {
        laneThreads.execute(this::drain);
      }
    }

    private void drain() {
      do {
        Runnable task = queue.poll();
        try {
          task.run();
        } catch (RuntimeException e) {
          log.warn("NFS WRITE failed in its lane: {}", e.toString(), e);
        }
      } while (pending.decrementAndGet() > 0);
    }
  }
}
