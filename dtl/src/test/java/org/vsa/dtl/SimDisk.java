package org.vsa.dtl;

import java.nio.ByteBuffer;
import java.util.Random;

/**
 * A simulated log file: appended bytes are volatile until synced; a crash keeps the synced bytes
 * and a random prefix of the rest, whose last bytes may be garbage (a torn write). Compaction is
 * an atomic replace, as the real store's rename is.
 */
final class SimDisk {
  private byte[] buf = new byte[4096];
  private int size;
  private int synced;

  void append(ByteBuffer b) {
    int n = b.remaining();
    ensure(size + n);
    b.duplicate().get(buf, size, n);
    size += n;
  }

  void sync() {
    synced = size;
  }

  int size() {
    return size;
  }

  void truncate(long n) {
    size = (int) Math.min(size, n);
    synced = Math.min(synced, size);
  }

  void crash(Random rnd) {
    int keep = synced + (size > synced ? rnd.nextInt(size - synced + 1) : 0);
    if (keep > synced && rnd.nextInt(3) == 0) {
      int at = synced + rnd.nextInt(keep - synced);
      buf[at] ^= (byte) (1 + rnd.nextInt(255)); // the torn part of the last write
    }
    size = keep;
    synced = keep;
  }

  ByteBuffer contents() {
    return ByteBuffer.wrap(buf, 0, size).slice();
  }

  ByteBuffer read(long offset, int length) {
    return ByteBuffer.wrap(buf, (int) offset, length).slice();
  }

  void compact(ServerLog.Compact c) {
    int total = c.prefix().remaining();
    for (int l : c.lengths()) {
      total += l;
    }
    byte[] n = new byte[Math.max(4096, total)];
    ByteBuffer out = ByteBuffer.wrap(n);
    out.put(c.prefix().duplicate());
    for (int i = 0; i < c.offsets().length; i++) {
      out.put(buf, (int) c.offsets()[i], c.lengths()[i]);
    }
    buf = n;
    size = total;
    synced = total;
  }

  private void ensure(int n) {
    if (n > buf.length) {
      byte[] b = new byte[Math.max(n, buf.length * 2)];
      System.arraycopy(buf, 0, b, 0, size);
      buf = b;
    }
  }
}
