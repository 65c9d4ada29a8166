package org.vsa.volume;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which scheduled snapshots a retention policy lets go: a pure function of the snapshots, the
 * time and the policy, so that it is tested without clocks or engines.
 *
 * <p>A policy is a list of tiers, each "one snapshot per {@code every} while younger than
 * {@code until}" (the default, in the spirit of Open vStorage: one an hour for a day, one a day
 * for a week, one a week for four weeks). A snapshot belongs to the first tier it is young
 * enough for; within a tier, time is cut into buckets of {@code every} aligned on the epoch, and
 * the oldest snapshot of each bucket stays (so the choice does not change as new ones arrive).
 * Snapshots older than the last tier go, except that the newest snapshot always stays.
 */
public final class SnapshotRetention {
  private SnapshotRetention() {}

  /** One snapshot per {@code every} while younger than {@code until}. */
  public record Tier(Duration every, Duration until) {
    public Tier {
      if (every == null || until == null || every.isNegative() || every.isZero() || until.compareTo(every) < 0) {
        throw new IllegalArgumentException("a retention tier needs 0 < every <= until; got every " + every + ", until " + until);
      }
    }
  }

  /** Tiers in increasing {@code until}. */
  public record Policy(List<Tier> tiers) {
    public Policy {
      tiers = List.copyOf(tiers);
      if (tiers.isEmpty()) {
        throw new IllegalArgumentException("a retention policy needs at least one tier");
      }
      for (int i = 1; i < tiers.size(); i++) {
        if (tiers.get(i).until().compareTo(tiers.get(i - 1).until()) <= 0) {
          throw new IllegalArgumentException("retention tiers must be ordered by increasing 'until'");
        }
      }
    }

    /** Hourly for a day, daily for a week, weekly for four weeks. */
    public static Policy defaults() {
      return new Policy(List.of(
          new Tier(Duration.ofHours(1), Duration.ofDays(1)),
          new Tier(Duration.ofDays(1), Duration.ofDays(7)),
          new Tier(Duration.ofDays(7), Duration.ofDays(28))));
    }
  }

  /** A scheduled snapshot: its name and when it was taken. */
  public record Taken(String name, Instant created) {}

  /** The names of the snapshots the policy lets go at {@code now}. */
  public static Set<String> expired(List<Taken> snapshots, Instant now, Policy policy) {
    Set<String> out = new TreeSet<>();
    if (snapshots.isEmpty()) {
      return out;
    }
    List<Taken> sorted = new ArrayList<>(snapshots);
    sorted.sort(Comparator.comparing(Taken::created).thenComparing(Taken::name));
    Taken newest = sorted.get(sorted.size() - 1);
    Map<String, Taken> keepers = new HashMap<>(); // tier + bucket -> the oldest snapshot in it
    for (Taken t : sorted) {
      Duration age = Duration.between(t.created(), now);
      int tier = -1;
      for (int i = 0; i < policy.tiers().size(); i++) {
        if (age.compareTo(policy.tiers().get(i).until()) < 0) {
          tier = i;
          break;
        }
      }
      if (tier < 0) {
        if (t != newest) {
          out.add(t.name());
        }
        continue;
      }
      long bucket = Math.floorDiv(t.created().toEpochMilli(), policy.tiers().get(tier).every().toMillis());
      String key = tier + "/" + bucket;
      if (keepers.putIfAbsent(key, t) != null && t != newest) {
        out.add(t.name());
      }
    }
    return out;
  }
}
