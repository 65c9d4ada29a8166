package org.vsa.volume;

import org.vsa.dtl.DtlMode;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.ObjectStore;
import org.vsa.cache.ReadCache;
import org.vsa.cache.WriteBuffer;

/**
 * The vDisk engine of one node: every vDisk it serves, the shared write buffer, read cache,
 * metadata page cache and uploader. {@link #start} recovers every vDisk found under the metadata
 * directory; one that cannot be opened safely goes offline alone (see {@link #offlineVdisks()})
 * and the engine serves the others.
 */
public final class Engine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Engine.class);
  static final String RECORD_FILE = "vdisk.properties";
  /** A vDisk with no write for this long seals its open SCO so that its data reaches the backend. */
  static final long IDLE_SEAL_NANOS = TimeUnit.SECONDS.toNanos(30);

  private final EngineContext ctx;
  private final Map<String, LocalVolume> volumes = new ConcurrentSkipListMap<>();
  private final ScheduledExecutorService maintenance;
  private volatile boolean closed;
  /** Snapshot table of every vDisk, by name; replaced (never mutated) under the engine's monitor. */
  private final Map<String, SnapshotTable> tables = new java.util.concurrent.ConcurrentHashMap<>();
  /** Bumped whenever a vDisk's snapshots gain a member or its head is replaced: a scrub then defers deletions. */
  private final Map<String, Long> generations = new java.util.concurrent.ConcurrentHashMap<>();
  /** Bumped with every vDisk's generation and at every clone: a scrub of shared SCOs then defers deletions. */
  private final java.util.concurrent.atomic.AtomicLong anyGeneration = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.Set<String> scrubbing = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final java.util.Set<String> flattening = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private volatile java.time.Clock clock = java.time.Clock.systemUTC();
  private ScheduledExecutorService scheduler;
  /**
   * vDisks found at start that could not be opened safely, by name: listed, kept in the front
   * ends, refusing I/O, holding back what could free data they reference (see {@link #holding}).
   */
  private final Map<String, Offline> offline = new ConcurrentSkipListMap<>();
  /** The front ends' stable handles, by name (see {@link VolumeHandle}); dropped when the vDisk is deleted. */
  private final Map<String, VolumeHandle> handles = new java.util.concurrent.ConcurrentHashMap<>();
  /** How often an offline vDisk refused for its DTL is opened again by itself. */
  static final long OFFLINE_RETRY_MILLIS = 30_000;
  private volatile long offlineRetryNanos = TimeUnit.MILLISECONDS.toNanos(OFFLINE_RETRY_MILLIS);
  private long lastOfflineRetryNanos = System.nanoTime();

  /** An offline vDisk: its directory, its record if readable, and why. */
  private record Offline(String name, Path dir, VolumeRecord record, String reason, boolean retriedPeriodically,
      java.time.Instant since) {
    OfflineVdisk view() {
      return new OfflineVdisk(name, Optional.ofNullable(record).map(VolumeRecord::spec), reason, retriedPeriodically,
          since);
    }
  }

  /** The lease of each vDisk found at start, by name (see {@link #start}). */
  private volatile java.util.function.Function<String, OwnershipLease> leases = name -> OwnershipLease.ALWAYS;
  /** Leases given by adoptions, by name: they win over {@link #leases}. */
  private final Map<String, OwnershipLease> granted = new java.util.concurrent.ConcurrentHashMap<>();

  private OwnershipLease leaseFor(String name) {
    OwnershipLease l = granted.get(name);
    if (l == null) {
      l = leases.apply(name);
    }
    return l == null ? OwnershipLease.ALWAYS : l;
  }

  private Engine(EngineContext ctx) {
    this.ctx = ctx;
    this.maintenance = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "engine-maintenance");
      t.setDaemon(true);
      return t;
    });
  }

  /** The kernel's boot id, for {@link #start(EngineConfig, org.vsa.dtl.DtlConnector, java.util.function.Supplier, java.util.function.Function)}. */
  public static final java.util.function.Supplier<String> SYSTEM_BOOT_ID = BootMarker.SYSTEM;

  public static Engine start(EngineConfig config) throws IOException {
    return start(config, null);
  }

  /**
   * Starts with a DTL client: vDisks whose spec asks for a DTL copy their writes through
   * {@code dtl}, and one whose write buffer is gone is restored from the backend and its DTL.
   */
  public static Engine start(EngineConfig config, org.vsa.dtl.DtlConnector dtl) throws IOException {
    return start(config, dtl, BootMarker.SYSTEM);
  }

  /**
   * As above, with the source of the kernel's boot id (tests simulate a reboot with it): a sync-mode
   * vDisk opened under another boot id than its last run may lack acknowledged writes locally, and
   * takes them from its DTL before it serves I/O (see {@link BootMarker}).
   */
  public static Engine start(EngineConfig config, org.vsa.dtl.DtlConnector dtl,
      java.util.function.Supplier<String> bootId) throws IOException {
    return start(config, dtl, bootId, name -> OwnershipLease.ALWAYS);
  }

  /**
   * As above, in a cluster: {@code leases} gives this node's ownership lease of each vDisk found
   * at start, by name (see {@link OwnershipLease}); one whose lease does not hold is not opened (it
   * is offline here: another node owns it), the others write to their DTL with the lease's epoch.
   */
  public static Engine start(EngineConfig config, org.vsa.dtl.DtlConnector dtl,
      java.util.function.Supplier<String> bootId, java.util.function.Function<String, OwnershipLease> leases)
      throws IOException {
    Files.createDirectories(config.metadataDir());
    WriteBuffer wb = new WriteBuffer(config.writeBufferDir(), config.writeBufferCapacityBytes());
    Files.createDirectories(config.readCacheFile().toAbsolutePath().getParent());
    ReadCache rc = ReadCache.open(config.readCacheFile(), config.readCacheCapacityBytes());
    Cache<MetadataStore.PageKey, Page> pageCache = Caffeine.newBuilder()
        .maximumWeight(config.metadataCacheBytes())
        .weigher((MetadataStore.PageKey k, Page p) -> MetadataStore.PAGE_HEAP_BYTES)
        .executor(Runnable::run)
        .build();
    ExecutorService checkpointer = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "checkpoint");
      t.setDaemon(true);
      return t;
    });
    Dedupe dedupe = Dedupe.open(config.metadataDir(), dedupeEntriesMax(config));
    EngineContext ctx = new EngineContext(config, wb, rc, config.backend(), pageCache,
        new Uploader(config.uploadThreads()), checkpointer, dtl, dedupe, bootId);
    Engine e = new Engine(ctx);
    e.leases = leases;
    try {
      e.openAll();
    } catch (IOException | RuntimeException ex) {
      e.close();
      throw ex;
    }
    e.maintenance.scheduleWithFixedDelay(e::maintain, 500, 500, TimeUnit.MILLISECONDS);
    // on the schedule thread, not the maintenance one: a retry holds the engine's lock while it
    // asks the DTL, which must not delay the idle seals
    e.schedules().scheduleWithFixedDelay(e::retryOfflinePeriodically, 1, 1, TimeUnit.SECONDS);
    return e;
  }

  /**
   * Entries of the dedupe index: one per 128 bytes of the metadata cache (about what an entry
   * costs on the heap), at least 64 Ki; 512 Ki entries (2 GiB of distinct clusters) by default.
   */
  static long dedupeEntriesMax(EngineConfig config) {
    return Math.max(64 << 10, config.metadataCacheBytes() / 128);
  }

  private void openAll() throws IOException {
    List<Path> dirs = new ArrayList<>();
    try (var s = Files.newDirectoryStream(ctx.config().metadataDir(), Files::isDirectory)) {
      s.forEach(dirs::add);
    }
    for (Path dir : dirs) {
      Path rec = dir.resolve(RECORD_FILE);
      if (!Files.exists(rec)) {
        log.warn("{} holds no {}; it is not a vDisk, skipping", dir, RECORD_FILE);
        continue;
      }
      try {
        openOne(dir);
      } catch (IOException | RuntimeException e) {
        markOffline(dir, e);
      }
    }
    if (offline.values().stream().anyMatch(o -> leaseFor(o.name()).held(System.nanoTime()))) {
      log.error("{} of {} vDisks are offline ({}); the others are served. Fix the cause, then bring each online with"
          + " `vsa vdisk open NAME` (Engine.retryOpen); those refused for their DTL are retried every {} s",
          offline.size(), offline.size() + volumes.size(), String.join(", ", offline.keySet()),
          TimeUnit.NANOSECONDS.toSeconds(offlineRetryNanos));
    }
  }

  /** The vDisk in {@code dir} could not be opened: it goes offline with the reason (and its record, if readable). */
  private void markOffline(Path dir, Exception e) {
    String name = dir.getFileName().toString();
    VolumeRecord r = null;
    try {
      Path rec = dir.resolve(RECORD_FILE);
      r = VolumeRecord.decode(Files.readAllBytes(rec), rec);
      name = r.spec().name();
    } catch (IOException | RuntimeException ignored) {
      // the record itself is what failed: the vDisk is known by its directory's name only
    }
    String why = e.getMessage() == null ? e.toString() : e.getMessage();
    if (!why.startsWith("vDisk " + name)) {
      why = "vDisk " + name + " could not be opened: " + why;
    }
    boolean dtl = e instanceof DtlRestore.RefusedException;
    offline.put(name, new Offline(name, dir, r, why, dtl, clock.instant()));
    if (e instanceof VolumeFencedException && leaseFor(name).epoch() == 0 && leaseFor(name) != OwnershipLease.ALWAYS) {
      log.info("vDisk {}: this node's copy waits until the cluster gives the vDisk to this node ({})", name, why);
      return;
    }
    log.error("vDisk {} is OFFLINE: {}. Its reads and writes fail, the other vDisks are served; scrubs, dedupe"
        + " collection and flattens of {} are held until it is online again (vsa vdisk open {}{})", name, why,
        r == null ? "every vPool (its record, so its vPool, is unreadable)" : "vPool " + r.spec().vpool(), name,
        dtl ? ", or by itself every " + TimeUnit.NANOSECONDS.toSeconds(offlineRetryNanos) + " s" : "", dtl ? null : e);
  }

  /** Opens the vDisk in {@code dir}, first finishing a rollback that was interrupted. */
  private LocalVolume openOne(Path dir) throws IOException {
    return openOne(dir, false);
  }

  private LocalVolume openOne(Path dir, boolean adopting) throws IOException {
    Path rec = dir.resolve(RECORD_FILE);
    VolumeRecord r = VolumeRecord.decode(Files.readAllBytes(rec), rec);
    if (!adopting && Files.exists(dir.resolve(Adoption.PENDING))) {
      throw new IOException("vDisk " + r.spec().name() + ": its adoption by this node was interrupted; it opens once"
          + " the control plane adopts it again (Engine.adopt)");
    }
    Dedupe.Namespace shared = ctx.dedupe().byId(r.id());
    if (shared != null && shared.state() != Dedupe.State.ACTIVE) {
      log.warn("vDisk {} was being deleted when the engine stopped; finishing its deletion", r.spec().name());
      LocalVolume.deleteTree(ctx.writeBuffer().directoryFor(LocalVolume.namespaceOf(r.id())));
      LocalVolume.deleteTree(dir);
      Fs.fsyncDirectory(ctx.config().metadataDir());
      return null;
    }
    long t0 = System.nanoTime();
    SnapshotTable table = SnapshotTable.load(dir);
    if (table.rollbackTo() != null) {
      log.warn("vDisk {}: a rollback to snapshot {} was interrupted; finishing it", r.spec().name(), table.rollbackTo());
      table = finishRollback(dir, r, table);
      r = VolumeRecord.decode(Files.readAllBytes(rec), rec);
    }
    LocalVolume v = LocalVolume.open(r.spec(), r.id(), dir, ctx, leaseFor(r.spec().name()));
    try {
      v.configure(r);
      configureDedupe(v);
    } catch (IOException | RuntimeException e) {
      v.close();
      throw e;
    }
    tables.put(r.spec().name(), table);
    volumes.put(r.spec().name(), v);
    log.info("vDisk {} ({} bytes, id {}) opened in {} ms", r.spec().name(), r.spec().sizeBytes(), r.id(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    return v;
  }

  /** A directory left by a creation or clone that crashed before its record was stored. */
  private void removeUnfinished(Path dir) throws IOException {
    if (Files.exists(dir) && !Files.exists(dir.resolve(RECORD_FILE))) {
      log.warn("{} holds no {}: left by an interrupted creation; removing it", dir, RECORD_FILE);
      LocalVolume.deleteTree(dir);
    }
  }

  /**
   * A vDisk as its record in a shared backend describes it (see {@link #backendVdisks}): its id,
   * spec, whether dedupe is on, and for a clone the ids of its parent and the parent's ancestors
   * (whose backend objects it reads).
   */
  public record BackendVdisk(UUID id, VolumeSpec spec, boolean dedupe, List<UUID> ancestors) {
    public BackendVdisk {
      ancestors = List.copyOf(ancestors);
    }

    public BackendVdisk(UUID id, VolumeSpec spec) {
      this(id, spec, false, List.of());
    }
  }

  /**
   * Every vDisk recorded in {@code backend} (one {@code vdisk-<id>} namespace with a {@code volume}
   * record each), whichever node owns it: what a cluster's nodes list. A namespace without a record
   * (a creation under way, a deletion half done) is left out; one whose record is unreadable is
   * left out and logged.
   */
  public static List<BackendVdisk> backendVdisks(ObjectStore backend) throws IOException {
    List<BackendVdisk> out = new ArrayList<>();
    for (String ns : backend.listNamespaces()) {
      if (!ns.startsWith("vdisk-")) {
        continue;
      }
      byte[] bytes;
      try {
        bytes = backend.get(ns, "volume");
      } catch (org.vsa.backends.NoSuchObjectException e) {
        continue;
      }
      try {
        VolumeRecord r = VolumeRecord.decode(bytes, Path.of(ns, "volume"));
        out.add(new BackendVdisk(r.id(), r.spec(), r.settings().dedupe(),
            r.lineage().stream().map(VolumeRecord.Ancestor::id).toList()));
      } catch (IOException | RuntimeException e) {
        log.warn("backend namespace {}: its vDisk record is unreadable ({}); left out of the cluster's vDisks", ns,
            e.getMessage());
      }
    }
    out.sort(java.util.Comparator.comparing(b -> b.spec().name()));
    return out;
  }

  /** Every vDisk, sorted by name. */
  public List<Volume> volumes() {
    return List.copyOf(volumes.values());
  }

  public Optional<Volume> volume(String name) {
    return Optional.ofNullable(volumes.get(name));
  }

  // ---------------------------------------------------------------- ownership: adopt, release, fence

  /**
   * Takes over a vDisk from another node (failover, or after a {@link #release} there): builds its
   * local state from the shared backend (its record, snapshot table and TLogs in namespace
   * {@code vdisk-<id>}, a clone's ancestors named by its record) and the tail past the backend's end
   * from the previous owner's DTL, fetched under this node's ownership epoch (which fences the
   * previous owner at that DTL), then serves it here with {@code dtlPeer} as its DTL. See
   * {@link Adoption} for when it refuses ({@link Adoption.RefusedException}: nothing changed) and
   * what {@code force} accepts. Reuses the restore of {@link DtlRestore}.
   *
   * <p>Restartable: a crash or failure half-way leaves nothing that a start opens (the vDisk is
   * offline with the reason until it is adopted again), and adopting again starts over and gives
   * the same result. Adopting a vDisk this node already serves under the same epoch returns it;
   * under another epoch, the local state (of an earlier ownership) is discarded first.
   */
  public synchronized Volume adopt(Adoption.Request q) throws IOException {
    checkOpen();
    OwnershipLease lease = q.lease();
    String ns = LocalVolume.namespaceOf(q.id());
    if (!lease.held(System.nanoTime())) {
      throw new VolumeFencedException(ns, "the ownership lease of epoch " + lease.epoch() + " given to adopt it does"
          + " not hold");
    }
    byte[] recBytes;
    try {
      recBytes = ctx.backend().get(ns, "volume");
    } catch (org.vsa.backends.NoSuchObjectException e) {
      throw new IOException("no vDisk " + q.id() + " in the backend: namespace " + ns + " holds no record", e);
    }
    VolumeRecord rec = VolumeRecord.decode(recBytes, Path.of(ns, "volume"));
    String name = rec.spec().name();
    if (rec.settings().dedupe()) {
      throw new Adoption.RefusedException("vDisk " + name + " has dedupe on: its shared clusters are named through the"
          + " previous node's dedupe index, which another node cannot read; adopting it is not supported", null);
    }
    LocalVolume here = volumes.get(name);
    if (here != null && !here.id().equals(q.id())) {
      throw new IllegalStateException("this node serves another vDisk named " + name + " (id " + here.id() + ")");
    }
    if (here != null && here.lease().epoch() == lease.epoch() && !here.isFenced()) {
      return here; // adopted already
    }
    Offline off = offline.get(name);
    if (off != null && off.record() != null && !off.record().id().equals(q.id())) {
      throw new IllegalStateException("this node has another vDisk named " + name + " (offline, id "
          + off.record().id() + ")");
    }
    Path dir = ctx.config().metadataDir().resolve(name);
    Path wbDir = ctx.writeBuffer().directoryFor(ns);
    if (here != null) {
      log.warn("vDisk {}: this node holds it from an earlier ownership (epoch {}); discarding that local state for the"
          + " adoption at epoch {}", name, here.lease().epoch(), lease.epoch());
      volumes.remove(name);
      tables.remove(name);
      here.fence("superseded by this node's adoption at epoch " + lease.epoch());
      here.abandon();
      here.deleteLocalFiles();
    }
    offline.remove(name);
    handedOver.remove(name);
    long t0 = System.nanoTime();
    try {
      LocalVolume.deleteTree(dir);
      LocalVolume.deleteTree(wbDir);
      Files.createDirectories(dir);
      Files.write(dir.resolve(Adoption.PENDING), ("adoption of vDisk " + name + " at epoch " + lease.epoch()
          + " under way\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      Fs.fsyncDirectory(dir);
      Fs.fsyncDirectory(ctx.config().metadataDir());
      storeRecordLocally(rec);
      SnapshotTable table;
      try {
        table = SnapshotTable.decode(ctx.backend().get(ns, SnapshotTable.FILE), Path.of(ns, SnapshotTable.FILE));
      } catch (org.vsa.backends.NoSuchObjectException e) {
        table = SnapshotTable.empty();
      }
      if (table.rollbackTo() != null) {
        throw new Adoption.RefusedException("vDisk " + name + ": its previous owner was rolling it back to snapshot "
            + table.rollbackTo() + " when it stopped; adopting a vDisk in the middle of a rollback is not supported",
            null);
      }
      table.store(dir);
      // the previous owner's DTL, fetched under this node's epoch: from here on it refuses that owner
      org.vsa.dtl.DtlConnector.Fetched fetched = null;
      String dtlProblem = null;
      if (q.previousDtl() == null) {
        dtlProblem = "no DTL of its previous owner was given";
      } else if (ctx.dtl() == null) {
        throw new IllegalStateException("this engine runs no DTL client: it cannot fetch vDisk " + name
            + " from the DTL at " + q.previousDtl());
      } else {
        try {
          fetched = ctx.dtl().fetch(q.id(), name, q.previousDtl(), lease.epoch());
        } catch (org.vsa.dtl.DtlConnector.StaleEpochException e) {
          throw new Adoption.RefusedException("vDisk " + name + ": " + e.getMessage() + "; not adopting it", e);
        } catch (IOException e) {
          dtlProblem = "its previous owner's DTL " + q.previousDtl() + " is unreachable (" + e.getMessage() + ")";
        }
      }
      Adoption.Released released = Adoption.Released.read(ctx.backend(), ns);
      DtlRestore.restoreFrom(rec.spec(), q.id(), dir, wbDir, ctx, fetched,
          Adoption.coverage(name, rec.spec(), q, fetched, dtlProblem, released), lease.epoch());
      if (released != null) {
        // from here on this node writes: the next owner needs this one's DTL again
        ctx.backend().delete(ns, Adoption.RELEASED);
      }
      DtlRestore.markWriteBuffer(wbDir);
      adoptCrashPoint.run();
      if (q.dtlPeer() != null && ctx.dtl() != null) {
        ctx.dtl().setPeer(name, q.dtlPeer());
      }
      granted.put(name, lease);
      LocalVolume v = openOne(dir, true);
      if (v == null) {
        throw new IOException("vDisk " + name + " was being deleted");
      }
      Files.deleteIfExists(dir.resolve(Adoption.PENDING));
      Fs.fsyncDirectory(dir);
      log.info("vDisk {} (id {}) ADOPTED at epoch {} in {} ms{}; it serves here now", name, q.id(), lease.epoch(),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), q.previousDtl() == null ? ""
              : " (previous owner's DTL " + q.previousDtl() + " fenced)");
      return v;
    } catch (IOException | RuntimeException e) {
      granted.remove(name);
      LocalVolume half = volumes.remove(name);
      tables.remove(name);
      if (half != null) {
        half.fence("adoption failed");
        half.abandon();
        half.deleteLocalFiles();
      }
      // nothing of it stays here: a start does not open it, the next adoption starts over
      try {
        LocalVolume.deleteTree(wbDir);
        LocalVolume.deleteTree(dir);
      } catch (IOException ex) {
        log.warn("vDisk {}: cleaning up after the failed adoption: {}", name, ex.toString());
      }
      log.error("vDisk {}: adoption at epoch {} failed: {}", name, lease.epoch(), e.getMessage());
      throw e;
    }
  }

  /** vDisks released to another node in this run: their handles answer as fenced. */
  private final java.util.Set<String> handedOver = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /** Tests: runs inside an adoption after the restore, before the open (an Error thrown here acts as a crash). */
  static volatile Runnable adoptCrashPoint = () -> { };

  /**
   * Hands a vDisk over (planned): takes no new write, seals and uploads everything, waits (at most
   * {@code timeout}) until the backend holds its whole history, records that in the backend (so
   * that the next owner's {@link #adopt} needs no DTL), closes it and removes its local state. On
   * failure (timeout, lease lost) it keeps serving here and the exception says why.
   */
  public void release(String name, java.time.Duration timeout) throws IOException {
    LocalVolume v;
    synchronized (this) {
      checkOpen();
      v = existing(name);
      if (scrubbing.contains(name) || flattening.contains(name)) {
        throw new IllegalStateException("vDisk " + name + " is being scrubbed or flattened; release it afterwards");
      }
    }
    v.refuseWrites("being handed over to another node");
    try {
      long[] point = v.sealForSnapshot();
      long deadline = System.nanoTime() + timeout.toNanos();
      while (!v.uploadedThrough(point[0])) {
        v.checkMayUpload();
        if (System.nanoTime() - deadline > 0) {
          throw new IOException("vDisk " + name + ": its history did not reach the backend within " + timeout
              + "; not released, it keeps serving here");
        }
        java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      }
      synchronized (this) {
        v.checkMayUpload();
        ctx.backend().put(v.namespace(), Adoption.RELEASED,
            new Adoption.Released(v.lease().epoch(), point[0], point[1]).encode());
        volumes.remove(name);
        tables.remove(name);
        handedOver.add(name);
        generations.merge(name, 1L, Long::sum);
        anyGeneration.incrementAndGet();
        granted.remove(name);
        v.fence("handed over to another node");
        v.close();
        v.deleteLocalFiles();
        LocalVolume.deleteTree(ctx.config().metadataDir().resolve(name));
        Fs.fsyncDirectory(ctx.config().metadataDir());
        if (ctx.dtl() != null) {
          ctx.dtl().setPeer(name, null);
        }
      }
      log.info("vDisk {} RELEASED: its history through TLog {} (sequence {}) is in the backend; its local state is"
          + " gone from this node", name, point[0], point[1]);
    } catch (IOException | RuntimeException e) {
      if (!v.isFenced()) {
        v.refuseWrites(null);
      }
      throw e;
    }
  }

  /**
   * Revokes this node's ownership of a vDisk at once: every later write, flush and unmap fails with
   * {@link VolumeFencedException} and nothing more is uploaded. It stays open (fenced) until
   * adopted again or the engine stops.
   */
  public void fence(String name) {
    LocalVolume v = volumes.get(name);
    if (v == null) {
      throw new IllegalStateException("no vDisk " + name + " is served here");
    }
    v.fence("revoked by the control plane");
  }

  /**
   * Drops this node's local copy of a vDisk another node owns now (a node that comes back after a
   * takeover finds its stale copy offline, or fenced): its metadata and write buffer go, the
   * backend is not touched. Refused for a vDisk this node still owns (fence it first).
   */
  public synchronized void forget(String name) throws IOException {
    checkOpen();
    LocalVolume v = volumes.get(name);
    Offline o = offline.get(name);
    if (v == null && o == null) {
      throw new IllegalStateException("no vDisk " + name + " here");
    }
    if (v != null && !v.isFenced()) {
      throw new IllegalStateException("vDisk " + name + " is served here, not fenced: fence it first (Engine.fence)"
          + " if another node owns it");
    }
    Path dir = ctx.config().metadataDir().resolve(name);
    if (v != null) {
      volumes.remove(name);
      tables.remove(name);
      v.abandon();
      v.deleteLocalFiles();
    } else if (o.record() != null) {
      LocalVolume.deleteTree(ctx.writeBuffer().directoryFor(LocalVolume.namespaceOf(o.record().id())));
    }
    offline.remove(name);
    handedOver.add(name);
    granted.remove(name);
    LocalVolume.deleteTree(dir);
    Fs.fsyncDirectory(ctx.config().metadataDir());
    log.warn("vDisk {}: this node's local copy is dropped (another node owns it); nothing in the backend changed",
        name);
  }

  /**
   * Places the vDisk's DTL on {@code peer} (the control plane replaces a DEGRADED one): its stream
   * moves there under the same epoch and catches up through the backend.
   */
  public void setDtlPeer(String name, java.net.InetSocketAddress peer) throws IOException {
    if (ctx.dtl() == null) {
      throw new IllegalStateException("this engine runs no DTL client");
    }
    LocalVolume v;
    synchronized (this) {
      checkOpen();
      v = existing(name);
      ctx.dtl().setPeer(name, peer);
    }
    v.reopenDtl();
    log.info("vDisk {}: DTL moved to {}", name, peer);
  }

  /** The ownership epoch the vDisk's DTL stream writes with (0: none). */
  public long dtlEpoch(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? 0 : v.dtlEpoch();
  }

  // ---------------------------------------------------------------- offline vDisks

  /**
   * The vDisks that are offline: found at start (or at a rollback's reopen) but not opened safely,
   * each with the reason. An offline vDisk is not in {@link #volumes()}; its reads and writes
   * through {@link #handle} fail with {@link VolumeOfflineException}; snapshots, clones, rollback,
   * resize, settings, template, flatten and deletion of it are refused; and while it is offline no
   * scrub, snapshot deletion, rollback or flatten in its vPool frees or rewrites what it (or a
   * clone of it) may reference. Brought online by {@link #retryOpen}, and every 30 s by itself when
   * its DTL was the cause.
   */
  public List<OfflineVdisk> offlineVdisks() {
    return offline.values().stream().map(Offline::view).toList();
  }

  /** The offline vDisk of that name, if it is offline. */
  public Optional<OfflineVdisk> offlineVdisk(String name) {
    return Optional.ofNullable(offline.get(name)).map(Offline::view);
  }

  /** True for a vDisk whose adoption by this node was interrupted (a crash half-way): only {@link #adopt} opens it. */
  public boolean adoptionInterrupted(String name) {
    Offline o = offline.get(name);
    return o != null && Files.exists(o.dir().resolve(Adoption.PENDING));
  }

  /**
   * True for an offline vDisk whose copy here waits for this node's ownership lease (in a cluster:
   * another node serves it, or this node has not claimed it yet): not a failure.
   */
  public boolean waitsForLease(String name) {
    Offline o = offline.get(name);
    if (o == null) {
      return false;
    }
    OwnershipLease l = leaseFor(name);
    return l != OwnershipLease.ALWAYS && !l.held(System.nanoTime());
  }

  /** True if the engine knows the vDisk, online or offline. */
  public boolean contains(String name) {
    return volumes.containsKey(name) || offline.containsKey(name);
  }

  /**
   * Opens an offline vDisk again, after its cause was fixed (its DTL is back, or the operator
   * created {@code open-without-dtl}); a no-op for a vDisk that is online. On success it serves
   * at once, through the handles the front ends already hold. On failure it stays offline with
   * the new reason, which the IOException carries.
   *
   * @throws IllegalStateException if the engine knows no such vDisk
   */
  public synchronized Volume retryOpen(String name) throws IOException {
    checkOpen();
    LocalVolume online = volumes.get(name);
    if (online != null) {
      return online;
    }
    Offline o = offline.get(name);
    if (o == null) {
      throw new IllegalStateException("no vDisk " + name);
    }
    log.info("vDisk {}: opening it again (offline since {}: {})", name, o.since(), o.reason());
    LocalVolume v;
    try {
      v = openOne(o.dir());
    } catch (IOException | RuntimeException e) {
      markOffline(o.dir(), e);
      Offline now = offline.get(name);
      throw new IOException(now == null ? e.getMessage() : now.reason(), e);
    }
    offline.remove(name);
    if (v == null) {
      throw new IllegalStateException("vDisk " + name + " was being deleted; its deletion is finished now");
    }
    log.info("vDisk {} is ONLINE again: its LUN and NFS file serve I/O, and the operations held in vPool {} resume",
        name, v.spec().vpool());
    return v;
  }

  /**
   * Serves this node's local copy of a vDisk under a new ownership lease: the control plane calls
   * it when this node's own process held the epoch before the new one (a lease that lapsed and was
   * won back, a restart), so that the local copy is the newest state there is. An online vDisk is
   * closed as a crash would leave it (nothing more is flushed or uploaded under the old lease) and
   * opened again as a start does; an offline one is opened. On failure it is offline with the
   * reason.
   *
   * @throws IllegalStateException if the engine has no copy of it
   */
  public synchronized Volume reopen(String name, OwnershipLease lease) throws IOException {
    checkOpen();
    LocalVolume v = volumes.get(name);
    Offline o = offline.get(name);
    if (v == null && o == null) {
      throw new IllegalStateException("no vDisk " + name + " here");
    }
    if (v != null && v.lease() == lease) {
      return v;
    }
    granted.put(name, lease);
    handedOver.remove(name);
    Path dir = o != null ? o.dir() : ctx.config().metadataDir().resolve(name);
    if (v != null) {
      volumes.remove(name);
      tables.remove(name);
      v.fence("reopened under epoch " + lease.epoch());
      v.abandon();
    }
    LocalVolume nv;
    try {
      nv = openOne(dir);
    } catch (IOException | RuntimeException e) {
      markOffline(dir, e);
      Offline now = offline.get(name);
      throw new IOException(now == null ? e.getMessage() : now.reason(), e);
    }
    offline.remove(name);
    if (nv == null) {
      throw new IllegalStateException("vDisk " + name + " was being deleted; its deletion is finished now");
    }
    log.info("vDisk {} serves again from this node's copy, under epoch {}", name, lease.epoch());
    return nv;
  }

  /** For tests: how often offline vDisks refused for their DTL are retried. */
  void setOfflineRetryInterval(java.time.Duration d) {
    offlineRetryNanos = d.toNanos();
  }

  /** Opens again, by itself, the offline vDisks whose DTL refused them (the DTL may be back). */
  private void retryOfflinePeriodically() {
    if (offline.isEmpty() || System.nanoTime() - lastOfflineRetryNanos < offlineRetryNanos) {
      return;
    }
    lastOfflineRetryNanos = System.nanoTime();
    for (Offline o : List.copyOf(offline.values())) {
      if (!o.retriedPeriodically() || closed) {
        continue;
      }
      try {
        retryOpen(o.name());
      } catch (IOException | RuntimeException e) {
        log.warn("vDisk {} stays offline (retried every {} s): {}", o.name(),
            TimeUnit.NANOSECONDS.toSeconds(offlineRetryNanos), e.getMessage());
      }
    }
  }

  /**
   * The vDisk a front end exports (an iSCSI LUN, an NFS file): a stable handle that goes to
   * whatever the engine serves under that name now. Present for an online vDisk and for an
   * offline one whose record is readable (its I/O fails with {@link VolumeOfflineException}
   * until it is online again); empty otherwise.
   */
  public Optional<Volume> handle(String name) {
    LocalVolume v = volumes.get(name);
    Offline o = offline.get(name);
    if (v == null && (o == null || o.record() == null)) {
      return Optional.empty();
    }
    VolumeSpec spec = v != null ? v.spec() : o.record().spec();
    UUID id = v != null ? v.id() : o.record().id();
    // a handle of a deleted vDisk of the same name (its id) is replaced: it must not reach this one
    VolumeHandle h = handles.compute(name, (n, old) -> old != null && old.id().equals(id) ? old
        : new VolumeHandle(this, n, spec, id));
    return Optional.of(h);
  }

  /** The vDisk served now under that name, or null (offline, deleted, being rolled back). */
  LocalVolume online(String name) {
    return volumes.get(name);
  }

  /** Why I/O through a handle cannot be served now. */
  IOException unavailable(String name) {
    Offline o = offline.get(name);
    if (o != null) {
      return new VolumeOfflineException(name, o.reason());
    }
    if (handedOver.contains(name)) {
      return new VolumeFencedException(name, "handed over to another node");
    }
    return new IOException("vDisk " + name + " is not available (deleted, being rolled back, or the engine is closed)");
  }

  /**
   * Offline vDisks whose references the freeing operations of vPool {@code vpool} cannot see:
   * those of that vPool, those whose record is unreadable (vPool unknown), and dedupe-registered
   * ones (a shared location may name a SCO of any dedupe vDisk of the engine).
   */
  private List<Offline> holding(String vpool) {
    List<Offline> out = new ArrayList<>();
    for (Offline o : offline.values()) {
      if (o.record() == null || o.record().spec().vpool().equals(vpool) || ctx.dedupe().byId(o.record().id()) != null) {
        out.add(o);
      }
    }
    return out;
  }

  /** Null if nothing holds vPool {@code vpool}'s freeing operations, else why they are held. */
  private String heldReason(String vpool) {
    List<Offline> h = holding(vpool);
    if (h.isEmpty()) {
      return null;
    }
    return "held while vDisk" + (h.size() > 1 ? "s " : " ") + String.join(", ", h.stream().map(Offline::name).toList())
        + " of vPool " + vpool + " " + (h.size() > 1 ? "are" : "is") + " offline (what "
        + (h.size() > 1 ? "they" : "it") + " or " + (h.size() > 1 ? "their" : "its")
        + " clones reference cannot be seen until then); it resumes once online (vsa vdisk open)";
  }

  private void refuseIfHeld(String vpool, String what) {
    String why = heldReason(vpool);
    if (why != null) {
      throw new IllegalStateException(what + " is " + why);
    }
  }

  /** Creates a thin vDisk; IllegalStateException if the name is taken. */
  public synchronized Volume create(VolumeSpec spec) throws IOException {
    return create(spec, VolumeSettings.defaults(spec));
  }

  /** Creates a thin vDisk with the given settings (their cache policy wins over the spec's). */
  public synchronized Volume create(VolumeSpec spec, VolumeSettings settings) throws IOException {
    checkOpen();
    if (contains(spec.name())) {
      throw new IllegalStateException("vDisk " + spec.name() + " already exists" + (offline.containsKey(spec.name())
          ? " (offline)" : ""));
    }
    UUID id = UUID.randomUUID();
    VolumeRecord rec = new VolumeRecord(id, spec).withSettings(settings);
    spec = rec.spec();
    String ns = LocalVolume.namespaceOf(id);
    ctx.backend().createNamespace(ns);
    Path dir = ctx.config().metadataDir().resolve(spec.name());
    removeUnfinished(dir);
    Files.createDirectories(dir);
    storeRecord(rec);
    Fs.fsyncDirectory(ctx.config().metadataDir());
    LocalVolume v = LocalVolume.open(spec, id, dir, ctx, leaseFor(spec.name()));
    v.configure(rec);
    configureDedupe(v);
    tables.put(spec.name(), SnapshotTable.empty());
    volumes.put(spec.name(), v);
    log.info("vDisk {} created: {} bytes, block size {}, SCO size {}, read cache {}, DTL {}, id {}", spec.name(),
        spec.sizeBytes(), spec.blockSize(), spec.scoSizeBytes(), spec.cachePolicy().configName(),
        spec.dtlMode().configName(), id);
    return v;
  }

  /**
   * Resizes a vDisk: growing is instant and thin; shrinking discards what lies beyond the new
   * size. The new size is stored before it takes effect.
   */
  public synchronized void resize(String name, long sizeBytes) throws IOException {
    checkOpen();
    LocalVolume v = existing(name);
    VolumeSpec s = v.spec();
    VolumeSpec next = new VolumeSpec(s.name(), s.vpool(), sizeBytes, s.blockSize(), s.scoSizeBytes(), s.cachePolicy(),
        s.dtlMode());
    if (sizeBytes == s.sizeBytes()) {
      return;
    }
    if (v.isTemplate()) {
      throw new IllegalStateException("vDisk " + name + " is a template: it cannot be resized");
    }
    VolumeRecord nextRecord = v.record().withSpec(next);
    if (sizeBytes < s.sizeBytes()) {
      v.resize(next); // discard first, so that a crash in between leaves the old size with zeros past the new end
      storeRecord(nextRecord);
    } else {
      storeRecord(nextRecord);
      v.resize(next);
    }
    v.configure(nextRecord);
    log.info("vDisk {} resized from {} to {} bytes", name, s.sizeBytes(), sizeBytes);
  }

  /** Writes the vDisk's record atomically beside its metadata and into its backend namespace. */
  private void storeRecord(VolumeRecord rec) throws IOException {
    checkMayUpload(rec.spec().name());
    storeRecordLocally(rec);
    ctx.backend().put(LocalVolume.namespaceOf(rec.id()), "volume", rec.encode());
  }

  /** Throws if this node may not change the vDisk's objects in the backend (fenced, lease run out). */
  private void checkMayUpload(String name) throws IOException {
    LocalVolume v = volumes.get(name);
    if (v != null) {
      v.checkMayUpload();
    }
  }

  /** Writes the vDisk's record atomically beside its metadata (not to the backend). */
  private void storeRecordLocally(VolumeRecord rec) throws IOException {
    Path dir = ctx.config().metadataDir().resolve(rec.spec().name());
    Path tmp = dir.resolve(RECORD_FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, java.nio.ByteBuffer.wrap(rec.encode()), 0);
      ch.force(true);
    }
    Files.move(tmp, dir.resolve(RECORD_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
  }

  /** Deletes the vDisk, locally and in the backend. */
  public synchronized void delete(String name) throws IOException {
    checkOpen();
    LocalVolume v = existing(name);
    refuseIfUnknownLineage(v.spec().vpool(), "deleting vDisk " + name);
    List<String> clones = clonesOf(v.id(), null);
    if (!clones.isEmpty()) {
      throw new IllegalStateException("vDisk " + name + " cannot be deleted: clones " + String.join(", ", clones)
          + " were made from its snapshots; delete them first");
    }
    if (!v.exportHolders().isEmpty()) {
      throw new IllegalStateException("vDisk " + name + " is in use (exported by " + String.join(", ", v.exportHolders())
          + "); remove its exports first");
    }
    Dedupe.Namespace shared = ctx.dedupe().byId(v.id());
    if (shared != null) {
      // no new reference to its SCOs from here on; those others hold keep the SCOs they name
      var lock = ctx.dedupe().exclusive();
      lock.lock();
      try {
        ctx.dedupe().purgeNamespace(shared.index());
      } finally {
        lock.unlock();
      }
      ctx.dedupe().setState(shared.index(), Dedupe.State.RETAINED);
    }
    volumes.remove(name);
    tables.remove(name);
    handles.remove(name);
    anyGeneration.incrementAndGet();
    v.close();
    v.deleteLocalFiles();
    LocalVolume.deleteTree(ctx.config().metadataDir().resolve(name));
    if (shared == null) {
      ctx.backend().deleteNamespace(v.namespace());
    } else {
      collectRetained(ctx.dedupe().namespace(shared.index()));
    }
    log.info("vDisk {} deleted", name);
  }

  /**
   * Null if the SCOs of a deleted dedupe vDisk may be collected, else why not: an offline vDisk
   * that is dedupe-registered, or whose record is unreadable, may reference them.
   */
  private String collectHeld() {
    for (Offline o : offline.values()) {
      if (o.record() == null || ctx.dedupe().byId(o.record().id()) != null) {
        return heldReason(o.record() == null ? "(unknown)" : o.record().spec().vpool());
      }
    }
    return null;
  }

  /** Registers a dedupe-enabled vDisk in the vPool's dedupe table (and tells it its index). */
  private void configureDedupe(LocalVolume v) throws IOException {
    Dedupe.Namespace n = ctx.dedupe().byId(v.id());
    if (n != null) {
      v.setSharedIndex(n.index());
    } else if (v.settings().dedupe()) {
      v.setSharedIndex(ctx.dedupe().register(v.id()));
    }
  }

  /**
   * SCO numbers of shared namespace {@code index} that some vDisk's live mapping or snapshot
   * names (snapshots' mappings are rebuilt from their TLogs). Mappings only: no counter to keep
   * in step, nothing to repair after a crash.
   */
  private java.util.Set<Long> sharedReferences(int index, boolean snapshotsToo) throws IOException {
    java.util.Set<Long> out = new java.util.TreeSet<>();
    MetadataStore.EntryConsumer f = (cluster, loc, crc) -> {
      if (Layout.isShared(loc) && Layout.sharedIndexOf(loc) == index) {
        out.add(Layout.scoOf(loc));
      }
    };
    for (LocalVolume v : List.copyOf(volumes.values())) {
      v.forEachMapped(f);
      SnapshotTable t = tables.get(v.name());
      if (snapshotsToo && t != null) {
        for (SnapshotTable.Entry e : t.snapshots()) {
          Mapping.materialize(this::readTlog, v.id(), v.record().lineage(), e.ranges()).forEach(f);
        }
      }
    }
    return out;
  }

  /**
   * A deleted vDisk's namespace keeps only the SCOs other vDisks still reference through dedupe;
   * once there are none the namespace goes. Caller holds the engine's lock, so no snapshot,
   * clone or rollback changes the references meanwhile, and no write can take a new one (the
   * namespace left the index when the vDisk was deleted).
   */
  private synchronized void collectRetained(Dedupe.Namespace n) throws IOException {
    String held = collectHeld();
    if (held != null) {
      log.warn("dedupe: namespace {} of a deleted vDisk keeps every object: collecting it is {}", n.name(), held);
      return;
    }
    java.util.Set<Long> refs = sharedReferences(n.index(), true);
    String ns = n.name();
    int deleted = 0;
    for (String o : ctx.backend().list(ns, "")) {
      long sco = Layout.numberOf(o, "sco_");
      if (sco > 0 && refs.contains(sco)) {
        continue;
      }
      ctx.backend().delete(ns, o);
      deleted++;
    }
    if (refs.isEmpty()) {
      ctx.backend().deleteNamespace(ns);
      ctx.dedupe().setState(n.index(), Dedupe.State.GONE);
      log.info("dedupe: namespace {} of a deleted vDisk is gone ({} objects deleted)", ns, deleted);
    } else {
      log.info("dedupe: namespace {} of a deleted vDisk keeps {} SCOs other vDisks reference ({} objects deleted)",
          ns, refs.size(), deleted);
    }
  }

  // ---------------------------------------------------------------- snapshots, rollback, clones, templates

  /**
   * Takes a snapshot: a point in the vDisk's TLog history, after everything written before this
   * call (the open SCO is sealed and everything so far made durable). Zero-copy and constant
   * time whatever the vDisk's size.
   */
  public SnapshotInfo createSnapshot(String vdisk, String snapshot) throws IOException {
    return createSnapshot(vdisk, snapshot, false);
  }

  synchronized SnapshotInfo createSnapshot(String vdisk, String snapshot, boolean scheduled) throws IOException {
    checkOpen();
    LocalVolume v = existing(vdisk);
    checkSnapshotName(snapshot);
    if (v.isTemplate()) {
      throw new IllegalStateException("vDisk " + vdisk + " is a template: its snapshot is fixed; clone it instead");
    }
    SnapshotTable t = tables.get(vdisk);
    if (t.find(snapshot).isPresent()) {
      throw new IllegalStateException("vDisk " + vdisk + " already has a snapshot " + snapshot);
    }
    long[] point = v.sealForSnapshot();
    SnapshotTable.Entry e = new SnapshotTable.Entry(snapshot, UUID.randomUUID(), clock.millis(), point[1],
        v.sizeBytes(), t.head().upTo(point[0]), scheduled);
    SnapshotTable next = t.with(e);
    storeTable(v.record(), next);
    tables.put(vdisk, next);
    generations.merge(vdisk, 1L, Long::sum);
    anyGeneration.incrementAndGet();
    log.info("vDisk {}: snapshot {} taken{} (up to TLog {}, sequence {})", vdisk, snapshot,
        scheduled ? " by the schedule" : "", point[0], point[1]);
    return new SnapshotInfo(snapshot, java.time.Instant.ofEpochMilli(e.createdMillis()), e.sizeBytes(), scheduled, 0,
        List.of());
  }

  /**
   * The vDisk's snapshots, oldest first, each with the backend bytes only it keeps (computed by
   * rebuilding every snapshot's mapping: this reads the TLog history).
   */
  public List<SnapshotInfo> snapshots(String vdisk) throws IOException {
    LocalVolume v;
    SnapshotTable t;
    synchronized (this) {
      checkOpen();
      v = existing(vdisk);
      t = tables.get(vdisk);
    }
    Liveness live = Liveness.compute(v, t, this::readTlog);
    List<SnapshotInfo> out = new ArrayList<>();
    for (int i = 0; i < t.snapshots().size(); i++) {
      SnapshotTable.Entry e = t.snapshots().get(i);
      out.add(new SnapshotInfo(e.name(), java.time.Instant.ofEpochMilli(e.createdMillis()), e.sizeBytes(), e.scheduled(),
          live.pinnedBytes(i), clonesOf(v.id(), e.name())));
    }
    return out;
  }

  /** Names of the snapshots, oldest first (cheap: no history is read). */
  public List<String> snapshotNames(String vdisk) {
    SnapshotTable t = tables.get(vdisk);
    if (t == null) {
      throw new IllegalStateException("no vDisk " + vdisk);
    }
    return t.snapshots().stream().map(SnapshotTable.Entry::name).toList();
  }

  /**
   * Deletes a snapshot. What only it referenced is freed by the next scrub. Refused while clones
   * made from it exist (the message names them).
   */
  public synchronized void deleteSnapshot(String vdisk, String snapshot) throws IOException {
    checkOpen();
    LocalVolume v = existing(vdisk);
    SnapshotTable t = tables.get(vdisk);
    if (t.find(snapshot).isEmpty()) {
      throw new IllegalStateException("vDisk " + vdisk + " has no snapshot " + snapshot);
    }
    refuseIfUnknownLineage(v.spec().vpool(), "deleting snapshot " + snapshot + " of vDisk " + vdisk);
    List<String> clones = clonesOf(v.id(), snapshot);
    if (!clones.isEmpty()) {
      throw new IllegalStateException("snapshot " + snapshot + " of vDisk " + vdisk + " cannot be deleted: clones "
          + String.join(", ", clones) + " were made from it; delete them first");
    }
    if (v.isTemplate() && t.snapshots().size() == 1) {
      throw new IllegalStateException("snapshot " + snapshot + " is what template " + vdisk + " is cloned from");
    }
    SnapshotTable next = t.without(snapshot);
    storeTable(v.record(), next);
    tables.put(vdisk, next);
    log.info("vDisk {}: snapshot {} deleted (its data is freed by the next scrub)", vdisk, snapshot);
  }

  /**
   * Rolls the vDisk back to a snapshot: its content becomes the snapshot's, and the snapshots
   * taken after it are deleted. Refused while the vDisk is exported (in use), while a later
   * snapshot has clones, and for templates. Crash-safe: the intent is stored first and an
   * interrupted rollback is finished at the next start.
   */
  public synchronized void rollback(String vdisk, String snapshot) throws IOException {
    checkOpen();
    LocalVolume v = existing(vdisk);
    if (v.isTemplate()) {
      throw new IllegalStateException("vDisk " + vdisk + " is a template: it cannot be rolled back");
    }
    if (!v.exportHolders().isEmpty()) {
      throw new IllegalStateException("vDisk " + vdisk + " is in use (exported by " + String.join(", ", v.exportHolders())
          + "); remove its exports before rolling it back");
    }
    SnapshotTable t = tables.get(vdisk);
    SnapshotTable.Entry e = t.find(snapshot).orElseThrow(
        () -> new IllegalStateException("vDisk " + vdisk + " has no snapshot " + snapshot));
    refuseIfUnknownLineage(v.spec().vpool(), "rolling back vDisk " + vdisk);
    boolean after = false;
    List<String> later = new ArrayList<>();
    for (SnapshotTable.Entry s : t.snapshots()) {
      if (after) {
        List<String> clones = clonesOf(v.id(), s.name());
        if (!clones.isEmpty()) {
          throw new IllegalStateException("vDisk " + vdisk + " cannot be rolled back to " + snapshot + ": the later snapshot "
              + s.name() + " has clones " + String.join(", ", clones) + "; delete them first");
        }
        later.add(s.name());
      }
      after |= s.name().equals(snapshot);
    }
    VolumeRecord r = v.record();
    Path dir = ctx.config().metadataDir().resolve(vdisk);
    v.close();
    volumes.remove(vdisk);
    generations.merge(vdisk, 1L, Long::sum);
    anyGeneration.incrementAndGet();
    try {
      long first = lastTlogNumber(v.namespace()) + 1;
      storeTable(r, t.rollingBackTo(e, first));
    } catch (IOException | RuntimeException ex) {
      log.error("vDisk {}: rollback to {} could not start; reopening it as it was", vdisk, snapshot, ex);
      reopenAfterFailure(dir, vdisk);
      throw ex;
    }
    // from here on the rollback is decided: opening the vDisk finishes it, now or at the next start
    try {
      openOne(dir);
    } catch (IOException | RuntimeException ex) {
      log.error("vDisk {}: rollback to {} is stored but could not be finished now; it is finished when the vDisk is"
          + " opened again (vsa vdisk open, or the next start)", vdisk, snapshot, ex);
      markOffline(dir, ex);
      throw ex;
    }
    log.info("vDisk {} rolled back to snapshot {}{}", vdisk, snapshot,
        later.isEmpty() ? "" : "; later snapshots deleted: " + String.join(", ", later));
  }

  private void reopenAfterFailure(Path dir, String vdisk) {
    try {
      openOne(dir);
    } catch (IOException | RuntimeException e) {
      log.error("vDisk {}: reopening failed; it is offline until it is opened again", vdisk, e);
      markOffline(dir, e);
    }
  }

  /** Installs the mapping of the snapshot a pending rollback names; idempotent. Volume closed. */
  private SnapshotTable finishRollback(Path dir, VolumeRecord r, SnapshotTable t) throws IOException {
    SnapshotTable.Entry e = t.find(t.rollbackTo()).orElseThrow(
        () -> new IOException("vDisk " + r.spec().name() + ": rollback target " + t.rollbackTo() + " is not in its table"));
    Mapping m = Mapping.materialize(this::readTlog, r.id(), r.lineage(), e.ranges());
    MetadataStore.install(dir, r.id(), m, t.rollbackFirstTlog());
    if (r.spec().sizeBytes() != e.sizeBytes()) {
      VolumeSpec s = r.spec();
      storeRecord(r.withSpec(new VolumeSpec(s.name(), s.vpool(), e.sizeBytes(), s.blockSize(), s.scoSizeBytes(),
          s.cachePolicy(), s.dtlMode())));
    }
    SnapshotTable done = t.rollbackDone();
    storeTable(r, done);
    return done;
  }

  /** The highest TLog number of the namespace, locally or in the backend (0 if none). */
  private long lastTlogNumber(String ns) throws IOException {
    long max = 0;
    Path local = ctx.config().writeBufferDir().resolve(ns);
    if (Files.isDirectory(local)) {
      try (var s = Files.newDirectoryStream(local, "tlog_*")) {
        for (Path p : s) {
          max = Math.max(max, Layout.numberOf(p.getFileName().toString(), "tlog_"));
        }
      }
    }
    for (String n : ctx.backend().list(ns, "tlog_")) {
      max = Math.max(max, Layout.numberOf(n, "tlog_"));
    }
    return max;
  }

  /**
   * Creates vDisk {@code name} from a snapshot of {@code parent}: instant in the sense that no
   * data is copied (its mapping is rebuilt from the parent's TLog history, which costs time in
   * proportion to what was written, not to the size). It shares the parent's SCOs until it
   * overwrites them. {@code snapshot} may be null for a template (its snapshot).
   */
  public synchronized Volume cloneVolume(String parent, String snapshot, String name) throws IOException {
    checkOpen();
    LocalVolume p = existing(parent);
    if (contains(name)) {
      throw new IllegalStateException("vDisk " + name + " already exists" + (offline.containsKey(name) ? " (offline)" : ""));
    }
    SnapshotTable t = tables.get(parent);
    SnapshotTable.Entry e;
    if (snapshot == null) {
      if (!p.isTemplate() || t.snapshots().isEmpty()) {
        throw new IllegalStateException("name the snapshot of " + parent + " to clone from");
      }
      e = t.snapshots().get(t.snapshots().size() - 1);
    } else {
      e = t.find(snapshot).orElseThrow(() -> new IllegalStateException("vDisk " + parent + " has no snapshot " + snapshot));
    }
    VolumeSpec ps = p.spec();
    // the clone starts with its parent's settings, DTL mode included (the spec must agree with them)
    VolumeSpec spec = new VolumeSpec(name, ps.vpool(), e.sizeBytes(), ps.blockSize(), ps.scoSizeBytes(), ps.cachePolicy(),
        p.settings().dtlMode());
    if (p.record().lineage().size() >= Layout.LINEAGE_MAX) {
      throw new IllegalStateException("vDisk " + parent + " is a clone " + Layout.LINEAGE_MAX + " levels deep; flatten it first");
    }
    // the clone reads the parent's clusters from the backend: they must all be there
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!p.uploadedThrough(e.ranges().last())) {
      if (System.nanoTime() > deadline) {
        throw new IOException("snapshot " + e.name() + " of vDisk " + parent
            + " is not in the backend yet (its SCOs are still uploading); retry later");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    List<VolumeRecord.Ancestor> lineage = new ArrayList<>();
    lineage.add(new VolumeRecord.Ancestor(p.id(), parent, e.name(), e.ranges()));
    lineage.addAll(p.record().lineage());
    UUID id = UUID.randomUUID();
    VolumeRecord rec = new VolumeRecord(id, spec, p.settings(), false, lineage);
    ctx.backend().createNamespace(LocalVolume.namespaceOf(id));
    Path dir = ctx.config().metadataDir().resolve(name);
    removeUnfinished(dir);
    Files.createDirectories(dir);
    long t0 = System.nanoTime();
    Mapping m = Mapping.materialize(this::readTlog, id, lineage, new TlogRanges(List.of()));
    MetadataStore.install(dir, id, m, 1);
    storeRecord(rec); // last: the clone exists from here on
    Fs.fsyncDirectory(ctx.config().metadataDir());
    LocalVolume v = LocalVolume.open(spec, id, dir, ctx, leaseFor(name));
    v.configure(rec);
    configureDedupe(v);
    tables.put(name, SnapshotTable.empty());
    anyGeneration.incrementAndGet();
    volumes.put(name, v);
    log.info("vDisk {} cloned from snapshot {} of {} ({} mapping pages rebuilt in {} ms)", name, e.name(), parent,
        m.pages.size(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    return v;
  }

  /**
   * Flattens a clone: copies every cluster it still inherits from its parent chain into its own
   * SCOs (see {@link Flattener}: beside client I/O, at most {@code bytesPerSecondMax} bytes/s, 0 =
   * unlimited), waits until the copies are durable and in the backend, then cuts the lineage,
   * so that its parent's snapshot is no longer held by it (that snapshot and the parent can then
   * be deleted). A crash at any point leaves a clone that reads correctly; flatten runs again.
   * Refused while the clone has snapshots of its own (their histories name the ancestors' SCOs):
   * delete them first. A vDisk that is not a clone has nothing to flatten.
   */
  public FlattenReport flatten(String vdisk, long bytesPerSecondMax) throws IOException {
    if (bytesPerSecondMax < 0) {
      throw new IllegalArgumentException("flatten rate must be 0 (unlimited) or positive; got " + bytesPerSecondMax);
    }
    long t0 = System.nanoTime();
    LocalVolume v;
    synchronized (this) {
      checkOpen();
      v = existing(vdisk);
      if (v.record().lineage().isEmpty()) {
        return new FlattenReport(vdisk, 0, 0, List.of(), 0);
      }
      refuseIfHeld(v.spec().vpool(), "flattening vDisk " + vdisk);
      checkFlattenable(v);
      if (!flattening.add(vdisk)) {
        throw new IllegalStateException("a flatten of vDisk " + vdisk + " is already running");
      }
    }
    try {
      Flattener f = new Flattener(v, bytesPerSecondMax);
      log.info("vDisk {}: flattening (copying what it inherits from {})", vdisk, v.record().lineage().get(0).name());
      for (int pass = 0; ; pass++) {
        f.copyAll(ownHistory(v));
        // the copies must be durable and in the backend before the lineage goes: a restore from
        // the backend (node loss) then finds every cluster in the clone's own objects
        long last = v.sealForSnapshot()[0];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
        while (!v.uploadedThrough(last)) {
          if (System.nanoTime() > deadline || v.isClosed()) {
            throw new IOException("vDisk " + vdisk + ": the flattened clusters did not reach the backend in 600 s; "
                + "the clone still reads through its parent; run the flatten again");
          }
          java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        }
        synchronized (this) {
          checkOpen();
          if (volumes.get(vdisk) != v) {
            throw new IllegalStateException("vDisk " + vdisk + " was deleted or replaced during the flatten");
          }
          checkFlattenable(v);
          if (Flattener.scan(v, ownHistory(v)).size == 0) {
            List<String> detached = v.record().lineage().stream().map(a -> a.name() + "@" + a.snapshot()).toList();
            VolumeRecord r = v.record().withoutLineage();
            storeRecord(r);
            v.configure(r);
            generations.merge(vdisk, 1L, Long::sum);
            anyGeneration.incrementAndGet();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            log.info("vDisk {} flattened: {} clusters copied, {} replaced by writes meanwhile, in {} ms; "
                + "it no longer depends on {}", vdisk, f.copied, f.skipped, ms, String.join(", ", detached));
            return new FlattenReport(vdisk, f.copied, f.skipped, detached, ms);
          }
        }
        // clusters still inherited: a relocation lost to a concurrent checkpoint or the like; bounded retries
        if (pass >= 3) {
          throw new IOException("vDisk " + vdisk + ": clusters still inherited after " + (pass + 1)
              + " flatten passes; run the flatten again");
        }
      }
    } finally {
      flattening.remove(vdisk);
    }
  }

  /**
   * The mapping the vDisk's own TLog history gives, without its lineage (the open SCO is sealed
   * first, so that everything written so far is in it): what a snapshot, clone or restore of it
   * would see once the lineage is gone.
   */
  private Mapping ownHistory(LocalVolume v) throws IOException {
    long last = v.sealForSnapshot()[0];
    return Mapping.materialize(this::readTlog, v.id(), List.of(), tables.get(v.name()).head().upTo(last));
  }

  private void checkFlattenable(LocalVolume v) {
    if (v.isTemplate()) {
      throw new IllegalStateException("vDisk " + v.name() + " is a template: it cannot be flattened (clone it instead)");
    }
    List<String> own = snapshotNames(v.name());
    if (!own.isEmpty()) {
      throw new IllegalStateException("vDisk " + v.name() + " cannot be flattened while it has snapshots ("
          + String.join(", ", own) + "): their history reads through its parent; delete them first");
    }
  }

  /**
   * Makes the vDisk a template: a snapshot of its current content is taken, and from then on
   * it can only be cloned (no writes, no writable export, no rollback). Refused while in use.
   */
  public synchronized void setTemplate(String vdisk) throws IOException {
    checkOpen();
    LocalVolume v = existing(vdisk);
    if (v.isTemplate()) {
      return;
    }
    if (!v.exportHolders().isEmpty()) {
      throw new IllegalStateException("vDisk " + vdisk + " is in use (exported by " + String.join(", ", v.exportHolders())
          + "); remove its exports before making it a template");
    }
    String snap = "template";
    for (int i = 2; tables.get(vdisk).find(snap).isPresent(); i++) {
      snap = "template-" + i;
    }
    createSnapshot(vdisk, snap, false);
    VolumeRecord r = v.record().asTemplate();
    storeRecord(r);
    v.configure(r);
    log.info("vDisk {} is now a template (clone source: snapshot {})", vdisk, snap);
  }

  /** Changes settings, validated and stored before they take effect. */
  public synchronized VolumeSettings updateSettings(String vdisk, VolumeSettings settings) throws IOException {
    checkOpen();
    LocalVolume v = existing(vdisk);
    DtlMode running = v.record().settings().dtlMode();
    VolumeRecord r = v.record().withSettings(settings);
    if (settings.dedupe()) {
      v.setSharedIndex(ctx.dedupe().register(v.id())); // registered before a write can share
    }
    storeRecord(r);
    v.configure(r);
    if (settings.dtlMode() != running) {
      // the DTL stream is opened with the vDisk: the new mode applies from its next start
      log.warn("vDisk {}: DTL mode {} is stored; the vDisk keeps DTL mode {} until it is next opened (restart)",
          vdisk, settings.dtlMode().configName(), running.configName());
    }
    log.info("vDisk {}: settings now DTL {}, read cache {} (quota {} bytes), dedupe {}", vdisk,
        settings.dtlMode().configName(), settings.cachePolicy().configName(), settings.readCacheQuotaBytes(),
        settings.dedupe());
    return settings;
  }

  /** Changes settings given as {@code key=value} pairs (see {@link VolumeSettings#with}). */
  public synchronized VolumeSettings updateSettings(String vdisk, Map<String, String> changes) throws IOException {
    VolumeSettings s = existing(vdisk).settings();
    for (Map.Entry<String, String> c : changes.entrySet()) {
      s = s.with(c.getKey(), c.getValue());
    }
    return updateSettings(vdisk, s);
  }

  /** vDisks cloned (directly or further down) from {@code id}'s snapshot {@code snapshot} (any if null). */
  private List<String> clonesOf(UUID id, String snapshot) {
    List<VolumeRecord> records = new ArrayList<>();
    for (LocalVolume v : volumes.values()) {
      records.add(v.record());
    }
    for (Offline o : offline.values()) {
      if (o.record() != null) {
        records.add(o.record()); // an offline clone holds its parent's snapshot as much as an online one
      }
    }
    List<String> out = new ArrayList<>();
    for (VolumeRecord r : records) {
      for (VolumeRecord.Ancestor a : r.lineage()) {
        if (a.id().equals(id) && (snapshot == null || a.snapshot().equals(snapshot))) {
          out.add(r.spec().name() + (offline.containsKey(r.spec().name()) ? " (offline)" : ""));
          break;
        }
      }
    }
    return out;
  }

  /**
   * Refuses {@code what} while an offline vDisk's record is unreadable: its lineage (which
   * snapshots it was cloned from) is unknown, so no snapshot of any vDisk may go.
   */
  private void refuseIfUnknownLineage(String vpool, String what) {
    for (Offline o : offline.values()) {
      if (o.record() == null) {
        throw new IllegalStateException(what + " is held while vDisk " + o.name() + " is offline with an unreadable"
            + " record (it may be a clone of any snapshot of vPool " + vpool + "): " + o.reason());
      }
    }
  }

  private LocalVolume existing(String vdisk) {
    LocalVolume v = volumes.get(vdisk);
    if (v == null) {
      Offline o = offline.get(vdisk);
      if (o != null) {
        throw new IllegalStateException("vDisk " + vdisk + " is offline, so it cannot be changed, snapshotted, cloned,"
            + " rolled back, resized or deleted until it is brought online (vsa vdisk open " + vdisk + "): "
            + o.reason());
      }
      throw new IllegalStateException("no vDisk " + vdisk);
    }
    return v;
  }

  private static void checkSnapshotName(String s) {
    if (s == null || !s.matches(VolumeSpec.NAME_PATTERN)) {
      throw new IllegalArgumentException("snapshot name must match " + VolumeSpec.NAME_PATTERN + "; got '" + s + "'");
    }
  }

  /** Stores the snapshot table beside the vDisk's metadata and into its backend namespace. */
  private void storeTable(VolumeRecord r, SnapshotTable t) throws IOException {
    checkMayUpload(r.spec().name());
    t.store(ctx.config().metadataDir().resolve(r.spec().name()));
    ctx.backend().put(LocalVolume.namespaceOf(r.id()), SnapshotTable.FILE, t.encode());
  }

  /** A TLog's bytes: from the write buffer while it is there, else from the backend. */
  private byte[] readTlog(String ns, long n) throws IOException {
    Path p = ctx.config().writeBufferDir().resolve(ns).resolve(Layout.tlogName(n));
    try {
      return Files.readAllBytes(p);
    } catch (java.nio.file.NoSuchFileException e) {
      return ctx.backend().get(ns, Layout.tlogName(n));
    }
  }

  /** For tests and diagnostics: the SCO numbers of the vDisk's own that its head or a snapshot references. */
  java.util.Set<Long> referencedScos(String vdisk) throws IOException {
    return Liveness.compute(existing(vdisk), tables.get(vdisk), this::readTlog).referencedScos();
  }

  /** For tests and diagnostics: the vDisk's snapshot table. */
  SnapshotTable table(String vdisk) {
    return tables.get(vdisk);
  }

  /** For tests: the clock snapshots are stamped with. */
  void setClock(java.time.Clock c) {
    this.clock = c;
  }

  // ---------------------------------------------------------------- schedules

  /**
   * Starts taking scheduled snapshots (see {@link SnapshotSchedule}); each schedule runs on the
   * engine's schedule thread. A failure is logged and the next run goes on.
   */
  public void startSnapshotSchedule(SnapshotSchedule schedule) {
    long ms = schedule.interval().toMillis();
    schedules().scheduleAtFixedRate(() -> runSnapshotSchedule(schedule), ms, ms, TimeUnit.MILLISECONDS);
    log.info("scheduled snapshots every {} of {}{}", schedule.interval(),
        schedule.vpool() == null ? "every vPool" : "vPool " + schedule.vpool(),
        schedule.vdisks().isEmpty() ? "" : " vDisks " + schedule.vdisks());
  }

  /** Starts scrubbing every vDisk every {@code interval} (the default schedule is daily). */
  public void startScrubSchedule(java.time.Duration interval, ScrubOptions options) {
    long ms = interval.toMillis();
    schedules().scheduleWithFixedDelay(() -> {
      for (ScrubReport r : scrubAll(options)) {
        if (r.deferred() != null) {
          log.info("vDisk {}: scheduled scrub deferred deletions: {}", r.vdisk(), r.deferred());
        }
      }
    }, ms, ms, TimeUnit.MILLISECONDS);
    log.info("scrubbing every vDisk every {} (fill ratio {}, at most {} bytes/s)", interval, options.fillRatioMax(),
        options.bytesPerSecondMax());
  }

  private synchronized ScheduledExecutorService schedules() {
    checkOpen();
    if (scheduler == null) {
      scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "engine-schedules");
        t.setDaemon(true);
        return t;
      });
    }
    return scheduler;
  }

  /** One run of a snapshot schedule at the engine clock's now. */
  void runSnapshotSchedule(SnapshotSchedule schedule) {
    java.time.Instant now = clock.instant();
    String name = "auto-" + java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
        .withZone(java.time.ZoneOffset.UTC).format(now);
    for (LocalVolume v : volumes.values()) {
      if (!schedule.covers(v) || v.isTemplate() || closed) {
        continue;
      }
      try {
        if (tables.get(v.name()).find(name).isEmpty()) {
          createSnapshot(v.name(), name, true);
        }
        applyRetention(v.name(), schedule.retention(), now);
      } catch (IOException | RuntimeException e) {
        log.warn("vDisk {}: scheduled snapshot {} failed: {}", v.name(), name, e.toString());
      }
    }
  }

  private void applyRetention(String vdisk, SnapshotRetention.Policy policy, java.time.Instant now) throws IOException {
    List<SnapshotRetention.Taken> taken = new ArrayList<>();
    for (SnapshotTable.Entry s : tables.get(vdisk).snapshots()) {
      if (s.scheduled()) {
        taken.add(new SnapshotRetention.Taken(s.name(), java.time.Instant.ofEpochMilli(s.createdMillis())));
      }
    }
    for (String s : SnapshotRetention.expired(taken, now, policy)) {
      try {
        deleteSnapshot(vdisk, s);
      } catch (IllegalStateException e) {
        log.info("vDisk {}: retention keeps snapshot {}: {}", vdisk, s, e.getMessage());
      }
    }
  }

  // ---------------------------------------------------------------- scrubbing

  /** Scrubs every vDisk in turn; a failure of one is logged and reported, the others go on. */
  public List<ScrubReport> scrubAll(ScrubOptions o) {
    List<ScrubReport> out = new ArrayList<>();
    Map<String, String> held = new java.util.TreeMap<>();
    for (String name : List.copyOf(volumes.keySet())) {
      LocalVolume v = volumes.get(name);
      String vpool = v == null ? null : v.spec().vpool();
      String why = vpool == null ? null : held.computeIfAbsent(vpool, p -> {
        String r = heldReason(p);
        if (r != null) {
          log.warn("scrubs of vPool {} {}", p, r);
        }
        return r == null ? "" : r;
      });
      if (why != null && !why.isEmpty()) {
        out.add(new ScrubReport(name, 0, 0, 0, 0, 0, 0, 0, "scrub " + why));
        continue;
      }
      try {
        out.add(scrub(name, o));
      } catch (IOException | RuntimeException e) {
        log.warn("vDisk {}: scrub failed: {}", name, e.toString());
        out.add(new ScrubReport(name, 0, 0, 0, 0, 0, 0, 0, "failed: " + e.getMessage()));
      }
    }
    for (Dedupe.Namespace n : ctx.dedupe().inState(Dedupe.State.RETAINED)) {
      try {
        if (collectHeld() != null) {
          log.warn("dedupe: collecting namespace {} of a deleted vDisk is {}", n.name(), collectHeld());
          continue;
        }
        collectRetained(n);
      } catch (IOException | RuntimeException e) {
        log.warn("dedupe: collecting namespace {} of a deleted vDisk failed: {}", n.name(), e.toString());
      }
    }
    return out;
  }

  /**
   * Scrubs one vDisk (see {@link Scrubber}): rewrites the live clusters of SCOs at or below the
   * fill ratio into new SCOs and deletes from the backend the SCOs and TLogs that neither its
   * live mapping nor any snapshot (and so no clone) references. Runs beside I/O.
   */
  public ScrubReport scrub(String vdisk, ScrubOptions o) throws IOException {
    LocalVolume v;
    SnapshotTable t;
    long gen;
    synchronized (this) {
      checkOpen();
      v = existing(vdisk);
      String held = heldReason(v.spec().vpool());
      if (held != null) {
        log.warn("vDisk {}: scrub {}", vdisk, held);
        return new ScrubReport(vdisk, 0, 0, 0, 0, 0, 0, 0, "scrub " + held);
      }
      v.checkMayUpload(); // a scrub deletes from the backend
      t = tables.get(vdisk);
      gen = generations.getOrDefault(vdisk, 0L);
      if (!scrubbing.add(vdisk)) {
        throw new IllegalStateException("a scrub of vDisk " + vdisk + " is already running");
      }
    }
    try {
      Dedupe.Namespace shared = ctx.dedupe().byId(v.id());
      long anyGen = anyGeneration.get();
      Scrubber.SharedGuard guard = shared == null ? null : sharedGuard(shared.index());
      return new Scrubber(ctx.backend(), v, t, o, this::readTlog, deleteSet -> {
        synchronized (this) {
          if (volumes.get(vdisk) != v || generations.getOrDefault(vdisk, 0L) != gen) {
            return "the vDisk's snapshots or head changed during the scrub";
          }
          if (guard != null && anyGeneration.get() != anyGen) {
            return "a vDisk took a snapshot, was cloned or rolled back during the scrub (its SCOs may be shared)";
          }
          deleteSet.run();
          return null;
        }
      }, guard).run();
    } finally {
      scrubbing.remove(vdisk);
    }
  }

  /**
   * The scrub's view of dedupe references into shared namespace {@code index}: pinned at the
   * start (every head and snapshot); at deletion (engine lock held, snapshots unchanged since the
   * start) the doomed SCOs leave the index under its exclusive lock, and every head is scanned
   * again for references taken meanwhile.
   */
  private Scrubber.SharedGuard sharedGuard(int index) throws IOException {
    java.util.Set<Long> pinned = sharedReferences(index, true);
    return new Scrubber.SharedGuard() {
      @Override
      public java.util.Set<Long> pinned() {
        return pinned;
      }

      @Override
      public java.util.Set<Long> release(java.util.Set<Long> doomed) throws IOException {
        if (doomed.isEmpty()) {
          return java.util.Set.of();
        }
        var lock = ctx.dedupe().exclusive();
        lock.lock();
        try {
          ctx.dedupe().purge(index, doomed);
          java.util.Set<Long> now = sharedReferences(index, false);
          now.retainAll(doomed);
          return now;
        } finally {
          lock.unlock();
        }
      }
    };
  }

  /** For tests and diagnostics: the vPool's dedupe index. */
  Dedupe dedupe() {
    return ctx.dedupe();
  }

  /** Flushes every vDisk. */
  public void flushAll() throws IOException {
    IOException first = null;
    for (LocalVolume v : volumes.values()) {
      try {
        v.flush();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** SCOs of every vDisk still waiting for the backend (open SCOs excluded). */
  public int scosAwaitingUpload() {
    return volumes.values().stream().mapToInt(LocalVolume::scosNotUploaded).sum();
  }

  /** Failed SCO upload attempts since the engine started (each is retried until it succeeds). */
  public long uploadFailures() {
    return ctx.uploader().failures.sum();
  }

  /** Upload attempts held back because a vDisk's ownership lease did not hold (each is retried). */
  public long uploadsHeldForLease() {
    return ctx.uploader().leaseWaits.sum();
  }

  /** SCOs uploaded since the engine started. */
  public long scosUploaded() {
    return ctx.uploader().uploaded.sum();
  }

  /** The DTL state of a vDisk (OK_STANDALONE for mode none); empty if there is no such vDisk. */
  public Optional<org.vsa.dtl.DtlState> dtlState(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? Optional.empty() : Optional.of(v.dtlState());
  }

  /**
   * A vDisk's DTL state with the DTL it is about ({@code peer}, null: none, standalone) and the
   * ownership epoch its stream writes with (0: none).
   */
  public record DtlStatus(org.vsa.dtl.DtlState state, java.net.InetSocketAddress peer, long epoch) {}

  /** The DTL state of a vDisk with the DTL and epoch it is about; empty if there is no such vDisk. */
  public Optional<DtlStatus> dtlStatus(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? Optional.empty() : Optional.of(v.dtlStatus());
  }

  /** Why a vDisk's DTL state is what it is. */
  public Optional<String> dtlReason(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? Optional.empty() : Optional.of(v.dtlReason());
  }

  /** The write buffer shared by every vDisk. */
  public WriteBuffer writeBuffer() {
    return ctx.writeBuffer();
  }

  /** The read cache shared by every vDisk. */
  public ReadCache readCache() {
    return ctx.readCache();
  }

  /** Counters of one vDisk (reads per tier, group commits per trigger, ...). */
  public Map<String, Long> stats(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? Map.of() : v.stats();
  }

  /**
   * Seals open SCOs that should go to the backend: every non-empty one when the write buffer is
   * nearly full (open SCOs cannot be uploaded, and writers would otherwise wait for each other),
   * and those of vDisks idle for {@link #IDLE_SEAL_NANOS}.
   */
  private void maintain() {
    WriteBuffer wb = ctx.writeBuffer();
    boolean pressure = wb.usedBytes() >= wb.capacityBytes() * 0.9 || wb.isHolding();
    for (LocalVolume v : volumes.values()) {
      try {
        v.sealIfIdle(pressure ? 0 : IDLE_SEAL_NANOS);
      } catch (IOException | RuntimeException e) {
        log.warn("vDisk {}: sealing the open SCO failed: {}", v.name(), e.toString());
      }
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("engine is closed");
    }
  }

  /** Flushes every vDisk, then stops. */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    maintenance.shutdownNow();
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    try {
      ctx.uploader().close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    IOException first = null;
    for (LocalVolume v : volumes.values()) {
      try {
        v.close();
      } catch (IOException e) {
        log.error("vDisk {}: close failed", v.name(), e);
        first = first == null ? e : first;
      }
    }
    volumes.clear();
    offline.clear();
    ctx.checkpointer().shutdown();
    try {
      ctx.checkpointer().awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ctx.readCache().close();
    ctx.dedupe().close();
    ctx.backend().close();
    if (first != null) {
      throw first;
    }
  }

  /** For tests: stops without flushing, as a crash would (files stay as they are). */
  void crash() throws IOException {
    closed = true;
    maintenance.shutdownNow();
    if (scheduler != null) {
      scheduler.shutdownNow();
    }
    try {
      ctx.uploader().close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (LocalVolume v : volumes.values()) {
      v.abandon();
    }
    volumes.clear();
    offline.clear();
    ctx.checkpointer().shutdownNow();
    ctx.readCache().close();
    ctx.dedupe().close();
    ctx.backend().close();
  }
}
