package org.vsa.nfs;

import java.io.IOException;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.xdr.XdrAble;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;

/** A reply body written by a lambda. */
final class Reply implements XdrAble {
  interface Body {
    void encode(XdrEncodingStream out) throws OncRpcException, IOException;
  }

  private final Body body;

  Reply(Body body) {
    this.body = body;
  }

  @Override
  public void xdrEncode(XdrEncodingStream out) throws OncRpcException, IOException {
    body.encode(out);
  }

  @Override
  public void xdrDecode(XdrDecodingStream in) {
    throw new UnsupportedOperationException("reply bodies are only encoded");
  }
}
