package org.vsa.iscsi.scsi;

/** TEST UNIT READY (0x00): a vDisk is always ready. */
final class TestUnitReady implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return ScsiResult.good();
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
