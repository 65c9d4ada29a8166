package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills (SIGKILL) a process whose dedupe-enabled vDisk {@code dst} writes durably blocks that are
 * stored once, in SCOs of {@code src} or of {@code dst} itself, while {@code src} is overwritten
 * and both are scrubbed (see {@link DedupeCrashChild}). After every kill, {@code dst} must read as
 * the state after every acknowledged write (and perhaps the one in flight): no shared copy may
 * have been deleted, at any point of a write, an upload or a scrub. {@code -Dsim.seed=N} replays a
 * seed; {@code -Dcrash.rounds=N} sets the number of kills.
 */
class DedupeCrashTest {
  @TempDir Path dir;

  @Test
  void killNineAtAnyPointKeepsEveryAcknowledgedSharedWrite() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    int rounds = Integer.getInteger("crash.rounds", 10);
    Random timing = new Random(seed);
    long applied = 0; // dst holds the state after writes [0, applied)
    long shares = 0;
    for (int round = 0; round < rounds; round++) {
      String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
      ChildJvm child = ChildJvm.start(DedupeCrashChild.class, l -> l.startsWith("D "), dir.toString(),
          Long.toString(seed), Long.toString(applied));
      if (timing.nextInt(4) == 0) {
        child.process.waitFor(timing.nextInt(1500), TimeUnit.MILLISECONDS);
      } else {
        assertTrue(child.ready.await(120, TimeUnit.SECONDS), "child never became ready: " + where);
        assertTrue(child.firstAck.await(60, TimeUnit.SECONDS), "child never acknowledged a write: " + where);
        child.process.waitFor(200 + timing.nextInt(1500), TimeUnit.MILLISECONDS);
      }
      child.kill();
      long acked = applied - 1;
      for (String line : child.lines) {
        if (line.startsWith("ERROR")) {
          fail("the child failed before it was killed: " + line + " at " + where);
        }
        if (line.startsWith("D ")) {
          acked = Math.max(acked, Long.parseLong(line.substring(2)));
        }
      }
      try (Engine e = TestEngines.start(dir)) {
        if (e.volume("dst").isEmpty()) {
          assertTrue(acked < 0, "dst lost after acknowledged writes at " + where);
          continue;
        }
        byte[] got = TestEngines.read(e.volume("dst").get(), 0, DedupeCrashChild.CLUSTERS * Layout.CLUSTER_BYTES);
        // every acknowledged write is there; the one in flight may be too
        if (Arrays.equals(got, model(seed, acked + 1))) {
          applied = acked + 1;
        } else if (Arrays.equals(got, model(seed, acked + 2))) {
          applied = acked + 2;
        } else {
          fail("dst differs from the state after its " + (acked + 1) + " acknowledged writes at " + where);
        }
        TestEngines.read(e.volume("src").get(), 0, 8 << 20); // readable whole: every cluster passes its checksum
        long[] sharedNow = {0};
        ((LocalVolume) e.volume("dst").get()).forEachMapped((c, loc, crc) -> sharedNow[0] += Layout.isShared(loc) ? 1 : 0);
        shares += sharedNow[0];
      }
      System.out.println("round " + round + ": " + child.lines.size() + " lines, dst holds writes [0, " + applied + ")");
    }
    assertTrue(applied > 0, "no write was acknowledged in " + rounds + " rounds");
    assertTrue(shares > 0, "dst never mapped a shared cluster: the test did not exercise dedupe");
    // the final state once more after a clean restart, a last scrub and another restart
    try (Engine e = TestEngines.start(dir)) {
      e.scrubAll(ScrubOptions.defaults().withRate(0));
    }
    try (Engine e = TestEngines.start(dir)) {
      byte[] got = TestEngines.read(e.volume("dst").get(), 0, DedupeCrashChild.CLUSTERS * Layout.CLUSTER_BYTES);
      assertTrue(Arrays.equals(got, model(seed, applied)), "dst after the last scrub and restart (seed " + seed + ")");
    }
  }

  private static byte[] model(long seed, long writes) {
    byte[] m = new byte[DedupeCrashChild.CLUSTERS * Layout.CLUSTER_BYTES];
    long from = Math.max(0, writes - DedupeCrashChild.CLUSTERS);
    for (long i = from; i < writes; i++) {
      System.arraycopy(DedupeCrashChild.block(seed, i), 0, m, (int) (i % DedupeCrashChild.CLUSTERS) * Layout.CLUSTER_BYTES,
          Layout.CLUSTER_BYTES);
    }
    return m;
  }
}
