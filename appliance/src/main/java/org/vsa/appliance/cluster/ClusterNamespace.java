package org.vsa.appliance.cluster;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.nfs.Attr;
import org.vsa.nfs.Namespace;
import org.vsa.nfs.NfsException;
import org.vsa.nfs.SetAttr;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.Durability;

/**
 * A vPool's NFS namespace as this node's NFS server exports it in a cluster: the namespace is
 * served by one node at a time (its owner, through the cluster's ownership service), and every
 * other node forwards its clients' calls there ({@link RemoteNamespace}). This object stays the same
 * for the NFS server while the owner moves; each call goes to the owner of the moment:
 * <ul>
 *   <li>this node's own namespace while this node serves it;
 *   <li>otherwise the owner's namespace forward server (endpoint kind {@code namespace});
 *   <li>while no node serves it (a takeover under way), JUKEBOX: NFS clients retry.
 * </ul>
 *
 * <p>The namespace id is the cluster's for this vPool (a record in the backend), the same on every
 * node, so file handles stay valid whichever node a client mounts and wherever the namespace moves.
 * The write verifier changes whenever the calls go elsewhere: UNSTABLE writes the old owner had not
 * made durable may be gone, and clients send them again.
 */
final class ClusterNamespace implements Namespace {
  private static final Logger log = LoggerFactory.getLogger(ClusterNamespace.class);
  /** The root directory's file id in every namespace. */
  static final long ROOT_ID = 1;

  /** Where the calls go now. */
  private record Target(Namespace ns, boolean local, String node) {}

  private final String vpool;
  private final long namespaceId;
  /** The owner's name (empty: none now); this node's own name when it serves the namespace. */
  private final Supplier<Optional<String>> owner;
  private final String self;
  /** A node's namespace forward endpoint. */
  private final Function<String, Optional<InetSocketAddress>> endpoint;
  private final RemoteNamespace.Config remoteConfig;
  private volatile Namespace local;
  private RemoteNamespace remote;
  private String remoteNode;
  private volatile long generation;
  private volatile Target last;
  private volatile boolean closed;

  ClusterNamespace(String vpool, long namespaceId, String self, Supplier<Optional<String>> owner,
      Function<String, Optional<InetSocketAddress>> endpoint, RemoteNamespace.Config remoteConfig) {
    this.vpool = vpool;
    this.namespaceId = namespaceId;
    this.self = self;
    this.owner = owner;
    this.endpoint = endpoint;
    this.remoteConfig = remoteConfig;
  }

  String vpool() {
    return vpool;
  }

  /** This node serves the namespace from now on ({@code ns}), or no longer (null). */
  synchronized void setLocal(Namespace ns) {
    if (ns != null && ns.namespaceId() != namespaceId) {
      throw new IllegalStateException("vPool " + vpool + ": the namespace restored here has id "
          + Long.toHexString(ns.namespaceId()) + ", the cluster's is " + Long.toHexString(namespaceId));
    }
    local = ns;
    generation++;
  }

  private Target target() throws NfsException {
    if (closed) {
      throw new NamespaceUnavailableException("vPool " + vpool + ": this node's NFS server is stopping", true);
    }
    Namespace l = local;
    if (l != null) {
      return remember(new Target(l, true, self));
    }
    Optional<String> o = owner.get();
    if (o.isEmpty() || o.get().equals(self)) {
      throw new NamespaceUnavailableException("vPool " + vpool + ": no node serves its namespace now"
          + " (a takeover is under way)", true);
    }
    String node = o.get();
    synchronized (this) {
      if (remote != null && node.equals(remoteNode)) {
        return remember(new Target(remote, false, node));
      }
      InetSocketAddress at = endpoint.apply(node).orElseThrow(() -> new NamespaceUnavailableException(
          "vPool " + vpool + ": node " + node + " serves its namespace but publishes no namespace endpoint", true));
      RemoteNamespace r = RemoteNamespace.open(at, vpool, remoteConfig);
      if (r.namespaceId() != namespaceId) {
        r.close();
        log.error("vPool {}: node {} serves a namespace with id {}, the cluster's is {}; not forwarding to it", vpool,
            node, Long.toHexString(r.namespaceId()), Long.toHexString(namespaceId));
        throw new NamespaceUnavailableException("vPool " + vpool + ": node " + node + " serves another namespace", true);
      }
      if (remote != null) {
        remote.close();
      }
      remote = r;
      remoteNode = node;
      generation++;
      log.info("vPool {}: its namespace is served by node {} ({}); this node forwards to it", vpool, node, at);
      return remember(new Target(r, false, node));
    }
  }

  private Target remember(Target t) {
    last = t;
    return t;
  }

  @FunctionalInterface
  private interface Call<T> {
    T run(Namespace ns) throws NfsException;
  }

  /**
   * Runs the call on the owner of the moment; once more at once when the one asked answered that it
   * does not serve the namespace (nothing was done there). A local namespace closed under the call
   * (this node lost it) answers JUKEBOX.
   */
  private <T> T call(Call<T> c) throws NfsException {
    for (int attempt = 0; ; attempt++) {
      Target t = target();
      try {
        return c.run(t.ns());
      } catch (NamespaceUnavailableException e) {
        if (!e.notOwner() || attempt >= 1) {
          throw e;
        }
        forget(t);
      } catch (RuntimeException e) {
        if (t.local() && local != t.ns()) {
          throw new NamespaceUnavailableException("vPool " + vpool + ": this node stopped serving its namespace", false);
        }
        throw e;
      }
    }
  }

  /** Drops a forward target that answered it does not serve the namespace (the next call asks again). */
  private synchronized void forget(Target t) {
    if (!t.local() && remote == t.ns()) {
      remote.close();
      remote = null;
      remoteNode = null;
      generation++;
    }
  }

  @Override
  public long namespaceId() {
    return namespaceId;
  }

  @Override
  public long rootId() {
    return ROOT_ID;
  }

  @Override
  public Attr getattr(long fileId) throws NfsException {
    return call(ns -> ns.getattr(fileId));
  }

  @Override
  public long lookup(long dirId, String name) throws NfsException {
    return call(ns -> ns.lookup(dirId, name));
  }

  @Override
  public Attr setattr(long fileId, SetAttr change) throws NfsException {
    return call(ns -> ns.setattr(fileId, change));
  }

  @Override
  public long create(long dirId, String name, int uid, int gid, SetAttr attrs, boolean exclusive) throws NfsException {
    return call(ns -> ns.create(dirId, name, uid, gid, attrs, exclusive));
  }

  @Override
  public long createExclusive(long dirId, String name, int uid, int gid, long verifier) throws NfsException {
    return call(ns -> ns.createExclusive(dirId, name, uid, gid, verifier));
  }

  @Override
  public long mkdir(long dirId, String name, int uid, int gid, SetAttr attrs) throws NfsException {
    return call(ns -> ns.mkdir(dirId, name, uid, gid, attrs));
  }

  @Override
  public long symlink(long dirId, String name, String target, int uid, int gid, SetAttr attrs) throws NfsException {
    return call(ns -> ns.symlink(dirId, name, target, uid, gid, attrs));
  }

  @Override
  public String readlink(long fileId) throws NfsException {
    return call(ns -> ns.readlink(fileId));
  }

  @Override
  public void remove(long dirId, String name) throws NfsException {
    call(ns -> {
      ns.remove(dirId, name);
      return null;
    });
  }

  @Override
  public void rmdir(long dirId, String name) throws NfsException {
    call(ns -> {
      ns.rmdir(dirId, name);
      return null;
    });
  }

  @Override
  public void rename(long fromDirId, String fromName, long toDirId, String toName) throws NfsException {
    call(ns -> {
      ns.rename(fromDirId, fromName, toDirId, toName);
      return null;
    });
  }

  @Override
  public List<Entry> readdir(long dirId, long cookie, int max) throws NfsException {
    return call(ns -> ns.readdir(dirId, cookie, max));
  }

  @Override
  public boolean hasMoreAfter(long dirId, long cookie) throws NfsException {
    return call(ns -> ns.hasMoreAfter(dirId, cookie));
  }

  @Override
  public long contentStamp(long fileId) {
    Namespace l = local;
    return l == null ? 0 : l.contentStamp(fileId);
  }

  /**
   * Grows when the calls go to another namespace (the owner moved) and whenever the one they go
   * to says its own write epoch grew.
   */
  @Override
  public long writeEpoch() {
    Target t = last;
    long inner = 0;
    if (t != null) {
      try {
        inner = t.ns().writeEpoch();
      } catch (RuntimeException e) {
        inner = 0;
      }
    }
    return (generation << 32) + (inner & 0xffffffffL);
  }

  @Override
  public Read read(long fileId, long offset, ByteBuffer dst) throws NfsException {
    int at = dst.position();
    return call(ns -> {
      dst.position(at);
      return ns.read(fileId, offset, dst);
    });
  }

  @Override
  public Written write(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    int at = data.position();
    return call(ns -> {
      data.position(at);
      return ns.write(fileId, offset, data, durability);
    });
  }

  @Override
  public Written writeDeferred(long fileId, long offset, ByteBuffer data, Durability durability)
      throws NfsException {
    int at = data.position();
    return call(ns -> {
      data.position(at);
      return ns.writeDeferred(fileId, offset, data, durability);
    });
  }

  @Override
  public Written writeAtOnce(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    Namespace l = local;
    return l == null ? null : l.writeAtOnce(fileId, offset, data, durability);
  }

  @Override
  public void commit(long fileId) throws NfsException {
    call(ns -> {
      ns.commit(fileId);
      return null;
    });
  }

  @Override
  public long[] capacity() {
    Target t = last;
    if (t == null) {
      try {
        t = target();
      } catch (NfsException e) {
        return new long[] {0, 0};
      }
    }
    return t.ns().capacity();
  }

  /** Closes the forward connection; this node's own namespace is closed by whoever opened it. */
  @Override
  public synchronized void close() throws IOException {
    closed = true;
    if (remote != null) {
      remote.close();
      remote = null;
    }
  }
}
