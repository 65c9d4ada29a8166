package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long seeded random sequences of writes (mixed sizes and alignments), reads, unmaps, flushes,
 * clean restarts and crashes right after a flush, checked against a byte-array model. A failure
 * prints the seed; {@code -Dsim.seed=N} replays it exactly.
 *
 * <p>Runs on the local directory backend; subclasses run the same histories on other backends
 * by overriding {@link #backend}.
 */
class ModelBasedTest {
  @TempDir Path dir;

  private static final long SIZE = 48 * MIB;
  private static final int OPS = 4000;

  @Test
  void randomHistoriesMatchTheModel() throws Exception {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      run(Long.parseLong(fixed), dir.resolve("replay"));
      return;
    }
    long base = new Random().nextLong();
    for (int i = 0; i < 3; i++) {
      run(base + i, dir.resolve("run" + i));
    }
  }

  private void run(long seed, Path runDir) throws Exception {
    Random rnd = new Random(seed);
    byte[] model = new byte[(int) SIZE];
    Engine e = start(runDir);
    Volume v = e.create(TestEngines.spec("m", SIZE));
    int op = 0;
    try {
      for (op = 0; op < OPS; op++) {
        int kind = rnd.nextInt(100);
        if (kind < 55) {
          int len = length(rnd);
          long off = offset(rnd, len);
          byte[] data = new byte[len];
          rnd.nextBytes(data);
          v.write(off, ByteBuffer.wrap(data), rnd.nextInt(10) == 0 ? Durability.DURABLE : Durability.BUFFERED);
          System.arraycopy(data, 0, model, (int) off, len);
        } else if (kind < 85) {
          int len = length(rnd);
          long off = offset(rnd, len);
          ByteBuffer got = ByteBuffer.allocate(len);
          v.read(off, got);
          if (!Arrays.equals(got.array(), 0, len, model, (int) off, (int) off + len)) {
            fail(String.format("seed %d op %d: read [%d, +%d) differs from the model (replay with -Dsim.seed=%d)",
                seed, op, off, len, seed));
          }
        } else if (kind < 92) {
          int len = length(rnd) * (rnd.nextInt(4) == 0 ? 16 : 1);
          long off = offset(rnd, Math.min(len, (int) SIZE));
          len = (int) Math.min(len, SIZE - off);
          v.unmap(off, len);
          Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
        } else if (kind < 99) {
          v.flush();
        } else if (rnd.nextBoolean()) {
          e.close();
          e = start(runDir);
          v = e.volume("m").orElseThrow();
        } else {
          // a crash right after a flush loses nothing
          v.flush();
          e.crash();
          e = start(runDir);
          v = e.volume("m").orElseThrow();
        }
      }
      // everything, once more, after a last restart
      e.close();
      e = start(runDir);
      v = e.volume("m").orElseThrow();
      for (long off = 0; off < SIZE; off += 4 * MIB) {
        ByteBuffer got = ByteBuffer.allocate((int) (4 * MIB));
        v.read(off, got);
        if (!Arrays.equals(got.array(), 0, (int) (4 * MIB), model, (int) off, (int) (off + 4 * MIB))) {
          fail(String.format("seed %d: final read at %d differs from the model (replay with -Dsim.seed=%d)", seed, off, seed));
        }
      }
      assertEquals(SIZE, v.sizeBytes());
    } catch (Exception | AssertionError ex) {
      throw new AssertionError("seed " + seed + " failed at op " + op + "; replay with -Dsim.seed=" + seed, ex);
    } finally {
      e.close();
    }
  }

  /** A metadata page cache of a few pages, so that pages are evicted and reloaded all the time. */
  private Engine start(Path runDir) throws java.io.IOException {
    return Engine.start(TestEngines.config(runDir, backend(runDir)).withMetadataCache(64 * 1024));
  }

  /** A new backend over the run's data: called at every (re)start, since the engine closes it. */
  protected org.vsa.backends.ObjectStore backend(Path runDir) throws java.io.IOException {
    return TestEngines.localBackend(runDir);
  }

  /** 512 B .. 256 KiB, biased towards small, always whole 512-byte sectors. */
  private static int length(Random rnd) {
    int r = rnd.nextInt(10);
    if (r < 4) {
      return 512 * (1 + rnd.nextInt(8));
    }
    if (r < 8) {
      return 4096 * (1 + rnd.nextInt(16));
    }
    return 512 * (1 + rnd.nextInt(512));
  }

  private static long offset(Random rnd, int len) {
    long sectors = (SIZE - len) / 512;
    // a hot region half of the time, so that history overwrites itself
    long span = rnd.nextBoolean() ? Math.min(sectors, 4096) : sectors;
    return 512 * (long) rnd.nextInt((int) span + 1);
  }
}
