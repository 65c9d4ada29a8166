package org.vsa.iscsi.scsi;

/**
 * RECEIVE COPY RESULTS (0x84, SPC-3 6.18): COPY STATUS (0x00) and FAILED SEGMENT DETAILS (0x04)
 * of an EXTENDED COPY (LID1) sent to this LU by the same I_T nexus with LIST ID USAGE 00b or 10b,
 * and OPERATING PARAMETERS (0x03), which ESXi reads before it uses XCOPY. RECEIVE DATA (0x01) is
 * not implemented: no held data (HELD DATA LIMIT 0), no inline data.
 */
final class ReceiveCopyResults implements ScsiCommand {
  static final int COPY_STATUS = 0x00;
  static final int OPERATING_PARAMETERS = 0x03;
  static final int FAILED_SEGMENT_DETAILS = 0x04;
  static final int MAX_CONCURRENT_COPIES = 64;

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) {
    int alloc = (int) Math.min(r.u32(10), Integer.MAX_VALUE);
    int listId = r.u8(2);
    return switch (r.u8(1) & 0x1f) {
      case COPY_STATUS -> copyStatus(r, listId, alloc);
      case OPERATING_PARAMETERS -> ScsiResult.data(operatingParameters(r.blockSize()), alloc);
      case FAILED_SEGMENT_DETAILS -> failedSegmentDetails(r, listId, alloc);
      default -> ScsiResult.invalidField(1);
    };
  }

  private static ScsiResult copyStatus(ScsiRequest r, int listId, int alloc) {
    CopyResults results = r.lu().copyResults;
    byte[] d = new byte[12];
    Bytes.be32(d, 0, d.length - 4);
    if (results.isRunning(r.nexus(), listId)) {
      d[4] = 0x02; // operation in progress, foreground
      return ScsiResult.data(d, alloc);
    }
    CopyResults.Outcome o = results.outcome(r.nexus(), listId);
    if (o == null) {
      return ScsiResult.invalidField(2); // no such copy
    }
    d[4] = (byte) (o.status() == ScsiResult.GOOD ? 0x00 : 0x01); // completed, without / with errors
    Bytes.be16(d, 5, Math.min(o.segmentsProcessed(), 0xffff));
    long count = o.bytesCopied();
    int units = 0; // 0: bytes, 1: KiB, 2: MiB, ...
    while (count > 0xffffffffL) {
      count >>>= 10;
      units++;
    }
    d[7] = (byte) units;
    Bytes.be32(d, 8, count);
    return ScsiResult.data(d, alloc);
  }

  /** SPC-3 6.18.4; descriptor limits are those {@link ExtendedCopy} enforces. */
  static byte[] operatingParameters(int blockSize) {
    byte[] d = new byte[46];
    Bytes.be32(d, 0, d.length - 4);
    d[4] = 0x01; // SNLID: LIST ID USAGE 11b (no list identifier) is supported
    Bytes.be16(d, 8, ExtendedCopy.MAX_TARGET_DESCRIPTORS);
    Bytes.be16(d, 10, ExtendedCopy.MAX_SEGMENT_DESCRIPTORS);
    Bytes.be32(d, 12, ExtendedCopy.MAX_DESCRIPTOR_LIST_BYTES);
    Bytes.be32(d, 16, ExtendedCopy.MAX_SEGMENT_BYTES);
    Bytes.be32(d, 20, 0); // maximum inline data length
    Bytes.be32(d, 24, 0); // held data limit
    Bytes.be32(d, 28, 0); // maximum stream device transfer size
    Bytes.be16(d, 34, MAX_CONCURRENT_COPIES); // total concurrent copies
    d[36] = (byte) MAX_CONCURRENT_COPIES; // maximum concurrent copies
    d[37] = (byte) Integer.numberOfTrailingZeros(blockSize); // data segment granularity (log2)
    d[38] = 0; // inline data granularity
    d[39] = 0; // held data granularity
    d[43] = 2; // implemented descriptor list length
    d[44] = (byte) ExtendedCopy.BLOCK_TO_BLOCK;
    d[45] = (byte) ExtendedCopy.IDENTIFICATION_TARGET;
    return d;
  }

  /** SPC-3 6.18.5: the status and sense data of the copy; no sense data when it succeeded. */
  private static ScsiResult failedSegmentDetails(ScsiRequest r, int listId, int alloc) {
    CopyResults results = r.lu().copyResults;
    CopyResults.Outcome o = results.isRunning(r.nexus(), listId) ? null : results.outcome(r.nexus(), listId);
    if (o == null) {
      return ScsiResult.invalidField(2);
    }
    byte[] sense = o.status() == ScsiResult.CHECK_CONDITION ? o.sense() : new byte[0];
    byte[] d = new byte[60 + sense.length];
    Bytes.be32(d, 0, d.length - 4);
    d[57] = (byte) o.status();
    Bytes.be16(d, 58, sense.length);
    System.arraycopy(sense, 0, d, 60, sense.length);
    return ScsiResult.data(d, alloc);
  }
}
