package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;
import static org.vsa.volume.TestEngines.pattern;
import static org.vsa.volume.TestEngines.read;
import static org.vsa.volume.TestEngines.write;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ObjectStore;

class FlattenTest {
  @TempDir Path dir;

  @Test
  void flattenedClonesOfClonesOutliveTheirParents() throws Exception {
    byte[] a = pattern(11, (int) (9 * MIB));
    byte[] b = pattern(12, (int) MIB);
    byte[] c = pattern(13, (int) MIB);
    byte[] want1 = a.clone();
    System.arraycopy(c, 0, want1, (int) (2 * MIB), c.length);
    byte[] want2 = a.clone();
    System.arraycopy(b, 0, want2, (int) (2 * MIB), b.length);
    System.arraycopy(c, 0, want2, (int) (5 * MIB), c.length);
    java.util.Arrays.fill(want2, (int) (7 * MIB), (int) (8 * MIB), (byte) 0);
    String pNs;
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", 32 * MIB));
      pNs = LocalVolume.namespaceOf(p.id());
      write(p, 0, a, Durability.BUFFERED);
      e.createSnapshot("p", "base");
      write(p, 0, b, Durability.BUFFERED);
      Volume c1 = e.cloneVolume("p", "base", "c1");
      write(c1, 2 * MIB, b, Durability.BUFFERED);
      e.createSnapshot("c1", "x");
      write(c1, 2 * MIB, c, Durability.BUFFERED);
      Volume c2 = e.cloneVolume("c1", "x", "c2");
      write(c2, 5 * MIB, c, Durability.BUFFERED);
      c2.unmap(7 * MIB, MIB);
      assertArrayEquals(want2, read(c2, 0, a.length));

      // a clone of a clone: copies what it inherits from both levels, then holds neither snapshot
      FlattenReport r = e.flatten("c2", 0);
      assertEquals(List.of("c1@x", "p@base"), r.detached());
      // 9 MiB written by p, minus c2's own 1 MiB write and 1 MiB unmap: 7 MiB inherited
      assertEquals(7 * MIB / Layout.CLUSTER_BYTES, r.clustersCopied());
      assertTrue(c2.cloneSource().isEmpty());
      assertArrayEquals(want2, read(c2, 0, a.length));
      assertEquals(List.of(), e.snapshots("c1").get(0).clones());
      assertEquals(List.of("c1"), e.snapshots("p").get(0).clones());
      // flattening again, or a vDisk that is no clone: nothing to do
      assertEquals(0, e.flatten("c2", 0).clustersCopied());
      assertEquals(0, e.flatten("p", 0).clustersCopied());

      // c1 has a snapshot: refused, naming it
      IllegalStateException refused = assertThrows(IllegalStateException.class, () -> e.flatten("c1", 0));
      assertTrue(refused.getMessage().contains("x"), refused.getMessage());
      e.deleteSnapshot("c1", "x");
      e.flatten("c1", 64 * MIB);
      IllegalStateException none = assertThrows(IllegalStateException.class, () -> e.deleteSnapshot("c1", "nope"));
      assertTrue(none.getMessage().contains("nope"));
      // nothing holds p's snapshot any more: it and p go, and the clones still read right
      assertEquals(List.of(), e.snapshots("p").get(0).clones());
      e.deleteSnapshot("p", "base");
      e.delete("p");
      e.delete("c1");
      assertArrayEquals(want2, read(c2, 0, a.length));
      assertFalse(e.volume("c1").isPresent());
    }
    ObjectStore backend = TestEngines.localBackend(dir);
    assertFalse(backend.listNamespaces().contains(pNs), "the parent's backend namespace is gone");
    backend.close();
    // and after a restart, with the parent gone from the backend
    try (Engine e = TestEngines.start(dir)) {
      Volume c2 = e.volume("c2").orElseThrow();
      assertArrayEquals(want2, read(c2, 0, a.length));
      assertTrue(c2.cloneSource().isEmpty());
    }
  }

  /**
   * Clusters a dedupe-enabled parent stored as SHARE records come to the clone with its initial
   * mapping; a flatten writes them into the clone's own history, so that its snapshots and clones
   * (rebuilt from that history alone once the lineage is gone) still see them.
   */
  @Test
  void sharedClustersInheritedFromADedupeParentSurviveTheFlatten() throws Exception {
    byte[] block = pattern(31, Layout.CLUSTER_BYTES);
    byte[] want = new byte[(int) (8 * MIB)];
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", 8 * MIB));
      e.updateSettings("p", java.util.Map.of("dedupe", "true"));
      byte[] first = pattern(32, (int) (4 * MIB));
      write(p, 0, first, Durability.BUFFERED);
      System.arraycopy(first, 0, want, 0, first.length);
      write(p, 4 * MIB, block, Durability.BUFFERED);
      System.arraycopy(block, 0, want, (int) (4 * MIB), block.length);
      e.createSnapshot("p", "seal"); // seals; once uploaded, its clusters can be shared
      for (int i = 0; i < 3000 && e.scosAwaitingUpload() > 0; i++) {
        Thread.sleep(10);
      }
      e.deleteSnapshot("p", "seal");
      // the stored copy enters the dedupe index once its SCO is in the backend: rewrite one
      // cluster with it until a write shares (bounded)
      for (int i = 0; i < 3000 && e.stats("p").get("dedupeShared") == 0; i++) {
        write(p, 4 * MIB + Layout.CLUSTER_BYTES, block, Durability.BUFFERED);
        Thread.sleep(10);
      }
      assertTrue(e.stats("p").get("dedupeShared") > 0, "a write shared the stored copy: " + e.stats("p"));
      for (int k = 1; k < 256; k++) {
        write(p, 4 * MIB + (long) k * Layout.CLUSTER_BYTES, block, Durability.BUFFERED);
        System.arraycopy(block, 0, want, (int) (4 * MIB) + k * Layout.CLUSTER_BYTES, block.length);
      }
      assertTrue(e.stats("p").get("dedupeShared") >= 255, "the parent shares: " + e.stats("p"));
      assertTrue(((LocalVolume) p).mappingOf(4 * MIB / Layout.CLUSTER_BYTES + 100)[0] < 0, "a shared location");
      e.createSnapshot("p", "s");
      Volume c = e.cloneVolume("p", "s", "c");
      e.flatten("c", 0);
      assertArrayEquals(want, read(c, 0, want.length));
      e.createSnapshot("c", "cs");
      Volume cc = e.cloneVolume("c", "cs", "cc");
      assertArrayEquals(want, read(cc, 0, want.length), "a clone of the flattened clone's snapshot");
      e.deleteSnapshot("p", "s");
      e.delete("p");
      assertArrayEquals(want, read(c, 0, want.length));
      assertArrayEquals(want, read(cc, 0, want.length));
    }
    try (Engine e = TestEngines.start(dir)) {
      assertArrayEquals(want, read(e.volume("c").orElseThrow(), 0, want.length));
      assertArrayEquals(want, read(e.volume("cc").orElseThrow(), 0, want.length));
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      assertArrayEquals(want, read(e.volume("c").orElseThrow(), 0, want.length), "after a scrub of every vDisk");
    }
  }

  @Test
  void flattenedCloneKeepsWritesMadeDuringTheFlatten() throws Exception {
    long size = 16 * MIB;
    int clusters = (int) (size / Layout.CLUSTER_BYTES);
    byte[] base = pattern(21, (int) size);
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", size));
      write(p, 0, base, Durability.BUFFERED);
      e.createSnapshot("p", "s");
      Volume c = e.cloneVolume("p", "s", "c");
      byte[] model = base.clone();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<Throwable> failed = new AtomicReference<>();
      Object lock = new Object();
      Thread writer = new Thread(() -> {
        Random rnd = new Random(22);
        try {
          for (int i = 0; i < 20_000 && !stop.get(); i++) {
            int cl = rnd.nextInt(clusters);
            byte[] d = pattern(1000 + i, Layout.CLUSTER_BYTES);
            synchronized (lock) {
              write(c, (long) cl * Layout.CLUSTER_BYTES, d, i % 16 == 0 ? Durability.DURABLE : Durability.BUFFERED);
              System.arraycopy(d, 0, model, cl * Layout.CLUSTER_BYTES, d.length);
            }
          }
        } catch (Throwable t) {
          failed.set(t);
        }
      });
      writer.start();
      // 16 MiB at 32 MiB/s: the writer runs through the whole copy
      FlattenReport r = e.flatten("c", 32 * MIB);
      stop.set(true);
      writer.join(60_000);
      assertFalse(writer.isAlive());
      if (failed.get() != null) {
        throw new AssertionError("writer failed", failed.get());
      }
      assertTrue(r.clustersCopied() + r.clustersSkipped() <= clusters, r.toString());
      assertTrue(r.clustersCopied() > 0, r.toString());
      assertArrayEquals(model, read(c, 0, (int) size));
      e.deleteSnapshot("p", "s");
      e.delete("p");
      assertArrayEquals(model, read(c, 0, (int) size));
    }
  }
}
