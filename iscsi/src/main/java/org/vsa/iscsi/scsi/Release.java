package org.vsa.iscsi.scsi;

/** RELEASE(6) 0x17 and RELEASE(10) 0x57: releasing another nexus's reservation is a no-op (SPC-2). */
final class Release implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return r.lu().reservations().release(r.nexus())
        ? ScsiResult.good() : ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
