package org.vsa.iscsi.scsi;

/** READ CAPACITY(10) 0x25: last LBA (0xffffffff if it does not fit) and block length. */
final class ReadCapacity10 implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    boolean pmi = (r.u8(8) & 0x01) != 0;
    if (!pmi && r.u32(2) != 0) {
      return ScsiResult.invalidField(2);
    }
    long last = r.blocks() - 1;
    byte[] d = new byte[8];
    Bytes.be32(d, 0, last > 0xffffffffL ? 0xffffffffL : last);
    Bytes.be32(d, 4, r.blockSize());
    return ScsiResult.data(d);
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
