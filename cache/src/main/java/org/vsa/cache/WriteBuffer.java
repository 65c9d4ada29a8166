package org.vsa.cache;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Space accounting and throttling of the write buffer: the directory on local flash that holds
 * open and not-yet-uploaded SCOs and TLogs.
 *
 * <p>The contract: when the backend is slow the buffer fills, and writes are never failed and
 * never lost; they are first slowed, then held.
 * <ul>
 *   <li>Below {@code slowDownFraction} of capacity, {@link #admit} returns at once.
 *   <li>From there up to capacity, each admit first sleeps a delay growing linearly from 0 to
 *       {@code delayNanosMax} with the fill level, so writers slow down smoothly and the
 *       uploader can catch up before anyone has to stop.
 *   <li>At or above capacity, admit blocks until {@link #release} brings usage below capacity,
 *       logging a WARN at most once per 10 s while writers are held.
 * </ul>
 *
 * <p><b>Bound on overshoot.</b> The check against capacity and the accounting are not one atomic
 * step (the hot path takes no lock), so usage may exceed capacity by at most the bytes of the
 * writers admitted concurrently: those that passed the capacity check and had not yet been
 * accounted, i.e. at most (writer threads) x (largest single admit). {@link #account} is not
 * bounded at all: recovery accounts whatever it finds, and writers then hold until releases bring
 * usage below capacity.
 *
 * <p>An interrupted admit throws InterruptedException and leaves the accounting unchanged.
 */
public final class WriteBuffer {
  private static final Logger log = LoggerFactory.getLogger(WriteBuffer.class);

  public static final double SLOW_DOWN_FRACTION_DEFAULT = 0.75;
  public static final long DELAY_NANOS_MAX_DEFAULT = TimeUnit.MILLISECONDS.toNanos(2);
  static final long WARN_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
  private static final Pattern NAMESPACE = Pattern.compile("[A-Za-z0-9._-]{1,200}");

  private final Path dir;
  private final long capacityBytes;
  private final long slowDownBytes;
  private final long delayNanosMax;

  private final AtomicLong usedBytes = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition belowCapacity = lock.newCondition();
  /** Writers waiting in {@link #hold}; written under {@link #lock}, read without it. */
  private volatile int heldWriters;
  /** Guarded by {@link #lock}. */
  private long lastWarnNanos;

  private final LongAdder throttledCount = new LongAdder();
  private final LongAdder heldCount = new LongAdder();
  private final LongAdder delayNanosTotal = new LongAdder();

  public WriteBuffer(Path dir, long capacityBytes) {
    this(dir, capacityBytes, SLOW_DOWN_FRACTION_DEFAULT, DELAY_NANOS_MAX_DEFAULT);
  }

  /**
   * Creates {@code dir} if needed (UncheckedIOException if it cannot).
   *
   * @param slowDownFraction fill level in [0, 1] where the delay starts
   * @param delayNanosMax delay of an admit just below capacity; 0 disables the slow band
   */
  public WriteBuffer(Path dir, long capacityBytes, double slowDownFraction, long delayNanosMax) {
    Objects.requireNonNull(dir, "dir");
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("write buffer capacityBytes must be > 0; got " + capacityBytes);
    }
    if (!(slowDownFraction >= 0 && slowDownFraction <= 1)) { // also rejects NaN
      throw new IllegalArgumentException("write buffer slowDownFraction must be in [0, 1]; got " + slowDownFraction);
    }
    if (delayNanosMax < 0) {
      throw new IllegalArgumentException("write buffer delayNanosMax must be >= 0; got " + delayNanosMax);
    }
    this.dir = dir;
    this.capacityBytes = capacityBytes;
    this.slowDownBytes = (long) (capacityBytes * slowDownFraction);
    this.delayNanosMax = delayNanosMax;
    this.lastWarnNanos = System.nanoTime() - WARN_INTERVAL_NANOS; // the first hold warns
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create write buffer directory " + dir + ": " + e, e);
    }
  }

  public Path dir() {
    return dir;
  }

  /** {@code dir/namespace}, created if needed. */
  public Path directoryFor(String namespace) throws IOException {
    if (namespace == null || !NAMESPACE.matcher(namespace).matches() || namespace.equals(".") || namespace.equals("..")) {
      throw new IllegalArgumentException("write buffer namespace must match [A-Za-z0-9._-]{1,200} and not be '.' or '..'; got "
          + (namespace == null ? "null" : "'" + namespace + "'"));
    }
    return Files.createDirectories(dir.resolve(namespace));
  }

  /**
   * Call before appending {@code bytes} to the buffer: holds while the buffer is full, slows down
   * in the slow band, then accounts the bytes as used.
   */
  public void admit(long bytes) throws InterruptedException {
    checkBytes(bytes);
    if (Thread.interrupted()) {
      throw new InterruptedException("write buffer admit of " + bytes + " bytes interrupted");
    }
    if (usedBytes.get() >= capacityBytes) {
      hold();
    }
    long delayNanos = delayNanosFor(usedBytes.get());
    if (delayNanos > 0) {
      slowDown(delayNanos);
    }
    usedBytes.addAndGet(bytes);
  }

  /** Whether {@link #admit} of {@code bytes} would return now, neither held nor slowed down (a hint). */
  public boolean admitsAtOnce(long bytes) {
    long used = usedBytes.get();
    return used + bytes < capacityBytes && delayNanosFor(used + bytes) == 0;
  }

  /** Accounts bytes without throttling: recovery finding existing SCOs and TLogs. */
  public void account(long bytes) {
    checkBytes(bytes);
    usedBytes.addAndGet(bytes);
  }

  /** A SCO or TLog left the buffer (uploaded, or deleted); wakes held writers. */
  public void release(long bytes) {
    checkBytes(bytes);
    long used;
    long left;
    do { // bounded in practice: retries only when another thread changed usage meanwhile
      used = usedBytes.get();
      left = used - bytes;
      if (left < 0) {
        // Always on: a release of bytes never accounted is an accounting bug; stop rather than
        // let usage drift negative and the buffer overfill silently.
        throw new IllegalStateException("write buffer release of " + bytes + " bytes but only " + used + " are used");
      }
    } while (!usedBytes.compareAndSet(used, left));
    // Read after the update: a writer increments heldWriters before re-checking usage, so either
    // it sees our release or we see it waiting (both are sequentially consistent accesses).
    if (heldWriters > 0 && left < capacityBytes) {
      lock.lock();
      try {
        belowCapacity.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  public long usedBytes() {
    return usedBytes.get();
  }

  public long capacityBytes() {
    return capacityBytes;
  }

  /** Admits that were slowed down. */
  public long throttledCount() {
    return throttledCount.sum();
  }

  /** Admits that were held at capacity. */
  public long heldCount() {
    return heldCount.sum();
  }

  /** Time writers spent slowed down (not held), measured. */
  public long delayNanosTotal() {
    return delayNanosTotal.sum();
  }

  /** Some writer is held right now. */
  public boolean isHolding() {
    return heldWriters > 0;
  }

  @Override
  public String toString() {
    return "WriteBuffer[" + dir + ", " + usedBytes.get() + " of " + capacityBytes + " bytes used]";
  }

  /** The policy: 0 below the slow band, then linear up to delayNanosMax at capacity. */
  long delayNanosFor(long used) {
    if (used < slowDownBytes || delayNanosMax == 0) {
      return 0;
    }
    if (used >= capacityBytes) {
      return delayNanosMax;
    }
    double fill = (double) (used - slowDownBytes) / (capacityBytes - slowDownBytes);
    return (long) (delayNanosMax * fill);
  }

  private static void checkBytes(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("write buffer bytes must be >= 0; got " + bytes);
    }
  }

  private void slowDown(long delayNanos) throws InterruptedException {
    throttledCount.increment();
    long startNanos = System.nanoTime();
    long deadlineNanos = startNanos + delayNanos;
    try {
      // Bounded by the deadline; parkNanos may return early (spuriously or on interrupt).
      for (long leftNanos = delayNanos; leftNanos > 0; leftNanos = deadlineNanos - System.nanoTime()) {
        LockSupport.parkNanos(this, leftNanos);
        if (Thread.interrupted()) {
          throw new InterruptedException("write buffer admit interrupted while slowed down");
        }
      }
    } finally {
      delayNanosTotal.add(System.nanoTime() - startNanos);
    }
  }

  private void hold() throws InterruptedException {
    lock.lockInterruptibly();
    try {
      heldCount.increment(); // before heldWriters, so that whoever sees isHolding() sees the count
      heldWriters++;
      try {
        // Not bounded in time, by contract: a held write waits for the uploader, it never fails.
        // The timed wait only lets a held writer repeat the WARN while the hold lasts.
        while (usedBytes.get() >= capacityBytes) {
          warnRateLimited();
          belowCapacity.awaitNanos(WARN_INTERVAL_NANOS);
        }
      } finally {
        heldWriters--;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Called under {@link #lock}. */
  private void warnRateLimited() {
    long now = System.nanoTime();
    if (now - lastWarnNanos < WARN_INTERVAL_NANOS) {
      return;
    }
    lastWarnNanos = now;
    log.warn("write buffer {} full ({} of {} bytes used): {} writers held until SCOs and TLogs are uploaded"
        + " to the backend", dir, usedBytes.get(), capacityBytes, heldWriters);
  }
}
