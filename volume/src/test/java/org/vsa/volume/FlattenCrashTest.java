package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a flattening process with SIGKILL at random instants, a few times: after each kill the
 * clone reads exactly as before (whatever mix of inherited and copied clusters the crash left),
 * and the next flatten resumes. The last one runs to the end; then the parent's snapshot and the
 * parent are deleted and the clone still reads back whole. {@code -Dsim.seed=N} replays.
 */
class FlattenCrashTest {
  @TempDir Path dir;

  @Test
  void killedFlattensLeaveACloneThatReadsRightAndFlattenAgain() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    Random rnd = new Random(seed);
    long size = 24 * MIB;
    byte[] want = new byte[(int) size];
    try (Engine e = TestEngines.start(dir)) {
      Volume p = e.create(TestEngines.spec("p", size));
      rnd.nextBytes(want);
      p.write(0, ByteBuffer.wrap(want), Durability.BUFFERED);
      e.createSnapshot("p", "s");
      p.write(0, ByteBuffer.wrap(new byte[(int) MIB]), Durability.BUFFERED); // the parent moves on
      Volume c = e.cloneVolume("p", "s", "c");
      byte[] own = new byte[(int) MIB];
      rnd.nextBytes(own);
      c.write(3 * MIB, ByteBuffer.wrap(own), Durability.DURABLE);
      System.arraycopy(own, 0, want, (int) (3 * MIB), own.length);
    }
    boolean finished = false;
    for (int round = 0; round < 3; round++) {
      String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
      // 24 MiB at 8 MiB/s: about 3 s of copying; the kill lands in it (or, rarely, after it)
      ChildJvm child = ChildJvm.start(FlattenCrashChild.class, l -> false, dir.toString(), Long.toString(8 * MIB));
      assertTrue(child.ready.await(60, TimeUnit.SECONDS), "child never became ready: " + where);
      child.process.waitFor(200 + rnd.nextInt(2000), TimeUnit.MILLISECONDS);
      child.kill();
      for (String line : child.lines) {
        if (line.startsWith("ERROR")) {
          fail("the child failed: " + line + " at " + where);
        }
        finished |= line.startsWith("FLATTENED");
      }
      try (Engine e = TestEngines.start(dir)) {
        Volume c = e.volume("c").orElseThrow();
        byte[] got = new byte[(int) size];
        c.read(0, ByteBuffer.wrap(got));
        assertArrayEquals(want, got, "clone content after a killed flatten; " + where);
      }
    }
    try (Engine e = TestEngines.start(dir)) {
      FlattenReport r = e.flatten("c", 0);
      System.out.println("after the kills (" + (finished ? "one flatten finished" : "none finished") + "): " + r);
      Volume c = e.volume("c").orElseThrow();
      assertTrue(c.cloneSource().isEmpty());
      assertEquals(List.of(), e.snapshots("p").get(0).clones());
      e.deleteSnapshot("p", "s");
      e.delete("p");
      byte[] got = new byte[(int) size];
      c.read(0, ByteBuffer.wrap(got));
      assertArrayEquals(want, got, "clone content after the parent went; seed " + seed);
    }
    try (Engine e = TestEngines.start(dir)) {
      byte[] got = new byte[(int) size];
      e.volume("c").orElseThrow().read(0, ByteBuffer.wrap(got));
      assertArrayEquals(want, got, "clone content after a restart; seed " + seed);
    }
  }
}
