package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;

/**
 * A sync-mode vDisk acknowledges DURABLE writes on the DTL's force alone; an OS crash or power loss
 * of its node may then cut the unforced tail of its write buffer. Simulated here in process: the
 * engine is dropped without a flush, its open SCO and TLog are cut back to what the last local
 * group commit forced (the local force after a DTL acknowledgement is held back for the test), and
 * the engine restarts under another boot id. Every acknowledged write must read back, taken from
 * the DTL; with the DTL down the vDisk must not open, unless the operator says to; under the same
 * boot id (a process crash: the page cache kept everything) the DTL is not needed.
 */
class DtlRebootTest {
  private static final int CLUSTERS = 300;
  @TempDir Path dir;
  private Path data;

  @BeforeEach
  void holdBackLocalForces() {
    LocalVolume.dtlAckedForceNanos = TimeUnit.MINUTES.toNanos(10);
    data = dir.resolve("node");
  }

  @AfterEach
  void restore() {
    LocalVolume.dtlAckedForceNanos = LocalVolume.DTL_ACKED_FORCE_NANOS;
  }

  private static byte[] pattern(int i) {
    return TestEngines.pattern(77_000_000L + i, Layout.CLUSTER_BYTES);
  }

  private Engine start(DtlConnector c, String bootId) throws IOException {
    return Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c, () -> bootId);
  }

  /**
   * Writes CLUSTERS DURABLE clusters acknowledged on the DTL's force, drops the engine as a crash
   * does, and returns the write buffer's directory of the vDisk.
   */
  private Path writeAcknowledgedOnTheDtlAndCrash(DtlServer server) throws Exception {
    return writeAcknowledgedOnTheDtlAndCrash(server, e -> { });
  }

  /** As above, with {@code alsoWrite} run on the engine first (other vDisks, their writes). */
  private Path writeAcknowledgedOnTheDtlAndCrash(DtlServer server, EngineStep alsoWrite) throws Exception {
    try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
      Engine e = start(c, "boot-A");
      alsoWrite.run(e);
      Volume v = e.create(TestEngines.spec("s", 64L << 20).withDtlMode(DtlMode.SYNC));
      LocalVolume lv = (LocalVolume) v;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while ((e.dtlState("s").orElseThrow() != DtlState.OK_SYNC || !lv.dtlAcksArmed()) && System.nanoTime() < deadline) {
        v.write(0, ByteBuffer.wrap(pattern(0)), Durability.DURABLE); // the first OK_SYNC write arms DTL acknowledgements
        Thread.sleep(10);
      }
      assertTrue(lv.dtlAcksArmed(), "DURABLE writes are acknowledged on the DTL's force: " + e.dtlReason("s").orElseThrow());
      v.flush(); // forced locally and on the DTL: the cut below starts after it
      long[] before = lv.forcedMark();
      for (int i = 0; i < CLUSTERS; i++) {
        v.write((long) i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(pattern(i)), Durability.DURABLE);
      }
      v.flush();
      assertEquals(DtlState.OK_SYNC, e.dtlState("s").orElseThrow(), "every write was acknowledged in OK_SYNC");
      long[] mark = lv.forcedMark();
      Path wb = data.resolve("writebuffer").resolve(LocalVolume.namespaceOf(lv.id()));
      e.crash();
      // power loss: the open pair loses what no local force covered
      Path tlog = wb.resolve(Layout.tlogName(mark[0]));
      Path sco = wb.resolve(Layout.scoName(mark[0]));
      long cut = Files.size(tlog) - mark[1];
      assertTrue(cut >= (long) CLUSTERS * TLog.RECORD_BYTES,
          "the acknowledged writes were not forced locally (forced " + java.util.Arrays.toString(before) + " then "
              + java.util.Arrays.toString(mark) + ", TLog " + Files.size(tlog) + " bytes)");
      try (FileChannel ch = FileChannel.open(tlog, StandardOpenOption.WRITE)) {
        ch.truncate(mark[1]);
      }
      try (FileChannel ch = FileChannel.open(sco, StandardOpenOption.WRITE)) {
        ch.truncate(mark[2]);
      }
      return wb;
    }
  }

  private static int matching(Volume v) throws IOException {
    int ok = 0;
    ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
    for (int i = 0; i < CLUSTERS; i++) {
      b.clear();
      v.read((long) i * Layout.CLUSTER_BYTES, b);
      if (java.util.Arrays.equals(pattern(i), b.array())) {
        ok++;
      }
    }
    return ok;
  }

  /** The write buffer directory of the crashed vDisk, and the port its DTL listened on (nothing listens there now). */
  private record Crashed(Path wb, int port) {}

  private Crashed crashWithTheDtlGoneAfterwards() throws Exception {
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      return new Crashed(writeAcknowledgedOnTheDtlAndCrash(server), server.port());
    }
  }

  @Test
  void afterARebootEveryAcknowledgedWriteComesBackFromTheDtl() throws Exception {
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      writeAcknowledgedOnTheDtlAndCrash(server);
      try (DtlConnector c = DtlCrashChild.connector(data, server.port()); Engine e = start(c, "boot-B")) {
        Volume v = e.volume("s").orElseThrow();
        ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
        for (int i = 0; i < CLUSTERS; i++) {
          b.clear();
          v.read((long) i * Layout.CLUSTER_BYTES, b);
          assertArrayEquals(pattern(i), b.array(), "acknowledged cluster " + i + " after the reboot");
        }
        v.write(0, ByteBuffer.wrap(pattern(1)), Durability.DURABLE); // and it goes on writing
      }
      // a second, ordinary restart: the history recovered from the DTL is the vDisk's own now
      try (DtlConnector c = DtlCrashChild.connector(data, server.port()); Engine e = start(c, "boot-B")) {
        Volume v = e.volume("s").orElseThrow();
        assertArrayEquals(pattern(1), TestEngines.read(v, 0, Layout.CLUSTER_BYTES));
        assertEquals(CLUSTERS - 1, matching(v) - (java.util.Arrays.equals(pattern(0), pattern(1)) ? 1 : 0));
      }
    }
  }

  @Test
  void afterARebootWithTheDtlDownTheVdiskIsOfflineUnlessTheOperatorAcceptsTheLoss() throws Exception {
    Crashed crashed = crashWithTheDtlGoneAfterwards();
    Path wb = crashed.wb();
    int port = crashed.port();
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port); Engine e = start(c, "boot-B")) {
      assertTrue(e.volume("s").isEmpty(), "the vDisk is not served");
      String reason = e.offlineVdisk("s").orElseThrow().reason();
      assertTrue(reason.contains("unreachable") && reason.contains(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL).toString()),
          reason);
    }
    Files.createFile(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL));
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port); Engine e = start(c, "boot-B")) {
      Volume v = e.volume("s").orElseThrow();
      assertTrue(matching(v) < CLUSTERS, "without the DTL the cut writes are gone: the DTL is what brought them back");
      assertFalse(Files.exists(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL)), "the override serves one open");
    }
  }

  /** Runs on an engine before the crash. */
  @FunctionalInterface
  interface EngineStep {
    void run(Engine e) throws Exception;
  }

  @Test
  void afterAProcessCrashOnTheSameBootTheDtlIsNotNeeded() throws Exception {
    int port;
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      port = server.port();
      try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
        Engine e = start(c, "boot-A");
        Volume v = e.create(TestEngines.spec("s", 64L << 20).withDtlMode(DtlMode.SYNC));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!((LocalVolume) v).dtlAcksArmed() && System.nanoTime() < deadline) {
          v.write(0, ByteBuffer.wrap(pattern(0)), Durability.DURABLE);
          Thread.sleep(10);
        }
        for (int i = 0; i < CLUSTERS; i++) {
          v.write((long) i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(pattern(i)), Durability.DURABLE);
        }
        e.crash(); // the files keep what was written (the page cache of a kill -9)
      }
    }
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port); Engine e = start(c, "boot-A")) {
      assertEquals(CLUSTERS, matching(e.volume("s").orElseThrow()), "the DTL is down and not needed");
    }
  }

  // ---------------------------------------------------------------- offline vDisks

  private static final long HEALTHY_BYTES = 8L << 20; // two 4 MiB SCOs

  private static byte[] healthy(int pass, long i) {
    return TestEngines.pattern(88_000_000L + pass * 1_000_003L + i, Layout.CLUSTER_BYTES);
  }

  private static void fillHealthy(Volume v, int pass) throws Exception {
    TestEngines.fillAndUpload(v, HEALTHY_BYTES, i -> healthy(pass, i));
  }

  private static void assertHealthy(Volume v, int pass) throws IOException {
    TestEngines.assertClusters(v, HEALTHY_BYTES, i -> healthy(pass, i), "healthy vDisk");
  }

  /** A connector whose DTL peer is whatever {@code peer} holds now (the DTL may come back on another port). */
  private DtlConnector movableConnector(java.util.concurrent.atomic.AtomicReference<java.net.InetSocketAddress> peer)
      throws IOException {
    return new DtlConnector(data.resolve("dtl-client"),
        org.vsa.dtl.ClientConfig.defaults().withAckTimeoutNanos(TimeUnit.MILLISECONDS.toNanos(500)),
        name -> java.util.Optional.of(peer.get()), org.vsa.dtl.DtlEvents.NONE);
  }

  private static java.util.Set<String> objects(org.vsa.backends.ObjectStore b, String ns) throws IOException {
    return new java.util.TreeSet<>(b.list(ns, ""));
  }

  @Test
  void aVdiskWhoseDtlIsDownGoesOfflineTheOthersServeAndScrubsWaitUntilItIsBack() throws Exception {
    Path dtlDir = dir.resolve("dtl");
    String[] healthyNs = new String[1];
    Path wb;
    try (DtlServer server = DtlServer.start(dtlDir, "127.0.0.1", 0, 1L << 30)) {
      wb = writeAcknowledgedOnTheDtlAndCrash(server, e -> {
        Volume h = e.create(TestEngines.spec("h", HEALTHY_BYTES));
        healthyNs[0] = LocalVolume.namespaceOf(h.id());
        fillHealthy(h, 1);
        fillHealthy(h, 2); // pass 1's SCOs are garbage now: a scrub would delete them
      });
    }
    var peer = new java.util.concurrent.atomic.AtomicReference<>(new java.net.InetSocketAddress("127.0.0.1", 1));
    try (DtlConnector c = movableConnector(peer); Engine e = start(c, "boot-B");
        org.vsa.backends.ObjectStore backend = TestEngines.localBackend(data)) {
      // the engine started; the healthy vDisk serves every acknowledged write and takes new ones
      Volume h = e.volume("h").orElseThrow();
      assertHealthy(h, 2);
      h.write(0, ByteBuffer.wrap(healthy(2, 0)), Durability.DURABLE);
      assertEquals(java.util.List.of("h"), e.volumes().stream().map(Volume::name).toList());

      // the other one is offline, with a reason that names it, the DTL, the risk and the override
      OfflineVdisk off = e.offlineVdisk("s").orElseThrow();
      assertTrue(off.retriedPeriodically());
      String why = off.reason();
      assertTrue(why.contains("vDisk s") && why.contains("127.0.0.1:1") && why.contains("unreachable")
          && why.contains("stale data") && why.contains(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL).toString()), why);
      assertTrue(e.volume("s").isEmpty());
      Volume handle = e.handle("s").orElseThrow(); // what a LUN or NFS file holds
      assertEquals(64L << 20, handle.sizeBytes());
      VolumeOfflineException readRefused = assertThrows(VolumeOfflineException.class,
          () -> handle.read(0, ByteBuffer.allocate(Layout.CLUSTER_BYTES)));
      assertTrue(readRefused.getMessage().contains("unreachable"), readRefused.getMessage());
      assertThrows(VolumeOfflineException.class,
          () -> handle.write(0, ByteBuffer.wrap(pattern(9)), Durability.DURABLE));
      assertThrows(VolumeOfflineException.class, handle::flush);
      for (org.junit.jupiter.api.function.Executable refused : java.util.List.<org.junit.jupiter.api.function.Executable>of(
          () -> e.createSnapshot("s", "snap"), () -> e.delete("s"), () -> e.resize("s", 128L << 20),
          () -> e.rollback("s", "snap"), () -> e.cloneVolume("s", "snap", "s2"), () -> e.scrub("s", ScrubOptions.defaults()),
          () -> e.create(TestEngines.spec("s", 1L << 20)))) {
        IllegalStateException ex = assertThrows(IllegalStateException.class, refused);
        assertTrue(ex.getMessage().contains("offline"), ex.getMessage());
      }

      // a scrub in its vPool frees nothing while it is offline
      java.util.Set<String> before = objects(backend, healthyNs[0]);
      ScrubReport held = e.scrub("h", ScrubOptions.defaults().withRate(0));
      assertTrue(held.deferred() != null && held.deferred().contains("offline") && held.scosDeleted() == 0, held.toString());
      for (ScrubReport r : e.scrubAll(ScrubOptions.defaults().withRate(0))) {
        assertTrue(r.deferred() != null && r.deferred().contains("vDisk s"), r.toString());
      }
      assertEquals(before, objects(backend, healthyNs[0]), "nothing of the vPool is deleted while s is offline");

      // a retry while the DTL is still down keeps it offline
      IOException stillDown = assertThrows(IOException.class, () -> e.retryOpen("s"));
      assertTrue(stillDown.getMessage().contains("unreachable"), stillDown.getMessage());
      assertTrue(e.offlineVdisk("s").isPresent());

      // the DTL comes back (on another port): the vDisk opens with every acknowledged write
      try (DtlServer server = DtlServer.start(dtlDir, "127.0.0.1", 0, 1L << 30)) {
        peer.set(new java.net.InetSocketAddress("127.0.0.1", server.port()));
        e.retryOpen("s");
        assertTrue(e.offlineVdisk("s").isEmpty());
        assertEquals(CLUSTERS, matching(handle), "through the handle the front ends held while it was offline");
        assertEquals(CLUSTERS, matching(e.volume("s").orElseThrow()));
        handle.write(0, ByteBuffer.wrap(pattern(0)), Durability.DURABLE);

        // and the scrub runs again: pass 1's SCOs go
        ScrubReport freed = e.scrub("h", ScrubOptions.defaults().withRate(0));
        assertTrue(freed.deferred() == null && freed.scosDeleted() > 0, freed.toString());
        assertHealthy(h, 2);
      }
    }
  }

  @Test
  void openWithoutDtlCreatedAfterStartThenRetryOpenBringsItOnline() throws Exception {
    Crashed crashed = crashWithTheDtlGoneAfterwards();
    Path wb = crashed.wb();
    int port = crashed.port();
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port); Engine e = start(c, "boot-B")) {
      Volume handle = e.handle("s").orElseThrow();
      assertThrows(VolumeOfflineException.class, () -> handle.read(0, ByteBuffer.allocate(Layout.CLUSTER_BYTES)));
      Files.createFile(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL));
      e.retryOpen("s");
      assertTrue(e.offlineVdisk("s").isEmpty());
      int kept = matching(handle);
      assertTrue(kept < CLUSTERS, "without the DTL the cut writes are gone (" + kept + " of " + CLUSTERS + " kept)");
      assertFalse(Files.exists(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL)), "the override serves one open");
      handle.write(0, ByteBuffer.wrap(pattern(5)), Durability.DURABLE);
      assertArrayEquals(pattern(5), TestEngines.read(handle, 0, Layout.CLUSTER_BYTES));
    }
  }

  @Test
  void theEngineRetriesByItselfOnceTheDtlIsBack() throws Exception {
    Path dtlDir = dir.resolve("dtl");
    try (DtlServer server = DtlServer.start(dtlDir, "127.0.0.1", 0, 1L << 30)) {
      writeAcknowledgedOnTheDtlAndCrash(server);
    }
    var peer = new java.util.concurrent.atomic.AtomicReference<>(new java.net.InetSocketAddress("127.0.0.1", 1));
    try (DtlConnector c = movableConnector(peer); Engine e = start(c, "boot-B")) {
      assertTrue(e.offlineVdisk("s").isPresent());
      e.setOfflineRetryInterval(java.time.Duration.ofMillis(200));
      try (DtlServer server = DtlServer.start(dtlDir, "127.0.0.1", 0, 1L << 30)) {
        peer.set(new java.net.InetSocketAddress("127.0.0.1", server.port()));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (e.volume("s").isEmpty()) {
          assertTrue(System.nanoTime() < deadline, "not online 60 s after the DTL came back: "
              + e.offlineVdisk("s").map(OfflineVdisk::reason).orElse("?"));
          Thread.sleep(20);
        }
        assertEquals(CLUSTERS, matching(e.handle("s").orElseThrow()));
      }
    }
  }
}
