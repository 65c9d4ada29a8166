package org.vsa.iscsi.scsi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.nio.ByteBuffer;

/** READ(6/10/12/16) 0x08, 0x28, 0xa8, 0x88. DPO and FUA need nothing: reads see every acknowledged write. */
final class Read implements ScsiCommand {
  @Override
  public Reservations.Access access() {
    return Reservations.Access.READ;
  }

  /** Largest transfer one command may ask for (advertised in the Block Limits VPD page). */
  static final int MAX_TRANSFER_BYTES = 8 << 20;

  private final Cdb cdb;

  Read(Cdb cdb) {
    this.cdb = cdb;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    if (cdb.protect(r) != 0) {
      return ScsiResult.invalidField(1);
    }
    long lba = cdb.lba(r);
    long blocks = cdb.blocks(r);
    if (!r.inRange(lba, blocks)) {
      return ScsiResult.lbaOutOfRange();
    }
    if (blocks * r.blockSize() > MAX_TRANSFER_BYTES) {
      return ScsiResult.invalidField(cdb.lengthField());
    }
    int bytes = (int) blocks * r.blockSize();
    // Only what the initiator will take (whole blocks) is read; the rest is residual overflow.
    int wanted = Math.max(0, r.expectedTransferLength());
    int readBytes = (int) Math.min(bytes, ((long) wanted + r.blockSize() - 1) / r.blockSize() * r.blockSize());
    if (readBytes == 0) {
      return new ScsiResult(ScsiResult.GOOD, new byte[0], new byte[0], bytes);
    }
    // a pooled direct buffer: the volume's pread lands in it and the socket sends it, no copies
    ByteBuf data = ByteBufAllocator.DEFAULT.directBuffer(readBytes, readBytes);
    try {
      ByteBuffer nio = data.nioBuffer(0, readBytes);
      r.lu().volume().read(lba * r.blockSize(), nio);
      data.writerIndex(readBytes);
    } catch (IOException | RuntimeException e) {
      data.release();
      throw e;
    }
    return new ScsiResult(ScsiResult.GOOD, new byte[0], new byte[0], bytes, data);
  }
}
