package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * VERIFY(10/12/16) 0x2f, 0xaf, 0x8f. BYTCHK 0: every block is readable (CRC-checked on read), so
 * only the range is checked; BYTCHK 1: compares the data-out with the medium.
 */
final class Verify implements ScsiCommand {
  @Override
  public Reservations.Access access() {
    return Reservations.Access.READ;
  }

  private final Cdb cdb;

  Verify(Cdb cdb) {
    this.cdb = cdb;
  }

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return ((r.u8(1) >>> 1) & 0x03) == 1 ? cdb.blocks(r) * r.blockSize() : -1;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    if (cdb.protect(r) != 0) {
      return ScsiResult.invalidField(1);
    }
    int bytchk = (r.u8(1) >>> 1) & 0x03;
    if (bytchk == 2 || bytchk == 3) {
      return ScsiResult.invalidField(1);
    }
    long lba = cdb.lba(r);
    long blocks = cdb.blocks(r);
    if (!r.inRange(lba, blocks)) {
      return ScsiResult.lbaOutOfRange();
    }
    if (bytchk == 0 || blocks == 0) {
      return ScsiResult.good();
    }
    if (blocks * r.blockSize() > Read.MAX_TRANSFER_BYTES) {
      return ScsiResult.invalidField(cdb.lengthField());
    }
    int bytes = (int) blocks * r.blockSize();
    if (r.dataOut().length < bytes) {
      return ScsiResult.invalidField(cdb.lengthField());
    }
    byte[] medium = new byte[bytes];
    r.lu().volume().read(lba * r.blockSize(), ByteBuffer.wrap(medium));
    int at = java.util.Arrays.mismatch(medium, 0, bytes, r.dataOut(), 0, bytes);
    if (at >= 0) {
      return ScsiResult.check(Sense.fixed(Sense.MISCOMPARE, Sense.MISCOMPARE_DURING_VERIFY, at));
    }
    return ScsiResult.good();
  }
}
