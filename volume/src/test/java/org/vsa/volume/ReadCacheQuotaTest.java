package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;
import static org.vsa.volume.TestEngines.pattern;
import static org.vsa.volume.TestEngines.read;
import static org.vsa.volume.TestEngines.write;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-vDisk read-cache quota: random 4 KiB reads of two vDisks from the backend fill the
 * read cache; the one with a 16 MiB quota never holds more than 16 MiB of it, the other one fills
 * what it can; the quota is a setting that changes at runtime and survives a restart.
 */
class ReadCacheQuotaTest {
  @TempDir Path dir;

  private Engine start() throws Exception {
    return Engine.start(TestEngines.config(dir, TestEngines.localBackend(dir)).withReadCacheCapacity(64 * MIB));
  }

  static long keyOf(Volume v) {
    UUID id = v.id();
    return id.getMostSignificantBits() ^ id.getLeastSignificantBits();
  }

  @Test
  void aVdiskNeverHoldsMoreThanItsQuotaOfTheReadCache() throws Exception {
    int size = (int) (32 * MIB);
    byte[] a = pattern(1, size);
    byte[] b = pattern(2, size);
    try (Engine e = start()) {
      e.create(TestEngines.spec("a", size));
      e.create(TestEngines.spec("b", size));
      e.updateSettings("a", Map.of("readCacheQuota", "16MiB"));
      write(e.volume("a").orElseThrow(), 0, a, Durability.BUFFERED);
      write(e.volume("b").orElseThrow(), 0, b, Durability.BUFFERED);
      e.flushAll();
    }
    try (Engine e = start()) {
      Volume va = e.volume("a").orElseThrow();
      Volume vb = e.volume("b").orElseThrow();
      assertEquals(16 * MIB, va.settings().readCacheQuotaBytes(), "the quota survives a restart");
      assertEquals(16 * MIB, e.readCache().quotaBytes(keyOf(va)));
      for (int i = 0; i < 3000 && e.scosAwaitingUpload() > 0; i++) {
        Thread.sleep(10);
      }
      assertEquals(0, e.scosAwaitingUpload(), "every SCO reached the backend: reads come from there");
      List<Integer> clusters = new ArrayList<>();
      for (int c = 0; c < size / Layout.CLUSTER_BYTES; c++) {
        clusters.add(c);
      }
      Collections.shuffle(clusters, new Random(7)); // random reads: no scan bypasses the cache
      int done = 0;
      for (int c : clusters) {
        long off = (long) c * Layout.CLUSTER_BYTES;
        assertArrayEquals(java.util.Arrays.copyOfRange(a, (int) off, (int) off + 4096), read(va, off, 4096));
        assertArrayEquals(java.util.Arrays.copyOfRange(b, (int) off, (int) off + 4096), read(vb, off, 4096));
        if (++done % 512 == 0) {
          awaitFiller(e);
          assertTrue(e.readCache().blocksHeld(keyOf(va)) <= 4096, "a holds " + e.readCache().blocksHeld(keyOf(va)));
        }
      }
      awaitFiller(e);
      long heldA = e.readCache().blocksHeld(keyOf(va));
      long heldB = e.readCache().blocksHeld(keyOf(vb));
      assertTrue(heldA <= 4096 && heldA > 3000, "a holds at most its quota of 4096 blocks: " + heldA);
      assertTrue(heldB > 6000, "b, without a quota, holds most of its 8192 blocks: " + heldB);
      assertTrue(e.readCache().quotaEvictions() > 0);
      // the quota lowered at runtime applies at once
      e.updateSettings("a", Map.of("readCacheQuota", "0"));
      assertEquals(0, e.readCache().quotaBytes(keyOf(va)));
      e.updateSettings("a", Map.of("readCacheQuota", "4MiB"));
      assertTrue(e.readCache().blocksHeld(keyOf(va)) <= 1024, "after lowering: " + e.readCache().blocksHeld(keyOf(va)));
    }
  }

  private static void awaitFiller(Engine e) throws InterruptedException {
    for (int i = 0; i < 5000 && e.readCache().pendingInserts() > 0; i++) {
      Thread.sleep(2);
    }
    assertEquals(0, e.readCache().pendingInserts());
  }
}
