package org.vsa.iscsi.scsi;

/**
 * PRE-FETCH(10/16) 0x34, 0x90: the read cache fills on reads by its own policy, so there is
 * nothing to do but check the range; GOOD says the blocks were not promised to stay cached.
 */
final class PreFetch implements ScsiCommand {
  private final Cdb cdb;

  PreFetch(Cdb cdb) {
    this.cdb = cdb;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) {
    long lba = cdb == Cdb.TEN ? r.u32(2) : r.u64(2);
    long blocks = cdb == Cdb.TEN ? r.u16(7) : r.u32(10);
    return r.inRange(lba, blocks) ? ScsiResult.good() : ScsiResult.lbaOutOfRange();
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.READ;
  }
}
