package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.dtl.ClientConfig;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlEvents;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;
import org.vsa.dtl.HeldBack;
import org.vsa.dtl.PausingProxy;

/**
 * Async mode through the engine's write path: a DTL that receives but does not answer holds
 * buffered writers back at the queue bound (the stream stays OK_SYNC); its answers let them go on;
 * a DTL that dies while they are held back turns the stream DEGRADED and the writes go on, every
 * one readable.
 */
class DtlBackpressureTest {
  @TempDir Path dir;

  static void await(BooleanSupplier cond, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        fail("not within 60 s: " + what);
      }
      Thread.sleep(5);
    }
  }

  private static Thread writer(Volume v, AtomicLong done, long until, List<Throwable> errors) {
    Thread t = new Thread(() -> {
      try {
        while (done.get() < until) {
          long i = done.get();
          v.write(i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(TestEngines.pattern(i, Layout.CLUSTER_BYTES)),
              Durability.BUFFERED);
          done.set(i + 1);
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
  void aLaggingDtlSlowsAsyncWritersDownAndADeadOneLetsThemGoOn() throws Exception {
    List<Throwable> errors = new CopyOnWriteArrayList<>();
    // a 1 MiB retain bound: writers are held back at 512 KiB; a long ack timeout, so that only
    // the proxy's death (not a slow machine) turns the stream DEGRADED
    ClientConfig cfg = ClientConfig.defaults().withRetainMaxBytes(1 << 20).withAckTimeoutNanos(60_000_000_000L);
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30);
        PausingProxy proxy = new PausingProxy(server.port());
        DtlConnector c = new DtlConnector(dir.resolve("dtl-client"), cfg,
            name -> Optional.of(new InetSocketAddress("127.0.0.1", proxy.port())), DtlEvents.NONE);
        Engine e = Engine.start(TestEngines.config(dir.resolve("node"), TestEngines.localBackend(dir.resolve("node"))), c)) {
      Volume v = e.create(TestEngines.spec("a", 64L << 20).withDtlMode(DtlMode.ASYNC));
      await(() -> e.dtlState("a").orElseThrow() == DtlState.OK_SYNC, "OK_SYNC at start");

      proxy.pauseAnswers(true);
      AtomicLong done = new AtomicLong();
      Thread w = writer(v, done, 600, errors);
      long held = HeldBack.await(w, done, Duration.ofSeconds(60));
      assertTrue(held >= 100 && held <= 140, "held back at about 512 KiB of 4 KiB writes: " + held);
      assertEquals(DtlState.OK_SYNC, e.dtlState("a").orElseThrow(), e.dtlReason("a").orElseThrow());

      proxy.pauseAnswers(false);
      await(() -> e.stats("a").get("dtlHeldBackWrites") >= 1, "the held-back write is counted");
      await(() -> done.get() == 600 && !w.isAlive(), "the writer resumed and finished");
      v.flush();
      assertEquals(DtlState.OK_SYNC, e.dtlState("a").orElseThrow(), e.dtlReason("a").orElseThrow());

      proxy.pauseAnswers(true);
      Thread w2 = writer(v, done, 2000, errors);
      HeldBack.await(w2, done, Duration.ofSeconds(60));
      proxy.close(); // the DTL node dies while the writer is held back
      await(() -> done.get() == 2000 && !w2.isAlive(), "the writer went on after the DTL died");
      assertEquals(DtlState.DEGRADED, e.dtlState("a").orElseThrow());
      assertTrue(errors.isEmpty(), "writes failed: " + errors);
      v.flush();
      ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
      for (long i = 0; i < 2000; i++) {
        b.clear();
        v.read(i * Layout.CLUSTER_BYTES, b);
        assertArrayEquals(TestEngines.pattern(i, Layout.CLUSTER_BYTES), b.array(), "cluster " + i);
      }
    }
  }
}
