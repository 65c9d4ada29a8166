package org.vsa.appliance.cluster.ownership;

/** An output of the {@link OwnershipMachine}: the driver carries it out and reports back with events. */
public sealed interface Action {

  /** Write this heartbeat record; report {@link Event.HeartbeatWritten} with the time the write started. */
  record WriteHeartbeat(Heartbeat heartbeat) implements Action {}

  /** Read every node's heartbeat; report {@link Event.HeartbeatsRead}. */
  record ReadHeartbeats() implements Action {}

  /** Read the highest claim of the vDisk; report {@link Event.ClaimsRead}. */
  record ReadClaims(String vdisk) implements Action {}

  /** Create the claim object (create-if-absent); report {@link Event.ClaimResult}. */
  record MakeClaim(Claim claim) implements Action {}

  /**
   * Serve the vDisk at this epoch: restore it (from the backend plus the DTL on {@code
   * dtlNodeOfOldOwner}, when not null) and fence older epochs. {@code oldOwner} is null for a vDisk
   * never owned; it is this node for a re-claim after a lapsed lease.
   */
  record Adopt(String vdisk, long epoch, String oldOwner, String dtlNodeOfOldOwner, boolean forced) implements Action {}

  /** Stop acknowledging writes of the vDisk now (the lease lapsed or the vDisk is lost). */
  record StopAcknowledging(String vdisk, String reason) implements Action {}

  /** The vDisk is another node's now: close it here, never upload or acknowledge for it again. */
  record Release(String vdisk, long epoch, String reason) implements Action {}

  /**
   * Replicate the vDisk's DTL to this node (null: no node qualifies, and {@code noDtlReason} says
   * why; the vDisk runs without a DTL, so a takeover after this node dies would be refused).
   */
  record SetDtlPeer(String vdisk, String node, String noDtlReason) implements Action {
    public SetDtlPeer(String vdisk, String node) {
      this(vdisk, node, null);
    }
  }

  /**
   * The vDisk, held here at this epoch, is being deleted: stop serving it, drop this node's copy and
   * delete its data in the backend, checking before each step that this node still holds it at this
   * epoch ({@link OwnershipMachine#mayDelete}); report {@link Event.DataDeleted}. The machine then
   * closes the name (a {@link Claim#closed closed} claim of the next epoch) and says {@link Closed}.
   */
  record Delete(String vdisk, long epoch) implements Action {}

  /**
   * The name of a deleted vDisk is closed at this epoch (the closed claim is stored): nobody holds it
   * any more; this node no longer lists it. The lead records the deletion as done.
   */
  record Closed(String vdisk, long epoch) implements Action {}

  /** An automatic takeover of the vDisk was refused; the operator may force it. */
  record Refused(String vdisk, String owner, long epoch, String reason) implements Action {}
}
