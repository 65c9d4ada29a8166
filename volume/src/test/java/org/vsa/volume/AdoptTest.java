package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.UUID;
import java.util.function.Function;
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
 * Failover between two nodes in one process: engines A and B with their own data directories
 * share one backend directory; each has its own DTL server. A writes in DTL mode sync (a byte model
 * keeps every acknowledged write), stops (crash, or keeps running as a zombie), B adopts the vDisk
 * from the backend plus A's DTL under a higher epoch: every acknowledged write reads back, and A
 * acknowledges nothing afterwards.
 */
class AdoptTest {
  private static final long SIZE = 64L << 20;
  private static final int CLUSTERS = 6000; // the first ones: about six 4 MiB SCOs of writes
  private static final long FAR = 3_600_000_000_000L;

  @TempDir Path dir;

  /** Cluster -> seed of its content (0: zeros). */
  private final Map<Long, Long> model = new TreeMap<>();
  private long nextSeed = 1;

  private Engine node(String name, DtlConnector c, Function<String, OwnershipLease> leases) throws IOException {
    Path data = dir.resolve(name);
    return Engine.start(TestEngines.config(data, new LocalDirectoryObjectStore(dir.resolve("backend"))), c,
        BootMarker.SYSTEM, leases);
  }

  private DtlConnector connector(String node, InetSocketAddress peer) throws IOException {
    // a long ack timeout: on a loaded machine a slow answer must not turn the stream DEGRADED
    return new DtlConnector(dir.resolve(node).resolve("dtl-client"),
        ClientConfig.defaults().withAckTimeoutNanos(30_000_000_000L), n -> Optional.of(peer), DtlEvents.NONE);
  }

  private static InetSocketAddress addr(DtlServer s) {
    return new InetSocketAddress("127.0.0.1", s.port());
  }

  private static void waitForSync(Engine e, String vdisk) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (e.dtlState(vdisk).orElseThrow() != DtlState.OK_SYNC && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    assertEquals(DtlState.OK_SYNC, e.dtlState(vdisk).orElseThrow(), e.dtlReason(vdisk).orElseThrow());
  }

  /** Random writes (some DURABLE), an unmap and a flush; the model records each once acknowledged. */
  private void writeSome(BlockVolume v, int writes, long seed) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < writes; i++) {
      long c = r.nextLong(CLUSTERS);
      long s = nextSeed++;
      v.write(c * Layout.CLUSTER_BYTES, ByteBuffer.wrap(TestEngines.pattern(s, Layout.CLUSTER_BYTES)),
          i % 7 == 0 ? Durability.DURABLE : Durability.BUFFERED);
      model.put(c, s);
      if (i % 1000 == 500) {
        long u = r.nextLong(CLUSTERS - 8);
        v.unmap(u * Layout.CLUSTER_BYTES, 8L * Layout.CLUSTER_BYTES);
        for (long k = u; k < u + 8; k++) {
          model.put(k, 0L);
        }
      }
    }
    v.flush();
  }

  private void check(BlockVolume v, String what) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(64 * Layout.CLUSTER_BYTES);
    byte[] zeros = new byte[Layout.CLUSTER_BYTES];
    for (long c0 = 0; c0 < CLUSTERS + 64; c0 += 64) {
      b.clear();
      v.read(c0 * Layout.CLUSTER_BYTES, b);
      for (int i = 0; i < 64; i++) {
        long s = model.getOrDefault(c0 + i, 0L);
        byte[] want = s == 0 ? zeros : TestEngines.pattern(s, Layout.CLUSTER_BYTES);
        byte[] got = java.util.Arrays.copyOfRange(b.array(), i * Layout.CLUSTER_BYTES, (i + 1) * Layout.CLUSTER_BYTES);
        assertArrayEquals(want, got, what + ": cluster " + (c0 + i));
      }
    }
  }

  /** Each cluster reads as in {@code older} or as in {@code newer}. */
  private static void checkEither(BlockVolume v, Map<Long, Long> older, Map<Long, Long> newer, String what)
      throws IOException {
    ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
    byte[] zeros = new byte[Layout.CLUSTER_BYTES];
    for (long c = 0; c < CLUSTERS; c++) {
      b.clear();
      v.read(c * Layout.CLUSTER_BYTES, b);
      long so = older.getOrDefault(c, 0L);
      long sn = newer.getOrDefault(c, 0L);
      boolean ok = java.util.Arrays.equals(b.array(), so == 0 ? zeros : TestEngines.pattern(so, Layout.CLUSTER_BYTES))
          || java.util.Arrays.equals(b.array(), sn == 0 ? zeros : TestEngines.pattern(sn, Layout.CLUSTER_BYTES));
      assertTrue(ok, what + ": cluster " + c + " is neither as released nor as written since");
    }
  }

  /**
   * What a zombie owner paused inside its uploads does once it wakes up: puts the SCOs and TLogs
   * of its write buffer, overwriting any of the same name. Returns how many objects it put.
   */
  private int zombieUploads(UUID id) throws IOException {
    String ns = LocalVolume.namespaceOf(id);
    Path wb = dir.resolve("a").resolve("writebuffer").resolve(ns);
    int n = 0;
    try (var store = new LocalDirectoryObjectStore(dir.resolve("backend"));
        var files = Files.newDirectoryStream(wb, "*_*")) {
      java.util.List<Path> late = new java.util.ArrayList<>();
      files.forEach(late::add);
      for (Path p : late) {
        String f = p.getFileName().toString();
        if (Layout.numberOf(f, "sco_") > 0 || Layout.numberOf(f, "tlog_") > 0) {
          store.put(ns, f, p);
          n++;
        }
      }
    }
    return n;
  }

  private static OwnershipLease.Renewable lease(long epoch) {
    return OwnershipLease.renewable(epoch, System.nanoTime() + FAR);
  }

  /**
   * A crashes with SCOs in the backend and the rest only in its write buffer and its DTL; B adopts
   * it (fencing A at that DTL), serves it and its new writes, and keeps them over a restart; A,
   * revived without its lease, does not open it.
   */
  @Test
  void adoptsAfterTheOwnerCrashedAndKeepsItOverARestart() throws Exception {
    try (DtlServer dtlA = DtlServer.start(dir.resolve("dtlA"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlB = DtlServer.start(dir.resolve("dtlB"), "127.0.0.1", 0, 1L << 30);
        DtlConnector ca = connector("a", addr(dtlA));
        DtlConnector cb = connector("b", addr(dtlB))) {
      OwnershipLease.Renewable la = lease(1);
      Engine a = node("a", ca, n -> la);
      UUID id;
      try (Engine b = node("b", cb, n -> OwnershipLease.ALWAYS)) {
        Volume va = a.create(TestEngines.spec("v", SIZE).withDtlMode(DtlMode.SYNC));
        id = va.id();
        waitForSync(a, "v");
        assertEquals(1, a.dtlEpoch("v"), "the stream writes with the ownership epoch");
        writeSome(va, 5000, 1);
        assertEquals(DtlState.OK_SYNC, a.dtlState("v").orElseThrow(), "every write is on A's DTL");
        a.crash();

        OwnershipLease.Renewable lb = lease(2);
        Volume vb = b.adopt(new Adoption.Request(id, lb, addr(dtlA), 1, addr(dtlB), false));
        check(vb, "B after adopting");
        assertEquals(2, b.dtlEpoch("v"));
        assertTrue(b.adopt(new Adoption.Request(id, lb, addr(dtlA), 1, addr(dtlB), false)) == vb,
            "adopting again under the same epoch returns the vDisk served");
        writeSome(vb, 1500, 2);
        waitForSync(b, "v");
        check(vb, "B after its own writes");
        // A wakes up inside its uploads once B's SCOs are in the backend (and gone from B's write
        // buffer): its late puts must not land in B's history
        LocalVolume lv = (LocalVolume) vb;
        long last = lv.sealForSnapshot()[0];
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!lv.uploadedThrough(last) && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        assertTrue(lv.uploadedThrough(last), "B's SCOs reached the backend");
        assertTrue(zombieUploads(id) > 0, "A's write buffer held SCOs and TLogs");
        check(vb, "B after A's late uploads");
      }
      // A comes back without its lease (another node owns the vDisk): it does not open it
      la.revoke();
      try (DtlConnector ca2 = connector("a", addr(dtlA)); Engine a2 = node("a", ca2, n -> la)) {
        assertTrue(a2.volume("v").isEmpty(), "the old owner does not serve the vDisk");
        assertTrue(a2.offlineVdisk("v").orElseThrow().reason().contains("fenced"), a2.offlineVdisk("v").toString());
        BlockVolume h = a2.handle("v").orElseThrow();
        assertThrows(IOException.class, () -> h.write(0, ByteBuffer.allocate(4096), Durability.DURABLE));
        a2.forget("v"); // its stale copy goes; the backend is B's
        assertTrue(a2.offlineVdisk("v").isEmpty());
        assertThrows(VolumeFencedException.class, () -> h.write(0, ByteBuffer.allocate(4096), Durability.DURABLE));
        assertFalse(Files.exists(dir.resolve("a").resolve("metadata").resolve("v")));
      }
      // B restarts under its lease: the data and the DTL stream come back
      try (DtlConnector cb2 = connector("b", addr(dtlB))) {
        Engine b2 = node("b", cb2, n -> lease(2));
        Volume v = b2.volume("v").orElseThrow();
        check(v, "B after a restart");
        writeSome(v, 1500, 3);
        check(v, "B after a restart and more writes");
        waitForSync(b2, "v");
        assertEquals(2, b2.dtlEpoch("v"));
        b2.crash();
      }
      // and A takes it over from B: the history in the backend is B's, whatever A uploaded late
      try (DtlConnector ca3 = connector("a", addr(dtlA)); Engine a3 = node("a", ca3, n -> la)) {
        Volume v = a3.adopt(new Adoption.Request(id, lease(3), addr(dtlB), 2, addr(dtlA), false));
        check(v, "A after taking it back");
      }
    }
  }

  /**
   * A keeps running (a zombie, its lease still held on its own clock): after B's adoption fenced
   * it at its DTL, no write, flush or unmap of A is acknowledged and none of it reaches B. Adoption
   * is refused while A's DTL is unreachable or holds another stream, and forcing it restores the
   * backend's history. Then B releases the vDisk and A adopts it again with no DTL.
   */
  @Test
  void theOldOwnerIsFencedAndAdoptionRefusesToLoseWrites() throws Exception {
    try (DtlServer dtlA = DtlServer.start(dir.resolve("dtlA"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlB = DtlServer.start(dir.resolve("dtlB"), "127.0.0.1", 0, 1L << 30);
        DtlConnector ca = connector("a", addr(dtlA));
        DtlConnector cb = connector("b", addr(dtlB));
        Engine a = node("a", ca, n -> lease(1));
        Engine b = node("b", cb, n -> OwnershipLease.ALWAYS)) {
      Volume va = a.create(TestEngines.spec("v", SIZE).withDtlMode(DtlMode.SYNC));
      UUID id = va.id();
      waitForSync(a, "v");
      writeSome(va, 4000, 1);

      // A's DTL unreachable: refused, nothing of it on B, A unaffected
      InetSocketAddress nobody;
      try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
        nobody = new InetSocketAddress("127.0.0.1", s.getLocalPort());
      }
      Adoption.RefusedException refused = assertThrows(Adoption.RefusedException.class,
          () -> b.adopt(new Adoption.Request(id, lease(2), nobody, 1, addr(dtlB), false)));
      assertTrue(refused.getMessage().contains("unreachable"), refused.getMessage());
      assertTrue(b.volume("v").isEmpty() && b.offlineVdisk("v").isEmpty(), "a refused adoption leaves nothing");
      assertFalse(Files.exists(dir.resolve("b").resolve("metadata").resolve("v")), "nor local state");
      writeSome(va, 200, 2); // A still owns and serves it
      waitForSync(a, "v");

      // B adopts; A, still running with its lease held, is fenced by its DTL
      Volume vb = b.adopt(new Adoption.Request(id, lease(2), addr(dtlA), 1, addr(dtlB), false));
      check(vb, "B after adopting from the running A");
      byte[] stray = TestEngines.pattern(999_999, Layout.CLUSTER_BYTES);
      assertThrows(VolumeFencedException.class, () -> va.write(0, ByteBuffer.wrap(stray), Durability.BUFFERED));
      assertThrows(VolumeFencedException.class, () -> va.write(4096, ByteBuffer.wrap(stray), Durability.DURABLE));
      assertThrows(VolumeFencedException.class, va::flush);
      assertThrows(VolumeFencedException.class, () -> va.unmap(0, 8192));
      assertThrows(IOException.class, () -> a.createSnapshot("v", "late"), "nor a snapshot to the backend");
      writeSome(vb, 500, 3);
      check(vb, "B: nothing the fenced A tried reaches it");

      // B releases; A adopts it again (discarding its stale local state) with no DTL at all
      b.release("v", java.time.Duration.ofSeconds(120));
      Map<Long, Long> releasedModel = new TreeMap<>(model);
      assertTrue(b.volume("v").isEmpty(), "released: B no longer serves it");
      assertFalse(Files.exists(dir.resolve("b").resolve("metadata").resolve("v")), "nor keeps its metadata");
      Volume va2 = a.adopt(new Adoption.Request(id, lease(3), null, 2, addr(dtlA), false));
      check(va2, "A after adopting the released vDisk");
      waitForSync(a, "v");
      writeSome(va2, 300, 4);

      // writes only on A's DTL now: an unreachable DTL, or one holding another epoch's stream, is refused
      assertThrows(Adoption.RefusedException.class,
          () -> b.adopt(new Adoption.Request(id, lease(4), nobody, 3, addr(dtlB), false)));
      Adoption.RefusedException other = assertThrows(Adoption.RefusedException.class,
          () -> b.adopt(new Adoption.Request(id, lease(4), addr(dtlA), 7, addr(dtlB), false)));
      assertTrue(other.getMessage().contains("not the previous owner's 7"), other.getMessage());
      assertThrows(VolumeFencedException.class, () -> va2.write(0, ByteBuffer.wrap(stray), Durability.DURABLE),
          "the fetch under epoch 4 fenced A at its DTL");
      // forced: the backend's history alone: every cluster as B released it or as A wrote it since
      Volume forced = b.adopt(new Adoption.Request(id, lease(5), nobody, 3, addr(dtlB), true));
      checkEither(forced, releasedModel, model, "B after a forced adoption");
    }
  }

  /**
   * An adoption that crashes half-way leaves a vDisk that a start does not open (offline, saying
   * why); adopting again gives the same data. Then the DTL moves to another peer at runtime, and a
   * later takeover from that peer has every write.
   */
  @Test
  void anInterruptedAdoptionRunsAgainAndTheDtlMovesToAnotherPeer() throws Exception {
    try (DtlServer dtlA = DtlServer.start(dir.resolve("dtlA"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlB = DtlServer.start(dir.resolve("dtlB"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlC = DtlServer.start(dir.resolve("dtlC"), "127.0.0.1", 0, 1L << 30);
        DtlConnector ca = connector("a", addr(dtlA))) {
      Engine a = node("a", ca, n -> lease(1));
      Volume va = a.create(TestEngines.spec("v", SIZE).withDtlMode(DtlMode.SYNC));
      UUID id = va.id();
      waitForSync(a, "v");
      writeSome(va, 3000, 1);
      a.crash();

      Adoption.Request q = new Adoption.Request(id, lease(2), addr(dtlA), 1, addr(dtlB), false);
      try (DtlConnector cb = connector("b", addr(dtlB))) {
        Engine b = node("b", cb, n -> OwnershipLease.ALWAYS);
        Engine.adoptCrashPoint = () -> {
          throw new AssertionError("crash in the middle of the adoption");
        };
        try {
          assertThrows(AssertionError.class, () -> b.adopt(q));
        } finally {
          Engine.adoptCrashPoint = () -> { };
        }
        b.crash();
      }
      try (DtlConnector cb = connector("b", addr(dtlB)); Engine b = node("b", cb, n -> OwnershipLease.ALWAYS)) {
        assertTrue(b.offlineVdisk("v").orElseThrow().reason().contains("adoption by this node was interrupted"),
            b.offlineVdisk("v").toString());
        Volume vb = b.adopt(q);
        check(vb, "B after adopting again");
        waitForSync(b, "v");
        b.setDtlPeer("v", addr(dtlC));
        writeSome(vb, 1500, 2);
        waitForSync(b, "v");
        assertEquals(2, b.dtlEpoch("v"), "the moved stream keeps the epoch");
        writeSome(vb, 300, 3);
        assertEquals(DtlState.OK_SYNC, b.dtlState("v").orElseThrow(), "the last writes are on the new DTL");
        b.crash();
      }
      // A takes it back from the DTL B moved to
      OwnershipLease.Renewable gone = lease(1);
      gone.revoke(); // A's own ownership ended: it does not open its stale copy
      try (DtlConnector ca2 = connector("a", addr(dtlA)); Engine a2 = node("a", ca2, n -> gone)) {
        assertTrue(a2.volume("v").isEmpty());
        Volume v = a2.adopt(new Adoption.Request(id, lease(3), addr(dtlC), 2, addr(dtlA), false));
        check(v, "A after taking it back from B's moved DTL");
      }
    }
  }

  /** A clone is adopted alone: what it inherits is read from its parent's namespace in the backend. */
  @Test
  void aCloneIsAdoptedWithoutItsParent() throws Exception {
    try (DtlServer dtlA = DtlServer.start(dir.resolve("dtlA"), "127.0.0.1", 0, 1L << 30);
        DtlServer dtlB = DtlServer.start(dir.resolve("dtlB"), "127.0.0.1", 0, 1L << 30);
        DtlConnector ca = connector("a", addr(dtlA));
        DtlConnector cb = connector("b", addr(dtlB))) {
      Engine a = node("a", ca, n -> lease(1));
      Volume p = a.create(TestEngines.spec("p", SIZE).withDtlMode(DtlMode.SYNC));
      waitForSync(a, "p");
      writeSome(p, 2000, 1);
      a.createSnapshot("p", "s");
      Volume c = a.cloneVolume("p", "s", "c");
      waitForSync(a, "c");
      writeSome(c, 1200, 2);
      Map<Long, Long> cloneModel = new TreeMap<>(model);
      writeSome(p, 300, 3); // the parent moves on: none of it is the clone's
      a.crash();
      model.clear();
      model.putAll(cloneModel);
      try (Engine b = node("b", cb, n -> OwnershipLease.ALWAYS)) {
        Volume vc = b.adopt(new Adoption.Request(c.id(), lease(2), addr(dtlA), 1, addr(dtlB), false));
        assertTrue(b.volume("p").isEmpty(), "the parent stays where it was");
        assertEquals(java.util.Optional.of(new Volume.CloneSource("p", "s")), vc.cloneSource());
        check(vc, "the clone on B");
      }
    }
  }

  /** Past its lease a node acknowledges nothing and uploads nothing; renewed, it uploads again. */
  @Test
  void pastTheLeaseNothingIsAcknowledgedNorUploaded() throws Exception {
    long t0 = System.nanoTime();
    OwnershipLease.Renewable l = OwnershipLease.renewable(1, t0 + 2_000_000_000L);
    try (Engine a = node("a", null, n -> l)) {
      Volume v = a.create(TestEngines.spec("v", SIZE));
      writeSome(v, 100, 1);
      while (l.held(System.nanoTime())) {
        Thread.sleep(5); // bounded: the lease ends 2 s after t0
      }
      long outside = (CLUSTERS + 1000L) * Layout.CLUSTER_BYTES; // not in the model's range: its content is undefined
      assertThrows(VolumeFencedException.class,
          () -> v.write(outside, ByteBuffer.wrap(new byte[Layout.CLUSTER_BYTES]), Durability.BUFFERED));
      assertThrows(VolumeFencedException.class, v::flush);
      long sco = ((LocalVolume) v).sealForSnapshot()[0];
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (a.uploadsHeldForLease() == 0 && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertTrue(a.uploadsHeldForLease() > 0, "the upload was tried and held back");
      assertFalse(a.scosUploaded() > 0 || ((LocalVolume) v).uploadedThrough(sco), "nothing uploaded past the lease");
      l.renewUntil(System.nanoTime() + FAR);
      while (!((LocalVolume) v).uploadedThrough(sco) && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertTrue(((LocalVolume) v).uploadedThrough(sco), "renewed: uploaded");
      check(v, "after the lease came back");
    }
  }
}
