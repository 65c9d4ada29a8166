package org.vsa.appliance.cluster;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import org.vsa.nfs.Namespace;
import org.vsa.nfs.NfsServer;
import org.vsa.nfs.remote.NamespaceServer;
import org.vsa.nfs.remote.RemoteNamespace;

/**
 * The vPools' NFS namespaces of this node in a cluster: what the NFS server exports (a
 * {@link ClusterNamespace} per vPool, following the namespace's owner), what the namespace forward
 * server answers for (the namespaces this node serves), and what the {@link ClusterController}
 * opens and closes as this node wins and loses them.
 *
 * <p>Each vPool's namespace id is a record in the backend, {@code cluster/nsid.<vpool>}, created
 * once (create-if-absent) by the first node to export the vPool. Format, version 1: magic
 * {@code VNSI} (4), version (1), namespace id (8), CRC32C of the first 13 bytes (4).
 */
public final class ClusterNamespaces implements NfsServer.Opener, NamespaceServer.Exports,
    ClusterController.NamespaceHost {
  private static final Logger log = LoggerFactory.getLogger(ClusterNamespaces.class);
  static final int ID_MAGIC = 0x564E5349; // VNSI
  static final int ID_VERSION = 1;
  static final int ID_BYTES = 17;

  /** Opens this node's own copy of a vPool's namespace when it wins it. */
  @FunctionalInterface
  public interface LocalOpener {
    /**
     * The vPool's namespace, restored from the backend, under {@code namespaceId} when it is new;
     * acknowledging only while {@code holdsLease} says yes.
     */
    Namespace open(String vpool, long epoch, BooleanSupplier holdsLease, long namespaceId) throws IOException;
  }

  private final ClusterController controller;
  private final ObjectStore backend;
  private final LocalOpener opener;
  private final RemoteNamespace.Config remoteConfig;
  /** The cluster's vDisks, for reading and writing vDisk-backed files without a detour. */
  private final org.vsa.nfs.VolumeCatalog volumes;
  private final Map<String, ClusterNamespace> exported = new ConcurrentHashMap<>();
  private final Map<String, Namespace> served = new ConcurrentHashMap<>();

  public ClusterNamespaces(ClusterController controller, ObjectStore backend, LocalOpener opener,
      RemoteNamespace.Config remoteConfig, org.vsa.nfs.VolumeCatalog volumes) {
    this.volumes = volumes;
    this.controller = controller;
    this.backend = backend;
    this.opener = opener;
    this.remoteConfig = remoteConfig;
  }

  // ---------------------------------------------------------------- NfsServer.Opener

  @Override
  public Namespace open(String vpool) throws IOException {
    ClusterNamespace ns = new ClusterNamespace(vpool, namespaceId(vpool), controller.self(),
        () -> controller.namespaceOwner(vpool), node -> controller.endpoint(node, NAMESPACE_ENDPOINT), remoteConfig,
        volumes);
    ClusterNamespace before;
    synchronized (this) {
      before = exported.put(vpool, ns);
      Namespace mine = served.get(vpool);
      if (mine != null) {
        ns.setLocal(mine);
      }
    }
    if (before != null) {
      before.close();
    }
    return ns;
  }

  /** The member attribute kind of the namespace forward server's endpoint. */
  public static final String NAMESPACE_ENDPOINT = "namespace";

  /** The cluster's id of the vPool's namespace: created here if no node did yet. */
  long namespaceId(String vpool) throws IOException {
    String name = "nsid." + vpool;
    backend.createNamespace(ClusterController.NAMESPACE);
    for (int attempt = 0; attempt < 3; attempt++) {
      try {
        return decodeId(backend.get(ClusterController.NAMESPACE, name), name);
      } catch (NoSuchObjectException e) {
        long id = new SecureRandom().nextLong() & Long.MAX_VALUE;
        if (backend.putIfAbsent(ClusterController.NAMESPACE, name, encodeId(id))) {
          log.info("vPool {}: its NFS namespace has id {} in this cluster", vpool, Long.toHexString(id));
          return id;
        }
      }
    }
    throw new IOException("vPool " + vpool + ": its namespace id record " + name + " can neither be read nor created");
  }

  static byte[] encodeId(long id) {
    ByteBuffer b = ByteBuffer.allocate(ID_BYTES);
    b.putInt(ID_MAGIC).put((byte) ID_VERSION).putLong(id);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 13);
    b.putInt((int) crc.getValue());
    return b.array();
  }

  static long decodeId(byte[] bytes, String what) throws IOException {
    if (bytes.length != ID_BYTES) {
      throw new IOException("namespace id record " + what + ": " + bytes.length + " bytes, not " + ID_BYTES);
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, 13);
    if (b.getInt() != ID_MAGIC || b.get() != ID_VERSION) {
      throw new IOException("namespace id record " + what + ": not a version " + ID_VERSION + " namespace id record");
    }
    long id = b.getLong();
    if (b.getInt() != (int) crc.getValue()) {
      throw new IOException("namespace id record " + what + ": checksum mismatch");
    }
    return id;
  }

  // ---------------------------------------------------------------- NamespaceServer.Exports

  @Override
  public Optional<Namespace> lookup(String vpool) {
    return Optional.ofNullable(served.get(vpool));
  }

  // ---------------------------------------------------------------- ClusterController.NamespaceHost

  /**
   * {@inheritDoc} The restore runs unlocked (it may take long, and a {@link #close} meanwhile must
   * not wait for it); serving it is checked against the lease under the lock {@link #close} takes.
   */
  @Override
  public void open(String vpool, long epoch, BooleanSupplier holdsLease) throws IOException {
    Namespace ns = opener.open(vpool, epoch, holdsLease, namespaceId(vpool));
    synchronized (this) {
      if (!holdsLease.getAsBoolean()) {
        closeQuietly(vpool, ns);
        throw new IOException("vPool " + vpool + ": the lease of its namespace at epoch " + epoch
            + " was lost (or let go) while it was restored; not served");
      }
      served.put(vpool, ns);
      ClusterNamespace x = exported.get(vpool);
      if (x != null) {
        try {
          x.setLocal(ns);
        } catch (IllegalStateException e) {
          served.remove(vpool, ns);
          closeQuietly(vpool, ns);
          throw new IOException(e.getMessage(), e);
        }
      }
    }
  }

  @Override
  public void close(String vpool) {
    Namespace ns;
    synchronized (this) {
      ns = served.remove(vpool);
      if (ns == null) {
        return;
      }
      ClusterNamespace x = exported.get(vpool);
      if (x != null) {
        x.setLocal(null);
      }
    }
    closeQuietly(vpool, ns);
  }

  private static void closeQuietly(String vpool, Namespace ns) {
    try {
      ns.close();
    } catch (IOException | RuntimeException e) {
      log.warn("vPool {}: closing this node's copy of its namespace failed: {}", vpool, e.toString());
    }
  }

  @Override
  public boolean serves(String vpool) {
    return served.containsKey(vpool);
  }

  /** Closes every namespace this node serves (at stop, after the controller let them go). */
  public void closeAll() {
    for (String vpool : java.util.List.copyOf(served.keySet())) {
      close(vpool);
    }
  }
}
