package org.vsa.dtl;

import java.util.Arrays;

/**
 * One record of a vDisk's write history as the DTL keeps it: its sequence number (contiguous,
 * one per record), the SCO it belongs to (non-decreasing with the sequence number), and two opaque
 * byte strings from the engine: its log record and, for a write, the cluster's data.
 */
public record Entry(long seq, long sco, byte[] record, byte[] data) {
  public static final int RECORD_BYTES_MAX = 256;
  public static final int DATA_BYTES_MAX = 64 * 1024;

  public Entry {
    if (seq <= 0 || sco < 0) {
      throw new IllegalArgumentException("entry seq must be positive and sco non-negative: " + seq + ", " + sco);
    }
    if (record == null || record.length > RECORD_BYTES_MAX) {
      throw new IllegalArgumentException("entry record must be at most " + RECORD_BYTES_MAX + " bytes");
    }
    if (data == null || data.length > DATA_BYTES_MAX) {
      throw new IllegalArgumentException("entry data must be at most " + DATA_BYTES_MAX + " bytes");
    }
  }

  /** Bytes this entry takes in memory and on the wire, roughly. */
  public int sizeBytes() {
    return 32 + record.length + data.length;
  }

  public boolean sameAs(Entry o) {
    return seq == o.seq && sco == o.sco && Arrays.equals(record, o.record) && Arrays.equals(data, o.data);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Entry e && sameAs(e);
  }

  @Override
  public int hashCode() {
    return Long.hashCode(seq) * 31 + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Entry[seq=" + seq + ", sco=" + sco + ", record=" + record.length + "B, data=" + data.length + "B]";
  }
}
