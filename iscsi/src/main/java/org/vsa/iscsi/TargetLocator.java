package org.vsa.iscsi;

import java.util.Map;

/**
 * Where a target is served, as the control plane sees it: the seam through which any node's
 * portal answers a login for any target of the cluster. The target asks it at every login of a
 * normal session and at every SendTargets discovery; it never caches the answer.
 *
 * <ul>
 *   <li>{@link Here}: this node serves the target; the login goes on against the local
 *       configuration (a target that is not configured here answers "service unavailable",
 *       0x0301, so that the initiator tries again: the control plane said "here" before it set
 *       the target up).
 *   <li>{@link Elsewhere}: a Login Response "target moved temporarily" (0x0101) with
 *       {@code TargetAddress=host:port,tpgt}, then the connection closes.
 *   <li>{@link Unavailable}: a target of the cluster that no node serves right now (its owner
 *       died or paused and a takeover is under way, or this node is handing it over): "service
 *       unavailable" (0x0301), so that the initiator tries again rather than give up; discovery
 *       leaves it out.
 *   <li>{@link Unknown}: "target not found" (0x0203).
 * </ul>
 *
 * An implementation must answer quickly (it runs on a network thread) and may throw: a throwing
 * locator gets the initiator "target error" (0x0300) and one log line, never a dropped listener.
 * Without one ({@link IscsiTarget#start(IscsiConfig, VolumeLookup)}) the target serves the targets
 * of its configuration and knows no others: the single-node behaviour.
 */
public interface TargetLocator {

  /** Where target {@code iqn} is served now. */
  Location locate(String iqn);

  /**
   * Every target the control plane knows, with where it is served, for SendTargets discovery on
   * this node (targets served here that are configured here are listed with this portal's
   * address). The default knows none beyond the local configuration.
   */
  default Map<String, Location> directory() {
    return Map.of();
  }

  /** The answer of {@link #locate}. */
  sealed interface Location permits Here, Elsewhere, Unavailable, Unknown {}

  /** Served by this node. */
  record Here() implements Location {}

  /**
   * Served by another node, reached at {@code host:port} in portal group {@code portalGroupTag}.
   *
   * @param host an IP literal or host name (an IPv6 literal without brackets)
   */
  record Elsewhere(String host, int port, int portalGroupTag) implements Location {
    public Elsewhere {
      if (host == null || host.isBlank() || host.chars().anyMatch(ch -> ch <= ' ' || ch == ',' || ch == 0x7f)) {
        throw new IllegalArgumentException("not a host for TargetAddress: '" + host + "'");
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("TargetAddress port must be in [1, 65535]; got " + port);
      }
      if (portalGroupTag < 0 || portalGroupTag > 65535) {
        throw new IllegalArgumentException("portal group tag must be in [0, 65535]; got " + portalGroupTag);
      }
    }

    /** The value of the TargetAddress key: {@code host:port,tpgt}, an IPv6 literal in brackets. */
    public String targetAddress() {
      String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
      return h + ":" + port + "," + portalGroupTag;
    }
  }

  /** A target of this cluster that no node serves right now; the initiator should try again. */
  record Unavailable() implements Location {}

  /** Not a target of this cluster. */
  record Unknown() implements Location {}

  Here HERE = new Here();
  Unavailable UNAVAILABLE = new Unavailable();
  Unknown UNKNOWN = new Unknown();
}
