package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.dtl.ClientConfig;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlEvents;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;

/**
 * A cluster owner restarts under its ownership lease, so with the same epoch, while its DTL keeps
 * the stream the previous run wrote under that epoch. The restarted owner's stream must reach
 * OK_SYNC promptly, without waiting out the ack timeout, and carry its new writes: another node
 * then adopts the vDisk from that DTL under a higher epoch (which refuses if the DTL lacks writes
 * the backend holds) and reads every one of them back.
 */
class DtlOwnerRestartTest {
  private static final long SIZE = 64L << 20;
  private static final long FAR = 3_600_000_000_000L;
  /** Far above what a restart takes: a stream that stalls until it runs out shows as DEGRADED. */
  private static final long ACK_TIMEOUT_NANOS = 30_000_000_000L;
  /** "Promptly": well under the ack timeout, generous for a loaded machine. */
  private static final long PROMPT_NANOS = 10_000_000_000L;

  @TempDir Path dir;

  /** DTL state changes of one connector, in order. */
  private static final class Changes implements DtlEvents {
    final List<DtlState> to = new CopyOnWriteArrayList<>();
    final CountDownLatch synced = new CountDownLatch(1);

    @Override
    public void stateChanged(String vdisk, DtlState from, DtlState next, String why) {
      to.add(next);
      if (next == DtlState.OK_SYNC) {
        synced.countDown();
      }
    }
  }

  private DtlConnector connector(String node, DtlServer peer, DtlEvents events) throws IOException {
    return new DtlConnector(dir.resolve(node).resolve("dtl-client"),
        ClientConfig.defaults().withAckTimeoutNanos(ACK_TIMEOUT_NANOS), n -> Optional.of(addr(peer)), events);
  }

  private Engine node(String name, DtlConnector c, OwnershipLease lease) throws IOException {
    return Engine.start(TestEngines.config(dir.resolve(name), new LocalDirectoryObjectStore(dir.resolve("backend"))),
        c, BootMarker.SYSTEM, n -> lease);
  }

  private static InetSocketAddress addr(DtlServer s) {
    return new InetSocketAddress("127.0.0.1", s.port());
  }

  private static void write(BlockVolume v, int from, int to, long seed) throws IOException {
    for (int i = from; i < to; i++) {
      v.write((long) i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(TestEngines.pattern(seed * 1_000_000 + i,
          Layout.CLUSTER_BYTES)), i % 5 == 0 ? Durability.DURABLE : Durability.BUFFERED);
    }
    v.flush();
  }

  private static void awaitSync(Changes changes, Engine e, String what) throws InterruptedException {
    assertTrue(changes.synced.await(2 * ACK_TIMEOUT_NANOS, TimeUnit.NANOSECONDS),
        what + ": no OK_SYNC; state " + e.dtlState("v") + ": " + e.dtlReason("v"));
  }

  @Test
  void anOwnerRestartedUnderItsLeaseGetsBackInSyncPromptlyAndItsNewWritesAreOnTheDtl() throws Exception {
    int n = 2500; // about ten MiB: SCOs in the backend and the open one only on the DTL
    OwnershipLease.Renewable lease = OwnershipLease.renewable(2, System.nanoTime() + FAR);
    try (DtlServer dtlA = DtlServer.start(dir.resolve("dtlA"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlB = DtlServer.start(dir.resolve("dtlB"), "127.0.0.1", 0, 1L << 30)) {
      UUID id;
      Changes first = new Changes();
      try (DtlConnector c = connector("a", dtlA, first); Engine a = node("a", c, lease)) {
        Volume v = a.create(TestEngines.spec("v", SIZE).withDtlMode(DtlMode.SYNC));
        id = v.id();
        awaitSync(first, a, "first run");
        write(v, 0, n, 1);
        assertEquals(DtlState.OK_SYNC, a.dtlState("v").orElseThrow(), a.dtlReason("v").orElseThrow());
        assertEquals(2, a.dtlEpoch("v"), "the stream writes with the lease's epoch");
      }

      // the restart: same node, same lease, same epoch; the DTL still holds the first run's stream
      for (int run = 2; run <= 3; run++) {
        Changes changes = new Changes();
        DtlConnector c = connector("a", dtlA, changes);
        Engine a = node("a", c, lease);
        long t0 = System.nanoTime();
        Volume v = a.volume("v").orElseThrow();
        awaitSync(changes, a, "run " + run);
        long toSyncNanos = System.nanoTime() - t0;
        assertTrue(toSyncNanos < PROMPT_NANOS, "run " + run + ": OK_SYNC only after "
            + TimeUnit.NANOSECONDS.toMillis(toSyncNanos) + " ms");
        assertEquals(2, a.dtlEpoch("v"));
        long w0 = System.nanoTime();
        write(v, n / 2 + (run - 2) * 300, n / 2 + (run - 1) * 300, run);
        long writeNanos = System.nanoTime() - w0;
        assertTrue(!changes.to.contains(DtlState.DEGRADED) && a.dtlState("v").orElseThrow() == DtlState.OK_SYNC,
            "run " + run + ": the stream left OK_SYNC after the restart: " + changes.to + ", " + a.dtlReason("v"));
        assertTrue(writeNanos < PROMPT_NANOS, "run " + run + ": 300 writes took "
            + TimeUnit.NANOSECONDS.toMillis(writeNanos) + " ms");
        if (run == 2) {
          a.close();
        } else {
          a.crash(); // the DTL alone holds the last writes not uploaded
        }
        c.close();
      }

      // another node takes it over from that DTL: the adoption checks that the DTL's stream reaches
      // the backend's end (sync mode), and every write of every run reads back
      try (DtlConnector cb = connector("b", dtlB, DtlEvents.NONE);
          Engine b = node("b", cb, OwnershipLease.ALWAYS)) {
        Volume v = b.adopt(new Adoption.Request(id, OwnershipLease.renewable(3, System.nanoTime() + FAR), addr(dtlA),
            2, addr(dtlB), false));
        TestEngines.assertClusters(v, 0, n / 2, 1, "after the adoption");
        TestEngines.assertClusters(v, n / 2, n / 2 + 300, 2, "after the adoption");
        TestEngines.assertClusters(v, n / 2 + 300, n / 2 + 600, 3, "after the adoption");
        TestEngines.assertClusters(v, n / 2 + 600, n, 1, "after the adoption");
      }
    }
  }
}
