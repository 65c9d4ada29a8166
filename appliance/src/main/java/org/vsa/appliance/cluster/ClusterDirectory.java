package org.vsa.appliance.cluster;

import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * What the front ends ask of the cluster: which vDisks it has, which node serves each now, and
 * where a live node's services listen. Answers come from memory (the ownership service's last
 * view and the members' attributes), never from a round trip, so a front end may ask on every
 * login or request. Implemented by {@link ClusterController}.
 */
public interface ClusterDirectory {

  /** Endpoint kinds a node publishes (member attributes {@code vsa.endpoint.<kind>}). */
  String ISCSI = "iscsi";
  String NFS = "nfs";
  String DTL = "dtl";
  /** The node's {@code RemoteVolumeServer}: vDisk I/O forwarded from other nodes. */
  String VOLUME = "volume";

  /** One vDisk of the cluster, as its record in the shared backend says. */
  record VdiskInfo(String name, UUID id, String vpool, long sizeBytes) {}

  /** This node's name. */
  String self();

  /** The cluster's vDisks by name (every node's), as last read from the shared backend. */
  Map<String, VdiskInfo> vdisks();

  /**
   * The node that serves the vDisk now (possibly {@link #self}), or empty while none does: its
   * owner died or paused and a takeover is under way, or it waits for the operator.
   */
  Optional<String> owner(String vdisk);

  /** Where a live member's service of {@code kind} listens; empty when the node is down or has none. */
  Optional<InetSocketAddress> endpoint(String node, String kind);

  /** Runs after ownership or the list of vDisks changed (on a control-plane thread; keep it short). */
  void onChange(Runnable r);
}
