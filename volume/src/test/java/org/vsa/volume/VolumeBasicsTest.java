package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;
import static org.vsa.volume.TestEngines.pattern;
import static org.vsa.volume.TestEngines.read;
import static org.vsa.volume.TestEngines.write;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeBasicsTest {
  @TempDir Path dir;

  @Test
  void neverWrittenReadsZeros() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      assertArrayEquals(new byte[65536], read(v, 5 * MIB, 65536));
      assertArrayEquals(new byte[512], read(v, 64 * MIB - 512, 512));
    }
  }

  @Test
  void alignedAndUnalignedWritesReadBack() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      byte[] big = pattern(1, 1 << 20);
      write(v, 8192, big, Durability.BUFFERED);
      assertArrayEquals(big, read(v, 8192, big.length));
      // a 512-byte write in the middle of a cluster merges with what is there
      byte[] small = pattern(2, 512);
      write(v, 8192 + 1536, small, Durability.DURABLE);
      byte[] expect = big.clone();
      System.arraycopy(small, 0, expect, 1536, 512);
      assertArrayEquals(expect, read(v, 8192, big.length));
      // an unaligned read across clusters
      byte[] part = read(v, 8192 + 3584, 1024);
      byte[] want = new byte[1024];
      System.arraycopy(expect, 3584, want, 0, 1024);
      assertArrayEquals(want, part);
      // an unaligned write across two clusters, into never-written space
      byte[] odd = pattern(3, 4096 + 1024);
      write(v, 40 * MIB + 3072, odd, Durability.BUFFERED);
      byte[] around = read(v, 40 * MIB, 12288);
      byte[] w2 = new byte[12288];
      System.arraycopy(odd, 0, w2, 3072, odd.length);
      assertArrayEquals(w2, around);
    }
  }

  @Test
  void unmapReadsZerosIncludingPartialClusters() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      byte[] data = pattern(4, 64 * 1024);
      write(v, 0, data, Durability.BUFFERED);
      v.unmap(512, 16384); // partial head cluster, 3 whole clusters, partial tail
      byte[] expect = data.clone();
      java.util.Arrays.fill(expect, 512, 512 + 16384, (byte) 0);
      assertArrayEquals(expect, read(v, 0, data.length));
      v.unmap(0, 64 * MIB);
      assertArrayEquals(new byte[data.length], read(v, 0, data.length));
    }
  }

  @Test
  void badRangesAreRejectedBeforeAnythingChanges() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      assertThrows(IllegalArgumentException.class, () -> v.write(100, ByteBuffer.allocate(512), Durability.BUFFERED));
      assertThrows(IllegalArgumentException.class, () -> v.write(64 * MIB, ByteBuffer.allocate(512), Durability.BUFFERED));
      assertThrows(IllegalArgumentException.class, () -> v.read(64 * MIB - 512, ByteBuffer.allocate(1024)));
      assertThrows(IllegalArgumentException.class, () -> v.unmap(-512, 512));
      assertThrows(IllegalStateException.class, () -> e.create(TestEngines.spec("a", 64 * MIB)));
    }
  }

  @Test
  void dataSurvivesRestartAndComesBackFromBackendAndReadCache() throws Exception {
    byte[] data = pattern(5, 12 * (int) MIB); // three 4 MiB SCOs
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      write(v, 4 * MIB, data, Durability.BUFFERED);
      v.flush();
    }
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.volume("a").orElseThrow();
      assertArrayEquals(data, read(v, 4 * MIB, data.length));
      // wait (bounded) until every sealed SCO is in the backend and has left the write buffer
      for (int i = 0; i < 3000 && e.scosAwaitingUpload() > 0; i++) {
        Thread.sleep(10);
      }
      assertEquals(0, e.scosAwaitingUpload());
      assertArrayEquals(data, read(v, 4 * MIB, data.length)); // one long scan: bypasses the read cache
      long fromBackend = e.stats("a").get("readsBackend");
      assertTrue(fromBackend > 0, "some clusters came from the backend: " + e.stats("a"));
      assertEquals(0, e.stats("a").get("readsCache"));
      // 4 KiB reads go into the read cache (in the background) and come from it the next time
      for (int off = 0; off < 64 * 4096; off += 4096) {
        assertArrayEquals(java.util.Arrays.copyOfRange(data, off, off + 4096), read(v, 4 * MIB + off, 4096));
      }
      for (int i = 0; i < 3000 && e.readCache().pendingInserts() > 0; i++) {
        Thread.sleep(2);
      }
      for (int off = 0; off < 64 * 4096; off += 4096) {
        assertArrayEquals(java.util.Arrays.copyOfRange(data, off, off + 4096), read(v, 4 * MIB + off, 4096));
      }
      assertEquals(64, e.stats("a").get("readsCache"), "second pass hit the read cache: " + e.stats("a"));
    }
  }

  @Test
  void deleteRemovesEverything() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 64 * MIB));
      write(v, 0, pattern(6, 8 * (int) MIB), Durability.DURABLE);
      e.delete("a");
      assertTrue(e.volume("a").isEmpty());
      Volume again = e.create(TestEngines.spec("a", 64 * MIB));
      assertArrayEquals(new byte[4096], read(again, 0, 4096));
    }
    try (Engine e = TestEngines.start(dir)) {
      assertEquals(1, e.volumes().size());
    }
  }

  @Test
  void resizeGrowsThinAndShrinkDiscardsTheTail() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("r", 8 * MIB));
      byte[] data = pattern(8, 8 * (int) MIB);
      write(v, 0, data, Durability.BUFFERED);
      e.resize("r", 1024 * MIB);
      assertEquals(1024 * MIB, v.sizeBytes());
      assertArrayEquals(data, read(v, 0, data.length));
      assertArrayEquals(new byte[4096], read(v, 1024 * MIB - 4096, 4096));
      e.resize("r", 4 * MIB);
      assertThrows(IllegalArgumentException.class, () -> read(v, 4 * MIB, 4096));
      e.resize("r", 8 * MIB);
      assertArrayEquals(new byte[4 * (int) MIB], read(v, 4 * MIB, 4 * (int) MIB), "the discarded tail reads as zeros");
      assertArrayEquals(java.util.Arrays.copyOf(data, 4 * (int) MIB), read(v, 0, 4 * (int) MIB));
    }
    try (Engine e = TestEngines.start(dir)) {
      assertEquals(8 * MIB, e.volume("r").orElseThrow().sizeBytes(), "the new size survives a restart");
    }
  }
}
