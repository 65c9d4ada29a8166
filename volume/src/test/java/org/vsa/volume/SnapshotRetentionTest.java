package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.SnapshotRetention.Policy;
import org.vsa.volume.SnapshotRetention.Taken;
import org.vsa.volume.SnapshotRetention.Tier;

class SnapshotRetentionTest {
  @TempDir Path dir;

  private static final Instant T0 = Instant.parse("2026-01-05T00:00:00Z"); // a Monday, on every bucket edge

  /** Simulates hourly snapshots with retention applied after each, as the schedule does. */
  private static List<Taken> simulate(Policy p, int hours) {
    List<Taken> kept = new ArrayList<>();
    for (int h = 0; h < hours; h++) {
      Instant now = T0.plus(Duration.ofHours(h));
      kept.add(new Taken("h" + h, now));
      Set<String> gone = SnapshotRetention.expired(kept, now, p);
      kept.removeIf(t -> gone.contains(t.name()));
    }
    return kept;
  }

  @Test
  void defaultPolicyKeepsHourlyForADayDailyForAWeekWeeklyForAMonth() {
    List<Taken> kept = simulate(Policy.defaults(), 24 * 60);
    Instant now = T0.plus(Duration.ofHours(24 * 60 - 1));
    long lastDay = kept.stream().filter(t -> Duration.between(t.created(), now).compareTo(Duration.ofDays(1)) < 0).count();
    long week = kept.stream().filter(t -> {
      Duration a = Duration.between(t.created(), now);
      return a.compareTo(Duration.ofDays(1)) >= 0 && a.compareTo(Duration.ofDays(7)) < 0;
    }).count();
    long month = kept.stream().filter(t -> {
      Duration a = Duration.between(t.created(), now);
      return a.compareTo(Duration.ofDays(7)) >= 0 && a.compareTo(Duration.ofDays(28)) < 0;
    }).count();
    assertEquals(24, lastDay, "one an hour for the last day: " + kept);
    assertTrue(week >= 5 && week <= 7, "one a day for the week: " + week + " " + kept);
    assertTrue(month >= 3 && month <= 4, "one a week for the month: " + month + " " + kept);
    assertTrue(kept.stream().allMatch(t -> Duration.between(t.created(), now).compareTo(Duration.ofDays(28)) < 0),
        "nothing older than four weeks: " + kept);
    // no two kept snapshots of the daily tier fall on the same day
    Set<Long> days = new TreeSet<>();
    for (Taken t : kept) {
      Duration a = Duration.between(t.created(), now);
      if (a.compareTo(Duration.ofDays(1)) >= 0 && a.compareTo(Duration.ofDays(7)) < 0) {
        assertTrue(days.add(t.created().toEpochMilli() / Duration.ofDays(1).toMillis()), "two in one day: " + kept);
      }
    }
  }

  @Test
  void keepsTheOldestOfABucketAndAlwaysTheNewest() {
    Policy p = new Policy(List.of(new Tier(Duration.ofHours(1), Duration.ofDays(1))));
    List<Taken> s = List.of(new Taken("a", T0), new Taken("b", T0.plusSeconds(600)), new Taken("c", T0.plusSeconds(1200)));
    assertEquals(Set.of("b"), SnapshotRetention.expired(s, T0.plusSeconds(1200), p));
    // everything too old goes, but the newest stays
    assertEquals(Set.of("a", "b"), SnapshotRetention.expired(s, T0.plus(Duration.ofDays(30)), p));
    assertEquals(Set.of(), SnapshotRetention.expired(List.of(), T0, p));
  }

  @Test
  void badPoliciesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new Tier(Duration.ZERO, Duration.ofDays(1)));
    assertThrows(IllegalArgumentException.class, () -> new Tier(Duration.ofDays(2), Duration.ofDays(1)));
    assertThrows(IllegalArgumentException.class, () -> new Policy(List.of()));
    assertThrows(IllegalArgumentException.class, () -> new Policy(List.of(
        new Tier(Duration.ofHours(1), Duration.ofDays(7)), new Tier(Duration.ofDays(1), Duration.ofDays(2)))));
    assertThrows(IllegalArgumentException.class,
        () -> new SnapshotSchedule(null, List.of(), Duration.ofSeconds(5), Policy.defaults()));
  }

  /** The engine's schedule with an injected clock: snapshots after a flush, retention applied, clones respected. */
  @Test
  void engineScheduleTakesConsistentSnapshotsAndThinsThem() throws Exception {
    Policy p = new Policy(List.of(new Tier(Duration.ofHours(4), Duration.ofDays(1)), new Tier(Duration.ofDays(1),
        Duration.ofDays(3))));
    SnapshotSchedule sched = new SnapshotSchedule("default", List.of(), Duration.ofHours(4), p);
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.create(TestEngines.spec("a", 8 * MIB));
      e.create(TestEngines.spec("t", 8 * MIB));
      e.setTemplate("t");
      e.createSnapshot("a", "manual");
      String cloned = null;
      for (int i = 0; i < 24; i++) { // four days, every 4 h
        Instant now = T0.plus(Duration.ofHours(4L * i));
        e.setClock(Clock.fixed(now, ZoneOffset.UTC));
        TestEngines.write(v, 0, TestEngines.pattern(i, 4096), Durability.BUFFERED); // not flushed by the writer
        e.runSnapshotSchedule(sched);
        if (i == 1) {
          cloned = e.snapshotNames("a").get(2);
          e.cloneVolume("a", cloned, "c");
          // the scheduled snapshot holds the write before it, though nobody flushed
          assertTrue(java.util.Arrays.equals(TestEngines.pattern(1, 4096), TestEngines.read(e.volume("c").orElseThrow(), 0, 4096)));
        }
      }
      List<String> names = e.snapshotNames("a");
      assertTrue(names.contains("manual"), "manual snapshots are not the schedule's: " + names);
      assertTrue(names.contains(cloned), "a snapshot with clones stays: " + names);
      // 6 in the last day (every 4 h), one a day for two more days, the cloned one and the manual one
      assertTrue(names.size() >= 8 && names.size() <= 10, names.toString());
      assertEquals(List.of("template"), e.snapshotNames("t"), "templates are not snapshotted");
    }
  }
}
