package org.vsa.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadCacheTest {
  private static final int B = ReadCache.BLOCK_BYTES;

  @TempDir Path tmp;
  private ReadCache cache;

  @AfterEach
  void checkAndClose() throws IOException {
    if (cache != null) {
      cache.checkInvariants();
      cache.close();
      cache.checkInvariants();
    }
  }

  private ReadCache open(long capacityBlocks) throws IOException {
    cache = ReadCache.open(tmp.resolve("readcache").resolve("readcache.bin"), capacityBlocks * B);
    return cache;
  }

  /** A block whose content follows from its key, so a block served for another key shows. */
  static ByteBuffer blockFor(long volumeKey, long location) {
    byte[] b = new byte[B];
    new SplittableRandom(volumeKey * 0x9E3779B97F4A7C15L ^ location).nextBytes(b);
    return ByteBuffer.wrap(b);
  }

  static int crcOf(ByteBuffer block) {
    CRC32C crc = new CRC32C();
    crc.update(block.duplicate());
    return (int) crc.getValue();
  }

  /** Reads through the cache; returns the block on a hit (checked against the key), else null. */
  private ByteBuffer read(long volumeKey, long location) {
    ByteBuffer expected = blockFor(volumeKey, location);
    ByteBuffer dst = ByteBuffer.allocate(B);
    if (!cache.read(volumeKey, location, crcOf(expected), dst)) {
      assertEquals(0, dst.position(), "a miss leaves the position");
      return null;
    }
    assertEquals(B, dst.position(), "a hit advances the position");
    if (!dst.flip().equals(expected)) {
      fail("hit for (" + volumeKey + ", " + location + ") returned another block");
    }
    return dst;
  }

  private void insert(long volumeKey, long location) {
    ByteBuffer block = blockFor(volumeKey, location);
    cache.insert(volumeKey, location, block);
    assertEquals(0, block.position(), "insert leaves the position");
  }

  @Test
  void aVdiskOverItsQuotaLosesItsOwnOldestBlocksNotOthers() throws IOException {
    open(256);
    cache.setQuota(1, 16L * B);
    assertEquals(16L * B, cache.quotaBytes(1));
    for (int i = 0; i < 64; i++) {
      insert(2, (long) i * B); // another vDisk, no quota
    }
    for (int i = 0; i < 100; i++) {
      insert(1, (long) i * B);
      assertTrue(cache.blocksHeld(1) <= 16, "held " + cache.blocksHeld(1) + " after insert " + i);
    }
    assertEquals(16, cache.blocksHeld(1));
    assertEquals(84, cache.quotaEvictions());
    for (int i = 0; i < 84; i++) {
      assertNull(read(1, (long) i * B), "old block " + i + " of the vDisk over its quota is gone");
    }
    for (int i = 84; i < 100; i++) {
      assertNotNull(read(1, (long) i * B), "its newest 16 blocks stay");
    }
    for (int i = 0; i < 64; i++) {
      assertNotNull(read(2, (long) i * B), "the other vDisk keeps every block");
    }
    assertEquals(64, cache.blocksHeld(2));
    cache.checkInvariants();

    // a lower quota applies at once; no quota lets it grow again
    cache.setQuota(1, 4L * B);
    assertEquals(4, cache.blocksHeld(1));
    cache.setQuota(1, 0);
    for (int i = 200; i < 240; i++) {
      insert(1, (long) i * B);
    }
    assertEquals(44, cache.blocksHeld(1));
    assertThrows(IllegalArgumentException.class, () -> cache.setQuota(1, -1));
  }

  @Test
  void theQuotaOrderQueueStaysBoundedWhenTheCacheEvictsTheBlocks() throws IOException {
    open(32); // far smaller than the quota: W-TinyLFU evicts, the quota never does
    cache.setQuota(1, 1000L * B);
    for (int i = 0; i < 20_000; i++) {
      insert(1, (long) i * B);
    }
    assertTrue(cache.blocksHeld(1) <= 32);
    assertEquals(0, cache.quotaEvictions());
    assertTrue(cache.quotaOrderLength(1) <= 2 * 1000 + ReadCache.QUOTA_SLACK + 1, "order queue " + cache.quotaOrderLength(1));
  }

  @Test
  void hitAfterInsert() throws IOException {
    open(64);
    assertEquals(0.0, cache.hitRatio());
    assertTrue(read(1, 4096) == null);
    insert(1, 4096);
    assertEquals(1, cache.entries());
    assertTrue(read(1, 4096) != null);
    assertTrue(read(1, 8192) == null, "another location");
    assertTrue(read(2, 4096) == null, "another volume");
    assertEquals(1, cache.hits());
    assertEquals(3, cache.misses());
    assertEquals(0.25, cache.hitRatio());
  }

  @Test
  void hitFillsFromThePositionOfALargerBuffer() throws IOException {
    open(4);
    insert(1, 0);
    ByteBuffer dst = ByteBuffer.allocate(3 * B).position(B).limit(2 * B);
    assertTrue(cache.read(1, 0, crcOf(blockFor(1, 0)), dst));
    assertEquals(2 * B, dst.position());
    assertEquals(blockFor(1, 0), dst.flip().position(B));
  }

  @Test
  void wrongCrcIsAMissAndDropsTheEntry() throws IOException {
    open(64);
    insert(1, 0);
    int crc = crcOf(blockFor(1, 0));
    ByteBuffer dst = ByteBuffer.allocate(B);
    assertFalse(cache.read(1, 0, crc + 1, dst));
    assertEquals(0, dst.position());
    assertEquals(1, cache.misses());
    assertEquals(0, cache.entries(), "the suspect entry is dropped");
    assertTrue(read(1, 0) == null);
    insert(1, 0);
    assertTrue(read(1, 0) != null);
  }

  @Test
  void evictionWhenFullKeepsEveryHitRight() throws IOException {
    open(16);
    for (int i = 0; i < 100; i++) {
      insert(7, (long) i * B);
      assertTrue(cache.entries() <= 16, "entries " + cache.entries());
    }
    assertEquals(0, cache.insertsDropped(), "a full cache makes room instead of dropping");
    int hits = 0;
    for (int i = 0; i < 100; i++) {
      if (read(7, (long) i * B) != null) {
        hits++;
      }
    }
    assertTrue(hits > 0 && hits <= 16, "hits " + hits);
    assertEquals(hits, cache.hits());
    assertEquals(100 - hits, cache.misses());
  }

  @Test
  void invalidateVolumeDropsOnlyThatVolume() throws IOException {
    open(64);
    for (int i = 0; i < 10; i++) {
      insert(1, i);
      insert(2, i);
    }
    cache.invalidateVolume(1);
    assertEquals(10, cache.entries());
    for (int i = 0; i < 10; i++) {
      assertTrue(read(1, i) == null);
      assertTrue(read(2, i) != null);
    }
    cache.checkInvariants(); // the invalidated slots are free again
  }

  @Test
  void disabledCacheMissesAndIgnoresInserts() throws IOException {
    for (long capacityBytes : new long[] {0, B - 1}) {
      Path file = tmp.resolve("disabled.bin");
      try (ReadCache disabled = ReadCache.open(file, capacityBytes)) {
        assertEquals(0, disabled.capacityBlocks());
        disabled.insert(1, 0, blockFor(1, 0));
        assertFalse(disabled.read(1, 0, crcOf(blockFor(1, 0)), ByteBuffer.allocate(B)));
        assertEquals(0, disabled.entries());
        assertEquals(1, disabled.misses());
        assertFalse(Files.exists(file), "a disabled cache leaves no file");
      }
    }
  }

  @Test
  void capacityIsRoundedDownAndTheFileSized() throws IOException {
    Path file = tmp.resolve("rc.bin");
    try (ReadCache rc = ReadCache.open(file, 5L * B + 100)) {
      assertEquals(5, rc.capacityBlocks());
      assertEquals(5L * B, Files.size(file));
    }
    assertThrows(IllegalArgumentException.class, () -> ReadCache.open(file, -1));
    assertThrows(IllegalArgumentException.class, () -> ReadCache.open(file, ((long) Integer.MAX_VALUE + 1) * B));
  }

  @Test
  void emptyAfterRestart() throws IOException {
    open(8);
    insert(1, 0);
    cache.close();
    Path file = tmp.resolve("readcache").resolve("readcache.bin");
    Files.write(file, new byte[3 * B]); // a previous run's file of another size
    cache = ReadCache.open(file, 8L * B);
    assertEquals(8L * B, Files.size(file));
    assertEquals(0, cache.entries());
    assertTrue(read(1, 0) == null);
  }

  @Test
  void wrongBufferSizesAreRejected() throws IOException {
    open(4);
    assertThrows(IllegalArgumentException.class, () -> cache.insert(1, 0, ByteBuffer.allocate(B - 1)));
    assertThrows(IllegalArgumentException.class, () -> cache.read(1, 0, 0, ByteBuffer.allocate(B + 1)));
  }

  @Test
  void interruptedThreadSkipsTheCacheAndDoesNotBreakIt() throws IOException {
    open(4);
    insert(1, 0);
    Thread.currentThread().interrupt();
    try {
      assertTrue(read(1, 0) == null, "an interrupted thread misses rather than close the file");
      insert(2, 0);
    } finally {
      assertTrue(Thread.interrupted());
    }
    assertTrue(read(1, 0) != null);
    assertTrue(read(2, 0) == null, "the interrupted insert was skipped");
    assertEquals(0, cache.ioErrors());
  }

  @Test
  void closedCacheMisses() throws IOException {
    open(4);
    insert(1, 0);
    cache.close();
    assertTrue(read(1, 0) == null);
    insert(1, 0); // ignored
    assertEquals(0, cache.ioErrors());
  }

  @Test
  void concurrentInsertsAndReadsOnlyEverHitTheRightBytes() throws Exception {
    open(32);
    int threads = 4;
    int opsPerThread = 5000;
    AtomicLong reads = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long seed = t;
        futures.add(pool.submit(() -> {
          SplittableRandom random = new SplittableRandom(seed);
          start.await();
          for (int i = 0; i < opsPerThread; i++) {
            long volumeKey = random.nextInt(3);
            // A skewed key space, so that the policy has something to keep.
            long location = random.nextInt(4) == 0 ? random.nextInt(200) : random.nextInt(24);
            reads.incrementAndGet();
            if (read(volumeKey, location) == null) {
              insert(volumeKey, location);
            }
            if (seed == 0 && i % 1000 == 999) {
              cache.invalidateVolume(2); // a vDisk rolled back while others run
            }
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(reads.get(), cache.hits() + cache.misses());
    assertTrue(cache.hits() > 0);
    assertTrue(cache.entries() <= 32);
    assertEquals(0, cache.ioErrors());
  }
}
