package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockVolume#contentStamp}, what a front end's read-ahead checks its buffers against:
 * it moves with every write and unmap, not with reads, and a rollback or a restart never brings
 * back a value seen before.
 */
class ContentStampTest {
  @TempDir Path dir;

  @Test
  void movesWithWritesUnmapsRollbacksAndRestartsButNotReads() throws Exception {
    long beforeRestart;
    try (Engine e = TestEngines.start(dir)) {
      e.create(TestEngines.spec("d", 16L << 20));
      Volume h = e.handle("d").orElseThrow();
      long s0 = h.contentStamp();
      assertNotEquals(0, s0);
      h.write(0, ByteBuffer.wrap(TestEngines.pattern(1, 64 << 10)), Durability.BUFFERED);
      long s1 = h.contentStamp();
      assertNotEquals(s0, s1);
      TestEngines.read(h, 0, 64 << 10);
      assertEquals(s1, h.contentStamp(), "a read changes nothing");
      e.createSnapshot("d", "s");
      h.write(0, ByteBuffer.wrap(TestEngines.pattern(2, 64 << 10)), Durability.BUFFERED);
      long s2 = h.contentStamp();
      assertNotEquals(s1, s2);
      h.unmap(1 << 20, 1 << 20);
      long s3 = h.contentStamp();
      assertNotEquals(s2, s3);
      e.rollback("d", "s");
      long s4 = h.contentStamp();
      assertArrayEquals(TestEngines.pattern(1, 64 << 10), TestEngines.read(h, 0, 64 << 10));
      for (long seen : new long[] {s0, s1, s2, s3}) {
        assertNotEquals(seen, s4, "the rolled back vDisk's stamp is new");
      }
      beforeRestart = s4;
    }
    try (Engine e = TestEngines.start(dir)) {
      long s5 = e.handle("d").orElseThrow().contentStamp();
      assertNotEquals(0, s5);
      assertNotEquals(beforeRestart, s5);
    }
  }

  @Test
  void aClosedVolumeHasNoStamp() throws Exception {
    Engine e = TestEngines.start(dir);
    Volume v = e.create(TestEngines.spec("c", 8L << 20));
    e.close();
    assertEquals(0, v.contentStamp());
  }
}
