package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.vsa.volume.Durability;

/**
 * COMPARE AND WRITE (0x89), what ESXi uses for ATS locking. It holds the LU's write lock
 * exclusively, so no other write to the LU can land between its read and its write.
 */
final class CompareAndWrite implements ScsiCommand {
  /** MAXIMUM COMPARE AND WRITE LENGTH in the Block Limits VPD page. */
  static final int MAX_BLOCKS = 255;

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return 2L * r.u8(13) * r.blockSize();
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    if ((r.u8(1) >>> 5) != 0) {
      return ScsiResult.invalidField(1);
    }
    long lba = r.u64(2);
    int blocks = r.u8(13);
    if (!r.inRange(lba, blocks)) {
      return ScsiResult.lbaOutOfRange();
    }
    if (blocks == 0) {
      // 256 blocks wrap to 0 in the one-byte field: the data-out tells them apart.
      return r.expectedTransferLength() == 0 ? ScsiResult.good() : ScsiResult.invalidField(13);
    }
    int bytes = blocks * r.blockSize();
    if (r.dataOut().length != 2 * bytes || r.expectedTransferLength() != 2 * bytes) {
      return ScsiResult.invalidField(13);
    }
    boolean fua = (r.u8(1) & 0x08) != 0;
    LogicalUnit lu = r.lu();
    byte[] medium = new byte[bytes];
    lu.writeLock.writeLock().lock();
    try {
      lu.volume().read(lba * r.blockSize(), ByteBuffer.wrap(medium));
      int at = Arrays.mismatch(medium, 0, bytes, r.dataOut(), 0, bytes);
      if (at >= 0) {
        return ScsiResult.check(Sense.fixed(Sense.MISCOMPARE, Sense.MISCOMPARE_DURING_VERIFY, at));
      }
      Durability d = fua || !lu.writeCacheEnabled ? Durability.DURABLE : Durability.BUFFERED;
      lu.volume().write(lba * r.blockSize(), ByteBuffer.wrap(r.dataOut(), bytes, bytes), d);
    } finally {
      lu.writeLock.writeLock().unlock();
    }
    return ScsiResult.good();
  }
}
