package org.vsa.nfs;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Which clients an export admits and how: {@code host} is an IP literal, a CIDR
 * ({@code 10.0.0.0/8}, {@code fd00::/8}), a host name (matched against the reverse lookup of the
 * client and the forward lookup of the name) or {@code *}.
 */
public record ClientRule(String host, boolean readOnly, Squash squash, int anonUid, int anonGid) {

  public static final int NOBODY = 65534;

  public ClientRule {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("client rule host must be an IP, a CIDR, a host name or *");
    }
    if (squash == null) {
      throw new IllegalArgumentException("client rule squash must be set");
    }
    if (host.contains("/")) {
      String[] p = host.split("/", 2);
      int bits;
      try {
        bits = Integer.parseInt(p[1]);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("bad CIDR prefix in " + host);
      }
      if (!isIpLiteral(p[0]) || bits < 0 || bits > (p[0].contains(":") ? 128 : 32)) {
        throw new IllegalArgumentException("bad CIDR " + host);
      }
    }
  }

  /** Everyone, read-write, no root squash: the embedded default (bound to 127.0.0.1). */
  public static ClientRule anyoneReadWrite() {
    return new ClientRule("*", false, Squash.NO_ROOT_SQUASH, NOBODY, NOBODY);
  }

  /** Whether {@link #matches} would look names up in the DNS now (a host-name rule not cached for this client). */
  boolean needsLookup(InetAddress client) {
    if (host.equals("*") || host.contains("/") || isIpLiteral(host)) {
      return false;
    }
    return !Names.cached(host.toLowerCase(Locale.ROOT), client);
  }

  public boolean matches(InetAddress client) {
    if (host.equals("*")) {
      return true;
    }
    try {
      Parsed p = Parsed.of(host);
      if (p.net != null) {
        return inPrefix(client.getAddress(), p.net, p.bits);
      }
      return Names.matches(host.toLowerCase(Locale.ROOT), client);
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /**
   * An IP or CIDR rule parsed once (rules are checked on every call): the network's bytes and
   * prefix length (an IP literal is a full-length prefix); {@code net} null for a host name.
   */
  private record Parsed(byte[] net, int bits) {
    private static final java.util.concurrent.ConcurrentHashMap<String, Parsed> BY_HOST =
        new java.util.concurrent.ConcurrentHashMap<>();

    static Parsed of(String host) throws UnknownHostException {
      Parsed p = BY_HOST.get(host);
      if (p != null) {
        return p;
      }
      if (host.contains("/")) {
        String[] x = host.split("/", 2);
        p = new Parsed(InetAddress.getByName(x[0]).getAddress(), Integer.parseInt(x[1]));
      } else if (isIpLiteral(host)) {
        byte[] a = InetAddress.getByName(host).getAddress();
        p = new Parsed(a, a.length * 8);
      } else {
        p = new Parsed(null, 0);
      }
      if (BY_HOST.size() < 4096) {
        BY_HOST.put(host, p);
      }
      return p;
    }
  }

  /**
   * Host-name rules cost DNS lookups, and rules are checked on every call: results are kept for
   * {@link #TTL_NANOS}, at most {@link #ENTRIES_MAX} of them.
   */
  static final class Names {
    static final long TTL_NANOS = 60_000_000_000L;
    static final int ENTRIES_MAX = 4096;
    private record Cached(boolean matches, long expiresNanos) {}

    private static final java.util.concurrent.ConcurrentHashMap<String, Cached> CACHE =
        new java.util.concurrent.ConcurrentHashMap<>();

    static boolean cached(String host, InetAddress client) {
      Cached c = CACHE.get(host + " " + client.getHostAddress());
      return c != null && c.expiresNanos() - System.nanoTime() > 0;
    }

    static boolean matches(String host, InetAddress client) throws UnknownHostException {
      String key = host + " " + client.getHostAddress();
      Cached c = CACHE.get(key);
      long now = System.nanoTime();
      if (c != null && c.expiresNanos() - now > 0) {
        return c.matches();
      }
      boolean m = client.getCanonicalHostName().toLowerCase(Locale.ROOT).equals(host);
      if (!m) {
        try {
          for (InetAddress a : InetAddress.getAllByName(host)) {
            m |= a.equals(client);
          }
        } catch (UnknownHostException e) {
          m = false;
        }
      }
      if (CACHE.size() >= ENTRIES_MAX) {
        CACHE.clear();
      }
      CACHE.put(key, new Cached(m, now + TTL_NANOS));
      return m;
    }
  }

  private static boolean inPrefix(byte[] addr, byte[] net, int bits) {
    if (addr.length != net.length) {
      return false;
    }
    for (int i = 0; i < bits; i++) {
      int mask = 0x80 >>> (i % 8);
      if ((addr[i / 8] & mask) != (net[i / 8] & mask)) {
        return false;
      }
    }
    return true;
  }

  private static final java.util.regex.Pattern IPV4 = java.util.regex.Pattern.compile("[0-9.]+");
  private static final java.util.regex.Pattern IPV6 = java.util.regex.Pattern.compile("[0-9A-Fa-f:.]+");

  /** Runs for every request (client rules are checked per call): precompiled patterns. */
  static boolean isIpLiteral(String s) {
    return IPV4.matcher(s).matches() || (s.contains(":") && IPV6.matcher(s).matches());
  }
}
