package org.vsa.appliance.cluster.ownership;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Runs seeded schedules of {@link OwnershipSimulation}. {@code -Dsim.seed=N} replays one schedule
 * and prints its trace; {@code -Dsim.schedules=N} sets how many run (default 10,000). A long run:
 * {@code mvn -B -o -pl appliance -am verify -Dtest=OwnershipSimulationTest -Dsurefire.failIfNoSpecifiedTests=false -Dsim.schedules=100000}.
 */
class OwnershipSimulationTest {

  @Test
  void neverTwoOwnersEpochsGrowEveryVdiskServedAfterFaults() {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      OwnershipSimulation s = new OwnershipSimulation(Long.parseLong(fixed));
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
    long started = System.nanoTime();
    int ran = 0;
    long crashes = 0;
    long pausesPastLease = 0;
    long takeovers = 0;
    long refusals = 0;
    long forced = 0;
    long deletions = 0;
    long deleted = 0;
    long recreated = 0;
    for (int i = 0; i < schedules; i++) {
      long seed = base + i;
      OwnershipSimulation s = new OwnershipSimulation(seed);
      try {
        s.run();
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("schedule failed; replay with -Dsim.seed=" + seed + ": " + e.getMessage(), e);
      }
      ran++;
      crashes += s.crashes;
      pausesPastLease += s.pausesPastLease;
      takeovers += s.takeovers;
      refusals += s.refusalCount;
      forced += s.forcedCount;
      deletions += s.deletionsRequested;
      deleted += s.deletionsDone;
      recreated += s.recreated;
      if (schedules <= 10_000 && System.nanoTime() > deadline) {
        break; // a slow machine: fewer schedules, still a run
      }
    }
    System.out.printf("ownership simulation: %d schedules from seed %d in %d ms: %d crashes, %d pauses past the lease,"
        + " %d takeovers, %d takeovers refused, %d forced, %d deletions requested, %d done, %d names made again%n", ran,
        base, (System.nanoTime() - started) / 1_000_000, crashes, pausesPastLease, takeovers, refusals, forced,
        deletions, deleted, recreated);
    assertTrue(ran >= Math.min(schedules, 200), "too few schedules ran: " + ran);
    if (ran >= 1000) {
      assertTrue(takeovers > 0 && pausesPastLease > 0 && refusals > 0 && forced > 0,
          "the schedules took vDisks over, paused past the lease, refused and forced takeovers");
      assertTrue(deleted > 0 && recreated > 0, "the schedules deleted vDisks and made deleted names again");
    }
  }

  /**
   * The checks catch a broken machine: node n0 claims after 2 s of silence while the others hold 6 s
   * leases. Some schedule among the first few hundred must fail with two owners at once.
   */
  @Test
  void theChecksCatchANodeThatClaimsBeforeTheLeaseIsOver() {
    long base = new Random().nextLong();
    AssertionError caught = null;
    // Bounded: at most 2,000 schedules.
    for (int i = 0; i < 2_000 && caught == null; i++) {
      OwnershipSimulation s = new OwnershipSimulation(base + i);
      s.n0Timing = Timing.of(java.time.Duration.ofMillis(250), java.time.Duration.ofSeconds(2),
          java.time.Duration.ofMillis(500));
      try {
        s.run();
      } catch (AssertionError e) {
        caught = e;
      }
    }
    assertTrue(caught != null, "no schedule from seed " + base + " caught a node claiming before the lease was over");
    assertTrue(caught.getMessage().contains("two nodes may acknowledge"), caught.getMessage());
  }
}
