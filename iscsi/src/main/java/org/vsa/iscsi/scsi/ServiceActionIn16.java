package org.vsa.iscsi.scsi;

import java.io.IOException;

/** SERVICE ACTION IN(16) 0x9e: READ CAPACITY(16) (0x10) and GET LBA STATUS (0x12). */
final class ServiceActionIn16 implements ScsiCommand {
  static final int READ_CAPACITY_16 = 0x10;
  static final int GET_LBA_STATUS = 0x12;

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    return switch (r.u8(1) & 0x1f) {
      case READ_CAPACITY_16 -> readCapacity16(r);
      case GET_LBA_STATUS -> getLbaStatus(r);
      default -> ScsiResult.invalidField(1);
    };
  }

  private static ScsiResult readCapacity16(ScsiRequest r) {
    byte[] d = new byte[32];
    Bytes.be64(d, 0, r.blocks() - 1);
    Bytes.be32(d, 8, r.blockSize());
    // Logical blocks per physical block exponent: the engine's 4 KiB clusters.
    int exp = Integer.numberOfTrailingZeros(Math.max(1, 4096 / r.blockSize()));
    d[13] = (byte) exp;
    d[14] = (byte) 0xc0; // LBPME (thin, UNMAP works) and LBPRZ (unmapped blocks read as zeros)
    return ScsiResult.data(d, (int) Math.min(r.u32(10), Integer.MAX_VALUE));
  }

  /** Reports the whole rest of the LU as one mapped extent: the seam does not tell allocation. */
  private static ScsiResult getLbaStatus(ScsiRequest r) {
    long lba = r.u64(2);
    long alloc = r.u32(10);
    if (lba < 0 || lba >= r.blocks()) {
      return ScsiResult.lbaOutOfRange();
    }
    byte[] d = new byte[24];
    Bytes.be32(d, 0, 20);
    Bytes.be64(d, 8, lba);
    Bytes.be32(d, 16, Math.min(r.blocks() - lba, 0xffffffffL));
    d[20] = 0; // mapped or unknown
    return ScsiResult.data(d, (int) Math.min(alloc, Integer.MAX_VALUE));
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
