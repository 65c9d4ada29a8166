package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backend that holds (slow) or refuses (dead) every put lets the write buffer fill: writers
 * are slowed, then held, never failed; once the backend is back, everything reaches it and
 * reads back intact.
 */
class SlowBackendTest {
  @TempDir Path dir;

  @ParameterizedTest
  @EnumSource(value = GatedBackend.Mode.class, names = {"HOLD", "FAIL"})
  void aFullWriteBufferHoldsWritersAndLosesNothing(GatedBackend.Mode mode) throws Exception {
    GatedBackend backend = new GatedBackend(TestEngines.localBackend(dir));
    EngineConfig cfg = TestEngines.config(dir, backend).withWriteBufferCapacity(32 * MIB);
    long total = 64 * MIB;
    byte[] data = TestEngines.pattern(42, (int) total);
    ExecutorService writer = Executors.newSingleThreadExecutor();
    try (Engine e = Engine.start(cfg)) {
      Volume v = e.create(TestEngines.spec("slow", 128 * MIB));
      backend.set(mode);
      Future<?> done = writer.submit(() -> {
        for (int off = 0; off < total; off += 256 * 1024) {
          v.write(off, ByteBuffer.wrap(data, off, 256 * 1024), Durability.BUFFERED);
        }
        v.flush();
        return null;
      });
      // bounded wait until the writer is held by the full write buffer
      for (int i = 0; i < 6000 && !e.writeBuffer().isHolding(); i++) {
        Thread.sleep(5);
      }
      assertTrue(e.writeBuffer().isHolding(), "writer was never held; used " + e.writeBuffer().usedBytes());
      assertFalse(done.isDone(), "the writer finished although the backend took nothing");
      assertTrue(e.writeBuffer().throttledCount() > 0, "writes were slowed before they were held");
      if (mode == GatedBackend.Mode.FAIL) {
        assertTrue(backend.putsRefused() > 0);
      }
      backend.set(GatedBackend.Mode.OPEN);
      done.get(120, TimeUnit.SECONDS); // no exception: nothing failed
      for (int i = 0; i < 12000 && e.scosAwaitingUpload() > 0; i++) {
        Thread.sleep(5);
      }
      assertEquals(0, e.scosAwaitingUpload(), "every sealed SCO reached the backend");
      assertArrayEquals(data, TestEngines.read(v, 0, (int) total));
    } finally {
      writer.shutdownNow();
    }
    // and after a restart, from the backend
    try (Engine e = TestEngines.start(dir)) {
      assertArrayEquals(data, TestEngines.read(e.volume("slow").orElseThrow(), 0, (int) total));
    }
  }
}
