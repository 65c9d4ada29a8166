package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.UUID;

/**
 * The SCO (Storage Container Object) format: a vDisk's written clusters, appended in the order
 * they were written.
 *
 * <pre>
 * header, 4096 bytes (one cluster, so that data slots stay 4 KiB aligned):
 *   0  u32  magic 'VSCO'
 *   4  u16  version (1)
 *   6  u16  reserved, 0
 *   8  u64  vDisk id, most significant bits
 *   16 u64  vDisk id, least significant bits
 *   24 u64  SCO number
 *   32 u32  cluster size (4096)
 *   36 u32  CRC32C of bytes 0..35
 *   40 ..   zeros
 * slot i: 4096 bytes at 4096 + i * 4096.
 * </pre>
 * A slot's record checksum lives in the TLog record that points at it (TLog.WRITE's data CRC),
 * so that a partial read of one slot from the backend can be checked without the rest.
 * Version history: 1 (this one).
 */
public final class Sco {
  private Sco() {}

  public static final int MAGIC = 0x5653434F; // 'VSCO'
  public static final short VERSION = 1;

  public static ByteBuffer header(UUID volumeId, long scoNumber) {
    ByteBuffer b = ByteBuffer.allocate(Layout.SCO_HEADER_BYTES);
    b.putInt(MAGIC).putShort(VERSION).putShort((short) 0);
    b.putLong(volumeId.getMostSignificantBits()).putLong(volumeId.getLeastSignificantBits());
    b.putLong(scoNumber).putInt(Layout.CLUSTER_BYTES);
    b.putInt(36, Layout.crc32c(b.array(), 0, 36));
    b.clear();
    return b;
  }

  public static void checkHeader(ByteBuffer h, Path file, UUID volumeId, long scoNumber) throws IOException {
    if (h.limit() < 40 || h.getInt(0) != MAGIC) {
      throw new IOException(file + ": not a SCO (bad magic)");
    }
    if (h.getInt(36) != Layout.crc32c(h.array(), 0, 36)) {
      throw new IOException(file + ": SCO header checksum mismatch");
    }
    if (h.getShort(4) != VERSION) {
      throw new IOException(file + ": SCO version " + h.getShort(4) + " is not supported (this build reads " + VERSION + ")");
    }
    UUID id = new UUID(h.getLong(8), h.getLong(16));
    if (!id.equals(volumeId) || h.getLong(24) != scoNumber) {
      throw new IOException(file + ": SCO belongs to vDisk " + id + " number " + h.getLong(24)
          + ", expected " + volumeId + " number " + scoNumber);
    }
  }
}
