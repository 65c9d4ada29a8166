package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlServer;

/**
 * A vDisk in DTL mode sync, written by a child process that is killed with SIGKILL; then its
 * write buffer is wiped (the node's flash is gone) and the vDisk is restored from the backend and
 * the DTL: every write acknowledged while the DTL was in sync must read back exactly. Several
 * rounds, each on top of the last restore. {@code -Dsim.seed=N} replays a seed.
 */
class DtlCrashTest {
  @TempDir Path dir;

  @Test
  void everyAcknowledgedSyncWriteSurvivesKillNineAndLossOfTheWriteBuffer() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    Random rnd = new Random(seed);
    byte[][] expected = new byte[DtlCrashChild.THREADS * DtlCrashChild.PER_THREAD][];
    Path data = dir.resolve("node-a");
    try (DtlServer server = DtlServer.start(dir.resolve("dtl-b"), "127.0.0.1", 0, 1L << 30)) {
      for (int round = 0; round < 3; round++) {
        String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
        Child child = Child.start(data, server.port(), seed, round);
        assertTrue(child.ready.await(90, TimeUnit.SECONDS), "child never got its DTL in sync: " + where + child.lines);
        int want = 200 + rnd.nextInt(800);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (child.acks.get() < want && child.process.isAlive() && System.nanoTime() < deadline
            && child.lines.stream().noneMatch(l -> l.startsWith("ERROR") || l.equals("DONE"))) {
          child.process.waitFor(5, TimeUnit.MILLISECONDS);
        }
        child.process.waitFor(rnd.nextInt(200), TimeUnit.MILLISECONDS);
        child.kill();
        for (String line : child.lines) {
          if (line.startsWith("ERROR")) {
            fail("the child failed before it was killed: " + line + " at " + where);
          }
        }
        assertTrue(child.acks.get() > 0, "no write was acknowledged: " + where);
        // what this round acknowledged, and what it may have written without acknowledging
        long[] acked = new long[DtlCrashChild.THREADS];
        java.util.Arrays.fill(acked, -1);
        for (String line : child.lines) {
          String[] f = line.split(" ");
          if (f.length == 3 && f[0].equals("A")) {
            int t = Integer.parseInt(f[1]);
            acked[t] = Math.max(acked[t], Long.parseLong(f[2]));
          }
        }
        // the node's flash is gone: no write buffer
        LocalVolume.deleteTree(data.resolve("writebuffer"));
        try (DtlConnector c = DtlCrashChild.connector(data, server.port());
            Engine e = Engine.start(TestEngines.config(data, TestEngines.localBackend(data)), c)) {
          Volume v = e.volume("crash").orElseThrow();
          ByteBuffer buf = ByteBuffer.allocate(org.vsa.volume.Layout.CLUSTER_BYTES);
          int checked = 0;
          for (int t = 0; t < DtlCrashChild.THREADS; t++) {
            for (long i = 0; i < DtlCrashChild.PER_THREAD; i++) {
              int cl = (int) DtlCrashChild.cluster(t, i);
              if (i <= acked[t]) {
                expected[cl] = DtlCrashChild.data(seed, round, t, i);
              } else if (i <= acked[t] + 64) {
                expected[cl] = null; // perhaps written, never acknowledged: either content is fine
              }
              if (expected[cl] != null) {
                buf.clear();
                v.read((long) cl * org.vsa.volume.Layout.CLUSTER_BYTES, buf);
                assertArrayEquals(expected[cl], buf.array(), "cluster " + cl + " (thread " + t + " write " + i
                    + ") after the restore: " + where);
                checked++;
              }
            }
          }
          System.out.println(where + ": " + child.acks.get() + " acknowledged, " + checked + " clusters checked");
        }
      }
    }
  }

  static final class Child {
    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();
    final CountDownLatch ready = new CountDownLatch(1);
    final AtomicInteger acks = new AtomicInteger();
    final Thread reader;

    Child(Process p) {
      process = p;
      reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = r.readLine()) != null; ) {
            lines.add(line);
            if (line.equals("READY")) {
              ready.countDown();
            } else if (line.startsWith("A ")) {
              acks.incrementAndGet();
            } else if (line.startsWith("ERROR")) {
              ready.countDown();
            }
          }
        } catch (java.io.IOException ignored) {
          // the child died
        }
      });
      reader.start();
    }

    static Child start(Path dir, int port, long seed, int round) throws java.io.IOException {
      String java = ProcessHandle.current().info().command().orElse("java");
      ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m",
          "-Dvsa.test.log.level=" + System.getProperty("vsa.test.log.level", "WARN"),
          "-cp", System.getProperty("java.class.path"),
          DtlCrashChild.class.getName(), dir.toString(), Integer.toString(port), Long.toString(seed),
          Integer.toString(round));
      pb.redirectError(ProcessBuilder.Redirect.INHERIT);
      return new Child(pb.start());
    }

    void kill() throws InterruptedException {
      process.toHandle().destroyForcibly();
      assertTrue(process.waitFor(30, TimeUnit.SECONDS), "child did not die");
      reader.join(TimeUnit.SECONDS.toMillis(30));
    }
  }
}
