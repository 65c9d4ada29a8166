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

  /** The vDisks of the cluster (from the lead). */
  record VdisksChanged(long now, Set<String> vdisks) implements Event {}

  /** The DTL state of a vDisk this node owns, as the engine reports it. */
  record DtlStateReported(long now, String vdisk, DtlState state) implements Event {}

  /** The operator's order to take the vDisk over even though its DTL was not in sync. */
  record Force(long now, String vdisk) implements Event {}
}
