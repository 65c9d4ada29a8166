package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vsa.volume.Durability;

/**
 * WRITE(6/10/12/16) 0x0a, 0x2a, 0xaa, 0x8a and WRITE AND VERIFY(10/12/16) 0x2e, 0xae, 0x8e. FUA,
 * WRITE AND VERIFY, and a disabled write cache (MODE SELECT, WCE = 0) make the write durable
 * before the status goes out.
 */
final class Write implements ScsiCommand {
  private final Cdb cdb;
  private final boolean verify;

  Write(Cdb cdb, boolean verify) {
    this.cdb = cdb;
    this.verify = verify;
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
    if (blocks * r.blockSize() > Read.MAX_TRANSFER_BYTES) {
      return ScsiResult.invalidField(cdb.lengthField());
    }
    int bytes = (int) blocks * r.blockSize();
    if (bytes == 0) {
      return ScsiResult.good();
    }
    if (r.dataOut().length < bytes) {
      // Expected Data Transfer Length below the CDB's (residual overflow): write the whole
      // blocks that came, as other targets do and libiscsi's residual tests expect.
      bytes = r.dataOut().length / r.blockSize() * r.blockSize();
      if (bytes == 0) {
        return ScsiResult.good();
      }
    }
    Durability d = cdb.fua(r) || verify || !r.lu().writeCacheEnabled ? Durability.DURABLE : Durability.BUFFERED;
    write(r.lu(), lba * r.blockSize(), ByteBuffer.wrap(r.dataOut(), 0, bytes), d);
    return ScsiResult.good();
  }

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return cdb.blocks(r) * r.blockSize();
  }

  /** Every write to a LU goes through here, so that COMPARE AND WRITE can exclude it. */
  static void write(LogicalUnit lu, long offset, ByteBuffer src, Durability d) throws IOException {
    lu.writeLock.readLock().lock();
    try {
      lu.volume().write(offset, src, d);
    } finally {
      lu.writeLock.readLock().unlock();
    }
  }

  static void unmap(LogicalUnit lu, long offset, long length) throws IOException {
    lu.writeLock.readLock().lock();
    try {
      lu.volume().unmap(offset, length);
    } finally {
      lu.writeLock.readLock().unlock();
    }
  }
}
