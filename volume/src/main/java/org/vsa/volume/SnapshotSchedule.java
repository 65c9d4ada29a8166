package org.vsa.volume;

import java.time.Duration;
import java.util.List;

/**
 * Scheduled snapshots of a set of vDisks: every {@code interval}, each selected vDisk is flushed
 * and snapshotted (a snapshot is always taken after a flush), then its scheduled snapshots are
 * thinned out by the retention policy. Manual snapshots are never touched, and a scheduled
 * snapshot with clones stays until they are gone.
 *
 * @param vpool the vPool whose vDisks it covers, or null for every vPool
 * @param vdisks the vDisks it covers (within {@code vpool}); empty = all of them
 */
public record SnapshotSchedule(String vpool, List<String> vdisks, Duration interval, SnapshotRetention.Policy retention) {
  public SnapshotSchedule {
    vdisks = List.copyOf(vdisks);
    if (interval == null || interval.compareTo(Duration.ofMinutes(1)) < 0) {
      throw new IllegalArgumentException("snapshot interval must be at least one minute; got " + interval);
    }
    if (retention == null) {
      throw new IllegalArgumentException("a snapshot schedule needs a retention policy");
    }
  }

  /** Hourly snapshots of every vDisk with the default retention. */
  public static SnapshotSchedule defaults() {
    return new SnapshotSchedule(null, List.of(), Duration.ofHours(1), SnapshotRetention.Policy.defaults());
  }

  boolean covers(Volume v) {
    return (vpool == null || vpool.equals(v.spec().vpool())) && (vdisks.isEmpty() || vdisks.contains(v.name()));
  }
}
