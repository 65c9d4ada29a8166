package org.vsa.iscsi;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Breaks redirect loops. Initiators follow "target moved temporarily" without a limit (libiscsi
 * does), so two nodes that each believe the other serves a target would bounce an initiator
 * between them for ever. Each node counts the redirects it gave one initiator session (initiator
 * name, ISID, target) on a monotonic clock: beyond {@link #MAX_REDIRECTS} within
 * {@link #WINDOW_NANOS} the login is refused instead ("service unavailable"). A well-behaved
 * initiator is redirected once per login, and logs in on the node it was sent to, so it never comes
 * near the bound. The bound is low enough that two nodes in a loop refuse before libiscsi 1.19 gives
 * up by itself (after 11 login PDUs, "login took too many tries"), so the initiator is told why.
 *
 * <p>Memory is bounded: at most {@link #MAX_KEYS} sessions are remembered, the least recently
 * redirected ones forgotten first.
 */
final class RedirectGuard {
  static final int MAX_REDIRECTS = 4;
  static final long WINDOW_NANOS = 10_000_000_000L;
  static final int MAX_KEYS = 4096;
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  private final LongSupplier nanoClock;
  private final Map<String, ArrayDeque<Long>> recent = new LinkedHashMap<>(64, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, ArrayDeque<Long>> eldest) {
      return size() > MAX_KEYS;
    }
  };

  RedirectGuard(LongSupplier nanoClock) {
    this.nanoClock = nanoClock;
  }

  /** Counts a redirect of {@code key}; false if it would be one too many within the window. */
  synchronized boolean allow(String key) {
    long now = nanoClock.getAsLong();
    ArrayDeque<Long> times = recent.computeIfAbsent(key, k -> new ArrayDeque<>());
    while (!times.isEmpty() && now - times.peekFirst() >= WINDOW_NANOS) {
      times.pollFirst();
    }
    if (times.size() >= MAX_REDIRECTS) {
      return false;
    }
    times.addLast(now);
    return true;
  }

  /**
   * Whether {@code e} names the portal the initiator is connected to ({@code local}): a redirect
   * there would be a loop of one node. Host names are compared as written, never resolved (this
   * runs on a network thread).
   */
  static boolean isPortal(TargetLocator.Elsewhere e, InetSocketAddress local) {
    if (local == null || e.port() != local.getPort()) {
      return false;
    }
    String host = e.host().startsWith("[") && e.host().endsWith("]")
        ? e.host().substring(1, e.host().length() - 1) : e.host();
    if (!IPV4.matcher(host).matches() && !host.contains(":")) {
      return host.equalsIgnoreCase(local.getHostString());
    }
    try {
      return InetAddress.getByName(host).equals(local.getAddress()); // a literal: no lookup
    } catch (UnknownHostException ex) {
      return false;
    }
  }
}
