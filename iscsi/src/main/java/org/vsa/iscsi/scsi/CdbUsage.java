package org.vsa.iscsi.scsi;

/** CDB usage bitmaps for REPORT SUPPORTED OPERATION CODES: which bits of each CDB byte a handler looks at. */
final class CdbUsage {
  private CdbUsage() {}

  static int length(int opcode) {
    int group = opcode >>> 5;
    return switch (group) {
      case 0 -> 6;
      case 1, 2 -> 10;
      case 4 -> 16;
      case 5 -> 12;
      default -> 16;
    };
  }

  static byte[] of(int opcode, int serviceAction) {
    byte[] u = new byte[length(opcode)];
    u[0] = (byte) opcode;
    for (int i = 1; i < u.length - 1; i++) {
      u[i] = (byte) 0xff;
    }
    u[u.length - 1] = 0x07; // CONTROL: NACA and link bits are not used
    if (serviceAction >= 0) {
      u[1] = (byte) (serviceAction & 0x1f);
    }
    return u;
  }
}
