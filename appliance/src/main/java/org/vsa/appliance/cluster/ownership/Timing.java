package org.vsa.appliance.cluster.ownership;

import java.time.Duration;

/**
 * The lease's clockwork, in nanoseconds of each node's monotonic clock.
 *
 * <p>A node writes its heartbeat every {@code heartbeat}. Its lease lasts until the start of its
 * last successful heartbeat write plus {@code lease - margin}; a write that took longer than
 * {@link #heartbeatWriteMaxNanos} ({@code margin / 2}) extends nothing, so that every write that
 * does extend the lease is visible to the others before they may conclude, after seeing the
 * heartbeat unchanged for {@code lease}, that the lease is over. The margin also absorbs the drift
 * between clock rates: it must exceed {@code 2 * lease * drift} plus the write bound; 1 s of margin
 * on a 6 s lease tolerates rate differences of several percent.
 */
public record Timing(long heartbeatNanos, long leaseNanos, long marginNanos) {
  public static final Timing DEFAULT = of(Duration.ofSeconds(1), Duration.ofSeconds(6), Duration.ofSeconds(1));

  public Timing {
    if (heartbeatNanos <= 0 || leaseNanos <= 0 || marginNanos <= 0) {
      throw new IllegalArgumentException("heartbeat, lease and margin must be > 0; got " + heartbeatNanos + ", "
          + leaseNanos + ", " + marginNanos + " ns");
    }
    if (marginNanos >= leaseNanos / 2) {
      throw new IllegalArgumentException("the margin (" + Duration.ofNanos(marginNanos) + ") must be below half the lease ("
          + Duration.ofNanos(leaseNanos) + ")");
    }
    if (heartbeatNanos * 2 > leaseNanos - marginNanos) {
      throw new IllegalArgumentException("the heartbeat interval (" + Duration.ofNanos(heartbeatNanos)
          + ") must fit at least twice in lease - margin (" + Duration.ofNanos(leaseNanos - marginNanos) + ")");
    }
  }

  public static Timing of(Duration heartbeat, Duration lease, Duration margin) {
    return new Timing(heartbeat.toNanos(), lease.toNanos(), margin.toNanos());
  }

  /** A heartbeat write that took longer than this does not extend the lease. */
  public long heartbeatWriteMaxNanos() {
    return marginNanos / 2;
  }

  /** A DTL node reported DEGRADED is not chosen again for that vDisk for this long. */
  public long dtlShunNanos() {
    return leaseNanos * 10;
  }
}
