package org.vsa.nfs;

import java.nio.ByteBuffer;

/**
 * NFS file handles: {@code [version 1][namespace id, 8 bytes][file id, 8 bytes]}, 17 bytes (≤ 56,
 * fits MOUNT v1's 32 when zero-padded). Both ids survive restarts and file ids are never reused, so
 * a handle stays valid as long as its file exists and is STALE afterwards.
 */
public record FileHandle(long namespaceId, long fileId) {
  static final byte VERSION = 1;
  public static final int BYTES = 17;

  public byte[] encode() {
    return ByteBuffer.allocate(BYTES).put(VERSION).putLong(namespaceId).putLong(fileId).array();
  }

  /** Decodes a handle; null if it is not one of ours (BADHANDLE). Trailing zero padding is accepted. */
  public static FileHandle decode(byte[] b) {
    if (b == null || b.length < BYTES || b.length > 64 || b[0] != VERSION) {
      return null;
    }
    for (int i = BYTES; i < b.length; i++) {
      if (b[i] != 0) {
        return null;
      }
    }
    ByteBuffer w = ByteBuffer.wrap(b, 1, BYTES - 1);
    return new FileHandle(w.getLong(), w.getLong());
  }
}
