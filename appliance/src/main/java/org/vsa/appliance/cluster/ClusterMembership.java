package org.vsa.appliance.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MemberAttributeConfig;
import com.hazelcast.config.NetworkConfig;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's membership in the cluster: a Hazelcast member that joins the listed addresses over
 * TCP only (no multicast, no cloud discovery, no phone-home), logs through SLF4J and publishes the
 * node's name, fault domain and service addresses as member attributes.
 *
 * <p>Hazelcast is used for membership and failure detection only: which nodes are up and how to
 * reach them. It decides nothing about safety: who owns a vDisk is claimed in the backend (see the
 * README's "one owner per vDisk"), so a split cluster or a wrong member list can delay a failover but
 * never make two owners.
 */
public final class ClusterMembership implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterMembership.class);
  public static final String NODE = "vsa.node";
  public static final String FAULT_DOMAIN = "vsa.faultDomain";

  /** One member as this node sees it: its node name, fault domain, member address and attributes. */
  public record NodeInfo(String name, String faultDomain, String address, Map<String, String> attributes,
      boolean local) {}

  private final HazelcastInstance hz;
  private final List<Consumer<List<NodeInfo>>> listeners = new CopyOnWriteArrayList<>();

  private ClusterMembership(HazelcastInstance hz) {
    this.hz = hz;
  }

  /**
   * Starts this node's member and joins {@code join} (host:port addresses; this node's own address
   * may be among them). Returns once the member is up: alone, or in the cluster it found.
   */
  public static ClusterMembership start(String clusterName, String bindHost, int port, List<String> join,
      String nodeName, String faultDomain, Map<String, String> attributes) {
    Config c = new Config();
    c.setClusterName(clusterName);
    c.setInstanceName("vsa-" + nodeName);
    c.setProperty("hazelcast.logging.type", "slf4j");
    c.setProperty("hazelcast.phone.home.enabled", "false");
    c.setProperty("hazelcast.shutdownhook.enabled", "false"); // the appliance closes the member in its own order
    // notice a dead member within seconds (the lease in the backend still decides who may take over)
    c.setProperty("hazelcast.heartbeat.interval.seconds", "1");
    c.setProperty("hazelcast.max.no.heartbeat.seconds", "5");
    c.setProperty("hazelcast.merge.first.run.delay.seconds", "5");
    c.setProperty("hazelcast.merge.next.run.delay.seconds", "5");
    c.setProperty("hazelcast.wait.seconds.before.join", "1");
    c.setProperty("hazelcast.max.wait.seconds.before.join", "3");
    c.getJetConfig().setEnabled(false);
    NetworkConfig n = c.getNetworkConfig();
    n.setPort(port).setPortAutoIncrement(false);
    n.getInterfaces().setEnabled(false);
    n.setPublicAddress(bindHost + ":" + port);
    c.setProperty("hazelcast.local.localAddress", bindHost);
    c.setProperty("hazelcast.socket.bind.any", "false");
    JoinConfig j = n.getJoin();
    j.getMulticastConfig().setEnabled(false);
    j.getAutoDetectionConfig().setEnabled(false);
    j.getTcpIpConfig().setEnabled(true).setConnectionTimeoutSeconds(2);
    for (String m : join) {
      j.getTcpIpConfig().addMember(m);
    }
    if (join.isEmpty()) {
      j.getTcpIpConfig().addMember(bindHost + ":" + port);
    }
    MemberAttributeConfig a = new MemberAttributeConfig();
    a.setAttribute(NODE, nodeName);
    a.setAttribute(FAULT_DOMAIN, faultDomain);
    attributes.forEach(a::setAttribute);
    c.setMemberAttributeConfig(a);
    HazelcastInstance hz = Hazelcast.newHazelcastInstance(c);
    ClusterMembership m = new ClusterMembership(hz);
    hz.getCluster().addMembershipListener(new MembershipListener() {
      @Override
      public void memberAdded(MembershipEvent e) {
        log.info("cluster: node {} ({}) joined; {} nodes", e.getMember().getAttribute(NODE), e.getMember().getAddress(),
            e.getMembers().size());
        m.fire();
      }

      @Override
      public void memberRemoved(MembershipEvent e) {
        log.warn("cluster: node {} ({}) left or stopped answering; {} nodes", e.getMember().getAttribute(NODE),
            e.getMember().getAddress(), e.getMembers().size());
        m.fire();
      }
    });
    log.info("cluster {}: node {} is a member at {}:{}, fault domain {}; {} nodes now", clusterName, nodeName, bindHost,
        port, faultDomain, hz.getCluster().getMembers().size());
    return m;
  }

  /** The members now, by node name. */
  public List<NodeInfo> members() {
    List<NodeInfo> out = new ArrayList<>();
    for (Member m : hz.getCluster().getMembers()) {
      out.add(info(m));
    }
    out.sort(Comparator.comparing(NodeInfo::name));
    return out;
  }

  /** Called (on a Hazelcast thread) with the member list whenever a node joins or leaves. */
  public void onChange(Consumer<List<NodeInfo>> l) {
    listeners.add(l);
  }

  private void fire() {
    List<NodeInfo> now = members();
    for (Consumer<List<NodeInfo>> l : listeners) {
      try {
        l.accept(now);
      } catch (RuntimeException e) {
        log.warn("cluster: a membership listener failed: {}", e.toString());
      }
    }
  }

  private static NodeInfo info(Member m) {
    Map<String, String> attrs = Map.copyOf(m.getAttributes());
    return new NodeInfo(attrs.getOrDefault(NODE, m.getAddress().toString()), attrs.getOrDefault(FAULT_DOMAIN, "default"),
        m.getAddress().getHost() + ":" + m.getAddress().getPort(), attrs, m.localMember());
  }

  @Override
  public void close() {
    try {
      hz.shutdown();
    } catch (RuntimeException e) {
      log.warn("cluster: leaving failed: {}", e.toString());
    }
  }
}
