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
  protected ByteBuf allocateBuffer(ChannelHandlerContext ctx, Msg msg, boolean preferDirect) {
    int n = WireCodec.frameSize(msg);
    return preferDirect ? ctx.alloc().ioBuffer(n) : ctx.alloc().heapBuffer(n);
  }

  @Override
  protected void encode(ChannelHandlerContext ctx, Msg msg, ByteBuf out) {
    int n = WireCodec.frameSize(msg);
    out.ensureWritable(n);
    java.nio.ByteBuffer b = out.nioBuffer(out.writerIndex(), n).order(java.nio.ByteOrder.BIG_ENDIAN);
    WireCodec.encodeInto(msg, b);
    out.writerIndex(out.writerIndex() + n);
    if (msg instanceof Msg.Append a && !a.entries().isEmpty() && DtlTrace.on()) {
      DtlTrace.mark(DtlTrace.Stage.CLIENT_ENCODE, a.entries().get(a.entries().size() - 1).seq());
    }
  }
}
