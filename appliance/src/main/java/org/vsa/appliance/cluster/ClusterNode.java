package org.vsa.appliance.cluster;

import java.io.IOException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.backends.ObjectStore;

/**
 * This node in its cluster: its membership (Hazelcast) and the member addresses recorded in the
 * shared backend. Started by the appliance when {@code cluster.enabled} is set.
 */
public final class ClusterNode implements ClusterView, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterNode.class);

  private final ApplianceConfig.Cluster config;
  private final MemberRegistry registry;
  private final ClusterMembership membership;

  private ClusterNode(ApplianceConfig.Cluster config, MemberRegistry registry, ClusterMembership membership) {
    this.config = config;
    this.registry = registry;
    this.membership = membership;
  }

  /**
   * Joins the cluster: asks the configured seeds and the addresses recorded in the backend.
   * {@code endpoints} (iscsi, nfs, dtl, ... to host:port) become member attributes the other nodes read.
   */
  public static ClusterNode start(ApplianceConfig.Cluster config, String nodeName, String bindHost, ObjectStore backend,
      Map<String, String> endpoints) throws IOException {
    MemberRegistry registry = new MemberRegistry(backend);
    Set<String> join = new LinkedHashSet<>(config.members());
    join.addAll(registry.addresses());
    String self = bindHost + ":" + config.port();
    join.add(self);
    if (!join.isEmpty() && !registry.addresses().contains(self)) {
      registry.add(self); // nodes started later with this backend ask this one too
    }
    Map<String, String> attributes = new java.util.HashMap<>();
    endpoints.forEach((k, v) -> attributes.put("vsa.endpoint." + k, v));
    log.info("cluster {}: joining through {}", config.name(), join);
    ClusterMembership m = ClusterMembership.start(config.name(), bindHost, config.port(), List.copyOf(join), nodeName,
        config.faultDomain(), attributes);
    return new ClusterNode(config, registry, m);
  }

  public ClusterMembership membership() {
    return membership;
  }

  @Override
  public String clusterName() {
    return config.name();
  }

  @Override
  public List<ClusterMembership.NodeInfo> members() {
    return membership.members();
  }

  @Override
  public List<String> recorded() throws IOException {
    return registry.addresses();
  }

  @Override
  public void record(String address) throws IOException {
    registry.add(address);
    log.info("cluster {}: member address {} recorded", config.name(), address);
  }

  @Override
  public void close() {
    membership.close();
  }
}
