package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vsa.volume.Durability;

/**
 * WRITE SAME(10/16) 0x41, 0x93. With UNMAP set and a zero block (or NDOB) the range is unmapped
 * (it reads as zeros afterwards, LBPRZ); otherwise the block is written over the range in chunks.
 */
final class WriteSame implements ScsiCommand {
  /** MAXIMUM WRITE SAME LENGTH (Block Limits VPD page): what one WRITE could carry, too. */
  static long maxBlocks(int blockSize) {
    return Read.MAX_TRANSFER_BYTES / blockSize;
  }
  private static final int CHUNK_BYTES = 1 << 20;

  private final Cdb cdb;

  WriteSame(Cdb cdb) {
    this.cdb = cdb;
  }

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return r.u8(0) == 0x93 && (r.u8(1) & 0x01) != 0 ? 0 : r.blockSize();
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    int flags = r.u8(1);
    if ((flags >>> 5) != 0) {
      return ScsiResult.invalidField(1);
    }
    boolean unmap = (flags & 0x08) != 0;
    boolean anchor = (flags & 0x10) != 0;
    boolean ndob = cdb == Cdb.SIXTEEN && (flags & 0x01) != 0;
    if (anchor || (ndob && !unmap)) {
      return ScsiResult.invalidField(1);
    }
    long lba = cdb == Cdb.TEN ? r.u32(2) : r.u64(2);
    long blocks = cdb == Cdb.TEN ? r.u16(7) : r.u32(10);
    if (!r.inRange(lba, blocks)) {
      return ScsiResult.lbaOutOfRange();
    }
    if (blocks == 0) {
      // WSNZ = 0 would mean "to the end of the medium"; we advertise WSNZ = 1.
      return ScsiResult.invalidField(cdb == Cdb.TEN ? 7 : 10);
    }
    if (blocks > maxBlocks(r.blockSize())) {
      return ScsiResult.invalidField(cdb == Cdb.TEN ? 7 : 10);
    }
    int bs = r.blockSize();
    byte[] block = new byte[bs];
    if (!ndob) {
      if (r.dataOut().length != bs || r.expectedTransferLength() != bs) {
        return ScsiResult.invalidField(cdb == Cdb.TEN ? 7 : 10);
      }
      System.arraycopy(r.dataOut(), 0, block, 0, bs);
    }
    if (unmap && isZero(block)) {
      Write.unmap(r.lu(), lba * bs, blocks * bs);
      return ScsiResult.good();
    }
    int perChunk = Math.max(1, CHUNK_BYTES / bs);
    byte[] chunk = new byte[(int) Math.min(blocks, perChunk) * bs];
    for (int off = 0; off < chunk.length; off += bs) {
      System.arraycopy(block, 0, chunk, off, bs);
    }
    Durability d = r.lu().writeCacheEnabled ? Durability.BUFFERED : Durability.DURABLE;
    for (long done = 0; done < blocks; ) {
      int n = (int) Math.min(perChunk, blocks - done);
      Write.write(r.lu(), (lba + done) * bs, ByteBuffer.wrap(chunk, 0, n * bs), d);
      done += n;
    }
    return ScsiResult.good();
  }

  private static boolean isZero(byte[] b) {
    for (byte x : b) {
      if (x != 0) {
        return false;
      }
    }
    return true;
  }
}
