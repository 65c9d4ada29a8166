package org.vsa.iscsi.scsi;

/** TEST UNIT READY (0x00): a vDisk is ready unless it is offline (NOT READY, manual intervention required). */
final class TestUnitReady implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    if (!r.lu().volume().ready()) {
      return ScsiResult.check(Sense.NOT_READY, Sense.LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED);
    }
    return ScsiResult.good();
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
