package org.vsa.iscsi.scsi;

/** Big-endian stores into SCSI data buffers. */
final class Bytes {
  private Bytes() {}

  static void be16(byte[] b, int o, int v) {
    b[o] = (byte) (v >>> 8);
    b[o + 1] = (byte) v;
  }

  static void be32(byte[] b, int o, long v) {
    b[o] = (byte) (v >>> 24);
    b[o + 1] = (byte) (v >>> 16);
    b[o + 2] = (byte) (v >>> 8);
    b[o + 3] = (byte) v;
  }

  static void be64(byte[] b, int o, long v) {
    be32(b, o, v >>> 32);
    be32(b, o + 4, v);
  }

  static void ascii(byte[] b, int o, int len, String s) {
    for (int i = 0; i < len; i++) {
      b[o + i] = (byte) (i < s.length() ? s.charAt(i) : ' ');
    }
  }
}
