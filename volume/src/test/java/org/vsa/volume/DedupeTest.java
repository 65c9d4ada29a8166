package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dedupe: identical clusters of dedupe-enabled vDisks are stored once, and kept while referenced. */
class DedupeTest {
  @TempDir Path dir;

  private static final int DATA_BYTES = 16 * (int) MIB;

  static VolumeSettings dedupe(VolumeSpec spec) {
    return VolumeSettings.defaults(spec).withDedupe(true);
  }

  static Volume createDeduped(Engine e, String name, long size) throws IOException {
    VolumeSpec s = TestEngines.spec(name, size);
    return e.create(s, dedupe(s));
  }

  /** Seals the vDisk's open SCO and waits (bounded) until the backend holds everything written. */
  static void awaitBackend(Volume v) throws IOException {
    LocalVolume lv = (LocalVolume) v;
    long last = lv.sealForSnapshot()[0];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!lv.uploadedThrough(last)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("vDisk " + v.name() + " did not reach the backend in 60 s");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
  }

  /** Bytes of backend objects whose name starts with {@code prefix}. */
  long backendBytes(String prefix) throws IOException {
    try (Stream<Path> s = Files.walk(dir.resolve("backend"))) {
      return s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().startsWith(prefix))
          .mapToLong(p -> p.toFile().length()).sum();
    }
  }

  long backendBytes() throws IOException {
    return backendBytes("");
  }

  static void writeInMiB(Volume v, byte[] data) throws IOException {
    for (int off = 0; off < data.length; off += (int) MIB) {
      v.write(off, java.nio.ByteBuffer.wrap(data, off, (int) MIB), Durability.BUFFERED);
    }
    v.flush();
  }

  @Test
  void hundredVdisksOfIdenticalDataTakeAboutOneCopy() throws Exception {
    byte[] data = TestEngines.pattern(42, DATA_BYTES);
    int count = 100;
    try (Engine e = TestEngines.start(dir)) {
      for (int i = 0; i < count; i++) {
        Volume v = createDeduped(e, "t" + i, 64 * MIB);
        writeInMiB(v, data);
        awaitBackend(v);
      }
      long scoBytes = backendBytes("sco_");
      long all = backendBytes();
      long tlogBytes = backendBytes("tlog_");
      // one copy of the data, plus SCO headers (one 4 KiB header per SCO and vDisk)
      long scoBound = DATA_BYTES + DATA_BYTES / 10;
      // metadata: a 32-byte TLog record per 4 KiB cluster per vDisk, TLog headers, records, tables
      long metadataBound = (long) count * (DATA_BYTES / 4096 * TLog.RECORD_BYTES + 64 * 1024);
      System.out.printf("dedupe: %d vDisks x %d MiB: SCOs %d bytes, TLogs %d bytes, all %d bytes (%.2f copies)%n",
          count, DATA_BYTES / MIB, scoBytes, tlogBytes, all, (double) all / DATA_BYTES);
      assertTrue(scoBytes <= scoBound, "SCO bytes " + scoBytes + " exceed one copy + 10 % (" + scoBound + ")");
      assertTrue(all <= scoBound + metadataBound, "backend bytes " + all + " exceed " + (scoBound + metadataBound));
      assertTrue(e.stats("t99").get("dedupeShared") >= DATA_BYTES / 4096, "t99 shared " + e.stats("t99"));
      for (int i : new int[] {0, 1, 50, 99}) {
        assertArrayEquals(data, TestEngines.read(e.volume("t" + i).orElseThrow(), 0, DATA_BYTES), "t" + i);
      }
      // the owner of the stored copy goes: the others keep reading it
      e.delete("t0");
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      assertArrayEquals(data, TestEngines.read(e.volume("t1").orElseThrow(), 0, DATA_BYTES), "t1 after t0 was deleted");
      assertTrue(backendBytes("sco_") >= DATA_BYTES, "the shared SCOs of the deleted vDisk are kept");
    }
    try (Engine e = TestEngines.start(dir)) {
      assertArrayEquals(data, TestEngines.read(e.volume("t99").orElseThrow(), 0, DATA_BYTES), "t99 after a restart");
      for (int i = 1; i < count; i++) {
        e.delete("t" + i);
      }
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      assertEquals(0, backendBytes("sco_"), "every SCO is gone once no vDisk references it");
      assertTrue(e.dedupe().inState(Dedupe.State.RETAINED).isEmpty());
    }
  }

  @Test
  void theIndexSurvivesARestart() throws Exception {
    byte[] data = TestEngines.pattern(7, 4 * (int) MIB);
    try (Engine e = TestEngines.start(dir)) {
      Volume a = createDeduped(e, "a", 16 * MIB);
      writeInMiB(a, data);
      awaitBackend(a);
    }
    try (Engine e = TestEngines.start(dir)) {
      assertTrue(e.dedupe().entries() >= data.length / 4096, "entries after restart: " + e.dedupe().entries());
      long before = backendBytes("sco_");
      Volume b = createDeduped(e, "b", 16 * MIB);
      writeInMiB(b, data);
      awaitBackend(b);
      assertEquals(data.length / 4096, e.stats("b").get("dedupeShared"));
      assertTrue(backendBytes("sco_") - before <= 2 * 4096, "b stored data of its own: " + (backendBytes("sco_") - before));
      assertArrayEquals(data, TestEngines.read(b, 0, data.length));
    }
  }

  @Test
  void vdisksWithoutDedupeStoreTheirOwnCopy() throws Exception {
    byte[] data = TestEngines.pattern(9, 4 * (int) MIB);
    try (Engine e = TestEngines.start(dir)) {
      Volume a = createDeduped(e, "a", 16 * MIB);
      writeInMiB(a, data);
      awaitBackend(a);
      Volume plain = e.create(TestEngines.spec("plain", 16 * MIB));
      writeInMiB(plain, data);
      awaitBackend(plain);
      assertEquals(0, e.stats("plain").get("dedupeShared"));
      assertTrue(backendBytes("sco_") >= 2L * data.length);
      assertArrayEquals(data, TestEngines.read(plain, 0, data.length));
    }
  }

  @Test
  void scrubKeepsSharedScosAndRollbackAndSnapshotsStayCorrect() throws Exception {
    byte[] data = TestEngines.pattern(11, 4 * (int) MIB);
    byte[] other = TestEngines.pattern(12, 4 * (int) MIB);
    try (Engine e = TestEngines.start(dir)) {
      Volume a = createDeduped(e, "a", 16 * MIB);
      writeInMiB(a, data);
      awaitBackend(a);
      Volume b = createDeduped(e, "b", 16 * MIB);
      writeInMiB(b, data);
      e.createSnapshot("b", "s1");
      // a overwrites everything: its old SCOs are dead for a alone, but b (head and snapshot) needs them
      writeInMiB(a, other);
      awaitBackend(a);
      ScrubReport r = e.scrub("a", ScrubOptions.defaults().withRate(0));
      assertEquals(null, r.deferred());
      assertArrayEquals(data, TestEngines.read(b, 0, data.length), "b after a's scrub");
      // b moves on, rolls back to its snapshot: the shared data comes back
      writeInMiB(b, other);
      e.rollback("b", "s1");
      b = e.volume("b").orElseThrow();
      assertArrayEquals(data, TestEngines.read(b, 0, data.length), "b after the rollback");
      Volume c = e.cloneVolume("b", "s1", "c");
      assertArrayEquals(data, TestEngines.read(c, 0, data.length), "clone of b");
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      e.delete("c");
      e.deleteSnapshot("b", "s1");
      writeInMiB(b, other);
      awaitBackend(b);
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      e.scrubAll(ScrubOptions.defaults().withRate(0));
      assertArrayEquals(other, TestEngines.read(a, 0, other.length));
      assertArrayEquals(other, TestEngines.read(b, 0, other.length));
      // nothing references the first data any more: about one copy of `other` is left
      long sco = backendBytes("sco_");
      assertTrue(sco <= other.length + other.length / 4, "SCO bytes left: " + sco);
      assertFalse(e.dedupe().isEmpty());
    }
  }
}
