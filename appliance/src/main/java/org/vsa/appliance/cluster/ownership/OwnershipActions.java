package org.vsa.appliance.cluster.ownership;

/**
 * What the {@link OwnershipService} asks of the engine. Called in order, on one thread of the
 * service's own; a slow call delays the later ones, never the heartbeats. The hard fence is
 * {@link OwnershipService#mayAcknowledge}, which the write path asks before every acknowledgement:
 * {@link #stopAcknowledging} only says so early.
 */
public interface OwnershipActions {

  /**
   * Serve the vDisk at this epoch: restore it from the backend plus the DTL on {@code oldDtlNode}
   * (null: none), fence older epochs (the DTL's Hello carries this epoch). {@code oldOwner} is this
   * node after a re-claim that followed a lapsed lease, null for a vDisk never owned.
   * {@code forced}: the operator accepted losing the writes of an out-of-sync DTL.
   */
  void adopt(String vdisk, long epoch, String oldOwner, String oldDtlNode, boolean forced);

  /** Stop acknowledging writes of the vDisk (the lease lapsed); it may be adopted again. */
  void stopAcknowledging(String vdisk);

  /** Replicate the vDisk's DTL to this node (null: no node available). */
  void setDtlPeer(String vdisk, String node);

  /** The vDisk is another node's now: close it, never upload or acknowledge for it again. */
  void release(String vdisk);

  /**
   * The vDisk, held here at {@code epoch}, is being deleted: drop this node's copy and delete its
   * data in the backend, each destructive step only while {@link OwnershipService#mayDelete} says
   * yes; then report with {@link OwnershipService#reportDeleted} (done: its data is gone, or there
   * was none; not done: nothing was deleted, ask again later). Unanswered, the machine asks again
   * after ten leases.
   */
  default void delete(String vdisk, long epoch) {}

  /** The deleted vDisk's name is closed (no node holds it): record the deletion as done. */
  default void closed(String vdisk, long epoch) {}

  /** An automatic takeover was refused (the operator can force it); says why. */
  default void refused(String vdisk, String reason) {}
}
