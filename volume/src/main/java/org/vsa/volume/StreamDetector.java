package org.vsa.volume;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Tells sequential reads from random ones, so that a scan does not flush the read cache.
 *
 * <p>It remembers where the last few streams began and ended. A read that starts within
 * {@link #WINDOW} bytes of one of those ends (before or after it: with many commands in flight a
 * stream's reads arrive a little out of order) continues that stream; any other read starts a new
 * stream in the slot that was used least recently. A read is part of a scan once its stream has
 * covered {@link #SCAN_BYTES}: a few small reads in a row (a guest reading one small file) still
 * go into the cache. A heuristic shared by all readers of a vDisk: races between them only blur
 * it, they cannot make a read wrong.
 */
final class StreamDetector {
  /** How far from a stream's end a read may start and still continue it. */
  static final long WINDOW = 1 << 20;
  /** How much a stream must have covered before its reads count as a scan. */
  static final long SCAN_BYTES = 1 << 20;
  private static final int STREAMS = 8;

  private final AtomicLongArray starts = new AtomicLongArray(STREAMS);
  private final AtomicLongArray ends = new AtomicLongArray(STREAMS);
  private final AtomicLongArray used = new AtomicLongArray(STREAMS);
  private long clock;

  StreamDetector() {
    for (int i = 0; i < STREAMS; i++) {
      ends.set(i, Long.MIN_VALUE / 2);
    }
  }

  /** Records a read of {@code length} bytes at {@code offset}; true if it is part of a scan. */
  boolean sequential(long offset, long length) {
    long end = offset + length;
    long now = ++clock; // racy on purpose: only an approximate recency is needed
    int oldest = 0;
    for (int i = 0; i < STREAMS; i++) {
      long e = ends.get(i);
      if (offset >= e - WINDOW && offset <= e + WINDOW) {
        if (end > e) {
          ends.set(i, end);
          e = end;
        }
        if (now - used.get(i) > STREAMS) {
          used.set(i, now); // recency to within a few reads: spares a shared write per read
        }
        return e - starts.get(i) >= SCAN_BYTES;
      }
      if (used.get(i) < used.get(oldest)) {
        oldest = i;
      }
    }
    starts.set(oldest, offset);
    ends.set(oldest, end);
    used.set(oldest, now);
    return length >= SCAN_BYTES;
  }
}
