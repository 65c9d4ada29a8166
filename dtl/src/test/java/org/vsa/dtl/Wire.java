package org.vsa.dtl;

import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;

/** A blocking test client speaking raw frames. */
final class Wire implements AutoCloseable {
  final Socket socket = new Socket();
  private final DataInputStream in;

  Wire(int port) throws IOException {
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    in = new DataInputStream(socket.getInputStream());
  }

  void send(Msg m) throws IOException {
    ByteBuffer b = WireCodec.encode(m);
    raw(b.array(), b.arrayOffset() + b.position(), b.remaining());
  }

  void raw(byte[] b, int off, int len) throws IOException {
    socket.getOutputStream().write(b, off, len);
    socket.getOutputStream().flush();
  }

  Msg call(Msg m) throws Exception {
    send(m);
    return read();
  }

  Msg read() throws Exception {
    byte[] head = new byte[WireCodec.HEADER_BYTES];
    in.readFully(head);
    int len = WireCodec.frameLength(ByteBuffer.wrap(head));
    byte[] frame = new byte[len];
    System.arraycopy(head, 0, frame, 0, head.length);
    in.readFully(frame, head.length, len - head.length);
    return WireCodec.decode(ByteBuffer.wrap(frame));
  }

  /** True once the server has closed the connection (bounded by the socket timeout). */
  boolean closedByPeer() throws IOException {
    try {
      return in.read() < 0;
    } catch (java.net.SocketException e) {
      return true;
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
