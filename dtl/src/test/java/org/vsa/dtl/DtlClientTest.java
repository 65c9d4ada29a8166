package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Netty client shell against a real server: sync acks, a dead DTL, reconnects, restores and fencing. */
class DtlClientTest {
  @TempDir Path dir;

  static void await(BooleanSupplier cond, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within 20 s: " + what);
      }
      Thread.sleep(10);
    }
  }

  static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  @Test
  void syncStreamSurvivesADeadDtlAndIsRestoredFromIt() throws Exception {
    int port = freePort();
    UUID v = UUID.randomUUID();
    List<String> events = new CopyOnWriteArrayList<>();
    ClientConfig cfg = ClientConfig.defaults();
    DtlServer server = DtlServer.start(dir.resolve("server"), "127.0.0.1", port, 1 << 26);
    try (DtlConnector c = new DtlConnector(dir.resolve("owner"), cfg,
        name -> Optional.of(new InetSocketAddress("127.0.0.1", port)), (n, from, to, why) -> events.add(to.name()))) {
      DtlStream s = c.open(v, "vd", DtlMode.SYNC, 0, 0, sco -> { });
      s.backendHolds(0);
      await(() -> s.state() == DtlState.OK_SYNC, "OK_SYNC at start");
      for (long q = 1; q <= 50; q++) {
        s.append(q, 1, new byte[] {(byte) q}, DtlServerTest.entry(q, 1, 4096).data());
        assertTrue(s.awaitHeld(q), "write " + q + " held");
      }
      // the DTL dies: writes go on, unprotected, without waiting more than the ack timeout
      server.close();
      long t0 = System.nanoTime();
      s.append(51, 1, new byte[] {51}, DtlServerTest.entry(51, 1, 4096).data());
      assertFalse(s.awaitHeld(51), "not held by a dead DTL");
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "a dead DTL stalls a write briefly at most");
      await(() -> s.state() == DtlState.DEGRADED, "DEGRADED");
      assertTrue(events.contains("DEGRADED"), "an event was raised: " + events);
      for (long q = 52; q <= 60; q++) {
        s.append(q, 1, new byte[] {(byte) q}, DtlServerTest.entry(q, 1, 4096).data());
        assertFalse(s.awaitHeld(q));
      }
      // it comes back on the same port: the client resends what it missed
      server = DtlServer.start(dir.resolve("server"), "127.0.0.1", port, 1 << 26);
      await(() -> s.state() == DtlState.OK_SYNC, "OK_SYNC after the DTL returned");
      s.append(61, 2, new byte[] {61}, DtlServerTest.entry(61, 2, 4096).data());
      assertTrue(s.awaitHeld(61));
      assertEquals(61, server.stats().get(v).get("lastSeq"));

      // another node restores the vDisk: it fences this owner and reads every entry back
      try (DtlConnector other = new DtlConnector(dir.resolve("restorer"), cfg,
          name -> Optional.of(new InetSocketAddress("127.0.0.1", port)), DtlEvents.NONE)) {
        DtlConnector.Fetched f = other.fetch(v, "vd");
        assertEquals(61, f.entries().size());
        for (Entry e : f.entries()) {
          assertArrayEquals(DtlServerTest.entry(e.seq(), 0, 4096).data(), e.data(), "entry " + e.seq());
        }
        assertTrue(f.epoch() > 1);
      }
      s.append(62, 2, new byte[] {62}, DtlServerTest.entry(62, 2, 4096).data());
      assertFalse(s.awaitHeld(62), "a fenced owner's writes are not held");
      await(() -> s.state() == DtlState.DEGRADED && s.reason().contains("fenced"), "fenced");
      assertEquals(61, server.stats().get(v).get("lastSeq"), "the stale owner appended nothing");
      s.close();
    } finally {
      server.close();
    }
  }

  /** A writer that waits for room, then appends 4 KiB entries until {@code until} (or fails). */
  private static Thread writer(DtlStream s, AtomicLong appended, long until, List<Throwable> errors) {
    Thread t = new Thread(() -> {
      try {
        while (appended.get() < until) {
          s.awaitRoom();
          long q = appended.get() + 1;
          s.append(q, 1, new byte[] {(byte) q}, DtlServerTest.entry(q, 1, 4096).data());
          appended.set(q);
        }
      } catch (Throwable e) {
        errors.add(e);
      }
    }, "writer");
    t.setDaemon(true);
    t.start();
    return t;
  }

  @Test
  void aLaggingDtlHoldsWritersBackAndADeadOneReleasesThem() throws Exception {
    UUID v = UUID.randomUUID();
    long retain = 256 * 1024;
    ClientConfig cfg = ClientConfig.defaults().withAsync(1, 0).withRetainMaxBytes(retain)
        .withAckTimeoutNanos(TimeUnit.SECONDS.toNanos(10));
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    try (DtlServer server = DtlServer.start(dir.resolve("server"), "127.0.0.1", 0, 1 << 28);
        PausingProxy proxy = new PausingProxy(server.port());
        DtlConnector c = new DtlConnector(dir.resolve("owner"), cfg,
            name -> Optional.of(new InetSocketAddress("127.0.0.1", proxy.port())), DtlEvents.NONE)) {
      DtlStream s = c.open(v, "vd", DtlMode.ASYNC, 0, 0, sco -> { });
      s.backendHolds(0);
      await(() -> s.state() == DtlState.OK_SYNC, "OK_SYNC at start");

      // the DTL receives but does not answer: the writer stops at the queue bound, still OK_SYNC
      proxy.pauseAnswers(true);
      AtomicLong appended = new AtomicLong();
      Thread w = writer(s, appended, 400, errors);
      long held = HeldBack.await(w, appended, Duration.ofSeconds(20));
      long entryBytes = new Entry(1, 1, new byte[1], new byte[4096]).sizeBytes();
      assertTrue(held * entryBytes >= retain / 2 && held * entryBytes < retain / 2 + 2 * entryBytes,
          "held back at the bound of " + retain / 2 + " bytes: " + held + " entries");
      assertEquals(DtlState.OK_SYNC, s.state(), "a lagging DTL keeps the stream in sync: " + s.reason());

      // the answers arrive: the writer goes on to the end, every entry on the DTL
      proxy.pauseAnswers(false);
      await(() -> appended.get() == 400 && !w.isAlive(), "the writer resumed and finished");
      assertTrue(s.awaitHeld(400));
      assertEquals(400, server.stats().get(v).get("lastSeq"));
      assertEquals(DtlState.OK_SYNC, s.state());

      // held back again, then the DTL node dies: DEGRADED, the writer is released and goes on
      proxy.pauseAnswers(true);
      Thread w2 = writer(s, appended, 1400, errors);
      HeldBack.await(w2, appended, Duration.ofSeconds(20));
      long t0 = System.nanoTime();
      proxy.close();
      await(() -> appended.get() == 1400 && !w2.isAlive(), "the writer went on after the DTL died");
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10), "released before the ack timeout");
      assertEquals(DtlState.DEGRADED, s.state());
      assertFalse(s.awaitHeld(1400), "not held by a dead DTL");
      assertTrue(errors.isEmpty(), "writers failed: " + errors);
      s.close();
    }
  }

  @Test
  void asyncFlushWaitsAndNoPeerMeansStandalone() throws Exception {
    UUID v = UUID.randomUUID();
    try (DtlServer server = DtlServer.start(dir.resolve("server"), "127.0.0.1", 0, 1 << 26);
        DtlConnector c = new DtlConnector(dir.resolve("owner"),
            ClientConfig.defaults().withAsync(1 << 30, TimeUnit.SECONDS.toNanos(3600)),
            name -> name.equals("alone") ? Optional.empty() : Optional.of(new InetSocketAddress("127.0.0.1", server.port())),
            DtlEvents.NONE)) {
      DtlStream s = c.open(v, "vd", DtlMode.ASYNC, 0, 0, sco -> { });
      s.backendHolds(0);
      await(() -> s.state() == DtlState.OK_SYNC, "OK_SYNC");
      for (long q = 1; q <= 20; q++) {
        s.append(q, 1, new byte[] {1}, new byte[4096]);
      }
      // neither size nor age is reached: only the flush ships them
      assertTrue(server.stats().get(v).get("lastSeq") < 20);
      assertTrue(s.awaitHeld(20));
      assertEquals(20, server.stats().get(v).get("lastSeq"));
      s.close();
      DtlStream alone = c.open(UUID.randomUUID(), "alone", DtlMode.SYNC, 0, 0, sco -> { });
      assertEquals(DtlState.OK_STANDALONE, alone.state());
      assertEquals(DtlState.OK_STANDALONE, c.open(UUID.randomUUID(), "vd", DtlMode.NONE, 0, 0, sco -> { }).state());
    }
  }
}
