package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded, single-writer crash histories in one process: random writes and unmaps, flushes now
 * and then, and crashes that drop what the engine had not yet written out (like kill -9), at
 * random points. After each crash every cluster must hold the state after a prefix of its
 * writes that includes every write before the last flush. Replays exactly with -Dsim.seed=N.
 */
class InProcessCrashTest {
  @TempDir Path dir;

  private static final long SIZE = 16L << 20;
  private static final int CLUSTER = 4096;

  @Test
  void crashesWithoutFlushKeepAPrefixOfHistory() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    Random rnd = new Random(seed);
    byte[] disk = new byte[(int) SIZE];
    for (int round = 0; round < 30; round++) {
      String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
      Engine e = Engine.start(TestEngines.config(dir, TestEngines.localBackend(dir)).withMetadataCache(64 * 1024));
      Volume v = e.volume("x").isPresent() ? e.volume("x").get() : e.create(TestEngines.spec("x", SIZE));
      byte[] got = new byte[(int) SIZE];
      v.read(0, ByteBuffer.wrap(got));
      if (!Arrays.equals(got, disk)) {
        fail("state after a clean reopen differs; " + where);
      }
      int ops = rnd.nextInt(1500);
      List<long[]> ranges = new ArrayList<>(); // offset, length
      List<byte[]> datas = new ArrayList<>();
      int durableOps = 0;
      for (int i = 0; i < ops; i++) {
        int len = 512 * (1 + rnd.nextInt(rnd.nextBoolean() ? 8 : 128));
        long span = rnd.nextBoolean() ? (1 << 20) : SIZE;
        long off = 512L * rnd.nextInt((int) ((span - len) / 512) + 1);
        byte[] d = new byte[len];
        if (rnd.nextInt(20) == 0) {
          v.unmap(off, len);
        } else {
          rnd.nextBytes(d);
          v.write(off, ByteBuffer.wrap(d), rnd.nextInt(10) == 0 ? Durability.DURABLE : Durability.BUFFERED);
        }
        ranges.add(new long[] {off, len});
        datas.add(d);
        if (rnd.nextInt(30) == 0) {
          v.flush();
          durableOps = i + 1;
        }
      }
      if (rnd.nextInt(5) == 0) {
        e.close();
        durableOps = ops;
      } else {
        e.crash();
      }
      Engine e2 = Engine.start(TestEngines.config(dir, TestEngines.localBackend(dir)).withMetadataCache(64 * 1024));
      v = e2.volume("x").orElseThrow();
      v.read(0, ByteBuffer.wrap(got));
      e2.close();
      check(disk, got, ranges, datas, durableOps, where);
      disk = got.clone();
    }
  }

  private static void check(byte[] before, byte[] got, List<long[]> ranges, List<byte[]> datas, int durableOps, String where) {
    Map<Integer, List<Integer>> touching = new HashMap<>();
    for (int i = 0; i < ranges.size(); i++) {
      long off = ranges.get(i)[0];
      long len = ranges.get(i)[1];
      for (int c = (int) (off / CLUSTER); c <= (int) ((off + len - 1) / CLUSTER); c++) {
        touching.computeIfAbsent(c, k -> new ArrayList<>()).add(i);
      }
    }
    for (int c = 0; c < SIZE / CLUSTER; c++) {
      int at = c * CLUSTER;
      ClusterHistory states = new ClusterHistory(before, at);
      int mustReach = 0;
      List<Integer> history = touching.getOrDefault(c, List.of());
      for (int h = 0; h < history.size(); h++) {
        int i = history.get(h);
        states.apply(ranges.get(i)[0], datas.get(i));
        if (i < durableOps) {
          mustReach = h + 1;
        }
      }
      int match = states.newestMatch(got);
      if (match < 0) {
        fail("cluster " + c + " holds a torn or unknown state (" + history.size() + " writes touched it); " + where);
      }
      if (match < mustReach) {
        fail("cluster " + c + " lost a durable write (state after " + match + " of " + history.size()
            + ", must reach " + mustReach + "); " + where);
      }
    }
  }
}
