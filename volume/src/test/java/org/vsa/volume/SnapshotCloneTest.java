package org.vsa.volume;

import org.vsa.dtl.DtlMode;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;
import static org.vsa.volume.TestEngines.pattern;
import static org.vsa.volume.TestEngines.read;
import static org.vsa.volume.TestEngines.write;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SnapshotCloneTest {
  @TempDir Path dir;

  @Test
  void snapshotRollbackAndListing() throws Exception {
    byte[] a = pattern(1, (int) (6 * MIB));
    byte[] b = pattern(2, (int) MIB);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("d", 64 * MIB));
      write(v, 0, a, Durability.BUFFERED);
      SnapshotInfo s1 = e.createSnapshot("d", "s1");
      assertEquals("s1", s1.name());
      write(v, MIB, b, Durability.BUFFERED);
      v.unmap(5 * MIB, MIB);
      e.createSnapshot("d", "s2");
      write(v, 0, b, Durability.BUFFERED);
      assertThrows(IllegalStateException.class, () -> e.createSnapshot("d", "s1"));
      assertThrows(IllegalArgumentException.class, () -> e.createSnapshot("d", "bad name"));

      List<SnapshotInfo> list = e.snapshots("d");
      assertEquals(List.of("s1", "s2"), list.stream().map(SnapshotInfo::name).toList());
      // s1 alone keeps its first MiB-at-1MiB and the unmapped 5..6 MiB; the head overwrote [0, 1 MiB)
      assertEquals(2 * MIB, list.get(0).pinnedBytes());
      assertTrue(list.get(0).created().toEpochMilli() > 0);

      // in use: refused, naming the holder
      Volume.Export ex = v.export("iscsi lun 0", true);
      IllegalStateException busy = assertThrows(IllegalStateException.class, () -> e.rollback("d", "s2"));
      assertTrue(busy.getMessage().contains("iscsi lun 0"), busy.getMessage());
      ex.close();

      e.rollback("d", "s2");
      v = e.volume("d").orElseThrow();
      byte[] want = a.clone();
      System.arraycopy(b, 0, want, (int) MIB, b.length);
      java.util.Arrays.fill(want, (int) (5 * MIB), (int) (6 * MIB), (byte) 0);
      assertArrayEquals(want, read(v, 0, a.length));
      // writes after a rollback go on; rolling back further drops the later snapshot
      write(v, 0, b, Durability.DURABLE);
      e.rollback("d", "s1");
      assertEquals(List.of("s1"), e.snapshotNames("d"));
      assertArrayEquals(a, read(e.volume("d").orElseThrow(), 0, a.length));
      write(e.volume("d").orElseThrow(), 10 * MIB, b, Durability.BUFFERED);
    }
    // everything survives a restart
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.volume("d").orElseThrow();
      assertArrayEquals(a, read(v, 0, a.length));
      assertArrayEquals(b, read(v, 10 * MIB, b.length));
      assertEquals(List.of("s1"), e.snapshotNames("d"));
      e.rollback("d", "s1");
      assertArrayEquals(new byte[b.length], read(e.volume("d").orElseThrow(), 10 * MIB, b.length));
    }
  }

  @Test
  void clonesOfClonesShareDataUntilOverwritten() throws Exception {
    byte[] a = pattern(3, (int) (9 * MIB));
    byte[] b = pattern(4, (int) MIB);
    byte[] c = pattern(5, (int) MIB);
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", 32 * MIB));
      write(p, 0, a, Durability.BUFFERED);
      e.createSnapshot("p", "base");
      write(p, 0, b, Durability.BUFFERED); // the parent moves on; the clone keeps the snapshot's view
      Volume c1 = e.cloneVolume("p", "base", "c1");
      assertEquals(32 * MIB, c1.sizeBytes());
      assertArrayEquals(a, read(c1, 0, a.length));
      write(c1, 2 * MIB, b, Durability.BUFFERED);
      e.createSnapshot("c1", "x");
      write(c1, 2 * MIB, c, Durability.BUFFERED);
      Volume c2 = e.cloneVolume("c1", "x", "c2");
      byte[] want2 = a.clone();
      System.arraycopy(b, 0, want2, (int) (2 * MIB), b.length);
      assertArrayEquals(want2, read(c2, 0, a.length));
      write(c2, 0, c, Durability.DURABLE);
      // the parents are untouched by their clones' writes
      byte[] wantP = a.clone();
      System.arraycopy(b, 0, wantP, 0, b.length);
      assertArrayEquals(wantP, read(p, 0, a.length));
      assertEquals(Map.entry("p", "base"), entry(c1.cloneSource().orElseThrow()));

      IllegalStateException refused = assertThrows(IllegalStateException.class, () -> e.deleteSnapshot("p", "base"));
      assertTrue(refused.getMessage().contains("c1") && refused.getMessage().contains("c2"), refused.getMessage());
      refused = assertThrows(IllegalStateException.class, () -> e.delete("c1"));
      assertTrue(refused.getMessage().contains("c2"), refused.getMessage());
      assertEquals(List.of("c1", "c2"), e.snapshots("p").get(0).clones());
    }
    try (Engine e = TestEngines.start(dir)) {
      Volume c2 = e.volume("c2").orElseThrow();
      byte[] want2 = a.clone();
      System.arraycopy(c, 0, want2, 0, c.length);
      System.arraycopy(b, 0, want2, (int) (2 * MIB), b.length);
      assertArrayEquals(want2, read(c2, 0, a.length));
      e.delete("c2");
      e.deleteSnapshot("c1", "x");
      e.delete("c1");
      e.deleteSnapshot("p", "base");
      assertTrue(e.snapshotNames("p").isEmpty());
    }
  }

  @Test
  void templatesCanOnlyBeCloned() throws Exception {
    byte[] a = pattern(6, (int) (2 * MIB));
    try (Engine e = TestEngines.start(dir)) {
      Volume t = e.create(TestEngines.spec("golden", 16 * MIB));
      write(t, 0, a, Durability.BUFFERED);
      e.setTemplate("golden");
      assertTrue(t.isTemplate() && t.readOnly());
      assertThrows(java.io.IOException.class, () -> write(t, 0, a, Durability.BUFFERED));
      assertThrows(java.io.IOException.class, () -> t.unmap(0, 4096));
      assertThrows(IllegalStateException.class, () -> t.export("iscsi", true));
      t.export("nfs read-only", false).close();
      assertThrows(IllegalStateException.class, () -> e.createSnapshot("golden", "s"));
      assertThrows(IllegalStateException.class, () -> e.rollback("golden", "template"));
      Volume vm1 = e.cloneVolume("golden", null, "vm1");
      assertFalse(vm1.isTemplate());
      assertArrayEquals(a, read(vm1, 0, a.length));
      write(vm1, 0, pattern(7, 4096), Durability.BUFFERED);
    }
    try (Engine e = TestEngines.start(dir)) {
      assertTrue(e.volume("golden").orElseThrow().isTemplate());
      assertThrows(java.io.IOException.class, () -> write(e.volume("golden").orElseThrow(), 0, a, Durability.BUFFERED));
      assertArrayEquals(a, read(e.volume("golden").orElseThrow(), 0, a.length));
    }
  }

  @Test
  void settingsAreValidatedAndPersisted() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      e.create(TestEngines.spec("s", 16 * MIB));
      assertEquals(DtlMode.NONE, e.volume("s").orElseThrow().settings().dtlMode());
      e.updateSettings("s", Map.of("dtlMode", "sync", "readCacheQuota", "64MiB", "dedupe", "true", "cachePolicy", "none"));
      assertThrows(IllegalArgumentException.class, () -> e.updateSettings("s", Map.of("dtlMode", "fast")));
      assertThrows(IllegalArgumentException.class, () -> e.updateSettings("s", Map.of("readCacheQuota", "1000")));
      assertThrows(IllegalArgumentException.class, () -> e.updateSettings("s", Map.of("scoSize", "8MiB")));
      assertThrows(IllegalArgumentException.class, () -> e.updateSettings("s", Map.of("colour", "red")));
    }
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.volume("s").orElseThrow();
      assertEquals(new VolumeSettings(DtlMode.SYNC, CachePolicy.NONE, 64 * MIB, true), v.settings());
      assertEquals(CachePolicy.NONE, v.spec().cachePolicy());
    }
  }

  private static Map.Entry<String, String> entry(Volume.CloneSource s) {
    return Map.entry(s.parent(), s.snapshot());
  }
}
