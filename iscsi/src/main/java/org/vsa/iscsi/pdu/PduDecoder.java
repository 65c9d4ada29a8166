package org.vsa.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frames PDUs: BHS, AHS, header digest, data segment padded to 4 bytes, data digest. Returns
 * without consuming anything until a whole PDU is there. A data segment longer than our
 * MaxRecvDataSegmentLength or a digest mismatch is not something to recover from at error
 * recovery level 0: the connection is closed with a log line.
 */
public final class PduDecoder extends ByteToMessageDecoder {
  private static final Logger log = LoggerFactory.getLogger(PduDecoder.class);

  private final Framing framing;

  public PduDecoder(Framing framing) {
    this.framing = framing;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (!ctx.channel().isActive()) {
      in.skipBytes(in.readableBytes());
      return;
    }
    if (in.readableBytes() < Pdu.BHS_BYTES) {
      return;
    }
    int start = in.readerIndex();
    int ahsBytes = (in.getUnsignedByte(start + 4)) * 4;
    int dataBytes = in.getUnsignedMedium(start + 5);
    if (dataBytes > framing.maxRecvDataSegmentBytes) {
      drop(ctx, in, "data segment of " + dataBytes + " bytes exceeds MaxRecvDataSegmentLength "
          + framing.maxRecvDataSegmentBytes);
      return;
    }
    int hdBytes = framing.headerDigest ? 4 : 0;
    int ddBytes = framing.dataDigest && dataBytes > 0 ? 4 : 0;
    int padded = (dataBytes + 3) & ~3;
    int total = Pdu.BHS_BYTES + ahsBytes + hdBytes + padded + ddBytes;
    if (in.readableBytes() < total) {
      return;
    }
    byte[] bhs = new byte[Pdu.BHS_BYTES];
    in.readBytes(bhs);
    byte[] ahs = new byte[ahsBytes];
    in.readBytes(ahs);
    if (hdBytes > 0) {
      int got = in.readIntLE();
      int want = Crc32c.of(bhs, ahs, null, 0);
      if (got != want) {
        drop(ctx, in, String.format("header digest mismatch (got %08x, want %08x)", got, want));
        return;
      }
    }
    ByteBuf data = in.readRetainedSlice(dataBytes);
    in.skipBytes(padded - dataBytes);
    if (ddBytes > 0) {
      int got = in.readIntLE();
      int want = Crc32c.of(null, null, data, padded - dataBytes);
      if (got != want) {
        data.release();
        drop(ctx, in, String.format("data digest mismatch (got %08x, want %08x)", got, want));
        return;
      }
    }
    out.add(new Pdu(bhs, ahs, data));
  }

  private static void drop(ChannelHandlerContext ctx, ByteBuf in, String why) {
    log.warn("iSCSI connection from {}: {}; closing it", ctx.channel().remoteAddress(), why);
    in.skipBytes(in.readableBytes());
    ctx.close();
  }
}
