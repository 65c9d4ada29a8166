package org.vsa.volume.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * Hostile and broken frames against the server (and a broken server against the client): an
 * error reply or a closed connection, never a crash, and a well-behaved client on another
 * connection goes on meanwhile.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WireAbuseTest {
  @TempDir
  Path dir;
  Engine engine;
  RemoteVolumeServer server;
  PeerClient good;
  RemoteVolume goodVolume;
  int round;

  @BeforeEach
  void start() throws IOException {
    engine = TestEngines.start(dir.resolve("engine"));
    engine.create(TestEngines.spec("d", 8L << 20));
    server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
        name -> engine.handle(name).map(v -> v));
    good = new PeerClient(server.localAddress(), PeerClient.Config.defaults());
    goodVolume = good.open("d");
  }

  @AfterEach
  void stop() throws IOException {
    good.close();
    server.close();
    engine.close();
  }

  /** The other client still reads what it writes. */
  void goodClientWorks() throws IOException {
    byte[] b = TestEngines.pattern(++round, 4096);
    TestEngines.write(goodVolume, 4096L * round, b, Durability.DURABLE);
    assertArrayEquals(b, TestEngines.read(goodVolume, 4096L * round, 4096));
  }

  static byte[] frame(int magic, int version, int type, long id, long lengthField, byte[] payload, boolean goodCrc) {
    ByteBuf h = Unpooled.buffer(Wire.HEADER_BYTES);
    h.writeInt(magic).writeByte(version).writeByte(type).writeShort(0).writeLong(id).writeInt((int) lengthField);
    int crc = Wire.crc(h, Unpooled.wrappedBuffer(payload));
    h.writeInt(goodCrc ? crc : crc ^ 0x5a5a);
    byte[] out = new byte[Wire.HEADER_BYTES + payload.length];
    h.readBytes(out, 0, Wire.HEADER_BYTES);
    System.arraycopy(payload, 0, out, Wire.HEADER_BYTES, payload.length);
    return out;
  }

  static byte[] good(int type, long id, byte[] payload) {
    return frame(Wire.MAGIC, Wire.VERSION, type, id, payload.length, payload, true);
  }

  static byte[] named(String name, int... ints) {
    byte[] args = new byte[ints.length];
    for (int i = 0; i < ints.length; i++) {
      args[i] = (byte) ints[i];
    }
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    byte[] p = new byte[2 + n.length + args.length];
    p[0] = (byte) (n.length >> 8);
    p[1] = (byte) n.length;
    System.arraycopy(n, 0, p, 2, n.length);
    System.arraycopy(args, 0, p, 2 + n.length, args.length);
    return p;
  }

  Socket raw() throws IOException {
    Socket s = new Socket();
    s.connect(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()), 5000);
    s.setSoTimeout(10_000);
    return s;
  }

  /** Reads one reply frame: {id, status}. */
  static long[] reply(InputStream in) throws IOException {
    DataInputStream d = new DataInputStream(in);
    assertEquals(Wire.MAGIC, d.readInt());
    assertEquals(Wire.VERSION, d.readUnsignedByte());
    int type = d.readUnsignedByte();
    assertTrue((type & Wire.REPLY) != 0);
    d.readUnsignedShort();
    long id = d.readLong();
    int len = d.readInt();
    d.readInt();
    byte[] p = d.readNBytes(len);
    return new long[] {id, p[0]};
  }

  void assertClosedByServer(byte[] bytes) throws IOException {
    try (Socket s = raw()) {
      s.getOutputStream().write(bytes);
      s.getOutputStream().flush();
      // the server closes: end of stream (or a reset), well within the socket timeout
      try {
        assertEquals(-1, s.getInputStream().read());
      } catch (java.net.SocketException reset) {
        assertTrue(reset.getMessage().contains("reset"), reset.getMessage());
      }
    }
    goodClientWorks();
  }

  @Test
  void badMagicClosesTheConnection() throws IOException {
    assertClosedByServer(frame(0x12345678, Wire.VERSION, Wire.INFO, 1, 3, named("d"), true));
  }

  @Test
  void unknownVersionClosesTheConnection() throws IOException {
    assertClosedByServer(frame(Wire.MAGIC, 9, Wire.INFO, 1, 3, named("d"), true));
  }

  @Test
  void aLyingLengthClosesTheConnectionWithoutWaitingForTheBytes() throws IOException {
    assertClosedByServer(frame(Wire.MAGIC, Wire.VERSION, Wire.WRITE, 1, 0x7fff_ffffL, named("d"), true));
    assertClosedByServer(frame(Wire.MAGIC, Wire.VERSION, Wire.WRITE, 1, Wire.MAX_PAYLOAD_BYTES + 1L, named("d"), true));
  }

  @Test
  void aBadCrcClosesTheConnection() throws IOException {
    assertClosedByServer(frame(Wire.MAGIC, Wire.VERSION, Wire.INFO, 1, 3, named("d"), false));
  }

  @Test
  void wellFramedNonsenseGetsErrorRepliesOnTheSameConnection() throws IOException {
    try (Socket s = raw()) {
      var out = s.getOutputStream();
      var in = s.getInputStream();
      out.write(good(42, 1, named("d"))); // unknown type
      assertArrayEquals(new long[] {1, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      out.write(good(Wire.READ, 2, named("d", 1))); // truncated arguments
      assertArrayEquals(new long[] {2, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      out.write(good(Wire.INFO, 3, new byte[] {(byte) 0xff, (byte) 0xff, 'd'})); // name longer than the payload
      assertArrayEquals(new long[] {3, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      out.write(good(Wire.INFO, 4, named("no-such-vdisk")));
      assertArrayEquals(new long[] {4, Wire.Status.NOT_OWNER.ordinal()}, reply(in));
      // a READ asking for more than one frame may carry
      out.write(good(Wire.READ, 5, named("d", 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 0)));
      assertArrayEquals(new long[] {5, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      // a READ past the end, a WRITE with an unknown durability, an unaligned UNMAP
      out.write(good(Wire.READ, 6, named("d", 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0)));
      assertArrayEquals(new long[] {6, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      out.write(good(Wire.WRITE, 7, named("d", 0, 0, 0, 0, 0, 0, 0, 0, 7)));
      assertArrayEquals(new long[] {7, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      out.write(good(Wire.UNMAP, 8, named("d", 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5)));
      assertArrayEquals(new long[] {8, Wire.Status.BAD_REQUEST.ordinal()}, reply(in));
      // and the connection still serves a good request
      out.write(good(Wire.INFO, 9, named("d")));
      assertArrayEquals(new long[] {9, Wire.Status.OK.ordinal()}, reply(in));
    }
    goodClientWorks();
  }

  @Test
  void aClientStuckHalfwayThroughAFrameHoldsUpNobodyElse() throws IOException {
    try (Socket s = raw()) {
      byte[] f = good(Wire.INFO, 1, named("d"));
      s.getOutputStream().write(f, 0, 10);
      s.getOutputStream().flush();
      for (int i = 0; i < 5; i++) {
        goodClientWorks();
      }
      s.getOutputStream().write(f, 10, f.length - 10); // the rest, late: still one good frame
      assertArrayEquals(new long[] {1, Wire.Status.OK.ordinal()}, reply(s.getInputStream()));
    }
  }

  @Test
  void aClientThatNeverReadsItsRepliesIsThrottledAndOthersGoOn() throws IOException {
    try (Socket s = raw()) {
      // 1000 READs of 64 KiB, no reply read: the server stops reading from it once 64 are in progress
      byte[] f = good(Wire.READ, 1, named("d", 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0));
      Thread flood = new Thread(() -> {
        try {
          for (int i = 0; i < 1000; i++) {
            s.getOutputStream().write(f);
          }
        } catch (IOException ignored) {
          // closed at the end of the test
        }
      });
      flood.setDaemon(true);
      flood.start();
      for (int i = 0; i < 5; i++) {
        goodClientWorks();
      }
    }
  }

  @Test
  void aServerWideBudgetOfOneFrameStillServesSeveralClientsCorrectly() throws Exception {
    RemoteVolumeServer.Config tiny = new RemoteVolumeServer.Config("127.0.0.1", 0, 4, 8, 64, Wire.MAX_PAYLOAD_BYTES);
    try (RemoteVolumeServer s = RemoteVolumeServer.start(tiny, name -> engine.handle(name).map(v -> v))) {
      java.util.List<java.util.concurrent.Future<?>> fs = new java.util.ArrayList<>();
      java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(3);
      try {
        for (int t = 0; t < 3; t++) {
          int thread = t;
          fs.add(pool.submit(() -> {
            try (PeerClient c = new PeerClient(s.localAddress(), PeerClient.Config.defaults())) {
              RemoteVolume v = c.open("d");
              for (int i = 0; i < 4; i++) {
                byte[] b = TestEngines.pattern(thread * 100 + i, 2 << 20); // two frames each way
                long at = (long) thread * (2 << 20);
                TestEngines.write(v, at, b, Durability.BUFFERED);
                assertArrayEquals(b, TestEngines.read(v, at, 2 << 20));
              }
            }
            return null;
          }));
        }
        for (var f : fs) {
          f.get(60, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  @Test
  void aServerAnsweringGarbageFailsTheClientsRequestWithoutAHang() throws Exception {
    try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
        PeerClient c = new PeerClient(new InetSocketAddress("127.0.0.1", ss.getLocalPort()), PeerClient.Config.defaults())) {
      Thread liar = new Thread(() -> {
        try (Socket a = ss.accept()) {
          a.getInputStream().readNBytes(Wire.HEADER_BYTES);
          a.getOutputStream().write(new byte[64]); // no magic
          a.getOutputStream().flush();
          a.getInputStream().read();
        } catch (IOException ignored) {
          // the client closes
        }
      });
      liar.start();
      long t0 = System.nanoTime();
      IOException e = assertThrows(PeerUnavailableException.class, () -> c.open("d"));
      assertTrue(e.getMessage().contains("connection lost"), e.getMessage());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
      liar.join(10_000);
    }
  }
}
