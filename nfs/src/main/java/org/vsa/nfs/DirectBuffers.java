package org.vsa.nfs;

import java.nio.ByteBuffer;
import java.util.concurrent.ArrayBlockingQueue;

/**
 * Pooled direct buffers for READ replies and WRITE data, reused once their reply is sent (READ) or
 * the write returned (WRITE). Direct, so that neither the file or vDisk read or write nor the
 * socket write bounces the data through a temporary direct buffer of the JDK; pooled, because a
 * fresh direct buffer is dear to allocate and free. Sizes are powers of two from 4 KiB to
 * {@link Nfs3Program#RTMAX} (= wtmax); at most about {@link #POOLED_BYTES_MAX} stay pooled, a
 * buffer beyond that (or one never given back, as when the client left) is left to the GC.
 */
final class DirectBuffers {
  static final int MIN_BYTES = 4096;
  static final long POOLED_BYTES_MAX = 64L << 20;

  private final ArrayBlockingQueue<ByteBuffer>[] free;

  @SuppressWarnings("unchecked")
  DirectBuffers() {
    int classes = Integer.numberOfTrailingZeros(Nfs3Program.RTMAX / MIN_BYTES) + 1;
    free = new ArrayBlockingQueue[classes];
    for (int c = 0; c < classes; c++) {
      free[c] = new ArrayBlockingQueue<>((int) Math.max(2, Math.min(256, POOLED_BYTES_MAX / classes / sizeOf(c))));
    }
  }

  private static int sizeOf(int sizeClass) {
    return MIN_BYTES << sizeClass;
  }

  private static int classOf(int bytes) {
    int c = 0;
    while (sizeOf(c) < bytes) {
      c++;
    }
    return c;
  }

  /** A buffer with position 0 and limit {@code bytes} (at most rtmax). */
  ByteBuffer take(int bytes) {
    int c = classOf(Math.max(bytes, 1));
    ByteBuffer b = free[c].poll();
    if (b == null) {
      b = ByteBuffer.allocateDirect(sizeOf(c));
    }
    b.clear().limit(bytes);
    return b;
  }

  /** Gives back a buffer from {@link #take} that nothing refers to any more. */
  void give(ByteBuffer b) {
    if (b.isDirect() && Integer.bitCount(b.capacity()) == 1 && b.capacity() >= MIN_BYTES
        && b.capacity() <= Nfs3Program.RTMAX) {
      free[classOf(b.capacity())].offer(b);
    }
  }
}
