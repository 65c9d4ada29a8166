package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.channels.SocketChannel;
import org.glassfish.grizzly.nio.transport.TCPNIOConnection;
import org.glassfish.grizzly.nio.transport.TCPNIOTransport;
import org.glassfish.grizzly.nio.transport.TCPNIOTransportBuilder;
import org.junit.jupiter.api.Test;

/** Grizzly's per-read size is widened on this Grizzly version (a field lookup that a Grizzly upgrade could break). */
class SocketReadsTest {
  @Test
  void widenRaisesGrizzlysReadSizeAndNeverLowersIt() throws Exception {
    TCPNIOTransport transport = TCPNIOTransportBuilder.newInstance().build();
    try (SocketChannel ch = SocketChannel.open()) {
      TCPNIOConnection c = new TCPNIOConnection(transport, ch);
      SocketReads.widen(c);
      assertEquals(SocketReads.READ_BYTES, SocketReads.readBytes(c));
      c.setReadBufferSize(0); // a no-op for Grizzly (size <= 0): still widened
      assertEquals(SocketReads.READ_BYTES, SocketReads.readBytes(c));
    }
    try (SocketChannel ch = SocketChannel.open()) {
      TCPNIOConnection c = new TCPNIOConnection(transport, ch);
      java.lang.reflect.Field f = TCPNIOConnection.class.getDeclaredField("readBufferSize");
      f.setAccessible(true);
      f.setInt(c, 4 * SocketReads.READ_BYTES); // already larger: left alone
      SocketReads.widen(c);
      assertEquals(4 * SocketReads.READ_BYTES, SocketReads.readBytes(c));
    }
  }
}
