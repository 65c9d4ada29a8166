package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BlockVolume#writeDeferred}: the write is visible to reads when it returns, and a DURABLE
 * one is forced once its {@link BlockVolume.Pending} has returned, not necessarily before.
 */
class WriteDeferredTest {
  @TempDir Path dir;

  @Test
  void aDurableWriteIsVisibleAtOnceAndForcedOnceItsWaitReturns() throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      LocalVolume v = (LocalVolume) e.create(TestEngines.spec("d", 64L << 20));
      assertTrue(v.writesAtOnce(64 << 10), "an empty write buffer has room");
      byte[] a = TestEngines.pattern(1, 64 << 10);
      assertSame(BlockVolume.Pending.NONE, v.writeDeferred(0, ByteBuffer.wrap(a), Durability.BUFFERED),
          "a buffered write in DTL mode none leaves nothing to wait for");
      assertArrayEquals(a, TestEngines.read(v, 0, a.length));

      byte[] b = TestEngines.pattern(2, 64 << 10);
      BlockVolume.Pending p = v.writeDeferred(1 << 20, ByteBuffer.wrap(b), Durability.DURABLE);
      assertNotSame(BlockVolume.Pending.NONE, p);
      assertArrayEquals(b, TestEngines.read(v, 1 << 20, b.length), "visible before it is durable");
      p.await();
      long[] mark = v.forcedMark();
      Path tlog = dir.resolve("writebuffer").resolve(LocalVolume.namespaceOf(v.id())).resolve(Layout.tlogName(mark[0]));
      assertEquals(Files.size(tlog), mark[1], "the TLog, with the durable write's records, is forced up to its end");
      assertTrue(mark[2] >= Layout.slotOffset(32), "both writes' clusters are in the forced part of the SCO");
    }
  }

  @Test
  void aClosedVolumeTakesNoWriteAtOnce() throws Exception {
    Engine e = TestEngines.start(dir);
    LocalVolume v = (LocalVolume) e.create(TestEngines.spec("c", 8L << 20));
    e.close();
    assertFalse(v.writesAtOnce(4096));
  }
}
