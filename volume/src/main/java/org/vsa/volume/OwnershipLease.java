package org.vsa.volume;

/**
 * This node's right to serve one vDisk, as the cluster's arbiter granted it: the ownership epoch
 * (the DTL epoch the vDisk's stream writes with) and how long the grant holds on this node's
 * monotonic clock. The engine checks it before acknowledging every write, flush or unmap and
 * before every upload of a SCO or TLog: past the lease it acknowledges and uploads nothing (the
 * calls fail with {@link VolumeFencedException}), so that a node that cannot renew (partitioned,
 * paused) fences itself before another node may take the vDisk over.
 *
 * <p>Implementations must be cheap and thread-safe: {@link #held} is called on every
 * acknowledgement (one volatile read and a comparison is the intended cost).
 */
public interface OwnershipLease {
  /** The ownership epoch; 0: none granted (single node: the DTL connector numbers epochs itself). */
  long epoch();

  /** Whether the lease still holds at {@code nowNanos} ({@link System#nanoTime()}). */
  boolean held(long nowNanos);

  /** A single node's: always held, no epoch of its own. */
  OwnershipLease ALWAYS = new OwnershipLease() {
    @Override
    public long epoch() {
      return 0;
    }

    @Override
    public boolean held(long nowNanos) {
      return true;
    }

    @Override
    public String toString() {
      return "always held (single node)";
    }
  };

  /**
   * A lease of {@code epoch} valid until {@code validUntilNanos} moves forward with
   * {@link Renewable#renewUntil}; the control plane renews it after each successful heartbeat.
   */
  static Renewable renewable(long epoch, long validUntilNanos) {
    return new Renewable(epoch, validUntilNanos);
  }

  /** A lease whose end the holder moves forward (and can revoke at once). */
  final class Renewable implements OwnershipLease {
    private final long epoch;
    private volatile long validUntilNanos;
    private volatile boolean revoked;

    Renewable(long epoch, long validUntilNanos) {
      if (epoch <= 0) {
        throw new IllegalArgumentException("an ownership epoch is positive; got " + epoch);
      }
      this.epoch = epoch;
      this.validUntilNanos = validUntilNanos;
    }

    @Override
    public long epoch() {
      return epoch;
    }

    @Override
    public boolean held(long nowNanos) {
      return nowNanos - validUntilNanos < 0 && !revoked;
    }

    /** Extends the lease to {@code untilNanos} (never shortens it; a revoked lease stays revoked). */
    public void renewUntil(long untilNanos) {
      synchronized (this) {
        if (untilNanos - validUntilNanos > 0) {
          validUntilNanos = untilNanos;
        }
      }
    }

    /** Ends the lease now, for good. */
    public void revoke() {
      revoked = true;
    }

    @Override
    public String toString() {
      return "epoch " + epoch + (revoked ? ", revoked" : ", valid for "
          + (validUntilNanos - System.nanoTime()) / 1_000_000 + " ms");
    }
  }
}
