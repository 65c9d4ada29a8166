package org.vsa.volume.remote;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.Volume;

/** RemoteVolume against a RemoteVolumeServer in front of a real engine, over 127.0.0.1. */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RemoteVolumeTest {
  static final long SIZE = 32L << 20;

  @TempDir
  Path dir;
  Engine engine;
  Volume local;
  /** vDisks this "node" serves now; tests remove one to move its ownership away. */
  final Set<String> owned = ConcurrentHashMap.newKeySet();
  /** vDisks an initiator is logged in to on this "node". */
  final Set<String> used = ConcurrentHashMap.newKeySet();
  RemoteVolumeServer server;
  PeerClient client;

  final RemoteVolumeServer.Exports exports = new RemoteVolumeServer.Exports() {
    @Override
    public Optional<BlockVolume> lookup(String vdisk) {
      return owned.contains(vdisk) ? engine.handle(vdisk).map(v -> v) : Optional.empty();
    }

    @Override
    public BlockVolume resize(String vdisk, long sizeBytes) throws IOException {
      engine.resize(vdisk, sizeBytes);
      return engine.handle(vdisk).orElseThrow();
    }

    @Override
    public boolean inUse(String vdisk) {
      return used.contains(vdisk);
    }
  };

  @BeforeEach
  void start() throws IOException {
    engine = TestEngines.start(dir.resolve("engine"));
    local = engine.create(TestEngines.spec("d", SIZE));
    owned.add("d");
    server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0), exports);
    client = new PeerClient(server.localAddress(), PeerClient.Config.defaults());
  }

  @AfterEach
  void stop() throws IOException {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.close();
    }
    engine.close();
  }

  @Test
  void infoIsTheOwnersView() throws IOException {
    RemoteVolume v = client.open("d");
    assertEquals(SIZE, v.sizeBytes());
    assertEquals(512, v.blockSize());
    assertEquals(local.id(), v.id());
    assertTrue(v.ready());
    assertEquals(0, v.contentStamp(), "never read ahead on a forwarded vDisk");
  }

  /**
   * Several threads, each on its own quarter of the vDisk, do random writes (both durabilities,
   * some over 1 MiB: several requests), unmaps, flushes and reads through one connection; every
   * read is checked against the thread's byte model, and at the end the whole vDisk, read both
   * through the forwarding and on the owner, equals the model.
   */
  @Test
  void randomIoFromSeveralThreadsMatchesAByteModel() throws Exception {
    RemoteVolume v = client.open("d");
    int threads = 4;
    long seed = Long.getLong("sim.seed", new Random().nextLong());
    System.out.println("RemoteVolumeTest seed: -Dsim.seed=" + seed);
    byte[] model = new byte[(int) SIZE];
    int region = (int) SIZE / threads;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int base = t * region;
        Random r = new Random(seed + t);
        fs.add(pool.submit(() -> {
          for (int i = 0; i < 300; i++) {
            int op = r.nextInt(10);
            int blocks = r.nextInt(8) == 0 ? 1 + r.nextInt(3 * 2048) : 1 + r.nextInt(64); // up to 3 MiB
            int len = Math.min(blocks * 512, region);
            int off = base + 512 * r.nextInt((region - len) / 512 + 1);
            if (op < 5) {
              byte[] data = new byte[len];
              r.nextBytes(data);
              Durability d = r.nextBoolean() ? Durability.DURABLE : Durability.BUFFERED;
              if (r.nextBoolean()) {
                v.write(off, ByteBuffer.wrap(data), d);
              } else {
                v.writeDeferred(off, ByteBuffer.wrap(data), d).await();
              }
              System.arraycopy(data, 0, model, off, len);
            } else if (op < 6) {
              int at = off - off % 4096;
              int n = Math.max(4096, len - len % 4096);
              n = Math.min(n, base + region - at);
              v.unmap(at, n);
              java.util.Arrays.fill(model, at, at + n, (byte) 0);
            } else if (op < 7) {
              v.flush();
            } else {
              byte[] got = TestEngines.read(v, off, len);
              assertArrayEquals(java.util.Arrays.copyOfRange(model, off, off + len), got,
                  "read at " + off + " len " + len + " (seed " + seed + ")");
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get(240, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    v.flush();
    for (int at = 0; at < SIZE; at += 4 << 20) {
      byte[] want = java.util.Arrays.copyOfRange(model, at, at + (4 << 20));
      assertArrayEquals(want, TestEngines.read(v, at, 4 << 20), "forwarded read at " + at);
      assertArrayEquals(want, TestEngines.read(local, at, 4 << 20), "owner's read at " + at);
    }
  }

  @Test
  void argumentsTheOwnerRefusesAreIllegalArgumentsAndTheConnectionGoesOn() throws IOException {
    RemoteVolume v = client.open("d");
    assertThrows(IllegalArgumentException.class, () -> v.write(100, ByteBuffer.allocate(512), Durability.DURABLE));
    assertThrows(IllegalArgumentException.class, () -> v.read(SIZE, ByteBuffer.allocate(512)));
    TestEngines.write(v, 0, TestEngines.pattern(1, 4096), Durability.DURABLE);
    assertArrayEquals(TestEngines.pattern(1, 4096), TestEngines.read(v, 0, 4096));
  }

  /** Whether the vDisk is in use on its owner is asked anew each time (INFO), and I/O goes on either way. */
  @Test
  void inUseIsTheOwnersAnswerNow() throws IOException {
    RemoteVolume v = client.open("d");
    assertFalse(v.inUse());
    used.add("d");
    assertTrue(v.inUse());
    TestEngines.write(v, 0, TestEngines.pattern(3, 4096), Durability.DURABLE);
    assertTrue(v.ready());
    used.remove("d");
    assertFalse(v.inUse());
    owned.remove("d");
    assertThrows(NotOwnerException.class, v::inUse, "a moved vDisk: asked again of its new owner");
  }

  @Test
  void aVdiskNoLongerServedThrowsNotOwner() throws IOException {
    assertThrows(NotOwnerException.class, () -> client.open("nope"));
    RemoteVolume v = client.open("d");
    TestEngines.write(v, 0, TestEngines.pattern(2, 4096), Durability.BUFFERED);
    owned.remove("d");
    NotOwnerException e = assertThrows(NotOwnerException.class, () -> TestEngines.read(v, 0, 4096));
    assertEquals("d", e.vdisk());
    assertThrows(NotOwnerException.class, () -> v.write(0, ByteBuffer.allocate(4096), Durability.DURABLE));
    assertThrows(NotOwnerException.class, v::flush);
    owned.add("d"); // moved back: served again
    assertArrayEquals(TestEngines.pattern(2, 4096), TestEngines.read(v, 0, 4096));
  }

  @Test
  void peerClientsKeepOneVolumePerVdiskUntilItsOwnerMoves() throws IOException {
    try (PeerClients clients = new PeerClients(PeerClient.Config.defaults())) {
      RemoteVolume v = clients.volume("d", server.localAddress());
      assertTrue(v == clients.volume("d", server.localAddress()), "a map lookup once opened");
      assertTrue(clients.peer(server.localAddress()) == v.peer(), "one connection per peer");
      clients.forget("d");
      RemoteVolume again = clients.volume("d", server.localAddress());
      assertTrue(again != v);
      TestEngines.write(again, 0, TestEngines.pattern(8, 4096), Durability.DURABLE);
      assertArrayEquals(TestEngines.pattern(8, 4096), TestEngines.read(v, 0, 4096));
    }
  }

  @Test
  void resizeGoesToTheOwnerAndGrowOnlyNeverShrinks() throws IOException {
    RemoteVolume v = client.open("d");
    v.resize(SIZE * 2, true);
    assertEquals(SIZE * 2, v.sizeBytes());
    assertEquals(SIZE * 2, local.sizeBytes());
    v.resize(SIZE, true);
    assertEquals(SIZE * 2, v.sizeBytes(), "a grow to less than the size is no shrink");
    TestEngines.write(v, SIZE * 2 - 4096, TestEngines.pattern(3, 4096), Durability.DURABLE);
    assertArrayEquals(TestEngines.pattern(3, 4096), TestEngines.read(local, SIZE * 2 - 4096, 4096));
  }

  @Test
  void afterTheOwnersRestartItsUnflushedBufferedWritesAreReportedLost() throws IOException {
    RemoteVolume v = client.open("d");
    int port = server.localAddress().getPort();
    TestEngines.write(v, 0, TestEngines.pattern(4, 4096), Durability.BUFFERED);
    server.close();
    // another incarnation of the owner on the same port (same engine here; a real restart may have lost the write)
    server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(port), exports);
    IOException first = assertThrows(IOException.class, v::flush); // the connection it used is gone
    IOException e = first instanceof WritesLostException ? first : assertThrows(WritesLostException.class, v::flush);
    assertTrue(e.getMessage().contains("may be lost"), e.getMessage());
    v.flush(); // reported once; nothing unflushed now
    TestEngines.write(v, 0, TestEngines.pattern(5, 4096), Durability.BUFFERED);
    v.flush();
  }

  @Test
  void durableWriteAndFlushReturnOnlyAfterTheOwnersFinalReply() throws Exception {
    // an owner whose durability wait is held: the forwarded DURABLE write is visible on it, not acknowledged
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch visible = new java.util.concurrent.CountDownLatch(1);
    BlockVolume held = new org.vsa.volume.remote.ForwardingVolume(local) {
      @Override
      public Pending writeDeferred(long offset, ByteBuffer src, Durability d) throws IOException {
        Pending p = local.writeDeferred(offset, src, d);
        visible.countDown();
        return () -> {
          try {
            release.await();
          } catch (InterruptedException e) {
            throw new java.io.InterruptedIOException();
          }
          p.await();
        };
      }
    };
    try (RemoteVolumeServer s2 = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
        name -> Optional.of(held));
        PeerClient c2 = new PeerClient(s2.localAddress(), PeerClient.Config.defaults())) {
      RemoteVolume v = c2.open("d");
      BlockVolume.Pending p = v.writeDeferred(8192, ByteBuffer.wrap(TestEngines.pattern(6, 4096)), Durability.DURABLE);
      assertTrue(visible.await(10, TimeUnit.SECONDS));
      // visible to reads through the forwarding while its durability is still awaited
      assertArrayEquals(TestEngines.pattern(6, 4096), TestEngines.read(v, 8192, 4096));
      Future<?> acked = Executors.newSingleThreadExecutor().submit(() -> {
        p.await();
        return null;
      });
      assertThrows(java.util.concurrent.TimeoutException.class, () -> acked.get(300, TimeUnit.MILLISECONDS));
      release.countDown();
      acked.get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void aPeerThatIsDownFailsWithinTheConnectTimeout() throws IOException {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    try (PeerClient c = new PeerClient(new InetSocketAddress("127.0.0.1", port), PeerClient.Config.defaults())) {
      long t0 = System.nanoTime();
      assertThrows(PeerUnavailableException.class, () -> c.open("d"));
      assertThrows(PeerUnavailableException.class, () -> c.open("d"));
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(20));
    }
  }

  @Test
  void aPeerThatStopsAnsweringFailsTheRequestAfterTheTimeout() throws Exception {
    // accepts and reads, never answers (a paused owner)
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        PeerClient c = new PeerClient(new InetSocketAddress("127.0.0.1", s.getLocalPort()),
            PeerClient.Config.defaults().withRequestTimeout(Duration.ofSeconds(1)))) {
      Thread sink = new Thread(() -> {
        try (java.net.Socket a = s.accept()) {
          a.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        } catch (IOException ignored) {
          // closed by the client
        }
      });
      sink.start();
      long t0 = System.nanoTime();
      IOException e = assertThrows(PeerUnavailableException.class, () -> c.open("d"));
      assertTrue(e.getMessage().contains("no reply"), e.getMessage());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
      sink.join(10_000);
    }
  }

  @Test
  void aLostConnectionIsReconnected() throws Exception {
    RemoteVolume v = client.open("d");
    TestEngines.write(v, 0, TestEngines.pattern(7, 4096), Durability.DURABLE);
    int port = server.localAddress().getPort();
    server.close();
    assertThrows(PeerUnavailableException.class, () -> TestEngines.read(v, 0, 4096));
    server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(port), exports);
    // at most one connection attempt per connect timeout: retry for a bounded time
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    byte[] got = null;
    while (got == null && System.nanoTime() < deadline) {
      try {
        got = TestEngines.read(v, 0, 4096);
      } catch (IOException e) {
        Thread.sleep(50);
      }
    }
    assertArrayEquals(TestEngines.pattern(7, 4096), got);
  }
}
