package org.vsa.dtl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToByteEncoder;

/** Encodes DTL messages as frames (see {@link WireCodec}). */
@ChannelHandler.Sharable
final class FrameEncoder extends MessageToByteEncoder<Msg> {
  static final FrameEncoder INSTANCE = new FrameEncoder();

  @Override
  protected void encode(ChannelHandlerContext ctx, Msg msg, ByteBuf out) {
    out.writeBytes(WireCodec.encode(msg));
    if (msg instanceof Msg.Append a && !a.entries().isEmpty() && DtlTrace.on()) {
      DtlTrace.mark(DtlTrace.Stage.CLIENT_ENCODE, a.entries().get(a.entries().size() - 1).seq());
    }
  }
}
