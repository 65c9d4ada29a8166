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
import org.vsa.nfs.Status;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.PeerUnavailableException;
import org.vsa.volume.remote.WritesLostException;

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
 * <p><b>The bytes of a vDisk-backed file do not detour through the namespace's owner.</b> A node
 * that forwards the namespace asks the owner once for such a file's layout (its vDisk, logical size
 * and attributes; kept {@link #LAYOUT_TTL_NANOS}) and then reads it, and writes whole blocks
 * inside its logical size, straight to the vDisk through the cluster's volume catalog (this node's
 * own vDisk, or the vDisk's owner). Writes that are not whole blocks or that grow the file go to
 * the namespace's owner, which merges and journals them. A COMMIT flushes the vDisk here and
 * commits at the owner. The owner is told of direct writes by a SETATTR of the modification time
 * (server time), at most once a second per file. A file truncated through another node may take
 * up to the layout's lifetime to be seen here.
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
  /** The cluster's vDisks (this node's own, or forwarded to their owners), for direct file I/O. */
  private final VolumeCatalog volumes;
  /** How long a file's layout from the owner is used without asking again. */
  static final long LAYOUT_TTL_NANOS = 1_000_000_000L;
  private static final int LAYOUTS_MAX = 4096;
  private static final Layout NO_LAYOUT = new Layout("", 0, null);

  private record Cached(Layout layout, long fetchedNanos) {}

  private final java.util.concurrent.ConcurrentHashMap<Long, Cached> layouts =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** File id -> when the owner was last told of a direct write (its mtime). */
  private final java.util.concurrent.ConcurrentHashMap<Long, Long> touched =
      new java.util.concurrent.ConcurrentHashMap<>();
  /** Grows when a direct write's vDisk moved under it (its UNSTABLE writes may be lost). */
  private final java.util.concurrent.atomic.AtomicLong directLost = new java.util.concurrent.atomic.AtomicLong();
  private volatile Namespace local;
  private RemoteNamespace remote;
  private String remoteNode;
  private volatile long generation;
  private volatile Target last;
  private volatile boolean closed;

  ClusterNamespace(String vpool, long namespaceId, String self, Supplier<Optional<String>> owner,
      Function<String, Optional<InetSocketAddress>> endpoint, RemoteNamespace.Config remoteConfig,
      VolumeCatalog volumes) {
    this.volumes = volumes;
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
    layouts.clear();
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
      layouts.clear();
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
  public Layout layout(long fileId) throws NfsException {
    return call(ns -> ns.layout(fileId));
  }

  @Override
  public long lookup(long dirId, String name) throws NfsException {
    return call(ns -> ns.lookup(dirId, name));
  }

  @Override
  public Attr setattr(long fileId, SetAttr change) throws NfsException {
    layouts.remove(fileId);
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
    return ((generation + directLost.get()) << 32) + (inner & 0xffffffffL);
  }

  // ---------------------------------------------------------------- vDisk-backed files, directly

  /** The file's layout from the namespace's owner (cached); null when it is not a vDisk's or this node serves it. */
  private Layout layoutOf(Target t, long fileId, boolean fresh) throws NfsException {
    if (t.local()) {
      return null;
    }
    long now = System.nanoTime();
    Cached c = layouts.get(fileId);
    if (!fresh && c != null && now - c.fetchedNanos() < LAYOUT_TTL_NANOS) {
      return c.layout() == NO_LAYOUT ? null : c.layout();
    }
    Layout l = t.ns().layout(fileId);
    if (layouts.size() >= LAYOUTS_MAX) {
      layouts.clear();
    }
    layouts.put(fileId, new Cached(l == null ? NO_LAYOUT : l, now));
    return l;
  }

  /** The vDisk of a layout through the cluster's catalog, if this node can reach it now. */
  private Optional<BlockVolume> volumeOf(Layout l) {
    return volumes == null ? Optional.empty() : volumes.get(l.vdisk());
  }

  /**
   * A direct read of a vDisk-backed file; null when it must go to the owner (this node serves the
   * namespace, not a vDisk's file, its vDisk out of reach or moving).
   */
  private Read readDirect(Target t, long fileId, long offset, ByteBuffer dst) throws NfsException {
    if (offset < 0) {
      return null;
    }
    Layout l = layoutOf(t, fileId, false);
    if (l != null && offset + dst.remaining() > l.sizeBytes()) {
      l = layoutOf(t, fileId, true); // it may have grown since
    }
    if (l == null) {
      return null;
    }
    if (offset >= l.sizeBytes()) {
      return new Read(0, l.attr());
    }
    Optional<BlockVolume> v = volumeOf(l);
    int len = (int) Math.min(dst.remaining(), l.sizeBytes() - offset);
    if (v.isEmpty()) {
      return null;
    }
    BlockVolume vol = v.get();
    int bs = vol.blockSize();
    long start = offset - offset % bs;
    long end = offset + len + (bs - (offset + len) % bs) % bs;
    if (end > vol.sizeBytes()) {
      return null; // the size this node knows of the vDisk is older than the file's
    }
    try {
      if (start == offset && end == offset + len) {
        vol.read(offset, dst.slice(dst.position(), len));
      } else {
        ByteBuffer tmp = ByteBuffer.allocate((int) (end - start));
        vol.read(start, tmp);
        tmp.position((int) (offset - start)).limit((int) (offset - start) + len);
        dst.duplicate().put(tmp);
      }
    } catch (NotOwnerException | PeerUnavailableException e) {
      volumes.moved(l.vdisk());
      return null; // the owner's path retries, and answers JUKEBOX while the vDisk moves
    } catch (IOException e) {
      throw new NfsException(Status.IO, "vDisk " + l.vdisk() + ": " + e.getMessage());
    }
    dst.position(dst.position() + len);
    return new Read(len, l.attr());
  }

  /**
   * A direct write of whole blocks inside a vDisk-backed file's logical size; null when it must go
   * to the owner (nothing written then).
   */
  private Written writeDirect(Target t, long fileId, long offset, ByteBuffer data, Durability durability)
      throws NfsException {
    int len = data.remaining();
    if (offset < 0 || len == 0) {
      return null;
    }
    Layout l = layoutOf(t, fileId, false);
    if (l == null || offset + len > l.sizeBytes()) {
      return null;
    }
    Optional<BlockVolume> v = volumeOf(l);
    if (v.isEmpty()) {
      return null;
    }
    BlockVolume vol = v.get();
    int bs = vol.blockSize();
    if (offset % bs != 0 || len % bs != 0 || offset + len > vol.sizeBytes()) {
      return null;
    }
    int at = data.position();
    try {
      vol.write(offset, data, durability);
    } catch (NotOwnerException e) {
      data.position(at); // nothing was written: the owner's path tries again
      volumes.moved(l.vdisk());
      return null;
    } catch (PeerUnavailableException e) {
      volumes.moved(l.vdisk());
      lost(l, e);
      throw new NfsException(Status.JUKEBOX, "vDisk " + l.vdisk() + ": " + e.getMessage());
    } catch (IOException e) {
      throw new NfsException(Status.IO, "vDisk " + l.vdisk() + ": " + e.getMessage());
    }
    touch(t, fileId);
    return new Written(len, durability == Durability.DURABLE, l.attr(), Settle.NONE);
  }

  /** A write the owner did may have grown a vDisk-backed file: its layout here takes the size after it. */
  private Written sized(long fileId, Written w) {
    Cached c = layouts.get(fileId);
    if (c != null && c.layout() != NO_LAYOUT && w.after() != null) {
      layouts.put(fileId, new Cached(new Layout(c.layout().vdisk(), w.after().size(), w.after()), c.fetchedNanos()));
    }
    return w;
  }

  /** UNSTABLE writes this node wrote directly to the vDisk may be lost: a new write verifier. */
  private void lost(Layout l, IOException e) {
    long n = directLost.incrementAndGet();
    log.warn("vPool {}: vDisk {} of a file written directly: {}; new write verifier ({}): clients resend"
        + " uncommitted writes", vpool, l.vdisk(), e.getMessage(), n);
  }

  /** Tells the owner the file was written (its mtime), at most once a second per file. */
  private void touch(Target t, long fileId) {
    long now = System.nanoTime();
    Long last = touched.get(fileId);
    if (last != null && now - last < LAYOUT_TTL_NANOS) {
      return;
    }
    touched.put(fileId, now);
    if (touched.size() > LAYOUTS_MAX) {
      touched.clear();
    }
    try {
      t.ns().setattr(fileId, new SetAttr(null, null, null, null, SetAttr.DONT_CHANGE, SetAttr.SERVER_TIME));
    } catch (NfsException | RuntimeException e) {
      log.debug("vPool {}: file {}: its modification time could not be updated at the owner: {}", vpool, fileId,
          e.toString());
    }
  }

  /** Flushes a vDisk-backed file's vDisk here (direct writes); false when there is nothing to flush here. */
  private void flushDirect(Target t, long fileId) throws NfsException {
    Layout l = layoutOf(t, fileId, false);
    if (l == null) {
      return;
    }
    Optional<BlockVolume> v = volumeOf(l);
    if (v.isEmpty()) {
      return;
    }
    try {
      v.get().flush();
    } catch (WritesLostException e) {
      lost(l, e); // the flush went through; the COMMIT answers with the new verifier
    } catch (NotOwnerException | PeerUnavailableException e) {
      volumes.moved(l.vdisk());
      lost(l, e);
      throw new NfsException(Status.JUKEBOX, "vDisk " + l.vdisk() + ": " + e.getMessage());
    } catch (IOException e) {
      throw new NfsException(Status.IO, "vDisk " + l.vdisk() + ": " + e.getMessage());
    }
  }

  @Override
  public Read read(long fileId, long offset, ByteBuffer dst) throws NfsException {
    Target t = target();
    Read direct = readDirect(t, fileId, offset, dst);
    if (direct != null) {
      return direct;
    }
    int at = dst.position();
    return call(ns -> {
      dst.position(at);
      return ns.read(fileId, offset, dst);
    });
  }

  @Override
  public Written write(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    return write(fileId, offset, data, durability, false);
  }

  @Override
  public Written writeDeferred(long fileId, long offset, ByteBuffer data, Durability durability)
      throws NfsException {
    return write(fileId, offset, data, durability, true);
  }

  /** Straight to a vDisk file's vDisk where it may, otherwise at the owner ({@code deferred}: its writeDeferred). */
  private Written write(long fileId, long offset, ByteBuffer data, Durability durability, boolean deferred)
      throws NfsException {
    Written direct = writeDirect(target(), fileId, offset, data, durability);
    if (direct != null) {
      return direct;
    }
    int at = data.position();
    return sized(fileId, call(ns -> {
      data.position(at);
      return deferred ? ns.writeDeferred(fileId, offset, data, durability) : ns.write(fileId, offset, data, durability);
    }));
  }

  @Override
  public Written writeAtOnce(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    Namespace l = local;
    return l == null ? null : l.writeAtOnce(fileId, offset, data, durability);
  }

  @Override
  public void commit(long fileId) throws NfsException {
    flushDirect(target(), fileId);
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
