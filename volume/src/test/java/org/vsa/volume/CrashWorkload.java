package org.vsa.volume;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * The writes of the crash test, regenerated identically by the child that performs them and
 * the parent that checks what survived: write i of thread t in round r is a pure function of
 * (seed, r, t, i). Each thread owns one region of the vDisk, so that its writes to a cluster
 * happen in its own program order.
 */
final class CrashWorkload {
  static final long SIZE_BYTES = 64L << 20;
  static final int THREADS = 4;
  static final long REGION_BYTES = SIZE_BYTES / THREADS;

  enum Kind { BUFFERED, DURABLE, UNMAP }

  record Op(Kind kind, long offset, int length, boolean flushAfter, long dataSeed) {
    /** The bytes this op leaves in its range (zeros for an unmap). */
    byte[] data() {
      byte[] b = new byte[length];
      if (kind != Kind.UNMAP) {
        new Random(dataSeed).nextBytes(b);
      }
      return b;
    }

    ByteBuffer buffer() {
      return ByteBuffer.wrap(data());
    }
  }

  static Op op(long seed, int round, int thread, long i) {
    Random r = new Random(((seed * 31 + round) * 31 + thread) * 1_000_003L + i);
    int len;
    int pick = r.nextInt(10);
    if (pick < 4) {
      len = 512 * (1 + r.nextInt(8));
    } else if (pick < 8) {
      len = 4096 * (1 + r.nextInt(16));
    } else {
      len = 512 * (1 + r.nextInt(128));
    }
    // a hot 1 MiB at the start of the region half of the time, so that clusters are overwritten
    long span = r.nextBoolean() ? (1 << 20) : REGION_BYTES;
    long off = thread * REGION_BYTES + 512L * r.nextInt((int) ((span - len) / 512) + 1);
    int k = r.nextInt(100);
    Kind kind = k < 80 ? Kind.BUFFERED : k < 95 ? Kind.DURABLE : Kind.UNMAP;
    return new Op(kind, off, len, r.nextInt(25) == 0, r.nextLong());
  }
}
