package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ObjectStore;

/**
 * Kills a scrubbing process (that also writes durable single clusters meanwhile) with SIGKILL at
 * random instants. After each kill: the vDisk holds every durable write and every cluster the
 * model says, the kept snapshot still reads back whole (through a clone), and the next round's
 * scrub resumes on whatever the crash left. At the end a scrub that runs to completion leaves
 * no orphaned backend object: every SCO is referenced by the head or a snapshot, and every TLog
 * belongs to a history. {@code -Dsim.seed=N} replays; {@code -Dscrub.crash.rounds=N}.
 */
class ScrubCrashTest {
  @TempDir Path dir;

  static final long SIZE = 32 * MIB;
  private static final int CLUSTERS = (int) (SIZE / Layout.CLUSTER_BYTES);

  static long childOffset(long seed, int round, int i) {
    return (long) new Random(seed * 31 + round * 1_000_003L + i).nextInt(CLUSTERS) * Layout.CLUSTER_BYTES;
  }

  static byte[] childData(long seed, int round, int i) {
    return TestEngines.pattern(seed * 17 + round * 1_000_033L + i * 7L + 1, Layout.CLUSTER_BYTES);
  }

  @Test
  void killedScrubsLoseNothingAndTheNextScrubLeavesNoOrphans() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    int rounds = Integer.getInteger("scrub.crash.rounds", 6);
    Random rnd = new Random(seed);
    byte[] disk = new byte[(int) SIZE];
    byte[] kept;
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("s", SIZE));
      rnd.nextBytes(disk);
      v.write(0, ByteBuffer.wrap(disk), Durability.BUFFERED);
      e.createSnapshot("s", "keep");
      kept = disk.clone();
      rnd.nextBytes(disk);
      v.write(0, ByteBuffer.wrap(disk), Durability.BUFFERED);
      v.flush();
    }
    boolean keepDeleted = false;
    for (int round = 0; round < rounds; round++) {
      String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
      // garbage for this round: scattered overwrites leave SCOs partly live
      try (Engine e = TestEngines.start(dir)) {
        Volume v = e.volume("s").orElseThrow();
        for (int k = 0; k < 1500; k++) {
          int c = rnd.nextInt(CLUSTERS);
          byte[] d = new byte[Layout.CLUSTER_BYTES];
          rnd.nextBytes(d);
          v.write((long) c * Layout.CLUSTER_BYTES, ByteBuffer.wrap(d), Durability.BUFFERED);
          System.arraycopy(d, 0, disk, c * Layout.CLUSTER_BYTES, d.length);
        }
        if (round == rounds / 2) {
          e.deleteSnapshot("s", "keep");
          keepDeleted = true;
        }
      }
      ChildJvm child = ChildJvm.start(ScrubCrashChild.class, l -> false, dir.toString(), Long.toString(seed),
          Integer.toString(round), Long.toString(rnd.nextBoolean() ? 4 * MIB : 32 * MIB));
      assertTrue(child.ready.await(60, TimeUnit.SECONDS), "child never became ready: " + where);
      child.process.waitFor(rnd.nextInt(2500), TimeUnit.MILLISECONDS);
      child.kill();
      long acked = -1;
      String scrubbed = null;
      for (String line : child.lines) {
        if (line.startsWith("ERROR")) {
          fail("the child failed: " + line + " at " + where);
        } else if (line.startsWith("D ")) {
          acked = Math.max(acked, Long.parseLong(line.substring(2)));
        } else if (line.startsWith("SCRUBBED")) {
          scrubbed = line;
        }
      }
      System.out.println("round " + round + ": durable writes " + (acked + 1) + ", " + (scrubbed == null ? "killed in the scrub" : scrubbed));
      try (Engine e = TestEngines.start(dir)) {
        Volume v = e.volume("s").orElseThrow();
        byte[] got = new byte[(int) SIZE];
        v.read(0, ByteBuffer.wrap(got));
        // the write in flight at the kill (acked + 1) may or may not be there
        byte[] without = applied(disk, seed, round, acked);
        byte[] with = applied(disk, seed, round, acked + 1);
        if (Arrays.equals(got, with)) {
          disk = with;
        } else if (Arrays.equals(got, without)) {
          disk = without;
        } else {
          fail("vDisk content after a killed scrub differs from the model at byte " + Arrays.mismatch(got, without)
              + " (" + (acked + 1) + " durable writes); " + where);
        }
        if (!keepDeleted) {
          Volume c = e.cloneVolume("s", "keep", "check");
          byte[] snap = new byte[(int) SIZE];
          c.read(0, ByteBuffer.wrap(snap));
          assertArrayEquals(kept, snap, "the kept snapshot changed; " + where);
          e.delete("check");
        }
      }
    }
    // a scrub that completes leaves no orphans; first every SCO the rounds left in the write buffer
    // (and the empty one a restart seals) reaches the backend, where the scrub sees it
    try (Engine e = TestEngines.start(dir)) {
      LocalVolume lv = (LocalVolume) e.volume("s").orElseThrow();
      long sealed = lv.sealForSnapshot()[0];
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!lv.uploadedThrough(sealed)) {
        assertTrue(System.nanoTime() < deadline, "uploads did not finish in 120 s");
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      }
      ScrubReport r = e.scrub("s", ScrubOptions.defaults().withRate(0));
      assertNull(r.deferred());
      Volume v = e.volume("s").orElseThrow();
      byte[] got = new byte[(int) SIZE];
      v.read(0, ByteBuffer.wrap(got));
      assertArrayEquals(disk, got, "content after the final scrub; seed " + seed);
      ObjectStore b = TestEngines.localBackend(dir);
      String ns = LocalVolume.namespaceOf(v.id());
      Set<Long> referenced = e.referencedScos("s");
      long open = ((LocalVolume) v).openNumber();
      for (String name : b.list(ns, "sco_")) {
        long n = Layout.numberOf(name, "sco_");
        assertTrue(referenced.contains(n) || n >= open,
            "orphaned backend object " + name + " after a complete scrub; seed " + seed);
      }
      SnapshotTable t = e.table("s");
      for (String name : b.list(ns, "tlog_")) {
        long n = Layout.numberOf(name, "tlog_");
        assertTrue(t.head().contains(n), "TLog " + name + " outside every history after a complete scrub; seed " + seed);
      }
      assertEquals(List.of(), e.snapshotNames("s"));
      b.close();
    }
  }

  private static byte[] applied(byte[] base, long seed, int round, long through) {
    byte[] out = base.clone();
    for (int i = 0; i <= through; i++) {
      byte[] d = childData(seed, round, i);
      System.arraycopy(d, 0, out, (int) childOffset(seed, round, i), d.length);
    }
    return out;
  }
}
