package org.vsa.appliance.cluster;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.PeerClients;
import org.vsa.volume.remote.PeerUnavailableException;
import org.vsa.volume.remote.RemoteVolume;

/**
 * The NFS gateway's catalog on a node of a cluster: every vDisk of the cluster appears in every
 * node's vPool namespace, and a file's I/O goes to whichever node serves its vDisk now.
 *
 * <ul>
 *   <li>{@link #get}: owned by this node, the local catalog's volume (the engine's handle, as on a
 *       single node); owned by another live node, a volume forwarding to that node's
 *       {@code RemoteVolumeServer} (endpoint {@link ClusterDirectory#VOLUME}); owned by nobody now
 *       (a takeover is under way) or by a node whose endpoint is unknown, a volume whose I/O throws
 *       {@link PeerUnavailableException}, which the NFS server answers with NFS3ERR_JUKEBOX (retry
 *       later) after changing its write verifier. {@code get} asks only memory: the directory and
 *       this catalog's maps; a forwarded volume opens its vDisk at the owner on its first I/O.
 *   <li>When a vDisk's server changed since this catalog last handed out a volume for it (this node
 *       to another, one node to another), the first volume handed out after the change throws
 *       {@link NotOwnerException} from its I/O: the NFS server then changes its write verifier
 *       (UNSTABLE writes the previous server acknowledged may be gone: clients send them again),
 *       calls {@link #moved} and asks again. Without it a move that this node did not witness
 *       through a failed request would keep the verifier, and a client's COMMIT at the new owner
 *       would bless writes it never received.
 *   <li>{@link #list}: every vDisk of the cluster, and this node's local ones (offline ones too),
 *       so that the NFS namespace never drops the file of a vDisk that exists.
 * </ul>
 *
 * <p>Creation goes through the {@link Creator} (the control plane): a vDisk name is unique in the
 * cluster, and a new vDisk is owned through the arbiter. Resize and growth of a vDisk another node
 * serves are forwarded to it (the forwarding protocol resizes); deletion of one is refused with an
 * {@link IOException} naming the node that serves it.
 */
public final class ClusterVolumeCatalog implements VolumeCatalog {
  private static final Logger log = LoggerFactory.getLogger(ClusterVolumeCatalog.class);
  /** Block size assumed for a forwarded vDisk not opened yet: aligning to it is valid for 512 and 4096. */
  static final int UNKNOWN_BLOCK_SIZE = 4096;

  /**
   * Creates a vDisk in the cluster (the control plane: a cluster-unique name, ownership through
   * the arbiter), e.g. {@code ClusterController.create} then {@code awaitOwner}.
   */
  @FunctionalInterface
  public interface Creator {
    /**
     * {@link IllegalStateException} if the name is taken anywhere in the cluster. Returns once the
     * vDisk is in the directory's {@link ClusterDirectory#vdisks}, best once a node serves it: until
     * then its I/O here is answered "retry later".
     */
    void create(String name, String vpool, long sizeBytes) throws IOException;
  }

  private final VolumeCatalog local;
  private final ClusterDirectory directory;
  private final Creator creator;
  /** Deletes a vDisk in the whole cluster; null: only a vDisk served here is deleted, by the engine. */
  private final Deleter deleter;

  /** How a vDisk is deleted in the cluster (from any node), e.g. {@code ClusterController.delete}. */
  @FunctionalInterface
  public interface Deleter {
    /** Returns once the deletion is done or under way for good; throws if it is refused. */
    void delete(String name) throws IOException;
  }
  private final PeerClients clients;
  /** The iSCSI sessions on this node that use a vDisk (none: not in use here). */
  private volatile java.util.function.Function<String, List<String>> sessionsHere = v -> List.of();
  /** The vDisks opened at a peer, by name: read by the accessors of forwarded volumes (no round trip). */
  private final Map<String, RemoteVolume> opened = new ConcurrentHashMap<>();
  /**
   * Where each vDisk's last volume was handed out for: this node's name for a local one, node and
   * forward address for a forwarded one (a node that came back on another address is a move too).
   */
  private final Map<String, String> servedBy = new ConcurrentHashMap<>();

  /**
   * @param local this node's vDisks (the engine's catalog)
   * @param clients connections to the other nodes' forward servers; closed by the caller after the
   *     NFS server that uses this catalog
   */
  public ClusterVolumeCatalog(VolumeCatalog local, ClusterDirectory directory, Creator creator, PeerClients clients) {
    this(local, directory, creator, null, clients);
  }

  public ClusterVolumeCatalog(VolumeCatalog local, ClusterDirectory directory, Creator creator, Deleter deleter,
      PeerClients clients) {
    this.deleter = deleter;
    this.local = local;
    this.directory = directory;
    this.creator = creator;
    this.clients = clients;
  }

  /** Who serves a vDisk now, as far as this node can tell without asking anyone. */
  private sealed interface Route {}

  private record Here() implements Route {}

  private record There(String node, InetSocketAddress address) implements Route {
    String where() {
      return node + " (" + address + ")";
    }
  }

  private record Nowhere(String why) implements Route {}

  private Route route(String name) {
    Optional<String> owner = directory.owner(name);
    if (owner.isEmpty()) {
      // not known to the cluster (yet): a vDisk this node just created, or a node-local one
      return directory.vdisks().containsKey(name) ? new Nowhere("vDisk " + name + " has no owner right now (a"
          + " takeover is under way, or it waits for the operator): retry later") : new Here();
    }
    String node = owner.get();
    if (node.equals(directory.self())) {
      return new Here();
    }
    Optional<InetSocketAddress> at = directory.endpoint(node, ClusterDirectory.VOLUME);
    if (at.isEmpty()) {
      return new Nowhere("vDisk " + name + " is served by node " + node + ", which publishes no forward endpoint"
          + " now (down or leaving): retry later");
    }
    return new There(node, at.get());
  }

  @Override
  public Optional<BlockVolume> get(String name) {
    Route r = route(name);
    if (r instanceof Here) {
      Optional<BlockVolume> v = local.get(name);
      if (v.isEmpty()) {
        ClusterDirectory.VdiskInfo info = directory.vdisks().get(name);
        return info == null ? Optional.empty() : Optional.of(new Refusing(name, info.sizeBytes(), info.id(),
            () -> new PeerUnavailableException("vDisk " + name + " is being taken over by this node: retry later")));
      }
      return Optional.of(handOut(name, directory.self(), v.get()));
    }
    ClusterDirectory.VdiskInfo info = directory.vdisks().get(name);
    if (r instanceof Nowhere n) {
      long size = info != null ? info.sizeBytes() : 0;
      UUID id = info != null ? info.id() : new UUID(0, 0);
      return Optional.of(new Refusing(name, size, id, () -> new PeerUnavailableException(n.why())));
    }
    There t = (There) r;
    Forwarded f = new Forwarded(name, t.node(), t.address(), info);
    return Optional.of(handOut(name, t.where(), f));
  }

  /**
   * {@code v} if the vDisk's last volume came from the same node (or none was handed out yet);
   * otherwise a volume whose I/O says that the vDisk moved, once per move (see the class comment).
   */
  private BlockVolume handOut(String name, String node, BlockVolume v) {
    String before = servedBy.putIfAbsent(name, node);
    if (before == null || before.equals(node)) {
      return v;
    }
    return new Refusing(name, v.sizeBytes(), v.id(), () -> new NotOwnerException(name, "vDisk " + name
        + " moved from node " + before + " to node " + node));
  }

  @Override
  public void moved(String name) {
    servedBy.remove(name);
    opened.remove(name);
    clients.forget(name);
    local.moved(name);
  }

  @Override
  public List<Entry> list() {
    Map<String, Entry> all = new LinkedHashMap<>();
    for (ClusterDirectory.VdiskInfo d : directory.vdisks().values()) {
      all.put(d.name(), new Entry(d.name(), d.vpool()));
    }
    for (Entry e : local.list()) {
      all.putIfAbsent(e.name(), e);
    }
    return new ArrayList<>(all.values());
  }

  @Override
  public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
    if (directory.vdisks().containsKey(name) || local.get(name).isPresent()) {
      throw new IllegalStateException("vDisk " + name + " exists in the cluster");
    }
    creator.create(name, vpool, sizeBytes);
    servedBy.remove(name); // a vDisk of that name that was deleted and made again is a new one
    return get(name).orElseThrow(() -> new IOException("vDisk " + name + " was created but the cluster does not list"
        + " it"));
  }

  @Override
  public BlockVolume resize(String name, long sizeBytes) throws IOException {
    Route r = route(name);
    if (r instanceof Here) {
      return local.resize(name, sizeBytes);
    }
    if (r instanceof Nowhere n) {
      throw new PeerUnavailableException(n.why());
    }
    There t = (There) r;
    Forwarded f = new Forwarded(name, t.node(), t.address(), directory.vdisks().get(name));
    f.remote().resize(sizeBytes, false);
    return handOut(name, t.where(), f);
  }

  @Override
  public BlockVolume grow(String name, long sizeBytes) throws IOException {
    Route r = route(name);
    if (r instanceof Here) {
      return local.grow(name, sizeBytes);
    }
    if (r instanceof Nowhere n) {
      throw new PeerUnavailableException(n.why());
    }
    There t = (There) r;
    Forwarded f = new Forwarded(name, t.node(), t.address(), directory.vdisks().get(name));
    f.remote().resize(sizeBytes, true);
    return handOut(name, t.where(), f);
  }

  /** What tells whether a vDisk served here is in use: the iSCSI sessions on this node that use it. */
  public void inUseBy(java.util.function.Function<String, List<String>> sessionsOf) {
    this.sessionsHere = sessionsOf;
  }

  /**
   * {@inheritDoc} Asked of the node that serves the vDisk: here, its iSCSI sessions; another node,
   * over its forward server (INFO); nobody now (a takeover), {@link PeerUnavailableException}.
   */
  @Override
  public Optional<String> inUse(String name) throws IOException {
    Route r = route(name);
    if (r instanceof Nowhere n) {
      throw new PeerUnavailableException(n.why());
    }
    if (r instanceof Here) {
      List<String> s = sessionsHere.apply(name);
      return s.isEmpty() ? Optional.empty() : Optional.of("vDisk " + name + " is in use: iSCSI initiators are logged"
          + " in to it on node " + directory.self() + " (" + String.join(", ", s) + "); log them out first");
    }
    There t = (There) r;
    boolean used = new Forwarded(name, t.node(), t.address(), directory.vdisks().get(name)).remote().inUse();
    return used ? Optional.of("vDisk " + name + " is in use: iSCSI initiators are logged in to it on node " + t.node()
        + ", which serves it; log them out first") : Optional.empty();
  }

  @Override
  public void delete(String name) throws IOException {
    if (deleter != null) {
      deleter.delete(name); // the cluster's deletion: the node holding it deletes it under its lease
      servedBy.remove(name);
      return;
    }
    Route r = route(name);
    if (r instanceof There t) {
      throw new IOException("vDisk " + name + " is served by node " + t.node() + ": delete it there");
    }
    if (r instanceof Nowhere n) {
      throw new IOException("vDisk " + name + " cannot be deleted now: " + n.why());
    }
    local.delete(name);
    servedBy.remove(name);
  }

  /**
   * A vDisk served by another node: every I/O goes to its forward server through the vDisk's
   * {@link RemoteVolume} (opened at the first I/O, then kept until {@link #moved}); the accessors
   * answer what the owner last reported, or what the cluster's record says before the first I/O.
   */
  private final class Forwarded implements BlockVolume {
    private final String name;
    private final String node;
    private final InetSocketAddress address;
    private final ClusterDirectory.VdiskInfo info;

    Forwarded(String name, String node, InetSocketAddress address, ClusterDirectory.VdiskInfo info) {
      this.name = name;
      this.node = node;
      this.address = address;
      this.info = info;
    }

    RemoteVolume remote() throws IOException {
      RemoteVolume v = clients.volume(name, address);
      opened.put(name, v);
      return v;
    }

    private RemoteVolume peek() {
      RemoteVolume v = opened.get(name);
      return v != null && v.peer().peer().equals(address) ? v : null;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public UUID id() {
      RemoteVolume v = peek();
      return v != null ? v.id() : info != null ? info.id() : new UUID(0, 0);
    }

    @Override
    public long sizeBytes() {
      RemoteVolume v = peek();
      return v != null ? v.sizeBytes() : info != null ? info.sizeBytes() : 0;
    }

    @Override
    public int blockSize() {
      RemoteVolume v = peek();
      return v != null ? v.blockSize() : UNKNOWN_BLOCK_SIZE;
    }

    @Override
    public boolean ready() {
      RemoteVolume v = peek();
      return v == null || v.ready();
    }

    @Override
    public boolean readOnly() {
      RemoteVolume v = peek();
      return v != null && v.readOnly();
    }

    @Override
    public long contentStamp() {
      return 0; // another node's writes are not seen here: never read ahead
    }

    @Override
    public boolean writesAtOnce(long bytes) {
      return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      remote().read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
      remote().write(offset, src, durability);
    }

    @Override
    public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
      return remote().writeDeferred(offset, src, durability);
    }

    @Override
    public void flush() throws IOException {
      remote().flush();
    }

    @Override
    public void unmap(long offset, long length) throws IOException {
      remote().unmap(offset, length);
    }

    @Override
    public String toString() {
      return "vDisk " + name + " at node " + node + " (" + address + ")";
    }
  }

  /** A vDisk that cannot be reached through this volume: its I/O throws what {@code why} makes. */
  private static final class Refusing implements BlockVolume {
    interface Why {
      IOException make();
    }

    private final String name;
    private final long sizeBytes;
    private final UUID id;
    private final Why why;

    Refusing(String name, long sizeBytes, UUID id, Why why) {
      this.name = name;
      this.sizeBytes = sizeBytes;
      this.id = id;
      this.why = why;
    }

    private IOException refuse() {
      IOException e = why.make();
      log.debug("{}", e.getMessage());
      return e;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public UUID id() {
      return id;
    }

    @Override
    public long sizeBytes() {
      return sizeBytes;
    }

    @Override
    public int blockSize() {
      return UNKNOWN_BLOCK_SIZE;
    }

    @Override
    public boolean ready() {
      return false;
    }

    @Override
    public long contentStamp() {
      return 0;
    }

    @Override
    public boolean writesAtOnce(long bytes) {
      return false;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      throw refuse();
    }

    @Override
    public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
      throw refuse();
    }

    @Override
    public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
      throw refuse();
    }

    @Override
    public void flush() throws IOException {
      throw refuse();
    }

    @Override
    public void unmap(long offset, long length) throws IOException {
      throw refuse();
    }

    @Override
    public String toString() {
      return "vDisk " + name + " (unreachable now)";
    }
  }
}
