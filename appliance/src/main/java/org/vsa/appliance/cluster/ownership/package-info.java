/**
 * Who owns which vDisk in a cluster: the pure {@link org.vsa.appliance.cluster.ownership.OwnershipMachine}
 * (decisions), the {@link org.vsa.appliance.cluster.ownership.OwnershipService} (the machine on the real
 * backend and clock) and the {@link org.vsa.appliance.cluster.ownership.OwnershipActions} the engine
 * implements.
 *
 * <p><b>Wiring.</b> Create one service per node over the shared backend ({@code ObjectStore}, which
 * must support {@code putIfAbsent}: the local directory store and the fragment store do; an S3 service
 * must honour {@code If-None-Match: *} on PUT), a cluster namespace (e.g. {@code cluster}), the node's
 * id and fault domain, and a {@link org.vsa.appliance.cluster.ownership.Timing} from the configuration
 * (default heartbeat 1 s, lease 6 s, margin 1 s: a dead owner's vDisks are claimed about 8 s after its
 * last heartbeat). Then {@code start()}, {@code setVdisks(...)} whenever the vDisk list changes,
 * {@code reportDtlState(vdisk, state)} on every DTL state change of a vDisk this node serves (before
 * acknowledging anything in the new state), {@code force(vdisk)} for the operator's override.
 *
 * <p><b>The fence.</b> The write path asks {@code mayAcknowledge(vdisk)} before every acknowledgement
 * (lock-free: one map lookup and {@code System.nanoTime()}); {@code stopAcknowledging} is only an early
 * notice. The epoch given to {@code adopt} is the DTL epoch: a DTL Hello with it fences the old owner's
 * stream out; backend objects should carry it too.
 *
 * <p><b>On the backend</b> (namespace of the service): {@code heartbeat.<node>} rewritten every
 * heartbeat, {@code claim.<vdisk>.<epoch, 12 digits>} created once per epoch and never deleted (a
 * deleted claim name could be created again by a node with an old view). A deleted vDisk's name is
 * closed by a closed claim (a tombstone) of the epoch after its deleter's; the next vDisk of that name
 * is claimed from the epoch after that as a name never claimed.
 *
 * <p><b>Deletion.</b> {@code setVdisks(vdisks, deleting)} names the vDisks being deleted; the node
 * holding one gets {@code delete(vdisk, epoch)} instead of serving it, deletes under {@code
 * mayDelete(vdisk, epoch)}, and reports with {@code reportDeleted}; then {@code closed(vdisk, epoch)}.
 */
package org.vsa.appliance.cluster.ownership;
