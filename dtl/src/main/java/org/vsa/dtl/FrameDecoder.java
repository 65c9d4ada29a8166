package org.vsa.dtl;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import java.util.List;

/** Frames DTL messages: waits for a whole frame, then checks and decodes it (see {@link WireCodec}). */
final class FrameDecoder extends ByteToMessageDecoder {
  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (in.readableBytes() < WireCodec.HEADER_BYTES) {
      return;
    }
    try {
      int len = WireCodec.frameLength(in.nioBuffer(in.readerIndex(), WireCodec.HEADER_BYTES));
      if (in.readableBytes() < len) {
        return;
      }
      // decoded in place: the entries' bytes are copied once, into their arrays
      Msg m = WireCodec.decode(in.nioBuffer(in.readerIndex(), len));
      in.skipBytes(len);
      out.add(m);
    } catch (WireCodec.BadFrameException e) {
      in.skipBytes(in.readableBytes());
      throw new DecoderException("bad DTL frame: " + e.getMessage(), e);
    }
  }
}
