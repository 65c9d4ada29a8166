package org.vsa.iscsi.scsi;

import java.util.List;
import java.util.Map;

/**
 * One SCSI command as a handler sees it.
 *
 * @param cdb the CDB (16 bytes, or more with an extended CDB AHS)
 * @param lu the logical unit addressed; null if the LUN is not configured
 * @param luns every LUN of the target, ascending
 * @param dataOut the data-out bytes the initiator sent (up to its expected transfer length)
 * @param expectedTransferLength the iSCSI Expected Data Transfer Length
 * @param nexus identifies the I_T nexus (initiator name + ISID) for reservations
 * @param units every logical unit of the target by LUN (EXTENDED COPY copies between them)
 */
public record ScsiRequest(
    byte[] cdb, LogicalUnit lu, List<Integer> luns, byte[] dataOut, int expectedTransferLength, String nexus,
    Map<Integer, LogicalUnit> units) {

  /** A request whose target has only the addressed LU (or none). */
  public ScsiRequest(byte[] cdb, LogicalUnit lu, List<Integer> luns, byte[] dataOut, int expectedTransferLength,
      String nexus) {
    this(cdb, lu, luns, dataOut, expectedTransferLength, nexus, lu == null ? Map.of() : Map.of(lu.lun(), lu));
  }

  public int u8(int off) {
    return cdb[off] & 0xff;
  }

  public int u16(int off) {
    return (u8(off) << 8) | u8(off + 1);
  }

  public int u24(int off) {
    return (u8(off) << 16) | u16(off + 1);
  }

  public long u32(int off) {
    return ((long) u16(off) << 16) | u16(off + 2);
  }

  public long u64(int off) {
    return (u32(off) << 32) | u32(off + 4);
  }

  public int blockSize() {
    return lu.volume().blockSize();
  }

  public long blocks() {
    return lu.volume().sizeBytes() / blockSize();
  }

  /** Whether [lba, lba + count) lies within the LU. */
  public boolean inRange(long lba, long count) {
    return lba >= 0 && count >= 0 && lba <= blocks() && count <= blocks() - lba;
  }
}
