package org.vsa.appliance.cluster.ownership;

import java.util.Map;
import java.util.Set;
import org.vsa.dtl.DtlState;

/** An input of the {@link OwnershipMachine}; every event carries the node's monotonic time. */
public sealed interface Event {
  long now();

  /** Time passes: timers are looked at. */
  record Tick(long now) implements Event {}

  /** The heartbeat write of {@code seq} that started at {@code startedAt} ended (stored or not). */
  record HeartbeatWritten(long now, long startedAt, long seq, boolean stored) implements Event {}

  /**
   * Every node's heartbeat as read by one pass that started at {@code startedAt}; a node whose
   * record could not be read is absent, one whose record is not there maps to nothing either
   * ({@code failed} says the pass as a whole failed).
   */
  record HeartbeatsRead(long now, long startedAt, Map<String, Heartbeat> heartbeats, boolean failed) implements Event {}

  /** The highest claim of a vDisk, read by a pass that started at {@code startedAt}; null: none, or failed. */
  record ClaimsRead(long now, String vdisk, long startedAt, Claim highest, boolean failed) implements Event {}

  /** How the creation of claim {@code epoch} ended. */
  record ClaimResult(long now, String vdisk, long epoch, Outcome outcome) implements Event {}

  enum Outcome { WON, LOST, UNKNOWN }

  /**
   * The vDisks of the cluster (from the lead), and those of them being deleted (a deletion was
   * requested and is not done yet): the node that holds one of those deletes it ({@link
   * Action.Delete}) instead of serving it.
   */
  record VdisksChanged(long now, Set<String> vdisks, Set<String> deleting) implements Event {
    public VdisksChanged {
      vdisks = Set.copyOf(vdisks);
      deleting = Set.copyOf(deleting);
    }

    public VdisksChanged(long now, Set<String> vdisks) {
      this(now, vdisks, Set.of());
    }
  }

  /**
   * How the engine's {@link Action.Delete} of the vDisk at {@code epoch} ended: {@code done}, its
   * data is gone from the backend (or there was none left); otherwise nothing was deleted (the lease
   * was lost, the backend failed, or the vDisk is not being deleted after all). Also sent, done,
   * for a vDisk the engine was asked to adopt and found deleted (no record, a deletion done): the
   * machine then closes its name again if the lead no longer lists it.
   */
  record DataDeleted(long now, String vdisk, long epoch, boolean done) implements Event {}

  /**
   * The DTL state of a vDisk this node owns, as the engine reports it: the state of its DTL stream
   * to {@code dtlNode} (null: the stream goes nowhere, standalone) written under ownership {@code
   * epoch}. It counts only for that placement: a report about a DTL node the vDisk no longer has, or
   * made under an earlier epoch, is ignored (an OK_SYNC of the old DTL says nothing of the new one).
   */
  record DtlStateReported(long now, String vdisk, long epoch, String dtlNode, DtlState state) implements Event {}

  /**
   * The nodes that publish a DTL endpoint (where a DTL client can reach their DTL server): the only
   * ones DTL placement may pick. Until the first such event every node qualifies.
   */
  record DtlNodes(long now, Set<String> nodes) implements Event {
    public DtlNodes {
      nodes = Set.copyOf(nodes);
    }
  }

  /**
   * The engine handed the vDisk, held here at {@code epoch}, over through the backend (a clean stop:
   * its whole history uploaded, a hand-over record written, nothing left here to acknowledge): this
   * node stops publishing it, so that its successor takes it over without needing a DTL, and claims
   * it no more until another node has served it.
   */
  record HandedOver(long now, String vdisk, long epoch) implements Event {}

  /** The operator's order to take the vDisk over even though its DTL was not in sync. */
  record Force(long now, String vdisk) implements Event {}
}
