package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * The one storage seam every front end talks to (iSCSI LUNs, NFS files).
 *
 * <p>Offsets and lengths are in bytes and must be multiples of {@link #blockSize()}; reads and
 * writes must lie within {@link #sizeBytes()}. Violations throw
 * {@link IllegalArgumentException} before anything is changed. All methods are thread-safe;
 * concurrent writes to one 4 KiB cluster are serialised and never interleave into a mix.
 */
public interface BlockVolume {

  /** The vDisk's name, unique within the appliance. */
  String name();

  /** Stable unique id, fixed at creation (SCSI NAA identifiers, NFS file ids). */
  UUID id();

  /** Nominal size in bytes, a multiple of {@link #blockSize()}. */
  long sizeBytes();

  /** Logical block size presented to initiators: 512 or 4096. */
  int blockSize();

  /**
   * Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst} (advancing its
   * position). Never-written or unmapped ranges read as zeros.
   */
  void read(long offset, ByteBuffer dst) throws IOException;

  /**
   * Writes {@code src.remaining()} bytes at {@code offset} (advancing its position). Returns
   * once the write is visible to reads and, for {@link Durability#DURABLE}, on stable storage.
   */
  void write(long offset, ByteBuffer src, Durability durability) throws IOException;

  /**
   * What is left of a write once it is visible to reads: the wait for the durability it was asked
   * (the group commit for {@link Durability#DURABLE}; in DTL mode sync, the DTL's hold for every
   * write). The write may be acknowledged once {@link #await} has returned.
   */
  @FunctionalInterface
  interface Pending {
    /** Nothing left to wait for. */
    Pending NONE = () -> { };

    void await() throws IOException;
  }

  /**
   * {@link #write}, split: returns once the write is visible to reads, with its durability wait
   * still to be done by the caller. A front end that appends one vDisk's writes from one thread
   * hands the wait to another, so that the appending thread never waits for a disk or the DTL.
   * The default does the whole write and returns {@link Pending#NONE}.
   */
  default Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    write(offset, src, durability);
    return Pending.NONE;
  }

  /**
   * Whether a write of {@code bytes} would be appended now without waiting for room (the write
   * buffer below its slow-down band, the DTL's queue not full). A hint, for a front end that would
   * rather hand a write to a thread that may wait than wait itself; false when unknown.
   */
  default boolean writesAtOnce(long bytes) {
    return false;
  }

  /**
   * A value that changes whenever the vDisk's contents may have (every write, unmap, rollback,
   * reopen), for a front end that reads ahead: bytes read after this returned s are current while
   * it still returns s. 0 means unknown: such a vDisk is never read ahead.
   */
  default long contentStamp() {
    return 0;
  }

  /** Makes every write that returned before this call durable (SYNCHRONIZE CACHE, COMMIT). */
  void flush() throws IOException;

  /** Deallocates the range; it reads as zeros afterwards. */
  void unmap(long offset, long length) throws IOException;

  /**
   * False while the vDisk is offline (the engine could not open it safely): its I/O fails with
   * {@link VolumeOfflineException}, and front ends report "not ready" (SCSI TEST UNIT READY).
   */
  default boolean ready() {
    return true;
  }

  /** True if writes and unmaps are refused (a template vDisk); front ends report write protection. */
  default boolean readOnly() {
    return false;
  }
}
