package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;
import static org.vsa.volume.TestEngines.pattern;
import static org.vsa.volume.TestEngines.read;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Read reallocation: a sequential scan over clusters that random writes scattered rewrites them in
 * order (same bytes, consecutive slots), and a client write that lands meanwhile is never undone.
 */
class ReadReallocationTest {
  @TempDir Path dir;

  @Test
  void aScanOverScatteredClustersLeavesThemInOrderWithTheSameBytes() throws Exception {
    int clusters = 1024; // 4 MiB
    byte[] data = pattern(21, clusters * 4096);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("r", 16 * MIB));
      List<Integer> order = new ArrayList<>();
      for (int c = 0; c < clusters; c++) {
        order.add(c);
      }
      Collections.shuffle(order, new Random(5));
      for (int c : order) {
        v.write((long) c * 4096, ByteBuffer.wrap(data, c * 4096, 4096), Durability.BUFFERED);
      }
      v.flush();
      LocalVolume lv = (LocalVolume) v;
      assertTrue(scattered(lv, 0, clusters) > clusters / 2, "random writes scattered the clusters");

      for (int pass = 0; pass < 2; pass++) {
        for (int off = 0; off < clusters * 4096; off += 65536) {
          assertArrayEquals(java.util.Arrays.copyOfRange(data, off, off + 65536), read(v, off, 65536), "pass " + pass);
        }
        // wait (bounded) for the background rewrites the pass queued
        for (int i = 0; i < 2000 && lv.stats().get("reallocated") < clusters - 32 * 16; i++) {
          Thread.sleep(5);
        }
      }
      long moved = e.stats("r").get("reallocated");
      assertTrue(moved > clusters / 2, "clusters rewritten in order: " + moved);
      // past the scan's first MiB (where it is not yet known to be a scan) the clusters now lie in
      // runs of at least one read (16 clusters): far fewer breaks between neighbours than before
      int after = scattered(lv, 256, clusters - 256);
      assertTrue(after < (clusters - 256) / 8, "breaks left past the first MiB: " + after);
      assertArrayEquals(data, read(v, 0, data.length), "same bytes after reallocation");
    }
    try (Engine e = TestEngines.start(dir)) {
      assertArrayEquals(data, read(e.volume("r").orElseThrow(), 0, data.length), "and after a restart");
    }
  }

  @Test
  void aClientWriteDuringReallocationWins() throws Exception {
    int clusters = 512;
    byte[] data = pattern(22, clusters * 4096);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("w", 16 * MIB));
      for (int c = clusters - 1; c >= 0; c -= 2) { // every other cluster first, then the rest: scattered
        v.write((long) c * 4096, ByteBuffer.wrap(data, c * 4096, 4096), Durability.BUFFERED);
      }
      for (int c = clusters - 2; c >= 0; c -= 2) {
        v.write((long) c * 4096, ByteBuffer.wrap(data, c * 4096, 4096), Durability.BUFFERED);
      }
      byte[] mine = pattern(23, 4096);
      Random r = new Random(9);
      for (int round = 0; round < 3; round++) {
        for (int off = 0; off < clusters * 4096; off += 65536) {
          read(v, off, 65536);
          int c = r.nextInt(clusters); // a client write right behind the scan's reads
          v.write((long) c * 4096, ByteBuffer.wrap(mine), Durability.BUFFERED);
          System.arraycopy(mine, 0, data, c * 4096, 4096);
        }
      }
      for (int i = 0; i < 2000 && ((LocalVolume) v).stats().get("reallocated") == 0; i++) {
        Thread.sleep(5);
      }
      Thread.sleep(200); // let queued rewrites run; they must not undo the client's writes
      assertArrayEquals(data, read(v, 0, data.length));
    }
  }

  /** How many neighbouring clusters in [first, first+n) do not sit in consecutive slots. */
  private static int scattered(LocalVolume v, long first, int n) throws Exception {
    int breaks = 0;
    for (long c = first; c + 1 < first + n; c++) {
      if (v.mappingOf(c + 1)[0] != v.mappingOf(c)[0] + 1) {
        breaks++;
      }
    }
    return breaks;
  }
}
