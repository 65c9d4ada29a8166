package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
