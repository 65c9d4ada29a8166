package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Runs seeded schedules of {@link DtlSimulation}. {@code -Dsim.seed=N} replays one schedule and
 * prints its trace; {@code -Dsim.schedules=N} sets how many run (default 10,000: seconds here, under a minute on
 * two busy cores at most). A long run:
 * {@code mvn -B -o -pl dtl -am verify -Dtest=DtlSimulationTest -Dsurefire.failIfNoSpecifiedTests=false -Dsim.schedules=100000}.
 */
class DtlSimulationTest {
  private static final int STEPS = 600;

  @Test
  void noProtectedWriteIsLostOrChangedAndTheStreamRecovers() {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      DtlSimulation s = new DtlSimulation(Long.parseLong(fixed), STEPS);
      s.tracing = true;
      try {
        s.run();
      } finally {
        s.trace.forEach(System.out::println);
      }
      return;
    }
    String n = System.getProperty("sim.schedules");
    int schedules = n != null && !n.isBlank() && !n.startsWith("$") ? Integer.parseInt(n) : 10_000;
    long base = new Random().nextLong();
    long deadline = System.nanoTime() + 90_000_000_000L;
    int restores = 0;
    int powerLosses = 0;
    int powerLossesFromDtl = 0;
    long protectedAcks = 0;
    long unprotected = 0;
    long heldBack = 0;
    long resumed = 0;
    long overflows = 0;
    int ran = 0;
    for (int i = 0; i < schedules; i++) {
      long seed = base + i;
      DtlSimulation s = new DtlSimulation(seed, STEPS);
      try {
        s.run();
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("schedule failed; replay with -Dsim.seed=" + seed + ": " + e.getMessage(), e);
      }
      restores += s.restores;
      powerLosses += s.powerLosses;
      powerLossesFromDtl += s.powerLossesFromDtl;
      protectedAcks += s.protectedAcks;
      unprotected += s.unprotectedAcks;
      heldBack += s.heldBack;
      resumed += s.admittedAfterHold;
      overflows += s.overflows;
      ran++;
      if (schedules <= 10_000 && System.nanoTime() > deadline) {
        break; // a slow machine: fewer schedules, still a run
      }
    }
    System.out.printf("DTL simulation: %d schedules from seed %d, %d restores checked, %d power losses checked (%d"
        + " took entries from the DTL), %d protected and %d unprotected acknowledgements, %d write attempts held back"
        + " by the queue bound (%d resumed), %d queue overflows%n", ran, base, restores, powerLosses, powerLossesFromDtl,
        protectedAcks, unprotected, heldBack, resumed, overflows);
    assertTrue(ran >= Math.min(schedules, 200), "too few schedules ran: " + ran);
    assertTrue(restores >= ran, "every schedule ends with a checked restore");
    assertTrue(protectedAcks > 0, "some writes were acknowledged as protected");
    if (ran >= 1000) {
      assertTrue(heldBack > 0 && resumed > 0, "back-pressure held writers back and let them go again");
      assertTrue(overflows > 0, "the retain bound still dropped a queue while the DTL was away");
      assertTrue(powerLossesFromDtl > 0, "some power losses were recovered through the DTL");
    }
  }
}
