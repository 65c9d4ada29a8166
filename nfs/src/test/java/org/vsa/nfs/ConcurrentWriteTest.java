package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * Concurrent unaligned writes to one vDisk file whose ranges share 512-byte blocks: the
 * read-modify-write at the edge must not lose any of them.
 */
class ConcurrentWriteTest {
  @TempDir
  Path dir;

  @Test
  void unalignedWritersSharingBlocksLoseNothing() throws Exception {
    long seed = FuzzTest.seed();
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
            NfsConfig.DEFAULT_VDISK_PATTERNS)) {
      long id = ns.create(ns.rootId(), "c.raw", 0, 0, SetAttr.NONE, true);
      int pieces = 400;
      int pieceBytes = 300; // not a multiple of 512: neighbours share blocks
      byte[] expected = new byte[pieces * pieceBytes];
      new Random(seed).nextBytes(expected);
      List<Integer> order = new ArrayList<>();
      for (int i = 0; i < pieces; i++) {
        order.add(i);
      }
      java.util.Collections.shuffle(order, new Random(seed + 1));
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
          int first = t;
          fs.add(pool.submit(() -> {
            for (int k = first; k < pieces; k += 4) {
              int i = order.get(k);
              ns.write(id, (long) i * pieceBytes, ByteBuffer.wrap(expected, i * pieceBytes, pieceBytes),
                  k % 3 == 0 ? Durability.DURABLE : Durability.BUFFERED);
            }
            return null;
          }));
        }
        for (Future<?> f : fs) {
          f.get();
        }
      } finally {
        pool.shutdown();
      }
      ByteBuffer back = ByteBuffer.allocate(expected.length);
      ns.read(id, 0, back);
      assertArrayEquals(expected, back.array(), "seed " + seed);
    }
  }

  @Test
  void aSmallFileGrowingPastTheThresholdBecomesAVdiskWithItsBytes() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"))) {
      EngineCatalog catalog = new EngineCatalog(engine);
      byte[] head = TestEngines.pattern(11, 700_001);
      byte[] tail = TestEngines.pattern(12, 5000);
      long id;
      try (LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), catalog,
          NfsConfig.DEFAULT_VDISK_PATTERNS, 1 << 20)) {
        id = ns.create(ns.rootId(), "vm.vmsn", 0, 0, SetAttr.NONE, true);
        ns.write(id, 0, ByteBuffer.wrap(head), Durability.BUFFERED);
        assertEquals(false, ns.getattr(id).vdisk());
        ns.write(id, 2_000_000, ByteBuffer.wrap(tail), Durability.DURABLE);
        assertEquals(true, ns.getattr(id).vdisk());
        assertTrue(catalog.get("default-nfs-" + id).isPresent());
      }
      try (LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), catalog,
          NfsConfig.DEFAULT_VDISK_PATTERNS, 1 << 20)) {
        assertEquals(2_005_000, ns.getattr(id).size());
        ByteBuffer all = ByteBuffer.allocate(2_005_000);
        ns.read(id, 0, all);
        byte[] expected = new byte[2_005_000];
        System.arraycopy(head, 0, expected, 0, head.length);
        System.arraycopy(tail, 0, expected, 2_000_000, tail.length);
        assertArrayEquals(expected, all.array());
        // Its vDisk is named by the file, not adopted a second time at the root.
        assertEquals(3, ns.readdir(ns.rootId(), 0, 100).size());
      }
    }
  }
}
