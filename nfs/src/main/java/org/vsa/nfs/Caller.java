package org.vsa.nfs;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.dcache.oncrpc4j.rpc.RpcAuth;
import org.dcache.oncrpc4j.rpc.RpcAuthTypeUnix;
import org.dcache.oncrpc4j.rpc.RpcCall;

/** Who calls, after the export's squash rule, and whether the export lets them write. */
record Caller(int uid, int gid, int[] gids, boolean readOnly) {

  /** The caller as {@code export} sees it, or null if no client rule of the export admits the address. */
  static Caller of(RpcCall call, Export export) {
    ClientRule rule = rule(export, call.getTransport().getRemoteSocketAddress());
    if (rule == null) {
      return null;
    }
    RpcAuth auth = call.getCredential();
    int uid = rule.anonUid();
    int gid = rule.anonGid();
    int[] gids = new int[0];
    if (auth instanceof RpcAuthTypeUnix u) {
      uid = u.uid();
      gid = u.gid();
      gids = u.gids() == null ? new int[0] : u.gids();
    }
    if (rule.squash() == Squash.ALL_SQUASH || (rule.squash() == Squash.ROOT_SQUASH && uid == 0)) {
      uid = rule.anonUid();
      gid = rule.anonGid();
      gids = new int[0];
    }
    return new Caller(uid, gid, gids, rule.readOnly());
  }

  /** Whether finding the caller's rule would look names up in the DNS now (see {@link ClientRule#needsLookup}). */
  static boolean ruleNeedsLookup(Export export, InetSocketAddress remote) {
    InetAddress addr = remote == null ? null : remote.getAddress();
    if (addr == null) {
      return false;
    }
    for (ClientRule r : export.clients()) {
      if (r.needsLookup(addr)) {
        return true;
      }
      if (r.matches(addr)) {
        return false;
      }
    }
    return false;
  }

  static ClientRule rule(Export export, InetSocketAddress remote) {
    InetAddress addr = remote == null ? null : remote.getAddress();
    if (addr == null) {
      return null;
    }
    for (ClientRule r : export.clients()) {
      if (r.matches(addr)) {
        return r;
      }
    }
    return null;
  }

  boolean inGroup(int g) {
    if (g == gid) {
      return true;
    }
    for (int x : gids) {
      if (x == g) {
        return true;
      }
    }
    return false;
  }

  /** rwx bits (4, 2, 1) the caller has on a file with these attributes; root has them all. */
  int permissions(Attr a) {
    if (uid == 0) {
      return 7;
    }
    int m = a.mode();
    if (a.uid() == uid) {
      return (m >> 6) & 7;
    }
    if (inGroup(a.gid())) {
      return (m >> 3) & 7;
    }
    return m & 7;
  }
}
