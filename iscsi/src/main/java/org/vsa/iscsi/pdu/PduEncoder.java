package org.vsa.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;
import org.vsa.volume.Verify;

/** Writes PDUs: BHS (DataSegmentLength filled in), AHS, digests, data padded to 4 bytes, without copying the data. */
public final class PduEncoder extends MessageToMessageEncoder<Pdu> {
  private static final byte[] PAD = new byte[4];
  private final Framing framing;

  public PduEncoder(Framing framing) {
    this.framing = framing;
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, Pdu pdu, List<Object> out) {
    byte[] bhs = pdu.bhs();
    int len = pdu.dataLength();
    Verify.that(len < 1 << 24, "data segment of %d bytes does not fit DataSegmentLength", len);
    Verify.that(pdu.ahs().length % 4 == 0 && pdu.ahs().length < 1024, "AHS of %d bytes", pdu.ahs().length);
    bhs[4] = (byte) (pdu.ahs().length / 4);
    bhs[5] = (byte) (len >>> 16);
    bhs[6] = (byte) (len >>> 8);
    bhs[7] = (byte) len;
    int pad = (4 - (len & 3)) & 3;
    ByteBuf header = ctx.alloc().buffer(Pdu.BHS_BYTES + pdu.ahs().length + 8 + 4);
    header.writeBytes(bhs).writeBytes(pdu.ahs());
    if (framing.headerDigest) {
      header.writeIntLE(Crc32c.of(bhs, pdu.ahs(), null, 0));
    }
    if (len == 0) {
      out.add(header);
      return;
    }
    ByteBuf data = pdu.data(); // ownership passes to the composite, which the transport releases
    ByteBuf trailer = ctx.alloc().buffer(8);
    trailer.writeBytes(PAD, 0, pad);
    if (framing.dataDigest) {
      trailer.writeIntLE(Crc32c.of(null, null, data, pad));
    }
    CompositeByteBuf c = ctx.alloc().compositeBuffer(3);
    c.addComponents(true, header, data, trailer);
    out.add(c);
  }
}
