package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ObjectStore;

/**
 * A vDisk whose own files cannot be read at start (a corrupt snapshot table, checkpoint or record)
 * goes offline alone: the engine starts, the other vDisks serve, and nothing that vDisk or its
 * clones may reference is freed until it is back. Clones of an offline parent stay online: what
 * they inherit is read from the parent's SCOs in the backend, which a clone is only made of.
 */
class OfflineVdiskTest {
  private static final long SIZE = 8L << 20;
  @TempDir Path dir;

  private static byte[] data(int pass, long i) {
    return TestEngines.pattern(99_000_000L + pass * 1_000_003L + i, Layout.CLUSTER_BYTES);
  }

  private static void fill(Volume v, int pass) throws Exception {
    TestEngines.fillAndUpload(v, SIZE, i -> data(pass, i));
  }

  private static void assertPass(Volume v, int pass) throws Exception {
    TestEngines.assertClusters(v, SIZE, i -> data(pass, i), v.name() + " (pass " + pass + ")");
  }

  private Path metadata(String vdisk) {
    return dir.resolve("metadata").resolve(vdisk);
  }

  /** Flips a byte in the middle of a file; returns its bytes before. */
  private static byte[] corrupt(Path f) throws Exception {
    byte[] before = Files.readAllBytes(f);
    byte[] bad = before.clone();
    bad[bad.length / 2] ^= 0x5a;
    Files.write(f, bad);
    return before;
  }

  private static Set<String> objects(ObjectStore b, String ns) throws Exception {
    return new TreeSet<>(b.list(ns, ""));
  }

  /** p (snapshot "snap" of pass 1, then pass 2 written over it), c cloned from "snap", c's own pass 3 on its first half. */
  private String[] parentAndClone() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", SIZE));
      fill(p, 1);
      e.createSnapshot("p", "snap");
      fill(p, 2); // pass 1 lives on in the snapshot only: what the clone reads
      Volume c = e.cloneVolume("p", "snap", "c");
      for (long i = 0; i < SIZE / Layout.CLUSTER_BYTES / 2; i++) {
        c.write(i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(data(3, i)), Durability.BUFFERED);
      }
      c.flush();
      return new String[] {LocalVolume.namespaceOf(p.id()), LocalVolume.namespaceOf(c.id())};
    }
  }

  private static void assertClone(Volume c) throws Exception {
    ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
    long clusters = SIZE / Layout.CLUSTER_BYTES;
    for (long i = 0; i < clusters; i++) {
      b.clear();
      c.read(i * Layout.CLUSTER_BYTES, b);
      assertArrayEquals(i < clusters / 2 ? data(3, i) : data(1, i), b.array(), "clone cluster " + i);
    }
  }

  @Test
  void anOfflineCloneKeepsItsParentsSnapshotAndScrubsWaitForIt() throws Exception {
    String[] ns = parentAndClone();
    Path table = metadata("c").resolve(SnapshotTable.FILE);
    Files.write(table, SnapshotTable.empty().encode()); // give the clone a table file to corrupt
    byte[] good = corrupt(table);
    try (Engine e = TestEngines.start(dir); ObjectStore backend = TestEngines.localBackend(dir)) {
      assertEquals(List.of("p"), e.volumes().stream().map(Volume::name).toList(), "the engine serves the parent");
      OfflineVdisk off = e.offlineVdisk("c").orElseThrow();
      assertTrue(off.reason().startsWith("vDisk c could not be opened:") && off.reason().contains("snapshots")
          && !off.retriedPeriodically(), off.toString());
      assertEquals(SIZE, off.spec().orElseThrow().sizeBytes());
      Volume p = e.volume("p").orElseThrow();
      assertPass(p, 2);
      p.write(0, ByteBuffer.wrap(data(2, 0)), Durability.DURABLE);

      // the offline clone still holds the snapshot it was made from, and the parent
      IllegalStateException snap = assertThrows(IllegalStateException.class, () -> e.deleteSnapshot("p", "snap"));
      assertTrue(snap.getMessage().contains("c (offline)"), snap.getMessage());
      IllegalStateException del = assertThrows(IllegalStateException.class, () -> e.delete("p"));
      assertTrue(del.getMessage().contains("c (offline)"), del.getMessage());
      // nothing in the vPool is freed or rewritten
      Set<String> before = objects(backend, ns[0]);
      ScrubReport r = e.scrub("p", ScrubOptions.defaults().withRate(0).withFillRatio(1.0));
      assertTrue(r.deferred() != null && r.deferred().contains("vDisk c") && r.scosDeleted() == 0
          && r.scosRewritten() == 0, r.toString());
      assertEquals(before, objects(backend, ns[0]));
      IllegalStateException snapOfClone = assertThrows(IllegalStateException.class, () -> e.createSnapshot("c", "x"));
      assertTrue(snapOfClone.getMessage().contains("offline"), snapOfClone.getMessage());

      // fixed: the clone comes online and reads what it had
      Files.write(table, good);
      e.retryOpen("c");
      assertClone(e.handle("c").orElseThrow());
      assertTrue(e.offlineVdisks().isEmpty());
    }
  }

  @Test
  void aCloneOfAnOfflineParentStaysOnlineAndReadsWhatItInherits() throws Exception {
    parentAndClone();
    Path table = metadata("p").resolve(SnapshotTable.FILE);
    byte[] good = corrupt(table);
    try (Engine e = TestEngines.start(dir)) {
      assertTrue(e.offlineVdisk("p").isPresent());
      assertThrows(VolumeOfflineException.class, () -> e.handle("p").orElseThrow().read(0, ByteBuffer.allocate(4096)));
      Volume c = e.volume("c").orElseThrow();
      assertClone(c); // the inherited half comes from the parent's SCOs in the backend
      c.write(SIZE - Layout.CLUSTER_BYTES, ByteBuffer.wrap(data(4, 0)), Durability.DURABLE);
      assertArrayEquals(data(4, 0), TestEngines.read(c, SIZE - Layout.CLUSTER_BYTES, Layout.CLUSTER_BYTES));
      IllegalStateException flatten = assertThrows(IllegalStateException.class, () -> e.flatten("c", 0));
      assertTrue(flatten.getMessage().contains("vDisk p") && flatten.getMessage().contains("offline"),
          flatten.getMessage());
      Files.write(table, good);
      e.retryOpen("p");
      assertPass(e.volume("p").orElseThrow(), 2);
      assertEquals(1, e.flatten("c", 0).detached().size());
    }
  }

  @Test
  void anUnreadableRecordOrCheckpointTakesOnlyItsVdiskOffline() throws Exception {
    String nsOther;
    try (Engine e = TestEngines.start(dir)) {
      Volume a = e.create(TestEngines.spec("a", SIZE));
      Volume b = e.create(TestEngines.spec("b", SIZE));
      Volume o = e.create(TestEngines.spec("o", SIZE));
      fill(a, 1);
      fill(b, 1);
      fill(o, 1);
      fill(o, 2); // pass 1 of o is garbage
      e.createSnapshot("o", "old");
      nsOther = LocalVolume.namespaceOf(o.id());
    }
    byte[] goodRecord = corrupt(metadata("a").resolve(Engine.RECORD_FILE));
    byte[] goodCheckpoint = corrupt(metadata("b").resolve("checkpoint"));
    try (Engine e = TestEngines.start(dir); ObjectStore backend = TestEngines.localBackend(dir)) {
      assertEquals(List.of("o"), e.volumes().stream().map(Volume::name).toList());
      assertEquals(List.of("a", "b"), e.offlineVdisks().stream().map(OfflineVdisk::name).toList());
      assertTrue(e.offlineVdisk("a").orElseThrow().spec().isEmpty(), "a's record is what is unreadable");
      assertTrue(e.handle("a").isEmpty(), "no size to present: its LUN and file are left out");
      assertTrue(e.handle("b").isPresent());
      assertPass(e.volume("o").orElseThrow(), 2);
      // a vDisk of unknown lineage holds every snapshot deletion and every scrub
      IllegalStateException snap = assertThrows(IllegalStateException.class, () -> e.deleteSnapshot("o", "old"));
      assertTrue(snap.getMessage().contains("vDisk a"), snap.getMessage());
      Set<String> before = objects(backend, nsOther);
      ScrubReport r = e.scrub("o", ScrubOptions.defaults().withRate(0));
      assertTrue(r.deferred() != null && r.scosDeleted() == 0, r.toString());
      assertEquals(before, objects(backend, nsOther));
      // a retry before the fix fails again with the reason
      assertThrows(java.io.IOException.class, () -> e.retryOpen("a"));
      Files.write(metadata("a").resolve(Engine.RECORD_FILE), goodRecord);
      Files.write(metadata("b").resolve("checkpoint"), goodCheckpoint);
      e.retryOpen("a");
      e.retryOpen("b");
      assertPass(e.volume("a").orElseThrow(), 1);
      assertPass(e.handle("b").orElseThrow(), 1);
      e.deleteSnapshot("o", "old");
      ScrubReport freed = e.scrub("o", ScrubOptions.defaults().withRate(0));
      assertTrue(freed.deferred() == null && freed.scosDeleted() > 0, freed.toString());
      assertPass(e.volume("o").orElseThrow(), 2);
    }
  }

  @Test
  void aHandleFollowsItsVdiskAndNeverAnotherOfTheSameName() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume x = e.create(TestEngines.spec("x", SIZE));
      Volume h = e.handle("x").orElseThrow();
      h.write(0, ByteBuffer.wrap(data(1, 0)), Durability.DURABLE);
      assertArrayEquals(data(1, 0), TestEngines.read(x, 0, Layout.CLUSTER_BYTES));
      e.delete("x");
      assertThrows(java.io.IOException.class, () -> h.read(0, ByteBuffer.allocate(Layout.CLUSTER_BYTES)));
      e.create(TestEngines.spec("x", SIZE));
      java.io.IOException stale = assertThrows(java.io.IOException.class,
          () -> h.write(0, ByteBuffer.wrap(data(2, 0)), Durability.DURABLE));
      assertTrue(stale.getMessage().contains("deleted"), stale.getMessage());
      Volume h2 = e.handle("x").orElseThrow();
      assertTrue(h2 != h && h2.ready() && !h.ready());
      assertArrayEquals(new byte[Layout.CLUSTER_BYTES], TestEngines.read(h2, 0, Layout.CLUSTER_BYTES),
          "the new vDisk got nothing through the old handle");
    }
  }
}
