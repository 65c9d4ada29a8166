package org.vsa.iscsi.scsi;

/** START STOP UNIT (0x1b): a vDisk has no medium to stop or eject; accepted and ignored. */
final class StartStopUnit implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return ScsiResult.good();
  }
}
