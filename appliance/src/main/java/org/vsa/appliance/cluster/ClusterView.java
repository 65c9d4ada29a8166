package org.vsa.appliance.cluster;

import java.io.IOException;
import java.util.List;

/** What the management API sees of the cluster: its members now, and the addresses recorded to join. */
public interface ClusterView {
  String clusterName();

  /** The members up now (this node among them). */
  List<ClusterMembership.NodeInfo> members();

  /** The member addresses recorded in the backend ({@code vsa node add}). */
  List<String> recorded() throws IOException;

  /** Records a member address so that a node started there joins (and restarts rejoin). */
  void record(String address) throws IOException;
}
