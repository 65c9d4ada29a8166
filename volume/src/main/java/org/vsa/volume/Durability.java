package org.vsa.volume;

/**
 * What a front end asks of one write. The front end maps its protocol onto this at the edge
 * (iSCSI FUA, NFS stable_how); the engine never sees a SCSI opcode or an NFS stable_how.
 */
public enum Durability {
  /**
   * The write is on stable storage (write buffer fsynced) before {@code write} returns: iSCSI
   * WRITE with FUA, NFS FILE_SYNC and DATA_SYNC.
   */
  DURABLE,
  /**
   * The write is visible to reads at once and becomes durable at the next
   * {@link BlockVolume#flush()}: iSCSI WRITE without FUA, NFS UNSTABLE.
   */
  BUFFERED
}
