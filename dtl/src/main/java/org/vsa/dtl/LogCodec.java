package org.vsa.dtl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The DTL's on-disk log of one vDisk: a 32-byte header then records, append-only.
 * <pre>
 * header: u32 magic 'VDTL' | u16 version (1) | u16 zero | 16 bytes vDisk id | u32 zero | u32 crc32c of the 28 bytes before
 * record: u32 magic 'DTLR' | u8 version (1) | u8 type | u16 zero | u32 payload length | payload | u32 crc32c of header+payload
 *   EPOCH  u64 highest epoch seen
 *   RESET  u64 stream epoch | u64 reset generation | u64 base seq   (the stream restarts after base seq)
 *   ENTRY  u64 seq | u64 sco | u16 record length | u32 data length | record | data
 *   TRIM   u64 sco   (entries of SCOs up to it are no longer needed)
 * </pre>
 * A reader stops at the first record that is torn or fails its CRC: everything before it was
 * written earlier, and nothing after it was ever acknowledged (the server acknowledges only what
 * it has forced). Version history: 1, the first.
 */
public final class LogCodec {
  public static final int FILE_MAGIC = 0x5644544C; // "VDTL"
  public static final int RECORD_MAGIC = 0x44544C52; // "DTLR"
  public static final int VERSION = 1;
  public static final int FILE_HEADER_BYTES = 32;
  public static final int RECORD_OVERHEAD_BYTES = 16;
  static final int T_EPOCH = 1;
  static final int T_RESET = 2;
  static final int T_ENTRY = 3;
  static final int T_TRIM = 4;

  private LogCodec() {}

  /** A decoded record; {@code offset} and {@code length} locate it in the file. */
  public record Rec(int type, long a, long b, long c, Entry entry, long offset, int length) {}

  /** What a scan found: the valid records and where the valid prefix of the file ends. */
  public record Scan(List<Rec> records, long validBytes, String stopReason) {}

  public static ByteBuffer fileHeader(UUID vdisk) {
    ByteBuffer b = ByteBuffer.allocate(FILE_HEADER_BYTES);
    b.putInt(FILE_MAGIC).putShort((short) VERSION).putShort((short) 0)
        .putLong(vdisk.getMostSignificantBits()).putLong(vdisk.getLeastSignificantBits()).putInt(0);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 28);
    b.putInt((int) crc.getValue());
    return b.flip();
  }

  public static ByteBuffer epoch(long epoch) {
    return record(T_EPOCH, ByteBuffer.allocate(8).putLong(epoch).flip());
  }

  public static ByteBuffer reset(long streamEpoch, long gen, long baseSeq) {
    return record(T_RESET, ByteBuffer.allocate(24).putLong(streamEpoch).putLong(gen).putLong(baseSeq).flip());
  }

  public static ByteBuffer trim(long sco) {
    return record(T_TRIM, ByteBuffer.allocate(8).putLong(sco).flip());
  }

  public static ByteBuffer entry(Entry e) {
    // one buffer, the entry's bytes copied once
    int payload = WireCodec.entrySize(e);
    ByteBuffer b = ByteBuffer.allocate(RECORD_OVERHEAD_BYTES + payload);
    b.putInt(RECORD_MAGIC).put((byte) VERSION).put((byte) T_ENTRY).putShort((short) 0).putInt(payload);
    WireCodec.putEntry(b, e);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.flip();
  }

  public static int entryRecordBytes(Entry e) {
    return RECORD_OVERHEAD_BYTES + WireCodec.entrySize(e);
  }

  private static ByteBuffer record(int type, ByteBuffer payload) {
    ByteBuffer b = ByteBuffer.allocate(RECORD_OVERHEAD_BYTES + payload.remaining());
    b.putInt(RECORD_MAGIC).put((byte) VERSION).put((byte) type).putShort((short) 0).putInt(payload.remaining()).put(payload);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.flip();
  }

  /** Checks the file header; null if it is fine, else why not. */
  public static String checkHeader(ByteBuffer file, UUID vdisk) {
    if (file.remaining() < FILE_HEADER_BYTES) {
      return "file shorter than its header";
    }
    ByteBuffer h = file.duplicate();
    int at = h.position();
    CRC32C crc = new CRC32C();
    crc.update(h.duplicate().limit(at + 28));
    if (h.getInt(at) != FILE_MAGIC) {
      return "bad file magic";
    }
    if (h.getShort(at + 4) != VERSION) {
      return "unsupported version " + h.getShort(at + 4);
    }
    if ((int) crc.getValue() != h.getInt(at + 28)) {
      return "header CRC32C mismatch";
    }
    UUID id = new UUID(h.getLong(at + 8), h.getLong(at + 16));
    if (!id.equals(vdisk)) {
      return "header names vDisk " + id;
    }
    return null;
  }

  /** Decodes records from {@code file} (positioned just after the header, offsets counted from 0). */
  public static Scan scan(ByteBuffer file) {
    List<Rec> out = new ArrayList<>();
    ByteBuffer b = file.duplicate();
    long valid = b.position();
    while (b.remaining() > 0) {
      int at = b.position();
      if (b.remaining() < RECORD_OVERHEAD_BYTES) {
        return new Scan(out, valid, "torn record header at " + at);
      }
      if (b.getInt(at) != RECORD_MAGIC || (b.get(at + 4) & 0xff) != VERSION) {
        return new Scan(out, valid, "bad record magic or version at " + at);
      }
      int type = b.get(at + 5) & 0xff;
      int len = b.getInt(at + 8);
      if (len < 0 || len > WireCodec.PAYLOAD_BYTES_MAX || b.remaining() < RECORD_OVERHEAD_BYTES + len) {
        return new Scan(out, valid, "torn record at " + at);
      }
      CRC32C crc = new CRC32C();
      crc.update(b.duplicate().position(at).limit(at + 12 + len));
      if ((int) crc.getValue() != b.getInt(at + 12 + len)) {
        return new Scan(out, valid, "record CRC32C mismatch at " + at);
      }
      ByteBuffer p = b.duplicate().position(at + 12).limit(at + 12 + len).slice();
      Rec r;
      try {
        r = switch (type) {
          case T_EPOCH -> new Rec(type, p.getLong(), 0, 0, null, at, RECORD_OVERHEAD_BYTES + len);
          case T_RESET -> new Rec(type, p.getLong(), p.getLong(), p.getLong(), null, at, RECORD_OVERHEAD_BYTES + len);
          case T_TRIM -> new Rec(type, p.getLong(), 0, 0, null, at, RECORD_OVERHEAD_BYTES + len);
          case T_ENTRY -> new Rec(type, 0, 0, 0, WireCodec.getEntry(p), at, RECORD_OVERHEAD_BYTES + len);
          default -> null;
        };
      } catch (WireCodec.BadFrameException | RuntimeException e) {
        r = null;
      }
      if (r == null) {
        return new Scan(out, valid, "undecodable record of type " + type + " at " + at);
      }
      out.add(r);
      b.position(at + RECORD_OVERHEAD_BYTES + len);
      valid = b.position();
    }
    return new Scan(out, valid, null);
  }
}
