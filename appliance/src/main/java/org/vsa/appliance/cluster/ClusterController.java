package org.vsa.appliance.cluster;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.cluster.ownership.OwnershipActions;
import org.vsa.appliance.cluster.ownership.OwnershipService;
import org.vsa.appliance.cluster.ownership.Timing;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.backends.ObjectStore;
import org.vsa.dtl.DtlState;
import org.vsa.volume.Adoption;
import org.vsa.volume.Engine;
import org.vsa.volume.OwnershipLease;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSettings;
import org.vsa.volume.VolumeSpec;

/**
 * This node's part in owning the cluster's vDisks: runs the {@link OwnershipService} on the shared
 * backend and carries out what it decides in the engine, and answers the front ends'
 * {@link ClusterDirectory} questions.
 *
 * <p>Life cycle, in the appliance's start order: construct it (before the engine: the DTL client
 * asks {@link #dtlPeerOf} and the engine {@link #leaseFor}); start the engine with
 * {@link #leaseFor}, so that no vDisk found on local flash opens before this node holds it;
 * {@link #attach} the engine; start the front ends and the membership; {@link #start}.
 *
 * <p>What it does with each decision of the ownership machine:
 * <ul>
 *   <li>Adopt: waits until a heartbeat naming the vDisk is stored (the machine's rule before any
 *       acknowledgement), then, when this node's own process held the epoch before and its local
 *       copy is here, reopens that copy under the new epoch (nothing is fetched: it is the newest
 *       state there is); otherwise {@link Engine#adopt} restores it from the backend plus the
 *       previous owner's DTL, fenced by the new epoch. A refused or failed adoption is retried every
 *       few seconds (its DTL may come back) and shown in {@link #status}.
 *   <li>Release (another node claimed a newer epoch): the front ends let go of it, then the engine
 *       fences it and drops the local copy.
 *   <li>DTL placement: kept here and given to the DTL client (by {@link #dtlPeerOf}) and the engine.
 *   <li>Delete (this node holds a vDisk being deleted): see {@link #delete(String, Duration)}.
 * </ul>
 *
 * <p>The write path's gate is the {@link OwnershipLease} each vDisk is opened with: held while
 * the service may acknowledge for that vDisk at that epoch, and, when the vDisk's DTL left OK_SYNC,
 * only once a heartbeat saying so is stored (a takeover would otherwise count on a DTL that lacks
 * the write).
 */
public final class ClusterController implements ClusterDirectory, OwnershipActions, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterController.class);
  /** The backend namespace of the cluster's records (members, heartbeats, claims, names). */
  public static final String NAMESPACE = "cluster";
  private static final long RESCAN_MILLIS = 2000;
  private static final long RETRY_MILLIS = 3000;

  private final ApplianceConfig.Cluster config;
  private final String self;
  private final ObjectStore backend;
  private final OwnershipService service;
  private final ScheduledExecutorService control;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> leavingHooks = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> joiningHooks = new CopyOnWriteArrayList<>();
  private volatile Engine engine;
  private volatile ClusterMembership membership;
  private volatile Map<String, VdiskInfo> vdisks = Map.of();
  /** vDisk -> the request of its deletion, for the vDisks being deleted now (not in {@link #vdisks}). */
  private volatile Map<String, DeletionRecords.Deletion> deletingNow = Map.of();
  /** vDisk -> the generation of its name now (1 when no record says otherwise). */
  private volatile Map<String, Long> generations = Map.of();
  /** Ids of vDisks deleted or being deleted: a copy of one of them is dropped, never served. */
  private volatile Set<java.util.UUID> deadIds = Set.of();
  /** Names with a deletion done in some generation. */
  private volatile Set<String> deletedNames = Set.of();
  /** Every vDisk record in the backend, deleted ones included (clone lineage, dedupe). */
  private volatile List<Engine.BackendVdisk> backendRecords = List.of();
  /** Deletion records read so far, by object name (they never change). */
  private final Map<String, DeletionRecords.Deletion> deletionRecords = new ConcurrentHashMap<>();
  /** vDisk -> the node its DTL goes to (the machine's placement). */
  private final Map<String, String> dtlNodes = new ConcurrentHashMap<>();
  /** vDisk -> the lease it is served under here. */
  private final Map<String, ServiceLease> leases = new ConcurrentHashMap<>();
  /** vDisks being created here (served under no lease until handed to the cluster). */
  private final Set<String> creating = ConcurrentHashMap.newKeySet();
  /** vDisk -> an adoption that failed, to retry, and why. */
  private final Map<String, PendingAdoption> failedAdoptions = new ConcurrentHashMap<>();
  /** vDisk -> the DTL peer last given to the engine. */
  private final Map<String, InetSocketAddress> appliedPeers = new ConcurrentHashMap<>();
  /** vDisk -> the DTL state last reported to the service, with the DTL node and epoch it is about. */
  private final Map<String, DtlReport> reported = new ConcurrentHashMap<>();
  /** The nodes with a DTL endpoint, as last told to the service. */
  private volatile Set<String> pushedDtlNodes;

  private record DtlReport(DtlState state, String dtlNode, long epoch) {}
  /** The vPools whose NFS namespace this node may own (those it exports). */
  private volatile Set<String> namespaces = Set.of();
  private volatile NamespaceHost namespaceHost;
  /** vPool -> the lease its namespace is served under here (or restored under, until it is served). */
  private final Map<String, NamespaceLease> namespaceLeases = new ConcurrentHashMap<>();
  /**
   * vPool -> the thread its namespace's adoptions run on: a restore takes as long as the namespace
   * has small files, and the vDisk adoptions on the service's action thread must not wait for it.
   */
  private final Map<String, java.util.concurrent.ExecutorService> namespaceAdopters = new ConcurrentHashMap<>();
  private volatile boolean closed;
  /** The service runs (before, the vDisk list is only kept: the machine must not act before its ticks). */
  private volatile boolean started;

  private record PendingAdoption(String vdisk, long epoch, String oldOwner, String oldDtlNode, boolean forced,
      String reason) {}

  public ClusterController(ApplianceConfig.Cluster config, String nodeName, ObjectStore backend) {
    this.config = config;
    this.self = nodeName;
    this.backend = backend;
    this.service = new OwnershipService(backend, NAMESPACE, nodeName, config.faultDomain(),
        Timing.of(Duration.ofMillis(config.heartbeatMillis()), Duration.ofMillis(config.leaseMillis()),
            Duration.ofMillis(config.leaseMarginMillis())), this);
    this.control = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "cluster-control-" + nodeName);
      t.setDaemon(true);
      return t;
    });
    service.onChange(this::changed);
  }

  // ---------------------------------------------------------------- start

  /**
   * The engine this node serves with (started with {@link #leaseFor}); reads the cluster's vDisks
   * from the backend, so that the front ends started next list every one of them.
   */
  public void attach(Engine engine) throws IOException {
    this.engine = engine;
    rescan();
  }

  /** Reads the cluster's vDisks and starts heartbeating and claiming. */
  public void start(ClusterMembership membership) throws IOException {
    this.membership = membership;
    membership.onChange(m -> {
      changed();
      onControl(this::placeDtls);
    });
    rescan();
    service.start();
    pushDtlNodes(); // before the vDisks: no DTL is placed on a node without an endpoint
    started = true;
    pushVdisks();
    control.scheduleWithFixedDelay(this::rescanLogged, RESCAN_MILLIS, RESCAN_MILLIS, TimeUnit.MILLISECONDS);
    control.scheduleWithFixedDelay(this::retryAdoptions, RETRY_MILLIS, RETRY_MILLIS, TimeUnit.MILLISECONDS);
    control.scheduleWithFixedDelay(this::reportDtlStates, 200, 200, TimeUnit.MILLISECONDS);
    control.scheduleWithFixedDelay(this::placeDtls, 500, 500, TimeUnit.MILLISECONDS);
    log.info("cluster {}: node {} takes part in owning the cluster's vDisks ({} found in the backend)", config.name(),
        self, vdisks.size());
  }

  /**
   * The lease the engine opens a vDisk under: the one this node was granted, none for a vDisk it
   * does not hold (it stays offline here), "always" while this node creates it.
   */
  public OwnershipLease leaseFor(String vdisk) {
    if (creating.contains(vdisk)) {
      return OwnershipLease.ALWAYS;
    }
    ServiceLease l = leases.get(vdisk);
    return l != null ? l : NOT_HELD;
  }

  /** The DTL node the cluster placed the vDisk's DTL on, at its DTL endpoint; empty: none. */
  public Optional<InetSocketAddress> dtlPeerOf(String vdisk) {
    String node = dtlNodes.get(vdisk);
    return node == null ? Optional.empty() : endpoint(node, DTL);
  }

  /**
   * The DTL client's state changes: reported at once (the lease gate holds acknowledgements until
   * stored), naming the DTL ({@code peer}, null: none) and epoch of the stream it is about, so that a
   * late change of a replaced stream does not count for the DTL the vDisk has now.
   */
  public void dtlStateChanged(String vdisk, InetSocketAddress peer, long epoch, DtlState to) {
    ServiceLease l = leases.get(vdisk);
    if (l != null) {
      DtlReport r = new DtlReport(to, dtlNodeAt(vdisk, peer), epoch > 0 ? epoch : l.epoch());
      reported.put(vdisk, r);
      service.reportDtlState(vdisk, r.epoch(), r.dtlNode(), to);
    }
  }

  /** The node whose DTL endpoint is {@code peer} (null for none; a name no node has when unknown). */
  private String dtlNodeAt(String vdisk, InetSocketAddress peer) {
    if (peer == null) {
      return null;
    }
    String placed = dtlNodes.get(vdisk);
    if (placed != null && endpoint(placed, DTL).filter(peer::equals).isPresent()) {
      return placed;
    }
    ClusterMembership m = membership;
    for (ClusterMembership.NodeInfo n : m == null ? List.<ClusterMembership.NodeInfo>of() : m.members()) {
      if (endpoint(n.name(), DTL).filter(peer::equals).isPresent()) {
        return n.name();
      }
    }
    return "unknown DTL at " + peer;
  }

  /** Tells the service which nodes publish a DTL endpoint (placement picks only those), when that changed. */
  private void pushDtlNodes() {
    ClusterMembership m = membership;
    if (m == null) {
      return;
    }
    Set<String> with = new java.util.TreeSet<>();
    for (ClusterMembership.NodeInfo n : m.members()) {
      if (endpoint(n.name(), DTL).isPresent()) {
        with.add(n.name());
      }
    }
    if (!with.equals(pushedDtlNodes)) {
      pushedDtlNodes = Set.copyOf(with);
      service.setDtlNodes(with);
    }
  }

  /**
   * What opens and closes a vPool's NFS namespace on this node when it wins or loses it (the
   * appliance's NFS side). {@link #open} runs on a thread of the vPool's own (one open at a time
   * per vPool), the other methods on any thread, {@link #close} possibly while an open restores.
   */
  public interface NamespaceHost {
    /**
     * Serves the vPool's namespace here from now on: restored from the backend (every change it
     * acknowledged is there), then acknowledging only while {@code holdsLease} says yes. Served
     * only if {@code holdsLease} still says yes once restored, checked atomically with
     * {@link #close}: a close that came first wins, and the restored copy is closed (IOException).
     */
    void open(String vpool, long epoch, java.util.function.BooleanSupplier holdsLease) throws IOException;

    /** Stops serving it here (another node took it, or this node stops); nothing when not served. */
    void close(String vpool);

    /** Whether it is served here now. */
    boolean serves(String vpool);
  }

  /**
   * The vPools whose namespace this node may own, and what opens them here; before {@link #start}.
   * Every node of a cluster should export the same vPools.
   */
  public void hostNamespaces(Set<String> vpools, NamespaceHost host) {
    this.namespaces = Set.copyOf(vpools);
    this.namespaceHost = host;
    if (started) {
      pushVdisks();
    }
  }

  /** The owned resource of a vPool's namespace. */
  public static String namespaceResource(String vpool) {
    return org.vsa.appliance.cluster.ownership.Records.NAMESPACE_PREFIX + vpool;
  }

  private static String vpoolOf(String resource) {
    return resource.substring(org.vsa.appliance.cluster.ownership.Records.NAMESPACE_PREFIX.length());
  }

  private static boolean isNamespace(String resource) {
    return org.vsa.appliance.cluster.ownership.OwnershipMachine.withoutDtl(resource);
  }

  /**
   * The node that serves the vPool's namespace now: this node only once it has opened it (while
   * it restores it the answer is empty, as for any takeover).
   */
  public Optional<String> namespaceOwner(String vpool) {
    String o = service.owners().get(namespaceResource(vpool));
    NamespaceHost h = namespaceHost;
    if (o != null && o.equals(self) && (h == null || !h.serves(vpool) || !namespaceLeases.containsKey(vpool))) {
      return Optional.empty();
    }
    return Optional.ofNullable(o);
  }

  /** Runs before a vDisk stops being served here (front ends remove its target, drop sessions). */
  public void onLeaving(Consumer<String> hook) {
    leavingHooks.add(hook);
  }

  /** Runs once a vDisk is served here (again): front ends that let go of it take it back. */
  public void onJoining(Consumer<String> hook) {
    joiningHooks.add(hook);
  }

  // ---------------------------------------------------------------- ClusterDirectory

  @Override
  public String self() {
    return self;
  }

  @Override
  public Map<String, VdiskInfo> vdisks() {
    return vdisks;
  }

  /**
   * {@inheritDoc} This node is named only once its engine serves the vDisk (adopted or reopened
   * under its grant): while it restores the vDisk the answer is empty, as for any takeover.
   */
  @Override
  public Optional<String> owner(String vdisk) {
    String o = service.owners().get(vdisk);
    if (o != null && o.equals(self) && !engineServes(vdisk)) {
      return Optional.empty();
    }
    return Optional.ofNullable(o);
  }

  @Override
  public Optional<InetSocketAddress> endpoint(String node, String kind) {
    ClusterMembership m = membership;
    if (m == null || node == null) {
      return Optional.empty();
    }
    for (ClusterMembership.NodeInfo n : m.members()) {
      if (node.equals(n.name())) {
        String hp = n.attributes().get("vsa.endpoint." + kind);
        if (hp == null) {
          return Optional.empty();
        }
        try {
          return Optional.of(ApplianceConfig.address(hp));
        } catch (RuntimeException e) {
          log.warn("node {} publishes an unreadable {} endpoint '{}'", node, kind, hp);
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }

  @Override
  public void onChange(Runnable r) {
    listeners.add(r);
  }

  /** Runs {@code r} on the control thread; nothing once closed. */
  private void onControl(Runnable r) {
    try {
      control.execute(r);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      if (!closed) {
        throw e;
      }
    }
  }

  private void changed() {
    for (Runnable r : listeners) {
      try {
        r.run();
      } catch (RuntimeException e) {
        log.warn("a cluster change listener failed", e);
      }
    }
  }

  // ---------------------------------------------------------------- what the operator sees and does

  /** One vDisk of the cluster as this node sees it. */
  public record VdiskStatus(String name, String owner, long epoch, String dtlNode, DtlState dtlPublished,
      String refused, String noDtl) {}

  /** Every vDisk of the cluster: its owner now (null: none), this node's epoch and DTL node where it serves it. */
  public List<VdiskStatus> status() {
    return status(new java.util.TreeSet<>(vdisks.keySet()));
  }

  /**
   * The vPools' NFS namespaces as this node sees them, named by their owned resource
   * ({@code _ns.<vpool>}): owner and epoch (no DTL: their changes are in the backend first).
   */
  public List<VdiskStatus> namespaceStatus() {
    java.util.SortedSet<String> names = new java.util.TreeSet<>();
    for (String vpool : namespaces) {
      names.add(namespaceResource(vpool));
    }
    return status(names);
  }

  private List<VdiskStatus> status(java.util.SortedSet<String> names) {
    Map<String, String> owners = service.owners();
    Map<String, String> refusals = service.refusals();
    List<VdiskStatus> out = new java.util.ArrayList<>();
    for (String name : names) {
      String owner = owners.get(name);
      long epoch = service.grant(name).map(OwnershipService.Grant::epoch).orElse(0L);
      PendingAdoption failed = failedAdoptions.get(name);
      String refused = refusals.get(name);
      if (refused == null && failed != null) {
        refused = failed.reason();
      }
      DtlState published = service.grant(name).map(OwnershipService.Grant::published).orElse(null);
      out.add(new VdiskStatus(name, owner, epoch, self.equals(owner) ? dtlNodes.get(name) : null,
          self.equals(owner) ? published : null, refused,
          self.equals(owner) && !isNamespace(name) ? service.noDtlReason(name).orElse(null) : null));
    }
    return out;
  }

  /**
   * The operator accepts losing the writes an out-of-sync DTL lacks: a refused takeover of the
   * vDisk goes ahead (on whichever node the machine picks), and an adoption this node failed to do
   * for that reason is retried with force.
   */
  public void force(String vdisk) {
    if (!vdisks.containsKey(vdisk)) {
      throw new IllegalArgumentException("no vDisk " + vdisk + " in this cluster");
    }
    log.warn("vDisk {}: the operator forces its takeover (writes its DTL lacks are accepted as lost)", vdisk);
    service.force(vdisk);
    PendingAdoption p = failedAdoptions.get(vdisk);
    if (p != null) {
      PendingAdoption forced = new PendingAdoption(p.vdisk(), p.epoch(), p.oldOwner(), p.oldDtlNode(), true,
          p.reason());
      failedAdoptions.put(vdisk, forced);
      onControl(this::retryAdoptions);
    }
  }

  /**
   * Creates a vDisk once in the cluster: its name is taken with a create-if-absent record in the
   * backend (false: the name exists, or another node creates it right now), the engine creates it
   * here and hands it over at once (its history all in the backend, a hand-over record), and the
   * cluster's ownership then places it on a node like any other vDisk.
   */
  public boolean create(VolumeSpec spec, VolumeSettings settings) throws IOException {
    Engine e = engine;
    String name = spec.name();
    rescan();
    if (vdisks.containsKey(name) || deletingNow.containsKey(name)) {
      return false;
    }
    byte[] who = (self + "\n").getBytes(StandardCharsets.UTF_8);
    backend.createNamespace(NAMESPACE);
    // the next generation of the name once the current one is deleted (see DeletionRecords)
    long generation = generations.getOrDefault(name, 1L);
    if (backend.exists(NAMESPACE, DeletionRecords.deletedRecord(name, generation))) {
      generation++;
    }
    String nameRecord = DeletionRecords.nameRecord(name, generation);
    if (!backend.putIfAbsent(NAMESPACE, nameRecord, who)) {
      log.info("vDisk {}: its name is taken in the cluster (created by another node, or being created)", name);
      return false;
    }
    creating.add(name);
    try {
      e.create(spec, settings);
      e.release(name, Duration.ofSeconds(60));
    } catch (IOException | RuntimeException ex) {
      try {
        if (e.contains(name)) {
          e.delete(name);
        }
        backend.delete(NAMESPACE, nameRecord);
      } catch (IOException | RuntimeException cleanup) {
        ex.addSuppressed(cleanup);
      }
      throw ex;
    } finally {
      creating.remove(name);
    }
    rescan();
    if (started) {
      pushVdisks();
    }
    log.info("vDisk {} created in cluster {}; a node will own it shortly", name, config.name());
    return true;
  }

  /** Waits (at most {@code timeout}) until some node serves the vDisk; that node's name. */
  public Optional<String> awaitOwner(String vdisk, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Optional<String> o = owner(vdisk);
      if (o.isPresent() && (!o.get().equals(self) || engineServes(vdisk))) {
        return o;
      }
      if (System.nanoTime() - deadline > 0) {
        return Optional.empty();
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(50));
    }
  }

  private boolean engineServes(String vdisk) {
    Engine e = engine;
    return e != null && e.volume(vdisk).isPresent() && leases.containsKey(vdisk);
  }

  /**
   * The vDisks the machine may claim (not one this node is creating: it hands it over once
   * created), those being deleted among them.
   */
  private void pushVdisks() {
    java.util.Set<String> names = new java.util.TreeSet<>(vdisks.keySet());
    names.addAll(deletingNow.keySet());
    names.removeAll(creating);
    for (String vpool : namespaces) {
      names.add(namespaceResource(vpool));
    }
    service.setVdisks(names, deletingNow.keySet());
  }

  // ---------------------------------------------------------------- the backend's vDisks

  private void rescanLogged() {
    try {
      rescan();
    } catch (IOException | RuntimeException e) {
      log.warn("cluster {}: the vDisks in the backend cannot be listed now: {}", config.name(), e.toString());
    }
    dropStaleCopies();
  }

  /**
   * Drops this node's copies of vDisks another node serves now (left by an earlier run of this
   * node): that node claimed a newer epoch and restored from the backend plus the DTL, so the copy
   * holds nothing the cluster needs, and while it is kept (offline) it holds back scrubbing.
   */
  private void dropStaleCopies() {
    Engine e = engine;
    if (e == null) {
      return;
    }
    for (Volume v : e.volumes()) {
      // a copy of a deleted vDisk (fenced when another node took it to delete it), not being created here
      if (deadIds.contains(v.id()) && !leases.containsKey(v.name()) && !creating.contains(v.name())) {
        try {
          log.info("vDisk {} (id {}) is deleted in the cluster; dropping this node's copy", v.name(), v.id());
          e.fence(v.name());
          e.forget(v.name());
        } catch (IOException | RuntimeException ex) {
          log.warn("vDisk {}: dropping this node's copy of the deleted vDisk failed: {}", v.name(), ex.toString());
        }
      }
    }
    for (org.vsa.volume.OfflineVdisk o : e.offlineVdisks()) {
      if (!vdisks.containsKey(o.name()) && (deletingNow.containsKey(o.name()) || deletedNames.contains(o.name()))
          && !leases.containsKey(o.name()) && !creating.contains(o.name())) {
        try {
          log.info("vDisk {} is deleted in the cluster; dropping this node's offline copy", o.name());
          e.forget(o.name());
        } catch (IOException | RuntimeException ex) {
          log.warn("vDisk {}: dropping this node's offline copy of the deleted vDisk failed: {}", o.name(),
              ex.toString());
        }
        continue;
      }
      Optional<String> owner = owner(o.name());
      if (owner.isPresent() && !owner.get().equals(self) && !leases.containsKey(o.name()) && e.waitsForLease(o.name())) {
        try {
          log.info("vDisk {}: node {} serves it now; dropping this node's old copy", o.name(), owner.get());
          e.forget(o.name());
        } catch (IOException | RuntimeException ex) {
          log.warn("vDisk {}: dropping this node's old copy failed: {}", o.name(), ex.toString());
        }
      }
    }
  }

  private synchronized void rescan() throws IOException {
    readDeletions();
    Map<String, VdiskInfo> found = new TreeMap<>();
    List<Engine.BackendVdisk> records = Engine.backendVdisks(backend);
    backendRecords = records;
    Set<java.util.UUID> dead = deadIds;
    for (Engine.BackendVdisk b : records) {
      if (dead.contains(b.id())) {
        continue; // deleted, or being deleted: no node lists it
      }
      VdiskInfo old = found.put(b.spec().name(),
          new VdiskInfo(b.spec().name(), b.id(), b.spec().vpool(), b.spec().sizeBytes()));
      if (old != null) {
        log.error("the backend holds two vDisks named {} (ids {} and {}); serving neither until one is removed",
            b.spec().name(), old.id(), b.id());
      }
    }
    Map<String, VdiskInfo> now = Map.copyOf(found);
    if (!now.equals(vdisks) || !deletingNow.keySet().equals(pushedDeleting)) {
      vdisks = now;
      pushedDeleting = Set.copyOf(deletingNow.keySet());
      if (started) {
        pushVdisks();
      }
      changed();
    }
  }

  /** The names being deleted as last pushed to the service. */
  private Set<String> pushedDeleting = Set.of();

  /**
   * Reads the name and deletion records of the cluster namespace: each name's generation, the
   * deletions under way (a request for the name's current generation, and no done record), and the
   * ids of every vDisk deleted or being deleted.
   */
  private void readDeletions() throws IOException {
    if (!backend.namespaceExists(NAMESPACE)) {
      return;
    }
    Map<String, Long> gens = new HashMap<>();
    for (String o : backend.list(NAMESPACE, "name")) {
      DeletionRecords.Named n = DeletionRecords.parseName(o);
      if (n != null) {
        gens.merge(n.vdisk(), n.generation(), Math::max);
      }
    }
    Map<String, Map<Long, DeletionRecords.Deletion>> requested = new HashMap<>();
    Set<java.util.UUID> dead = new java.util.HashSet<>();
    for (String o : backend.list(NAMESPACE, DeletionRecords.DELETING_PREFIX)) {
      DeletionRecords.Deletion d = deletionRecord(DeletionRecords.DELETING_PREFIX, o);
      if (d != null) {
        requested.computeIfAbsent(d.vdisk(), k -> new HashMap<>()).put(d.generation(), d);
        gens.merge(d.vdisk(), d.generation(), Math::max);
        dead.add(d.id());
      }
    }
    Map<String, Set<Long>> done = new HashMap<>();
    for (String o : backend.list(NAMESPACE, DeletionRecords.DELETED_PREFIX)) {
      DeletionRecords.Deletion d = deletionRecord(DeletionRecords.DELETED_PREFIX, o);
      if (d != null) {
        done.computeIfAbsent(d.vdisk(), k -> new java.util.HashSet<>()).add(d.generation());
        dead.add(d.id());
      }
    }
    Map<String, DeletionRecords.Deletion> under = new TreeMap<>();
    requested.forEach((v, byGen) -> {
      long g = gens.getOrDefault(v, 1L);
      DeletionRecords.Deletion d = byGen.get(g);
      if (d != null && !done.getOrDefault(v, Set.of()).contains(g)) {
        under.put(v, d);
      }
    });
    generations = Map.copyOf(gens);
    deletingNow = Map.copyOf(under);
    deadIds = Set.copyOf(dead);
    deletedNames = Set.copyOf(done.keySet());
  }

  /** The deletion record of that object (read once: they never change), or null if unreadable or misnamed. */
  private DeletionRecords.Deletion deletionRecord(String prefix, String object) throws IOException {
    DeletionRecords.Named n = DeletionRecords.parseSuffixed(prefix, object);
    if (n == null) {
      return null;
    }
    DeletionRecords.Deletion d = deletionRecords.get(object);
    if (d != null) {
      return d;
    }
    try {
      d = DeletionRecords.decode(backend.get(NAMESPACE, object), object);
    } catch (org.vsa.backends.NoSuchObjectException gone) {
      return null;
    } catch (IOException bad) {
      log.warn("cluster record {} is unreadable ({}); ignored", object, bad.getMessage());
      return null;
    }
    if (!d.vdisk().equals(n.vdisk()) || d.generation() != n.generation()) {
      log.warn("cluster record {} holds the deletion of generation {} of vDisk {}; ignored", object, d.generation(),
          d.vdisk());
      return null;
    }
    deletionRecords.put(object, d);
    return d;
  }

  // ---------------------------------------------------------------- deletion

  /** How a deletion request ended within the wait: done, or under way (it goes on by itself). */
  public enum DeleteOutcome { DONE, UNDER_WAY }

  /**
   * Deletes a vDisk of the cluster, from any node: waits (at most {@code wait}) until it is done.
   *
   * <p>The steps, each durable before the next, so that a node killed at any point leaves the vDisk
   * intact (before step 1) or being deleted until some node finishes it (after):
   * <ol>
   *   <li>Refused (409) for a vDisk with clones (they read its objects) or with dedupe on (its
   *       clusters may be shared through its node's dedupe index). Otherwise the request: the record
   *       {@code deleting.<vdisk>.<generation>} (create-if-absent; the vDisk's id in it). From here
   *       on the deletion is certain: no node lists the vDisk, adopts it or reopens it (an adoption
   *       reads the records first), and every node's ownership machine learns it within a rescan.
   *   <li>The node that holds the vDisk stops acknowledging for it at once (the lease gate closes
   *       with the machine's view), and carries out {@link #delete(String, long)}: front ends let go,
   *       its copy is dropped, and, only while it still holds the vDisk under a valid lease at its
   *       epoch, the backend namespace {@code vdisk-<id>} is deleted. A holder that is dead, paused
   *       or cut off is fenced first by the usual takeover: another node claims the next epoch once
   *       its lease is over (never refused for an out-of-sync DTL: nothing is to be kept), and that
   *       node deletes it. A node killed half-way leaves the request, so the next holder deletes
   *       again (deleting is idempotent).
   *   <li>The holder closes the name: a closed claim of the next epoch (a tombstone among the
   *       claims), after which no node holds the name and a new vDisk of that name is claimed from
   *       scratch, inheriting no owner, copy or DTL.
   *   <li>{@code deleted.<vdisk>.<generation>}: the deletion is done. The name is free: the next
   *       creation takes generation + 1. Every node drops a copy it kept of the vDisk (by its id).
   * </ol>
   *
   * @throws java.util.NoSuchElementException no such vDisk in the cluster
   * @throws IllegalStateException refused (clones, dedupe)
   */
  public DeleteOutcome delete(String name, Duration wait) throws IOException {
    rescan();
    DeletionRecords.Deletion request = deletingNow.get(name);
    long generation;
    if (request != null) {
      generation = request.generation(); // asked before: wait for it
    } else {
      VdiskInfo info = vdisks.get(name);
      if (info == null) {
        throw new java.util.NoSuchElementException("no vDisk " + name + " in this cluster");
      }
      List<String> clones = new java.util.ArrayList<>();
      boolean dedupe = false;
      for (Engine.BackendVdisk b : backendRecords) {
        if (b.ancestors().contains(info.id()) && !deadIds.contains(b.id())) {
          clones.add(b.spec().name());
        }
        dedupe |= b.id().equals(info.id()) && b.dedupe();
      }
      if (!clones.isEmpty()) {
        throw new IllegalStateException("vDisk " + name + " cannot be deleted: clones " + String.join(", ", clones)
            + " were made from its snapshots; delete them first");
      }
      if (dedupe) {
        throw new IllegalStateException("vDisk " + name + " has dedupe on: its clusters may be shared with other vDisks"
            + " through its node's dedupe index; deleting it in a cluster is not supported");
      }
      generation = generations.getOrDefault(name, 1L);
      backend.createNamespace(NAMESPACE);
      boolean created = backend.putIfAbsent(NAMESPACE, DeletionRecords.deletingRecord(name, generation),
          DeletionRecords.encode(new DeletionRecords.Deletion(DeletionRecords.REQUESTED, name, generation, info.id(),
              self, 0)));
      log.warn("vDisk {} (id {}, generation {} of its name): deletion {} by node {}", name, info.id(), generation,
          created ? "requested" : "requested already", self);
    }
    rescan();
    long deadline = System.nanoTime() + wait.toNanos();
    String done = DeletionRecords.deletedRecord(name, generation);
    while (!backend.exists(NAMESPACE, done)) {
      if (System.nanoTime() - deadline > 0) {
        log.warn("vDisk {}: its deletion is still under way after {}; it goes on", name, wait);
        return DeleteOutcome.UNDER_WAY;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    }
    rescan();
    dropStaleCopies();
    log.info("vDisk {} deleted from cluster {}", name, config.name());
    return DeleteOutcome.DONE;
  }

  /** Is the vDisk being deleted (requested, not done)? */
  public boolean deleting(String vdisk) {
    return deletingNow.containsKey(vdisk);
  }

  @Override
  public void delete(String vdisk, long epoch) {
    boolean done = false;
    try {
      done = doDelete(vdisk, epoch);
    } catch (IOException | RuntimeException e) {
      log.warn("vDisk {}: deleting it at epoch {} failed ({}); done again shortly", vdisk, epoch, e.toString());
    }
    service.reportDeleted(vdisk, epoch, done);
  }

  /** True when the vDisk's data is gone (or was already); false when nothing was deleted. */
  private boolean doDelete(String vdisk, long epoch) throws IOException {
    rescan();
    DeletionRecords.Deletion d = deletingNow.get(vdisk);
    if (d == null) {
      if (vdisks.containsKey(vdisk)) {
        log.info("vDisk {}: not being deleted (a vDisk of that name exists, with no deletion requested)", vdisk);
        return false;
      }
      return true; // nothing of it is left: its name is closed next
    }
    stopServing(vdisk);
    dtlNodes.remove(vdisk);
    Engine e = engine;
    if (e != null && e.contains(vdisk)) {
      Optional<Volume> online = e.volume(vdisk);
      if (online.isPresent() && !online.get().id().equals(d.id())) {
        throw new IOException("this node serves another vDisk named " + vdisk + " (id " + online.get().id()
            + ", not " + d.id() + ")");
      }
      if (online.isPresent()) {
        e.fence(vdisk);
      }
      e.forget(vdisk);
    }
    changed();
    if (!service.mayDelete(vdisk, epoch)) {
      log.warn("vDisk {}: not deleting its data: this node no longer holds it at epoch {} under a valid lease", vdisk,
          epoch);
      return false;
    }
    // the engine's backend namespace of a vDisk (Engine.backendVdisks): vdisk-<id>
    backend.deleteNamespace("vdisk-" + d.id());
    log.warn("vDisk {} (id {}): its data is DELETED from the backend (this node held it at epoch {})", vdisk, d.id(),
        epoch);
    return true;
  }

  @Override
  public void closed(String vdisk, long epoch) {
    try {
      rescan();
      DeletionRecords.Deletion d = deletingNow.get(vdisk);
      if (d != null) {
        backend.putIfAbsent(NAMESPACE, DeletionRecords.deletedRecord(vdisk, d.generation()),
            DeletionRecords.encode(new DeletionRecords.Deletion(DeletionRecords.DONE, vdisk, d.generation(), d.id(),
                self, epoch)));
        log.info("vDisk {}: deletion done (generation {} of its name; closed at epoch {}); the name is free", vdisk,
            d.generation(), epoch);
      }
      rescan();
    } catch (IOException | RuntimeException e) {
      log.warn("vDisk {}: recording its deletion as done failed ({}); the deletion is finished again", vdisk,
          e.toString());
    }
    dropStaleCopies();
    changed();
  }

  // ---------------------------------------------------------------- OwnershipActions (the service's thread)

  @Override
  public void adopt(String vdisk, long epoch, String oldOwner, String oldDtlNode, boolean forced) {
    failedAdoptions.remove(vdisk);
    if (isNamespace(vdisk)) {
      adoptNamespaceAside(vpoolOf(vdisk), epoch);
      return;
    }
    try {
      doAdopt(vdisk, epoch, oldOwner, oldDtlNode, forced);
    } catch (IOException | RuntimeException e) {
      adoptionFailed(new PendingAdoption(vdisk, epoch, oldOwner, oldDtlNode, forced, null), e);
    }
  }

  /** Records a failed adoption, to retry every few seconds, and says why. */
  private void adoptionFailed(PendingAdoption p, Exception e) {
    String why = e.getMessage() == null ? e.toString() : e.getMessage();
    boolean refused = e instanceof Adoption.RefusedException;
    failedAdoptions.put(p.vdisk(), new PendingAdoption(p.vdisk(), p.epoch(), p.oldOwner(), p.oldDtlNode(), p.forced(),
        (refused ? "adoption refused: " : "adoption failed: ") + why));
    log.error("vDisk {}: adoption at epoch {} {}: {}; retried every {} s{}", p.vdisk(), p.epoch(),
        refused ? "refused" : "failed", why, RETRY_MILLIS / 1000,
        refused ? " (vsa cluster force " + p.vdisk() + " accepts the loss)" : "");
  }

  private void doAdopt(String vdisk, long epoch, String oldOwner, String oldDtlNode, boolean forced)
      throws IOException {
    Engine e = engine;
    if (e == null || closed) {
      return;
    }
    rescan(); // the deletion records first: a vDisk being deleted is never served again
    if (deletingNow.containsKey(vdisk)) {
      log.info("vDisk {}: being deleted; not adopted (the ownership machine deletes it)", vdisk);
      return;
    }
    if (!awaitPublished(vdisk, epoch)) {
      throw new IOException("no heartbeat naming it at epoch " + epoch + " was stored in time (the lease is gone,"
          + " or a newer epoch replaced it)");
    }
    VdiskInfo info = vdisks.get(vdisk);
    if (info == null) {
      rescan();
      info = vdisks.get(vdisk);
      if (info == null && deletedNames.contains(vdisk) && !deletingNow.containsKey(vdisk)) {
        // claimed on an old view of a vDisk deleted since: nothing to serve; its name is closed again
        log.info("vDisk {}: deleted in the cluster; not adopted, its name is closed again", vdisk);
        service.reportDeleted(vdisk, epoch, true);
        return;
      }
      if (info == null) {
        throw new IOException("vDisk " + vdisk + " has no record in the backend");
      }
    }
    ServiceLease lease = new ServiceLease(vdisk, epoch);
    ServiceLease before = leases.put(vdisk, lease);
    if (before != null) {
      before.revoke();
    }
    try {
      // an adoption this node had begun (and crashed in) is done again from the backend and the DTL
      boolean local = e.contains(vdisk) && self.equals(oldOwner) && !e.adoptionInterrupted(vdisk);
      if (local && oldDtlNode != null) {
        // after a reboot the copy takes what it may lack from the DTL it last wrote to
        dtlNodes.putIfAbsent(vdisk, oldDtlNode);
      }
      if (local) {
        // this node's process held the epoch before: its local copy is the newest state there is
        e.reopen(vdisk, lease);
        Optional<InetSocketAddress> peer = dtlPeerOf(vdisk);
        if (peer.isPresent()) {
          appliedPeers.put(vdisk, peer.get());
        } else {
          appliedPeers.remove(vdisk);
        }
        log.info("vDisk {}: serving this node's own copy again, now at epoch {}", vdisk, epoch);
      } else {
        InetSocketAddress previousDtl = oldDtlNode == null ? null : endpoint(oldDtlNode, DTL).orElse(null);
        if (oldDtlNode != null && previousDtl == null) {
          log.warn("vDisk {}: its previous owner's DTL node {} is not a live member; adopting without it", vdisk,
              oldDtlNode);
        }
        InetSocketAddress peer = dtlPeerOf(vdisk).orElse(null);
        e.adopt(new Adoption.Request(info.id(), lease, previousDtl, 0, peer, forced));
        if (peer != null) {
          appliedPeers.put(vdisk, peer);
        } else {
          appliedPeers.remove(vdisk);
        }
      }
    } catch (IOException | RuntimeException ex) {
      leases.remove(vdisk, lease);
      throw ex;
    }
    e.dtlStatus(vdisk).ifPresent(s -> dtlStateChanged(vdisk, s.peer(), s.epoch(), s.state()));
    for (Consumer<String> h : joiningHooks) {
      try {
        h.accept(vdisk);
      } catch (RuntimeException ex) {
        log.warn("vDisk {}: a front end failed to take it back: {}", vdisk, ex.toString());
      }
    }
    changed();
  }

  /**
   * Serves a vPool's namespace here at {@code epoch}: restored from the backend, where every change
   * its earlier owners acknowledged is (a namespace has no DTL and no local state to trust). The
   * restore runs on the vPool's own thread, so that the vDisk adoptions decided meanwhile go on;
   * until it is served the directory names no owner of it (calls get JUKEBOX, as in any takeover).
   * A release or stop meanwhile revokes its lease: the restored copy is then never served.
   */
  private void adoptNamespaceAside(String vpool, long epoch) {
    NamespaceHost host = namespaceHost;
    if (host == null || closed) {
      return;
    }
    NamespaceLease lease = new NamespaceLease(namespaceResource(vpool), epoch);
    NamespaceLease before = namespaceLeases.put(vpool, lease);
    if (before != null) {
      before.revoke(); // an open of it still restoring is never served
      host.close(vpool);
    }
    try {
      namespaceAdopters.computeIfAbsent(vpool, v -> Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "namespace-adoption-" + self + "-" + v);
        t.setDaemon(true);
        return t;
      })).execute(() -> adoptNamespace(host, vpool, lease));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      namespaceLeases.remove(vpool, lease);
      lease.revoke(); // this node stops
    }
  }

  private void adoptNamespace(NamespaceHost host, String vpool, NamespaceLease lease) {
    String resource = namespaceResource(vpool);
    long t0 = System.nanoTime();
    try {
      if (lease.revoked || closed) {
        return; // let go before it began
      }
      if (!awaitPublished(resource, lease.epoch)) {
        throw new IOException("no heartbeat naming it at epoch " + lease.epoch + " was stored in time (the lease is"
            + " gone, or a newer epoch replaced it)");
      }
      host.open(vpool, lease.epoch, lease::held);
    } catch (IOException | RuntimeException ex) {
      boolean current = namespaceLeases.remove(vpool, lease) && !lease.revoked && !closed;
      lease.revoke();
      if (current) {
        adoptionFailed(new PendingAdoption(resource, lease.epoch, null, null, false, null), ex);
      } else {
        log.info("vPool {}: its NFS namespace, restored at epoch {} after this node let go of it, is not served: {}",
            vpool, lease.epoch, ex.toString());
      }
      changed();
      return;
    }
    log.info("vPool {}: this node serves its NFS namespace now, at epoch {} (restored in {} ms)", vpool, lease.epoch,
        (System.nanoTime() - t0) / 1_000_000);
    changed();
  }

  /** Waits until a heartbeat naming the vDisk at this epoch is stored (bounded by the lease). */
  private boolean awaitPublished(String vdisk, long epoch) {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(config.leaseMillis());
    while (!closed) {
      Optional<OwnershipService.Grant> g = service.grant(vdisk);
      if (g.isPresent() && g.get().epoch() == epoch && g.get().published() != null) {
        return true;
      }
      if (g.isPresent() && g.get().epoch() != epoch || System.nanoTime() - deadline > 0) {
        return false;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    return false;
  }

  private void retryAdoptions() {
    for (PendingAdoption p : List.copyOf(failedAdoptions.values())) {
      Optional<OwnershipService.Grant> g = service.grant(p.vdisk());
      if (g.isEmpty() || g.get().epoch() != p.epoch()) {
        failedAdoptions.remove(p.vdisk(), p);
        continue;
      }
      // on the service's action thread, in order with what it decides since
      service.runAction(() -> {
        if (failedAdoptions.remove(p.vdisk(), p)) {
          adopt(p.vdisk(), p.epoch(), p.oldOwner(), p.oldDtlNode(), p.forced());
        }
      });
    }
  }

  @Override
  public void stopAcknowledging(String vdisk) {
    // the lease gate refuses already; the front ends learn it from the owners view
    changed();
  }

  @Override
  public void setDtlPeer(String vdisk, String node) {
    if (node == null) {
      dtlNodes.remove(vdisk);
    } else {
      dtlNodes.put(vdisk, node);
    }
    reported.remove(vdisk); // the engine's state is told again, about the placement the machine has now
    onControl(this::placeDtls);
  }

  /**
   * Gives each vDisk served here the DTL peer the cluster placed it on, where that node's DTL
   * endpoint is known (a member that just joined publishes it a little later): run after every
   * placement, every membership change and every half second.
   */
  private void placeDtls() {
    Engine e = engine;
    if (e == null || closed) {
      return;
    }
    pushDtlNodes();
    for (String v : leases.keySet()) {
      if (!engineServes(v)) {
        continue;
      }
      String node = dtlNodes.get(v);
      InetSocketAddress want = node == null ? null : endpoint(node, DTL).orElse(null);
      if (node != null && want == null) {
        continue; // not known yet: try again later
      }
      if (java.util.Objects.equals(want, appliedPeers.get(v))) {
        continue;
      }
      try {
        e.setDtlPeer(v, want);
        if (want == null) {
          appliedPeers.remove(v);
        } else {
          appliedPeers.put(v, want);
        }
      } catch (IOException | RuntimeException ex) {
        log.warn("vDisk {}: moving its DTL to node {} failed: {}", v, node, ex.toString());
      }
    }
  }

  @Override
  public void release(String vdisk) {
    if (isNamespace(vdisk)) {
      releaseNamespace(vpoolOf(vdisk));
      return;
    }
    stopServing(vdisk);
    Engine e = engine;
    if (e == null || !e.contains(vdisk)) {
      changed();
      return;
    }
    try {
      if (e.volume(vdisk).isPresent()) {
        // kept, fenced, until this node restarts or adopts it again: if the new owner's adoption fails
        // (its DTL lost too), this copy is what is left of the writes it had acknowledged
        e.fence(vdisk);
      }
    } catch (RuntimeException ex) {
      log.error("vDisk {}: fencing this node's copy after another node took it failed: {}", vdisk, ex.toString());
    }
    changed();
  }

  private void releaseNamespace(String vpool) {
    failedAdoptions.remove(namespaceResource(vpool));
    NamespaceLease l = namespaceLeases.remove(vpool);
    if (l != null) {
      l.revoke();
    }
    NamespaceHost host = namespaceHost;
    if (host != null) {
      if (host.serves(vpool)) {
        log.info("vPool {}: another node serves its NFS namespace now; closing it here", vpool);
      }
      host.close(vpool); // also refuses serving a copy still being restored under the revoked lease
    }
    changed();
  }

  /** The front ends let go of the vDisk, and this node forgets serving it (its lease revoked). */
  private void stopServing(String vdisk) {
    leaving(vdisk);
    ServiceLease l = leases.remove(vdisk);
    if (l != null) {
      l.revoke();
    }
    reported.remove(vdisk);
    appliedPeers.remove(vdisk);
    failedAdoptions.remove(vdisk);
  }

  private void leaving(String vdisk) {
    for (Consumer<String> h : leavingHooks) {
      try {
        h.accept(vdisk);
      } catch (RuntimeException ex) {
        log.warn("vDisk {}: a front end failed to let go of it: {}", vdisk, ex.toString());
      }
    }
  }

  // ---------------------------------------------------------------- DTL state

  private void reportDtlStates() {
    Engine e = engine;
    if (e == null) {
      return;
    }
    for (Map.Entry<String, ServiceLease> en : leases.entrySet()) {
      String v = en.getKey();
      Optional<Engine.DtlStatus> s = e.dtlStatus(v);
      if (s.isPresent() && !new DtlReport(s.get().state(), dtlNodeAt(v, s.get().peer()),
          s.get().epoch() > 0 ? s.get().epoch() : en.getValue().epoch()).equals(reported.get(v))) {
        dtlStateChanged(v, s.get().peer(), s.get().epoch(), s.get().state());
      }
    }
  }

  // ---------------------------------------------------------------- stop

  /**
   * Hands every vDisk served here over through the backend (its history uploaded, a hand-over
   * record: the next owner needs no DTL), stores a heartbeat that lists them no more (so that their
   * takeover is never refused for the DTL state they had), then stops heartbeating; the other nodes
   * take them over once this node's lease has run out.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    Engine e = engine;
    if (e != null) {
      for (String v : List.copyOf(leases.keySet())) {
        if (e.volume(v).isPresent()) {
          leaving(v);
          ServiceLease l = leases.get(v);
          try {
            e.release(v, Duration.ofSeconds(30));
            if (l != null) {
              service.handOver(v, l.epoch());
            }
          } catch (IOException | RuntimeException ex) {
            log.warn("vDisk {}: handing it over at stop failed ({}); the next owner restores it from its DTL", v,
                ex.toString());
          }
        }
      }
    }
    NamespaceHost host = namespaceHost;
    for (String vpool : List.copyOf(namespaceLeases.keySet())) {
      NamespaceLease l = namespaceLeases.remove(vpool);
      if (l != null) {
        l.revoke();
      }
      if (host != null) {
        host.close(vpool); // every change it acknowledged is in the backend already
      }
    }
    if (!service.awaitHandOversPublished(Duration.ofMillis(2 * config.heartbeatMillis() + config.leaseMillis()))) {
      log.warn("node {}: no heartbeat without the vDisks it handed over was stored in time; their takeover may be"
          + " refused for the DTL state last published (vsa cluster force is then safe: they are in the backend)",
          self);
    }
    closed = true;
    for (java.util.concurrent.ExecutorService a : namespaceAdopters.values()) {
      a.shutdownNow(); // a restore under way ends unserved (its lease is revoked)
    }
    for (Map.Entry<String, java.util.concurrent.ExecutorService> a : namespaceAdopters.entrySet()) {
      try {
        if (!a.getValue().awaitTermination(10, TimeUnit.SECONDS)) {
          log.warn("vPool {}: the restore of its NFS namespace did not end within 10 s of the stop", a.getKey());
        }
      } catch (InterruptedException ie) {
        Thread.currentThread().interrupt();
      }
    }
    control.shutdownNow();
    service.close();
    leases.values().forEach(ServiceLease::revoke);
  }

  // ---------------------------------------------------------------- leases

  private static final OwnershipLease NOT_HELD = new OwnershipLease() {
    @Override
    public long epoch() {
      return 0;
    }

    @Override
    public boolean held(long nowNanos) {
      return false;
    }

    @Override
    public String toString() {
      return "not held by this node";
    }
  };

  /** Held while the service may acknowledge for the vDisk at this epoch, given the engine's DTL state now. */
  private final class ServiceLease implements OwnershipLease {
    private final String vdisk;
    private final long epoch;
    private volatile boolean revoked;

    ServiceLease(String vdisk, long epoch) {
      this.vdisk = vdisk;
      this.epoch = epoch;
    }

    @Override
    public long epoch() {
      return epoch;
    }

    @Override
    public boolean held(long nowNanos) {
      if (revoked) {
        return false;
      }
      Engine e = engine;
      DtlState dtl = e == null ? null : e.dtlState(vdisk).orElse(null);
      return service.mayAcknowledge(vdisk, epoch, dtl);
    }

    void revoke() {
      revoked = true;
    }

    @Override
    public String toString() {
      return "epoch " + epoch + " of node " + self;
    }
  }

  /** Held while the service may acknowledge for the namespace at this epoch (it has no DTL). */
  private final class NamespaceLease {
    private final String resource;
    private final long epoch;
    private volatile boolean revoked;

    NamespaceLease(String resource, long epoch) {
      this.resource = resource;
      this.epoch = epoch;
    }

    boolean held() {
      return !revoked && !closed && service.mayAcknowledge(resource, epoch, DtlState.OK_SYNC);
    }

    void revoke() {
      revoked = true;
    }
  }

  /** For tests: what opens and closes the namespaces here. */
  NamespaceHost namespaceHost() {
    return namespaceHost;
  }

  /** For tests and the API: the service underneath. */
  public OwnershipService service() {
    return service;
  }

  /** Member name to its endpoints, for the API. */
  public Map<String, Map<String, String>> endpoints() {
    Map<String, Map<String, String>> out = new LinkedHashMap<>();
    ClusterMembership m = membership;
    if (m != null) {
      for (ClusterMembership.NodeInfo n : m.members()) {
        Map<String, String> eps = new HashMap<>();
        n.attributes().forEach((k, v) -> {
          if (k.startsWith("vsa.endpoint.")) {
            eps.put(k.substring("vsa.endpoint.".length()), v);
          }
        });
        out.put(n.name(), eps);
      }
    }
    return out;
  }
}
