package org.vsa.appliance.cluster.ownership;

import java.util.Objects;

/** The content of a won claim: epoch {@code epoch} of the vDisk belongs to this node's process. */
public record Claim(String vdisk, long epoch, String node, long incarnation) {
  public Claim {
    Objects.requireNonNull(vdisk, "vdisk");
    Objects.requireNonNull(node, "node");
    if (epoch < 1) {
      throw new IllegalArgumentException("epoch must be >= 1; got " + epoch);
    }
  }
}
