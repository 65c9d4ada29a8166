package org.vsa.backends.fragment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The record of a delete that some store missed (it was down or failed): {@code <name>.vt}, put on
 * the stores that took the delete. Its version is above every manifest version the deleted object
 * had, so a manifest older than it, found later on a store that comes back, is of a deleted object:
 * reads treat the object as gone, and repair removes it from that store, then the record.
 *
 * <pre>
 *  0  magic "VTMB"          4
 *  4  version (1)           1
 *  5  reserved (0)          3
 *  8  delete version        8   from the same clock as the manifests' versions
 * 16  CRC32C                4   of bytes [0, 16)
 * </pre>
 */
final class Tombstone {
  static final int MAGIC = 0x56544d42; // "VTMB"
  static final int VERSION = 1;
  static final int BYTES = 20;

  private Tombstone() {}

  static byte[] encode(long deleteVersion) {
    ByteBuffer b = ByteBuffer.allocate(BYTES);
    b.putInt(MAGIC).put((byte) VERSION).put((byte) 0).putShort((short) 0).putLong(deleteVersion);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 16);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** The delete version; throws a clear error for anything that is not a whole, intact record. */
  static long decode(byte[] bytes, String what) throws IOException {
    if (bytes.length != BYTES) {
      throw new IOException("delete record of " + what + ": " + bytes.length + " bytes, " + BYTES + " expected");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    if (b.getInt(0) != MAGIC) {
      throw new IOException("delete record of " + what + ": bad magic");
    }
    if ((b.get(4) & 0xff) != VERSION) {
      throw new IOException("delete record of " + what + ": unknown version " + (b.get(4) & 0xff));
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, 16);
    if ((int) crc.getValue() != b.getInt(16)) {
      throw new IOException("delete record of " + what + ": CRC32C mismatch");
    }
    return b.getLong(8);
  }
}
