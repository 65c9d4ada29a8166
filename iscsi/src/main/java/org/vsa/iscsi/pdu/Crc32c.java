package org.vsa.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import java.util.zip.CRC32C;

/** iSCSI digests: CRC32C, sent least significant byte first (RFC 7143 section 13.1). */
final class Crc32c {
  private Crc32c() {}

  static int of(byte[] a, byte[] b, ByteBuf c, int padBytes) {
    CRC32C crc = new CRC32C();
    if (a != null) {
      crc.update(a, 0, a.length);
    }
    if (b != null) {
      crc.update(b, 0, b.length);
    }
    if (c != null) {
      crc.update(c.nioBuffer(c.readerIndex(), c.readableBytes()));
    }
    for (int i = 0; i < padBytes; i++) {
      crc.update(0);
    }
    return (int) crc.getValue();
  }
}
