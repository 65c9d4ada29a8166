package org.vsa.iscsi.scsi;

/** RESERVE(6) 0x16 and RESERVE(10) 0x56: SPC-2 reservation of the whole LU by this I_T nexus. */
final class Reserve implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return r.lu().reservations().reserve(r.nexus())
        ? ScsiResult.good() : ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
