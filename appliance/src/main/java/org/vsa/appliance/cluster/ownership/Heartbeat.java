package org.vsa.appliance.cluster.ownership;

import java.util.List;
import java.util.Objects;
import org.vsa.dtl.DtlState;

/**
 * What a node publishes every heartbeat: who it is (id, fault domain, the incarnation of its
 * process, a random number drawn at start), a sequence number that changes with every write, and
 * the vDisks it owns with their epoch, DTL node and DTL state. Others judge its liveness by the
 * record changing, and take its last published DTL state as the state a takeover would inherit.
 */
public record Heartbeat(String node, String faultDomain, long incarnation, long seq, List<Owned> owned) {
  public Heartbeat {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(faultDomain, "faultDomain");
    owned = List.copyOf(owned);
  }

  /** One owned vDisk as published; {@code dtlNode} is null when it has none. */
  public record Owned(String vdisk, long epoch, String dtlNode, DtlState dtlState) {
    public Owned {
      Objects.requireNonNull(vdisk, "vdisk");
      Objects.requireNonNull(dtlState, "dtlState");
    }
  }

  public Owned find(String vdisk) {
    for (Owned o : owned) {
      if (o.vdisk().equals(vdisk)) {
        return o;
      }
    }
    return null;
  }
}
