package org.vsa.dtl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The DTL wire format. A frame is a 12-byte header, a payload and a CRC32C:
 * <pre>
 *   u32 magic 'VDTW' | u8 version (1) | u8 type | u16 zero | u32 payload length | payload | u32 crc32c
 * </pre>
 * The CRC covers the header and the payload. Integers are big-endian. An entry inside a payload
 * is {@code u64 seq, u64 sco, u16 record length, u32 data length, record, data}.
 * Version history: 1, the first.
 */
public final class WireCodec {
  public static final int MAGIC = 0x56445457; // "VDTW"
  public static final int VERSION = 1;
  public static final int HEADER_BYTES = 12;
  public static final int TRAILER_BYTES = 4;
  /** No frame is larger: a peer announcing more is broken or hostile. */
  public static final int PAYLOAD_BYTES_MAX = 32 << 20;
  /** Entries per Append or Entries frame. */
  public static final int ENTRIES_MAX = 4096;

  private static final int T_HELLO = 1;
  private static final int T_HELLO_OK = 2;
  private static final int T_APPEND = 3;
  private static final int T_ACK = 4;
  private static final int T_TRIM = 5;
  private static final int T_FETCH = 6;
  private static final int T_ENTRIES = 7;
  private static final int T_REJECT = 8;

  private WireCodec() {}

  /** A frame that cannot be decoded; the connection carrying it is closed. */
  public static final class BadFrameException extends Exception {
    public BadFrameException(String message) {
      super(message);
    }
  }

  public static ByteBuffer encode(Msg m) {
    ByteBuffer f = ByteBuffer.allocate(frameSize(m));
    encodeInto(m, f);
    return f.flip();
  }

  /** The bytes of {@code m}'s frame. */
  public static int frameSize(Msg m) {
    return HEADER_BYTES + payloadSize(m) + TRAILER_BYTES;
  }

  /**
   * Writes {@code m}'s frame at {@code f}'s position (which advances by {@link #frameSize}): the
   * entries' bytes are copied once, straight into the frame.
   */
  public static void encodeInto(Msg m, ByteBuffer f) {
    int payloadBytes = payloadSize(m);
    if (payloadBytes > PAYLOAD_BYTES_MAX) {
      throw new IllegalArgumentException("DTL frame payload of " + payloadBytes + " bytes exceeds " + PAYLOAD_BYTES_MAX);
    }
    int start = f.position();
    f.putInt(MAGIC).put((byte) VERSION).put((byte) 0).putShort((short) 0).putInt(payloadBytes);
    ByteBuffer p = f;
    int type;
    if (m instanceof Msg.Hello h) {
      p.putLong(h.vdisk().getMostSignificantBits()).putLong(h.vdisk().getLeastSignificantBits()).putLong(h.epoch());
      type = T_HELLO;
    } else if (m instanceof Msg.HelloOk h) {
      p.putLong(h.streamEpoch()).putLong(h.resetGen()).putLong(h.baseSeq()).putLong(h.lastSeq());
      type = T_HELLO_OK;
    } else if (m instanceof Msg.Append a) {
      p.putLong(a.epoch()).putLong(a.prevSeq()).put((byte) (a.reset() ? 1 : 0)).putLong(a.resetGen())
          .putLong(a.trimSco());
      putEntries(p, a.entries());
      type = T_APPEND;
    } else if (m instanceof Msg.Ack a) {
      p.putLong(a.resetGen()).putLong(a.lastSeq()).putLong(a.trimmedSco());
      type = T_ACK;
    } else if (m instanceof Msg.Trim t) {
      p.putLong(t.epoch()).putLong(t.sco());
      type = T_TRIM;
    } else if (m instanceof Msg.Fetch fe) {
      p.putLong(fe.epoch()).putLong(fe.afterSeq()).putInt(fe.maxBytes());
      type = T_FETCH;
    } else if (m instanceof Msg.Entries e) {
      p.putLong(e.streamEpoch()).putLong(e.baseSeq()).putLong(e.lastSeq()).put((byte) (e.more() ? 1 : 0));
      putEntries(p, e.entries());
      type = T_ENTRIES;
    } else {
      Msg.Reject r = (Msg.Reject) m;
      byte[] text = r.message().getBytes(java.nio.charset.StandardCharsets.UTF_8);
      int n = Math.min(text.length, 1024);
      p.put((byte) r.code().ordinal()).putLong(r.highestEpoch()).putLong(r.lastSeq()).putLong(r.streamEpoch())
          .putLong(r.resetGen()).putShort((short) n).put(text, 0, n);
      type = T_REJECT;
    }
    Verify.that(f.position() - start == HEADER_BYTES + payloadBytes, "DTL frame of type %d: payload %d bytes, expected %d",
        type, f.position() - start - HEADER_BYTES, payloadBytes);
    f.put(start + 5, (byte) type);
    CRC32C crc = new CRC32C();
    crc.update(f.duplicate().position(start).limit(f.position()));
    f.putInt((int) crc.getValue());
  }

  private static int payloadSize(Msg m) {
    if (m instanceof Msg.Append a) {
      return 33 + entriesSize(a.entries());
    } else if (m instanceof Msg.Entries e) {
      return 25 + entriesSize(e.entries());
    } else if (m instanceof Msg.HelloOk) {
      return 32;
    } else if (m instanceof Msg.Trim) {
      return 16;
    } else if (m instanceof Msg.Fetch) {
      return 20;
    } else if (m instanceof Msg.Reject r) {
      return 35 + Math.min(r.message().getBytes(java.nio.charset.StandardCharsets.UTF_8).length, 1024);
    }
    return 24;
  }

  static int entriesSize(List<Entry> es) {
    int n = 4;
    for (Entry e : es) {
      n += entrySize(e);
    }
    return n;
  }

  static int entrySize(Entry e) {
    return 22 + e.record().length + e.data().length;
  }

  static void putEntries(ByteBuffer p, List<Entry> es) {
    p.putInt(es.size());
    for (Entry e : es) {
      putEntry(p, e);
    }
  }

  static void putEntry(ByteBuffer p, Entry e) {
    p.putLong(e.seq()).putLong(e.sco()).putShort((short) e.record().length).putInt(e.data().length)
        .put(e.record()).put(e.data());
  }

  static Entry getEntry(ByteBuffer p) throws BadFrameException {
    need(p, 22, "entry header");
    long seq = p.getLong();
    long sco = p.getLong();
    int recLen = Short.toUnsignedInt(p.getShort());
    int dataLen = p.getInt();
    if (recLen > Entry.RECORD_BYTES_MAX || dataLen < 0 || dataLen > Entry.DATA_BYTES_MAX) {
      throw new BadFrameException("entry lengths out of range: record " + recLen + ", data " + dataLen);
    }
    need(p, recLen + dataLen, "entry body");
    byte[] rec = new byte[recLen];
    byte[] data = new byte[dataLen];
    p.get(rec).get(data);
    try {
      return new Entry(seq, sco, rec, data);
    } catch (IllegalArgumentException e) {
      throw new BadFrameException(e.getMessage());
    }
  }

  static List<Entry> getEntries(ByteBuffer p) throws BadFrameException {
    need(p, 4, "entry count");
    int n = p.getInt();
    if (n < 0 || n > ENTRIES_MAX) {
      throw new BadFrameException("entry count " + n + " out of range [0, " + ENTRIES_MAX + "]");
    }
    List<Entry> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Entry e = getEntry(p);
      if (!out.isEmpty() && e.seq() != out.get(out.size() - 1).seq() + 1) {
        throw new BadFrameException("entries are not contiguous at seq " + e.seq());
      }
      out.add(e);
    }
    return out;
  }

  private static void need(ByteBuffer p, int n, String what) throws BadFrameException {
    if (p.remaining() < n) {
      throw new BadFrameException("frame too short for the " + what);
    }
  }

  /**
   * The length of the whole frame starting at {@code in}'s position, or -1 if the header is not
   * all there yet. Checks magic, version and the length bound.
   */
  public static int frameLength(ByteBuffer in) throws BadFrameException {
    if (in.remaining() < HEADER_BYTES) {
      return -1;
    }
    int at = in.position();
    int magic = in.getInt(at);
    if (magic != MAGIC) {
      throw new BadFrameException(String.format("bad magic 0x%08x", magic));
    }
    int version = in.get(at + 4) & 0xff;
    if (version != VERSION) {
      throw new BadFrameException("unsupported version " + version);
    }
    int len = in.getInt(at + 8);
    if (len < 0 || len > PAYLOAD_BYTES_MAX) {
      throw new BadFrameException("payload length " + Integer.toUnsignedString(len) + " out of range");
    }
    return HEADER_BYTES + len + TRAILER_BYTES;
  }

  /** Decodes one whole frame (exactly {@code frame.remaining()} bytes). */
  public static Msg decode(ByteBuffer frame) throws BadFrameException {
    ByteBuffer f = frame.slice();
    int total = frameLength(f);
    if (total < 0 || total != f.remaining()) {
      throw new BadFrameException("frame length mismatch");
    }
    CRC32C crc = new CRC32C();
    crc.update(f.duplicate().limit(total - TRAILER_BYTES));
    if ((int) crc.getValue() != f.getInt(total - TRAILER_BYTES)) {
      throw new BadFrameException("frame CRC32C mismatch");
    }
    int type = f.get(5) & 0xff;
    ByteBuffer p = f.position(HEADER_BYTES).limit(total - TRAILER_BYTES).slice();
    Msg m;
    try {
      m = switch (type) {
        case T_HELLO -> new Msg.Hello(new UUID(p.getLong(), p.getLong()), p.getLong());
        case T_HELLO_OK -> new Msg.HelloOk(p.getLong(), p.getLong(), p.getLong(), p.getLong());
        case T_APPEND -> {
          long epoch = p.getLong();
          long prev = p.getLong();
          boolean reset = p.get() != 0;
          long gen = p.getLong();
          long trim = p.getLong();
          yield new Msg.Append(epoch, prev, reset, gen, trim, getEntries(p));
        }
        case T_ACK -> new Msg.Ack(p.getLong(), p.getLong(), p.getLong());
        case T_TRIM -> new Msg.Trim(p.getLong(), p.getLong());
        case T_FETCH -> new Msg.Fetch(p.getLong(), p.getLong(), p.getInt());
        case T_ENTRIES -> {
          long se = p.getLong();
          long base = p.getLong();
          long last = p.getLong();
          boolean more = p.get() != 0;
          yield new Msg.Entries(se, base, last, getEntries(p), more);
        }
        case T_REJECT -> {
          int code = p.get() & 0xff;
          if (code >= Msg.Code.values().length) {
            throw new BadFrameException("unknown reject code " + code);
          }
          long he = p.getLong();
          long last = p.getLong();
          long se = p.getLong();
          long gen = p.getLong();
          int n = Short.toUnsignedInt(p.getShort());
          need(p, n, "reject text");
          byte[] text = new byte[n];
          p.get(text);
          yield new Msg.Reject(Msg.Code.values()[code], he, last, se, gen,
              new String(text, java.nio.charset.StandardCharsets.UTF_8));
        }
        default -> throw new BadFrameException("unknown message type " + type);
      };
    } catch (java.nio.BufferUnderflowException e) {
      throw new BadFrameException("frame too short for message type " + type);
    }
    if (p.hasRemaining()) {
      throw new BadFrameException(p.remaining() + " stray bytes after message type " + type);
    }
    return m;
  }
}
