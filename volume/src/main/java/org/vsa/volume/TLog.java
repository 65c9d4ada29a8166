package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The TLog (transaction log) format: the history of one vDisk's mapping, one TLog per SCO.
 *
 * <pre>
 * header, 64 bytes:
 *   0  u32  magic 'VTLG'
 *   4  u16  version (1)
 *   6  u16  reserved, 0
 *   8  u64  vDisk id, most significant bits
 *   16 u64  vDisk id, least significant bits
 *   24 u64  TLog number (= the number of the SCO whose writes it records)
 *   32 ..   reserved, 0
 *   60 u32  CRC32C of bytes 0..59
 * records, 32 bytes each, big-endian:
 *   0  u16  record magic 'TR'
 *   2  u8   record version (1)
 *   3  u8   type: 1 WRITE, 2 UNMAP, 3 SEAL, 4 SHARE
 *   4  u32  WRITE: slot in the SCO; UNMAP: cluster count; SEAL: clusters in the SCO;
 *           SHARE: slot (bits 0..15) and dedupe-table index (bits 16..30) of the shared copy
 *   8  u64  sequence number (per vDisk, +1 per record, never reused)
 *   16 u64  WRITE/UNMAP: first cluster; SEAL: records before this one;
 *           SHARE: cluster (bits 0..33) and SCO number of the shared copy (bits 34..63)
 *   24 u32  WRITE, SHARE: CRC32C of the cluster's 4096 bytes; else 0
 *   28 u32  CRC32C of bytes 0..27
 * </pre>
 * Version history: 1 (WRITE, UNMAP, SEAL); record version 2 adds SHARE (deduplication: the
 * cluster maps to a copy another write of the vPool stored, no data in this SCO). Records of
 * types 1 to 3 are still written as version 1, so TLogs without SHARE read as before; a reader
 * of version 1 stops at a SHARE record as at a corrupt one.
 *
 * <p>Fixed-size records make a torn tail easy to find: recovery reads records in order and
 * stops at the first one whose magic, version, CRC or sequence is wrong.
 */
public final class TLog {
  private TLog() {}

  public static final int MAGIC = 0x56544C47; // 'VTLG'
  public static final short VERSION = 1;
  public static final int HEADER_BYTES = 64;
  public static final int RECORD_BYTES = 32;
  public static final short RECORD_MAGIC = 0x5452; // 'TR'
  public static final byte RECORD_VERSION = 1;
  /** The record version of SHARE records. */
  public static final byte RECORD_VERSION_SHARE = 2;
  /** Clusters of a SHARE record: 34 bits (64 TiB). */
  static final long SHARE_CLUSTER_MASK = (1L << 34) - 1;

  public static final byte WRITE = 1;
  public static final byte UNMAP = 2;
  public static final byte SEAL = 3;
  public static final byte SHARE = 4;

  /** One decoded record. */
  public record Record(byte type, int a, long seq, long cluster, int dataCrc) {
    public static Record write(long seq, long cluster, int slot, int dataCrc) {
      return new Record(WRITE, slot, seq, cluster, dataCrc);
    }

    public static Record unmap(long seq, long cluster, int count) {
      return new Record(UNMAP, count, seq, cluster, 0);
    }

    public static Record seal(long seq, int clusters, long recordsBefore) {
      return new Record(SEAL, clusters, seq, recordsBefore, 0);
    }

    /** Cluster {@code cluster} maps to the shared location {@code shared} (see {@link Layout#sharedLocation}). */
    public static Record share(long seq, long cluster, long shared, int dataCrc) {
      Verify.that(Layout.isShared(shared), "not a shared location");
      Verify.that(cluster >= 0 && cluster <= SHARE_CLUSTER_MASK, "cluster %d does not fit a SHARE record", cluster);
      int a = Layout.slotOf(shared) | (Layout.sharedIndexOf(shared) << 16);
      return new Record(SHARE, a, seq, cluster | (Layout.scoOf(shared) << 34), dataCrc);
    }

    /** The cluster a WRITE, UNMAP or SHARE record is about. */
    public long target() {
      return type == SHARE ? cluster & SHARE_CLUSTER_MASK : cluster;
    }

    /** A SHARE record's shared location. */
    public long sharedLocation() {
      Verify.that(type == SHARE, "not a SHARE record");
      return Layout.sharedLocation((a >>> 16) & Layout.SHARED_INDEX_MAX, cluster >>> 34, a & 0xFFFF);
    }
  }

  public static ByteBuffer header(UUID volumeId, long tlogNumber) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.BIG_ENDIAN);
    b.putInt(MAGIC).putShort(VERSION).putShort((short) 0);
    b.putLong(volumeId.getMostSignificantBits()).putLong(volumeId.getLeastSignificantBits());
    b.putLong(tlogNumber);
    b.putInt(60, Layout.crc32c(b.array(), 0, 60));
    b.clear();
    return b;
  }

  /** Appends the encoded record at the buffer's position. */
  public static void encode(Record r, ByteBuffer dst) {
    int start = dst.position();
    dst.putShort(RECORD_MAGIC).put(r.type() == SHARE ? RECORD_VERSION_SHARE : RECORD_VERSION).put(r.type()).putInt(r.a());
    dst.putLong(r.seq()).putLong(r.cluster()).putInt(r.dataCrc());
    ByteBuffer view = dst.duplicate();
    view.position(start).limit(start + 28);
    dst.putInt(Layout.crc32c(view));
  }

  /** Decodes the record at {@code buf}'s position, or returns null if it is not a valid record. */
  static Record decode(ByteBuffer buf) {
    int start = buf.position();
    ByteBuffer view = buf.duplicate();
    view.limit(start + 28);
    int crc = Layout.crc32c(view);
    if (buf.getInt(start + 28) != crc || buf.getShort(start) != RECORD_MAGIC) {
      return null;
    }
    byte version = buf.get(start + 2);
    byte type = buf.get(start + 3);
    boolean known = version == RECORD_VERSION ? type == WRITE || type == UNMAP || type == SEAL
        : version == RECORD_VERSION_SHARE && type == SHARE;
    if (!known) {
      return null;
    }
    return new Record(type, buf.getInt(start + 4), buf.getLong(start + 8), buf.getLong(start + 16), buf.getInt(start + 24));
  }

  /**
   * What a scan of a TLog file found: the valid records, the byte length they end at, and why
   * the scan stopped early (null when the whole file was valid).
   */
  public record Scan(List<Record> records, long validBytes, String stopReason) {
    public boolean sealed() {
      return !records.isEmpty() && records.get(records.size() - 1).type() == SEAL;
    }
  }

  /**
   * Reads a TLog file, stopping at the first record that is torn, corrupt, out of sequence or
   * follows a SEAL. A bad header is an IOException: the file is not this vDisk's TLog.
   */
  public static Scan scan(Path file, UUID volumeId, long tlogNumber) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < HEADER_BYTES) {
        return new Scan(List.of(), 0, "header torn (" + size + " bytes)");
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
      readFully(ch, h, 0);
      checkHeader(h, file, volumeId, tlogNumber);
      List<Record> records = new ArrayList<>();
      ByteBuffer buf = ByteBuffer.allocate(RECORD_BYTES * 2048);
      long pos = HEADER_BYTES;
      long prevSeq = -1;
      String stop = null;
      outer:
      while (pos < size) {
        buf.clear();
        long want = Math.min(buf.capacity(), size - pos);
        buf.limit((int) want);
        readFully(ch, buf, pos);
        buf.flip();
        while (buf.remaining() >= RECORD_BYTES) {
          Record r = decode(buf);
          if (r == null) {
            stop = "corrupt record at byte " + (pos + buf.position());
            break outer;
          }
          if (prevSeq >= 0 && r.seq() != prevSeq + 1) {
            stop = "sequence jumps from " + prevSeq + " to " + r.seq() + " at byte " + (pos + buf.position());
            break outer;
          }
          if (!records.isEmpty() && records.get(records.size() - 1).type() == SEAL) {
            stop = "record after SEAL at byte " + (pos + buf.position());
            break outer;
          }
          records.add(r);
          prevSeq = r.seq();
          buf.position(buf.position() + RECORD_BYTES);
        }
        pos += buf.position();
        if (buf.remaining() > 0) {
          stop = "torn record at byte " + pos + " (" + buf.remaining() + " of " + RECORD_BYTES + " bytes)";
          break;
        }
      }
      return new Scan(records, HEADER_BYTES + (long) records.size() * RECORD_BYTES, stop);
    }
  }

  static void checkHeader(ByteBuffer h, Path file, UUID volumeId, long tlogNumber) throws IOException {
    if (h.getInt(0) != MAGIC) {
      throw new IOException(file + ": not a TLog (bad magic)");
    }
    if (h.getInt(60) != Layout.crc32c(h.array(), 0, 60)) {
      throw new IOException(file + ": TLog header checksum mismatch");
    }
    if (h.getShort(4) != VERSION) {
      throw new IOException(file + ": TLog version " + h.getShort(4) + " is not supported (this build reads " + VERSION + ")");
    }
    UUID id = new UUID(h.getLong(8), h.getLong(16));
    if (!id.equals(volumeId) || h.getLong(24) != tlogNumber) {
      throw new IOException(file + ": TLog belongs to vDisk " + id + " number " + h.getLong(24)
          + ", expected " + volumeId + " number " + tlogNumber);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos);
      if (n < 0) {
        throw new java.io.EOFException("unexpected end of file at " + pos);
      }
      pos += n;
    }
  }

  static void writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
    while (src.hasRemaining()) {
      pos += ch.write(src, pos);
    }
  }
}
