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
    try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
      Engine e = start(c, "boot-A");
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
  void afterARebootWithTheDtlDownTheVdiskIsRefusedUnlessTheOperatorAcceptsTheLoss() throws Exception {
    Path wb;
    int port;
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      port = server.port();
      wb = writeAcknowledgedOnTheDtlAndCrash(server);
    }
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port)) {
      IOException refused = assertThrows(IOException.class, () -> start(c, "boot-B").close());
      assertTrue(refused.getMessage().contains("unreachable") && refused.getMessage().contains(DtlRestore.OPEN_WITHOUT_DTL),
          refused.getMessage());
    }
    Files.createFile(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL));
    try (DtlConnector c = DtlCrashChild.connectorQuick(data, port); Engine e = start(c, "boot-B")) {
      Volume v = e.volume("s").orElseThrow();
      assertTrue(matching(v) < CLUSTERS, "without the DTL the cut writes are gone: the DTL is what brought them back");
      assertFalse(Files.exists(wb.resolve(DtlRestore.OPEN_WITHOUT_DTL)), "the override serves one open");
    }
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
}
