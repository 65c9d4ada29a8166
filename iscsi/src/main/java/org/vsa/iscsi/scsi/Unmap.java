package org.vsa.iscsi.scsi;

import java.io.IOException;

/** UNMAP (0x42): deallocates each block descriptor's range; unmapped blocks read as zeros. */
final class Unmap implements ScsiCommand {
  static final int MAX_DESCRIPTORS = 256;
  static final long MAX_BLOCKS = 0xffffffffL;

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return r.u16(7);
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    if ((r.u8(1) & 0x01) != 0) {
      return ScsiResult.invalidField(1); // ANCHOR: anchored blocks are not supported
    }
    int paramLen = r.u16(7);
    if (paramLen == 0) {
      return ScsiResult.good();
    }
    byte[] p = r.dataOut();
    if (paramLen < 8 || p.length < 8) {
      return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    int descLen = ((p[2] & 0xff) << 8) | (p[3] & 0xff);
    int avail = Math.min(Math.min(paramLen, p.length) - 8, descLen) / 16;
    if (avail > MAX_DESCRIPTORS) {
      return ScsiResult.illegal(Sense.INVALID_FIELD_IN_PARAMETER_LIST);
    }
    long blocksTotal = r.blocks();
    for (int i = 0; i < avail; i++) {
      int o = 8 + 16 * i;
      long lba = be64(p, o);
      long n = be32(p, o + 8);
      if (lba < 0 || lba > blocksTotal || n > blocksTotal - lba) {
        return ScsiResult.lbaOutOfRange();
      }
    }
    for (int i = 0; i < avail; i++) {
      int o = 8 + 16 * i;
      long lba = be64(p, o);
      long n = be32(p, o + 8);
      if (n > 0) {
        Write.unmap(r.lu(), lba * r.blockSize(), n * r.blockSize());
      }
    }
    return ScsiResult.good();
  }

  static long be32(byte[] b, int o) {
    return ((b[o] & 0xffL) << 24) | ((b[o + 1] & 0xffL) << 16) | ((b[o + 2] & 0xffL) << 8) | (b[o + 3] & 0xffL);
  }

  static long be64(byte[] b, int o) {
    return (be32(b, o) << 32) | be32(b, o + 4);
  }
}
