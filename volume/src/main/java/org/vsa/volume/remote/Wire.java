package org.vsa.volume.remote;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.MessageToByteEncoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The block-forwarding wire format, version 1. Every frame, both ways:
 *
 * <pre>
 *   0  magic    u32  'VRVF'
 *   4  version  u8   1
 *   5  type     u8   request type, or request type | 0x80 for its reply
 *   6  flags    u16  replies: bit 0 = final (a WRITE may get a non-final "visible" reply first)
 *   8  id       u64  request id, chosen by the client; a reply carries its request's
 *  16  length   u32  payload bytes, at most {@link #MAX_PAYLOAD_BYTES}
 *  20  crc      u32  CRC32C of bytes 0..20 and of the payload
 *  24  payload
 * </pre>
 *
 * A frame whose magic, version, length or CRC is wrong is not trusted at all (its id neither): the
 * receiver logs it and closes the connection. A frame that passes those checks but whose payload
 * does not decode, or whose type is unknown, gets an error reply ({@link Status#BAD_REQUEST}).
 *
 * <p>Request payloads start with the vDisk's name (u16 length, UTF-8), then per type: READ
 * {@code offset u64, length u32}; WRITE {@code offset u64, durability u8 (0 durable, 1 buffered),
 * data}; UNMAP {@code offset u64, length u64}; RESIZE {@code bytes u64, growOnly u8}; INFO and
 * FLUSH nothing. Reply payloads start with a status u8; OK is followed by the vDisk's state
 * ({@code session u64, sizeBytes u64, blockSize u32, flags u8 (bit 0 ready, bit 1 read-only, bit 2 in
 * use: set in INFO replies only, see {@link RemoteVolumeServer.Exports#inUse}), id 16 bytes}) and, for READ, the data; any other status by a message (u16 length, UTF-8).
 *
 * <p>The framing (header, CRC, bounds, {@link Decoder}, {@link Encoder}) is public so that other
 * node-to-node protocols reuse it under their own magic (the NFS namespace forwarding does); the
 * payloads above are this protocol's own.
 */
public final class Wire {
  private Wire() {}

  public static final int MAGIC = 0x56525646; // "VRVF"
  public static final int VERSION = 1;
  public static final int HEADER_BYTES = 24;
  /** Largest READ or WRITE sent in one frame; the client splits bigger ones. */
  public static final int MAX_IO_BYTES = 1 << 20;
  public static final int MAX_PAYLOAD_BYTES = MAX_IO_BYTES + 4096;
  public static final int MAX_NAME_BYTES = 1024;

  static final int INFO = 1;
  static final int READ = 2;
  static final int WRITE = 3;
  static final int FLUSH = 4;
  static final int UNMAP = 5;
  static final int RESIZE = 6;
  static final int REPLY = 0x80;
  static final int FLAG_FINAL = 1;

  /** Reply status. */
  enum Status {
    OK,
    /** This node does not serve the vDisk (now): ask the owner again. */
    NOT_OWNER,
    /** The vDisk is offline on its owner. */
    OFFLINE,
    /** An I/O error on the owner. */
    IO_ERROR,
    /** Bad arguments (outside the vDisk, unaligned) or a request that does not decode. */
    BAD_REQUEST,
    /** A template (read-only) vDisk refused a write. */
    READ_ONLY;

    static Status of(int code) {
      return code >= 0 && code < values().length ? values()[code] : IO_ERROR;
    }
  }

  /** A frame as decoded; {@code payload} is a retained slice the receiver releases. */
  public record Frame(int type, int flags, long id, ByteBuf payload) {}

  /**
   * A frame to send: header fields and the payload. A buffer holder, so that Netty releases it once
   * encoded, and also when the write fails before that (a closed channel).
   */
  public static final class Out extends io.netty.buffer.DefaultByteBufHolder {
    final int type;
    final int flags;
    final long id;

    public Out(int type, int flags, long id, ByteBuf payload) {
      super(payload);
      this.type = type;
      this.flags = flags;
      this.id = id;
    }
  }

  static final class BadFrameException extends Exception {
    BadFrameException(String m) {
      super(m);
    }
  }

  /** Checks the header at the reader index; returns the whole frame's length. */
  static int frameLength(ByteBuf in, int expectedMagic) throws BadFrameException {
    int at = in.readerIndex();
    int magic = in.getInt(at);
    if (magic != expectedMagic) {
      throw new BadFrameException(String.format("bad magic 0x%08x", magic));
    }
    int version = in.getUnsignedByte(at + 4);
    if (version != VERSION) {
      throw new BadFrameException("unsupported version " + version);
    }
    long len = in.getUnsignedInt(at + 16);
    if (len > MAX_PAYLOAD_BYTES) {
      throw new BadFrameException("payload of " + len + " bytes exceeds " + MAX_PAYLOAD_BYTES);
    }
    return HEADER_BYTES + (int) len;
  }

  public static int crc(ByteBuf header, ByteBuf payload) {
    CRC32C c = new CRC32C();
    c.update(header.nioBuffer(header.readerIndex(), 20));
    if (payload.isReadable()) {
      for (java.nio.ByteBuffer b : payload.nioBuffers(payload.readerIndex(), payload.readableBytes())) {
        c.update(b);
      }
    }
    return (int) c.getValue();
  }

  public static void putName(ByteBuf b, String name) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    if (n.length > MAX_NAME_BYTES) {
      throw new IllegalArgumentException("vDisk name of " + n.length + " bytes");
    }
    b.writeShort(n.length);
    b.writeBytes(n);
  }

  /** A length-prefixed string, checked against the bytes left. */
  public static String getString(ByteBuf b) {
    if (b.readableBytes() < 2) {
      throw new IllegalArgumentException("truncated string length");
    }
    int n = b.readUnsignedShort();
    if (n > b.readableBytes() || n > MAX_NAME_BYTES) {
      throw new IllegalArgumentException("string of " + n + " bytes, " + b.readableBytes() + " left");
    }
    String s = b.toString(b.readerIndex(), n, StandardCharsets.UTF_8);
    b.skipBytes(n);
    return s;
  }

  public static void need(ByteBuf b, int bytes) {
    if (b.readableBytes() < bytes) {
      throw new IllegalArgumentException("truncated payload: " + b.readableBytes() + " bytes left, " + bytes + " needed");
    }
  }

  /** Frames and checks incoming bytes; a bad frame closes the connection (see the class comment). */
  public static final class Decoder extends ByteToMessageDecoder {
    private final int magic;

    Decoder() {
      this(MAGIC);
    }

    /** A decoder of frames carrying {@code magic} (another protocol on the same framing). */
    public Decoder(int magic) {
      this.magic = magic;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
      if (in.readableBytes() < HEADER_BYTES) {
        return;
      }
      try {
        int len = frameLength(in, magic);
        if (in.readableBytes() < len) {
          return;
        }
        int at = in.readerIndex();
        ByteBuf payload = in.slice(at + HEADER_BYTES, len - HEADER_BYTES);
        int crc = crc(in.slice(at, HEADER_BYTES), payload);
        if (crc != in.getInt(at + 20)) {
          throw new BadFrameException("CRC32C mismatch");
        }
        int type = in.getUnsignedByte(at + 5);
        int flags = in.getUnsignedShort(at + 6);
        long id = in.getLong(at + 8);
        out.add(new Frame(type, flags, id, payload.retain()));
        in.skipBytes(len);
      } catch (BadFrameException e) {
        in.skipBytes(in.readableBytes());
        throw new DecoderException(String.format("bad frame (magic 0x%08x): %s", magic, e.getMessage()), e);
      }
    }
  }

  /** Writes the header, CRC included, in front of the payload. */
  @ChannelHandler.Sharable
  public static final class Encoder extends MessageToByteEncoder<Out> {
    static final Encoder INSTANCE = new Encoder(MAGIC);

    private final int magic;

    /** An encoder of frames carrying {@code magic}; sharable. */
    public Encoder(int magic) {
      this.magic = magic;
    }

    @Override
    protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Out msg, boolean preferDirect) {
      return ctx.alloc().ioBuffer(HEADER_BYTES + msg.content().readableBytes());
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Out msg, ByteBuf out) {
      // the payload is released by MessageToByteEncoder once this returns
      ByteBuf p = msg.content();
      int at = out.writerIndex();
      out.writeInt(magic);
      out.writeByte(VERSION);
      out.writeByte(msg.type);
      out.writeShort(msg.flags);
      out.writeLong(msg.id);
      out.writeInt(p.readableBytes());
      out.writeInt(crc(out.slice(at, HEADER_BYTES), p));
      out.writeBytes(p, p.readerIndex(), p.readableBytes());
    }
  }
}
