package org.vsa.backends.fragment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The mark of one racer's atomic create on one store: {@code <name>.vc}, created there with the
 * store's own create-if-absent. A create of the object wins when its racer's mark is on a majority
 * of the configured stores; the token tells whose mark a store holds.
 *
 * <pre>
 *  0  magic "VCRM"          4
 *  4  version (1)           1
 *  5  reserved (0)          3
 *  8  racer token          16   random per create call
 * 24  CRC32C                4   of bytes [0, 24)
 * </pre>
 */
final class CreateMarker {
  static final int MAGIC = 0x5643524d; // "VCRM"
  static final int VERSION = 1;
  static final int TOKEN_BYTES = 16;
  static final int BYTES = 28;

  private CreateMarker() {}

  static byte[] encode(byte[] token) {
    if (token.length != TOKEN_BYTES) {
      throw new IllegalArgumentException("token must be " + TOKEN_BYTES + " bytes; got " + token.length);
    }
    ByteBuffer b = ByteBuffer.allocate(BYTES);
    b.putInt(MAGIC).put((byte) VERSION).put((byte) 0).putShort((short) 0).put(token);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 24);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  /** The token; throws a clear error for anything that is not a whole, intact mark. */
  static byte[] decode(byte[] bytes, String what) throws IOException {
    if (bytes.length != BYTES) {
      throw new IOException("create mark of " + what + ": " + bytes.length + " bytes, " + BYTES + " expected");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    if (b.getInt(0) != MAGIC) {
      throw new IOException("create mark of " + what + ": bad magic");
    }
    if ((b.get(4) & 0xff) != VERSION) {
      throw new IOException("create mark of " + what + ": unknown version " + (b.get(4) & 0xff));
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, 24);
    if ((int) crc.getValue() != b.getInt(24)) {
      throw new IOException("create mark of " + what + ": CRC32C mismatch");
    }
    byte[] token = new byte[TOKEN_BYTES];
    b.position(8);
    b.get(token);
    return token;
  }
}
