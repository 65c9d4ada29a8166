package org.vsa.iscsi.scsi;

/** PREVENT ALLOW MEDIUM REMOVAL (0x1e): the medium is not removable; PREVENT values 0..1 accepted. */
final class PreventAllowMediumRemoval implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return ScsiResult.good();
  }
}
