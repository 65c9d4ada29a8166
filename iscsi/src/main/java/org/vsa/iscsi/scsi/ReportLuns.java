package org.vsa.iscsi.scsi;

import java.util.List;

/** REPORT LUNS (0xa0): the target's LUNs, peripheral addressing below 256, flat above. */
final class ReportLuns implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    int select = r.u8(2);
    if (select > 2 && select != 0x10 && select != 0x11 && select != 0x12) {
      return ScsiResult.invalidField(2);
    }
    long alloc = r.u32(6);
    if (alloc < 16) {
      return ScsiResult.invalidField(6);
    }
    List<Integer> luns = select == 0x01 ? List.of() : r.luns();
    byte[] d = new byte[8 + 8 * luns.size()];
    int len = 8 * luns.size();
    d[0] = (byte) (len >>> 24);
    d[1] = (byte) (len >>> 16);
    d[2] = (byte) (len >>> 8);
    d[3] = (byte) len;
    int off = 8;
    for (int lun : luns) {
      d[off] = (byte) (lun < 256 ? 0 : 0x40 | (lun >>> 8));
      d[off + 1] = (byte) lun;
      off += 8;
    }
    return ScsiResult.data(d, (int) Math.min(alloc, Integer.MAX_VALUE));
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
