package org.vsa.appliance.cluster.ownership;

import java.util.Objects;

/**
 * The content of a won claim: epoch {@code epoch} of the vDisk belongs to this node's process.
 *
 * <p>A {@code closed} claim (a tombstone) says the opposite: from this epoch on nobody holds the
 * name, because the vDisk that had it was deleted (its data is gone from the backend). It is made by
 * the node that carried out the deletion, with create-if-absent like any claim, so a node with an
 * old view that claims the same epoch for the old vDisk either wins it (and is then the one
 * responsible for the name) or fails. The next claimer of a closed name takes the next epoch at once,
 * as for a name never claimed: nothing of the old vDisk is inherited.
 */
public record Claim(String vdisk, long epoch, String node, long incarnation, boolean closed) {
  public Claim {
    Objects.requireNonNull(vdisk, "vdisk");
    Objects.requireNonNull(node, "node");
    if (epoch < 1) {
      throw new IllegalArgumentException("epoch must be >= 1; got " + epoch);
    }
  }

  /** A claim that owns the vDisk (not a tombstone). */
  public Claim(String vdisk, long epoch, String node, long incarnation) {
    this(vdisk, epoch, node, incarnation, false);
  }
}
