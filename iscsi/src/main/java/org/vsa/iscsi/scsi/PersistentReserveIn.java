package org.vsa.iscsi.scsi;

/** PERSISTENT RESERVE IN (0x5e): READ KEYS, READ RESERVATION, REPORT CAPABILITIES. */
final class PersistentReserveIn implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    int alloc = r.u16(7);
    Reservations res = r.lu().reservations();
    return switch (r.u8(1) & 0x1f) {
      case 0x00 -> ScsiResult.data(res.readKeys(), alloc);
      case 0x01 -> ScsiResult.data(res.readReservation(), alloc);
      case 0x02 -> ScsiResult.data(capabilities(), alloc);
      case 0x03 -> ScsiResult.data(res.readFullStatus(), alloc);
      default -> ScsiResult.invalidField(1);
    };
  }

  private static byte[] capabilities() {
    byte[] d = new byte[8];
    Bytes.be16(d, 0, 8);
    d[2] = 0x01; // PTPL_C: persist through power loss is supported
    d[3] = (byte) (0x80 | 0x01); // TMV, PTPL_A (always on: registrations are kept on disk)
    d[4] = (byte) (0x80 | 0x40 | 0x20 | 0x08 | 0x02); // WR_EX_AR, EX_AC_RO, WR_EX_RO, EX_AC, WR_EX
    d[5] = 0x01; // EX_AC_AR
    return d;
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
