package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;

/**
 * Restores from the backend plus the DTL, in process: a crash, a lost write buffer, a restore
 * interrupted before the vDisk opened (its write buffer lost again), another restore: the same
 * data every time, and the stream gets back in sync.
 */
class DtlRestoreTest {
  @TempDir Path dir;

  private static void waitForSync(Engine e, String vdisk) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (e.dtlState(vdisk).orElseThrow() != DtlState.OK_SYNC && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(DtlState.OK_SYNC, e.dtlState(vdisk).orElseThrow(), e.dtlReason(vdisk).orElseThrow());
  }

  private static void write(Volume v, int from, int to, long seed) throws java.io.IOException {
    for (int i = from; i < to; i++) {
      v.write((long) i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(TestEngines.pattern(seed * 1_000_000 + i,
          Layout.CLUSTER_BYTES)), Durability.BUFFERED);
    }
  }

  /**
   * A rollback cuts TLogs out of a vDisk's history (and a scrub then deletes them from the backend),
   * and a clone inherits its parent's clusters: a restore from backend + DTL must follow the
   * history, not the TLog numbers, and keep what a clone inherits.
   */
  @Test
  void aRestoreFollowsRollbacksScrubsAndClones() throws Exception {
    int n = 2000; // 8 MiB: two 4 MiB SCOs per pass
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      Path data = dir.resolve("node");
      try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
        Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c);
        Volume p = e.create(TestEngines.spec("p", 64L << 20).withDtlMode(DtlMode.SYNC));
        waitForSync(e, "p");
        write(p, 0, n, 1);
        e.createSnapshot("p", "s1");
        write(p, 0, n, 2); // rolled back below
        e.createSnapshot("p", "s1b");
        e.rollback("p", "s1");
        p = e.volume("p").orElseThrow();
        waitForSync(e, "p");
        write(p, 0, n / 2, 3);
        e.createSnapshot("p", "s2");
        e.scrub("p", ScrubOptions.defaults().withRate(0)); // deletes the TLogs the rollback cut out
        write(p, n / 4, n / 2, 4); // after s2: partly only in the DTL
        Volume clone = e.cloneVolume("p", "s2", "c");
        waitForSync(e, "c");
        write(clone, 0, n / 8, 5);
        TestEngines.assertClusters(p, 0, n / 4, 3, "p before the crash");
        e.crash();
      }
      LocalVolume.deleteTree(data.resolve("writebuffer"));
      try (DtlConnector c = DtlCrashChild.connector(data, server.port());
          Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c)) {
        Volume p = e.volume("p").orElseThrow();
        TestEngines.assertClusters(p, 0, n / 4, 3, "p after restore");
        TestEngines.assertClusters(p, n / 4, n / 2, 4, "p after restore");
        TestEngines.assertClusters(p, n / 2, n, 1, "p after restore");
        Volume clone = e.volume("c").orElseThrow();
        TestEngines.assertClusters(clone, 0, n / 8, 5, "clone after restore");
        TestEngines.assertClusters(clone, n / 8, n / 2, 3, "clone after restore (inherited)");
        TestEngines.assertClusters(clone, n / 2, n, 1, "clone after restore (inherited)");
        assertEquals(java.util.List.of("s1", "s2"), e.snapshots("p").stream().map(SnapshotInfo::name).toList(),
            "the snapshot table survives a restore");
        waitForSync(e, "p");
      }
      // and once more without losing the write buffer: the restored history is an ordinary one now
      try (DtlConnector c = DtlCrashChild.connector(data, server.port());
          Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c)) {
        Volume p = e.volume("p").orElseThrow();
        TestEngines.assertClusters(p, 0, n / 4, 3, "p after a restart");
        TestEngines.assertClusters(p, n / 2, n, 1, "p after a restart");
        assertEquals(2, e.snapshots("p").size());
      }
    }
  }

  @Test
  void aRestoreInterruptedAndRunAgainGivesTheSameResult() throws Exception {
    int clusters = 3000; // several 4 MiB SCOs: some in the backend, the rest only in the DTL
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      Path data = dir.resolve("node");
      try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
        Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c);
        Volume v = e.create(TestEngines.spec("r", 64L << 20).withDtlMode(DtlMode.SYNC));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (e.dtlState("r").orElseThrow() != DtlState.OK_SYNC && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        for (int i = 0; i < clusters; i++) {
          v.write((long) i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(TestEngines.pattern(i, Layout.CLUSTER_BYTES)),
              Durability.BUFFERED);
        }
        v.unmap(10L * Layout.CLUSTER_BYTES, 5L * Layout.CLUSTER_BYTES);
        assertEquals(DtlState.OK_SYNC, e.dtlState("r").orElseThrow());
        e.crash();
      }
      for (int attempt = 0; attempt < 2; attempt++) {
        // the write buffer is lost (again: the first restore is as good as interrupted)
        LocalVolume.deleteTree(data.resolve("writebuffer"));
        try (DtlConnector c = DtlCrashChild.connector(data, server.port());
            Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c)) {
          Volume v = e.volume("r").orElseThrow();
          ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
          for (int i = 0; i < clusters; i++) {
            b.clear();
            v.read((long) i * Layout.CLUSTER_BYTES, b);
            byte[] want = i >= 10 && i < 15 ? new byte[Layout.CLUSTER_BYTES] : TestEngines.pattern(i, Layout.CLUSTER_BYTES);
            assertArrayEquals(want, b.array(), "cluster " + i + " after restore " + (attempt + 1));
          }
          if (attempt == 1) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (e.dtlState("r").orElseThrow() != DtlState.OK_SYNC && System.nanoTime() < deadline) {
              Thread.sleep(10);
            }
            assertEquals(DtlState.OK_SYNC, e.dtlState("r").orElseThrow(), e.dtlReason("r").orElseThrow());
          } else {
            e.crash();
          }
        }
      }
    }
  }

  /** A backend whose TLog listings fail while {@code failing} is set (a store that went away mid-restore). */
  private static final class FailingListings extends org.vsa.backends.ForwardingObjectStore {
    private final org.vsa.backends.ObjectStore delegate;
    volatile boolean failing = true;

    FailingListings(org.vsa.backends.ObjectStore delegate) {
      this.delegate = delegate;
    }

    @Override
    protected org.vsa.backends.ObjectStore delegate() {
      return delegate;
    }

    @Override
    public java.util.List<String> list(String namespace, String prefix) throws java.io.IOException {
      if (failing && prefix.equals("tlog_")) {
        throw new java.io.IOException("backend unreachable (test)");
      }
      return delegate.list(namespace, prefix);
    }
  }

  /**
   * A restore that fails after it cleared the vDisk's metadata (the backend went away) leaves the
   * vDisk offline; the engine serves the others; a retry once the backend is back restores every
   * write, rather than opening a vDisk whose checkpoint is gone as an empty one.
   */
  @Test
  void aRestoreThatFailsHalfWayLeavesTheVdiskOfflineAndARetryRestoresIt() throws Exception {
    int clusters = 1500;
    try (DtlServer server = DtlServer.start(dir.resolve("dtl"), "127.0.0.1", 0, 1L << 30)) {
      Path data = dir.resolve("node");
      try (DtlConnector c = DtlCrashChild.connector(data, server.port())) {
        Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c);
        Volume v = e.create(TestEngines.spec("r", 64L << 20).withDtlMode(DtlMode.SYNC));
        Volume other = e.create(TestEngines.spec("other", 8L << 20));
        waitForSync(e, "r");
        write(v, 0, clusters, 7);
        write(other, 0, 100, 8);
        other.flush();
        assertEquals(DtlState.OK_SYNC, e.dtlState("r").orElseThrow());
        e.crash();
      }
      // only r's write buffer is lost
      LocalVolume.deleteTree(data.resolve("writebuffer").resolve(
          java.nio.file.Files.list(data.resolve("metadata")).filter(p -> p.endsWith("r")).findFirst()
              .map(p -> readId(p)).orElseThrow()));
      FailingListings backend = new FailingListings(TestEngines.localBackend(data));
      try (DtlConnector c = DtlCrashChild.connector(data, server.port());
          Engine e = Engine.start(TestEngines.config(data, backend), c)) {
        assertTrue(e.offlineVdisk("r").isPresent(), "the restore failed: r is offline");
        assertTrue(e.offlineVdisk("r").orElseThrow().reason().contains("backend unreachable"),
            e.offlineVdisk("r").orElseThrow().reason());
        TestEngines.assertClusters(e.volume("other").orElseThrow(), 0, 100, 8, "the other vDisk");
        // a retry while the backend is still away fails again, and still opens nothing empty
        org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> e.retryOpen("r"));
        backend.failing = false;
        e.retryOpen("r");
        TestEngines.assertClusters(e.volume("r").orElseThrow(), 0, clusters, 7, "r restored by the retry");
      }
    }
  }

  private static String readId(Path metadataDir) {
    try {
      Path rec = metadataDir.resolve(Engine.RECORD_FILE);
      return LocalVolume.namespaceOf(VolumeRecord.decode(java.nio.file.Files.readAllBytes(rec), rec).id());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
