package org.vsa.volume;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Puts sealed SCOs and their TLogs to the backend in the background. A failed put is retried
 * with a growing backoff (up to 10 s) for as long as it takes: the SCO stays in the write buffer
 * meanwhile, and a full write buffer holds writers rather than dropping data.
 */
final class Uploader implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Uploader.class);
  private static final long BACKOFF_MAX_MILLIS = 10_000;

  private final ExecutorService pool;
  private final AtomicInteger pending = new AtomicInteger();
  final LongAdder uploaded = new LongAdder();
  final LongAdder failures = new LongAdder();
  /** Upload attempts held back because the vDisk's ownership lease did not hold (retried). */
  final LongAdder leaseWaits = new LongAdder();
  private volatile boolean closed;

  Uploader(int threads) {
    AtomicInteger n = new AtomicInteger();
    pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "upload-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  void submit(LocalVolume volume, long scoNumber) {
    if (closed) {
      return; // stopping: the SCO stays in the write buffer and is queued again at the next start
    }
    pending.incrementAndGet();
    try {
      pool.execute(() -> {
        try {
          upload(volume, scoNumber);
        } finally {
          pending.decrementAndGet();
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      pending.decrementAndGet(); // closed meanwhile: as above
    }
  }

  /** SCOs queued or being uploaded. */
  int pending() {
    return pending.get();
  }

  private void upload(LocalVolume volume, long scoNumber) {
    long backoffMillis = 100;
    for (int attempt = 1; !closed && !volume.isClosed(); attempt++) {
      try {
        volume.uploadSco(scoNumber);
        uploaded.increment();
        return;
      } catch (VolumeFencedException e) {
        if (volume.isFenced()) {
          log.warn("vDisk {}: SCO {} is not uploaded: {}", volume.name(), scoNumber, e.getMessage());
          return; // for good: another node owns the vDisk
        }
        leaseWaits.increment();
        if (attempt == 1) {
          log.warn("vDisk {}: SCO {} waits for the ownership lease to be renewed: {}", volume.name(), scoNumber,
              e.getMessage());
        }
        if (!sleep(backoffMillis)) {
          return;
        }
        backoffMillis = Math.min(BACKOFF_MAX_MILLIS, backoffMillis * 2);
      } catch (Exception e) {
        if (closed || volume.isClosed()) {
          return; // stopping: the SCO stays in the write buffer and is queued again at the next start
        }
        failures.increment();
        log.warn("vDisk {}: upload of SCO {} failed (attempt {}), retrying in {} ms: {}",
            volume.name(), scoNumber, attempt, backoffMillis, e.toString());
        try {
          Thread.sleep(backoffMillis);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return;
        }
        backoffMillis = Math.min(BACKOFF_MAX_MILLIS, backoffMillis * 2);
      }
    }
  }

  private static boolean sleep(long millis) {
    try {
      Thread.sleep(millis);
      return true;
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  @Override
  public void close() throws InterruptedException {
    closed = true;
    pool.shutdownNow();
    pool.awaitTermination(30, TimeUnit.SECONDS);
  }
}
