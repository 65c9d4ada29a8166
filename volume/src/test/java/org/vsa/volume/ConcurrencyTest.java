package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Concurrent writers and readers of the same clusters. */
class ConcurrencyTest {
  @TempDir Path dir;

  /**
   * Eight threads each own one 512-byte sector of the same cluster and write a counter into it
   * again and again: every read-modify-write must keep the other sectors, so at the end each
   * sector holds its thread's last counter.
   */
  @Test
  void sectorWritersToOneClusterNeverLoseEachOthersUpdates() throws Exception {
    int rounds = 400;
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("c", 16 << 20));
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int sector = t;
        fs.add(pool.submit(() -> {
          for (int r = 1; r <= rounds; r++) {
            ByteBuffer b = ByteBuffer.allocate(512);
            while (b.hasRemaining()) {
              b.putInt(sector * 1_000_000 + r);
            }
            b.flip();
            v.write(8192 + sector * 512L, b, r % 50 == 0 ? Durability.DURABLE : Durability.BUFFERED);
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get(120, TimeUnit.SECONDS);
      }
      ByteBuffer got = ByteBuffer.wrap(TestEngines.read(v, 8192, 4096));
      for (int s = 0; s < 8; s++) {
        for (int k = 0; k < 128; k++) {
          assertEquals(s * 1_000_000 + rounds, got.getInt(), "sector " + s);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Writers fill a 16 KiB range with one byte value per write (whole clusters and odd 512-byte
   * pieces); readers never see a cluster that mixes two writes.
   */
  @Test
  void readersNeverSeeAMixedCluster() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(6);
    AtomicBoolean stop = new AtomicBoolean();
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("c", 16 << 20));
      List<Future<?>> writers = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        byte value = (byte) (t + 1);
        writers.add(pool.submit(() -> {
          for (int r = 0; r < 1500; r++) {
            byte[] b = new byte[16384];
            java.util.Arrays.fill(b, value);
            v.write(0, ByteBuffer.wrap(b), Durability.BUFFERED);
          }
          return null;
        }));
      }
      List<Future<Integer>> readers = new ArrayList<>();
      for (int t = 0; t < 3; t++) {
        readers.add(pool.submit(() -> {
          int reads = 0;
          while (!stop.get() && reads < 100_000) {
            byte[] got = TestEngines.read(v, 0, 16384);
            for (int c = 0; c < 4; c++) {
              byte first = got[c * 4096];
              for (int i = 1; i < 4096; i++) {
                if (got[c * 4096 + i] != first) {
                  throw new AssertionError("cluster " + c + " mixes " + first + " and " + got[c * 4096 + i]);
                }
              }
            }
            reads++;
          }
          return reads;
        }));
      }
      for (Future<?> f : writers) {
        f.get(120, TimeUnit.SECONDS);
      }
      stop.set(true);
      for (Future<Integer> f : readers) {
        assertTrue(f.get(120, TimeUnit.SECONDS) > 0);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Concurrent durable writers share fsyncs; every commit is counted under exactly one trigger. */
  @Test
  void groupCommitCountsItsTriggers() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("c", 16 << 20));
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        fs.add(pool.submit(() -> {
          for (int r = 0; r < 50; r++) {
            v.write((thread * 64L + r) * 4096, ByteBuffer.wrap(TestEngines.pattern(r, 4096)), Durability.DURABLE);
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get(120, TimeUnit.SECONDS);
      }
      var s = e.stats("c");
      long commits = s.get("commits");
      assertTrue(commits > 0 && commits <= 400, "commits " + commits);
      assertEquals(commits, s.get("commitTriggerQueueEmpty") + s.get("commitTriggerBytes") + s.get("commitTriggerWaitTime"));
    } finally {
      pool.shutdownNow();
    }
  }
}
