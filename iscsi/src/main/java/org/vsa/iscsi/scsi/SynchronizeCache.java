package org.vsa.iscsi.scsi;

import java.io.IOException;

/** SYNCHRONIZE CACHE(10/16) 0x35, 0x91: flushes the whole vDisk (a superset of the range asked). */
final class SynchronizeCache implements ScsiCommand {
  private final Cdb cdb;

  SynchronizeCache(Cdb cdb) {
    this.cdb = cdb;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    long lba = cdb == Cdb.TEN ? r.u32(2) : r.u64(2);
    long blocks = cdb == Cdb.TEN ? r.u16(7) : r.u32(10);
    if (!r.inRange(lba, blocks)) {
      return ScsiResult.lbaOutOfRange();
    }
    r.lu().volume().flush();
    return ScsiResult.good();
  }
}
