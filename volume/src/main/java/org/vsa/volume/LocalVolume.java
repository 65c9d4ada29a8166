package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlState;
import org.vsa.dtl.DtlStream;

/**
 * A vDisk on this node: log-structured writes into SCOs in the write buffer, the mapping in a
 * {@link MetadataStore}, sealed SCOs uploaded to the backend.
 *
 * <p>Locks, always taken in this order: the cluster stripes of a write (so that read-modify-write
 * of a partial cluster and concurrent writes to one cluster never interleave), then the append
 * lock (which orders SCO data, TLog records and mapping updates identically, so that recovery's
 * "stop at the first bad record" keeps a prefix of history). Fsync happens outside both, in the
 * {@link GroupCommitter}.
 *
 * <p>Write-buffer files of this vDisk: {@code sco_N} and {@code tlog_N} for every SCO not yet in
 * the backend (the open one included), and every TLog that the last checkpoint does not cover
 * yet. A SCO leaves once the backend holds it and its TLog.
 */
final class LocalVolume extends Volume {
  private static final Logger log = LoggerFactory.getLogger(LocalVolume.class);
  private static final int STRIPES = 1024;
  private static final int STRIPE_SHIFT = 4; // 16 clusters (64 KiB) per stripe
  private static final int TLOG_BUFFER_BYTES = TLog.RECORD_BYTES * 2048;
  /** A backend run longer than this (64 KiB) is a sequential scan and bypasses the read cache. */
  private static final int SEQUENTIAL_RUN_CLUSTERS = 16;
  /** Reads that continue a stream are a scan and bypass the read cache too. */
  private final StreamDetector streams = new StreamDetector();
  /** Checkpoint after this many sealed TLogs, bounding what a restart replays. */
  private static final int TLOGS_PER_CHECKPOINT = 4;

  /** Replaced (never mutated) by a resize. */
  private volatile VolumeSpec spec;
  private final UUID id;
  private final String namespace;
  private final long volumeKey;
  private final Path wbDir;
  private final EngineContext ctx;
  private final MetadataStore metadata;
  private final int slotsPerSco;
  private final ReentrantLock[] stripes = new ReentrantLock[STRIPES];
  private final ReentrantLock appendLock = new ReentrantLock();
  /**
   * Once this fraction of a sealed SCO's clusters is overwritten, its pages are let go from the
   * page cache: they hold mostly dead data, and new writes then reuse that memory instead of
   * taking fresh pages (on a VM whose free memory goes back to the host, a fresh page costs a host
   * fault; bench/README-frontends.md). A hint only: what it drops is read from disk if needed.
   */
  static final double DROP_CACHED_FRACTION = 0.75;
  /** Clusters overwritten per sealed SCO in this run (see {@link #overwritten}); guarded by appendLock. */
  private final java.util.Map<Long, int[]> overwrittenInSco = new java.util.HashMap<>();
  private final GroupCommitter committer;
  /** SCOs whose file is in the write buffer (open, sealed, uploading). */
  private final Map<Long, ScoHandle> scos = new ConcurrentHashMap<>();
  /** TLogs in the write buffer, with their sizes. */
  private final NavigableMap<Long, Long> localTlogs = new ConcurrentSkipListMap<>();
  /** SCOs (and their TLogs) the backend holds; only those not yet trimmed locally are kept. */
  private final Set<Long> uploaded = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean checkpointRunning = new AtomicBoolean();
  private volatile boolean closed;
  /** Its persisted record (settings, template flag, clone lineage); replaced by the engine. */
  private volatile VolumeRecord record;
  /** Namespaces of the clone lineage: [0] the parent's, [1] the parent's parent's, ... */
  private volatile String[] lineageNamespaces = new String[0];
  private final Map<Long, String> exports = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong exportIds = new java.util.concurrent.atomic.AtomicLong();
  /** The DTL stream (standalone until open() connects it); see {@link DtlRestore} for the way back. */
  private volatile DtlStream dtl = DtlStream.standalone(DtlMode.NONE, "opening");
  /**
   * Sync mode: DURABLE writes and flushes may be acknowledged on the DTL's force alone (the local
   * force follows in the background). Set once the boot marker names the stream's epoch (see
   * {@link BootMarker}), the first time the stream is OK_SYNC; until then they wait for the local
   * group commit as in the other modes.
   */
  private volatile boolean dtlAcks;
  private final AtomicBoolean dtlAcksArming = new AtomicBoolean();
  /** The highest seq a writer may acknowledge on the DTL's force alone (set before it waits). */
  private final java.util.concurrent.atomic.AtomicLong dtlAckSeq = new java.util.concurrent.atomic.AtomicLong();
  /**
   * How soon the local write buffer is forced after a write acknowledged on the DTL's force alone
   * (or after {@code groupCommit.maxBytes} of them): a background group commit, off the
   * acknowledgement's path.
   */
  static final long DTL_ACKED_FORCE_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100);
  /** {@link #DTL_ACKED_FORCE_NANOS}, longer in tests that cut the unforced tail as a power loss would. */
  static volatile long dtlAckedForceNanos = DTL_ACKED_FORCE_NANOS;
  /** What the last group commit forced of the open pair: {TLog/SCO number, TLog bytes, SCO bytes} (tests). */
  private volatile long[] forcedMark = new long[3];
  /** The last record recovery kept of the write buffer's history (before it seals the open TLog). */
  private long recoveredSeq;
  /** The kernel's boot id at open (see {@link BootMarker}). */
  private volatile String bootId = BootMarker.UNKNOWN;
  /** Its index in the vPool's dedupe table, or -1 (see {@link Dedupe}). */
  private volatile int sharedIndex = -1;
  /**
   * Dedupe: clusters written to each SCO not yet in the backend, with their digests; they enter
   * the index once the backend holds their SCO and every earlier one. Guarded by the append lock.
   */
  private final TreeMap<Long, List<Dedupe.Pending>> pendingShares = new TreeMap<>();
  /** Clusters whose write pointed to a copy already stored (dedupe hits). */
  final LongAdder shared = new LongAdder();
  /** This node's right to serve it (see {@link OwnershipLease}); checked before every acknowledgement and upload. */
  private volatile OwnershipLease lease = OwnershipLease.ALWAYS;
  /** Non-null once fenced for good on this node (revoked, or handed over): nothing is acknowledged or uploaded. */
  private volatile String fenced;
  /** Non-null while it is being released: no new write is taken, what was written still goes to the backend. */
  private volatile String refusingWrites;
  /** The acknowledgement of a write that waits for nothing: the ownership check alone. */
  private final Pending ownedCheck = this::checkOwned;

  // guarded by appendLock
  private ScoHandle current;
  private FileChannel tlog;
  private long tlogPos;
  private long tlogRecords;
  private final ByteBuffer tlogBuffer = ByteBuffer.allocate(TLOG_BUFFER_BYTES);
  private int nextSlot;
  private long lastSeq;
  private int tlogsSinceCheckpoint;
  /** Sealed SCOs (with their TLogs) not yet forced: the next commit forces them, then queues their upload. */
  private final List<Sealed> sealedUnsynced = new ArrayList<>();
  /**
   * Sealed SCO -> a sequence number at or past its last record, for the SCOs this run sealed and
   * queued for upload: in DTL mode sync their upload waits until the DTL holds it (see uploadSco).
   */
  private final Map<Long, Long> uploadAfterSeq = new java.util.concurrent.ConcurrentHashMap<>();
  /** The next SCO/TLog pair, being created in the background since the last roll. */
  private java.util.concurrent.Future<Prepared> preparing;
  private volatile long lastAppendNanos = System.nanoTime();

  final LongAdder readsLocal = new LongAdder();
  final LongAdder readsCache = new LongAdder();
  /** Clusters rewritten in order because a sequential read found them scattered. */
  final LongAdder reallocated = new LongAdder();
  /**
   * Read reallocation: a sequential read whose clusters lie in more than one run per
   * {@link #REALLOCATE_CLUSTERS_PER_RUN} clusters (random writes scattered them over many SCO
   * slots) has them rewritten, in order, into the open SCO, so that the next scan reads them with
   * one backend read instead of one per cluster. The rewrite is the scrubber's compare-and-append
   * ({@link #relocate(long, long[], ByteBuffer, int[])}): a cluster a client rewrote meanwhile is
   * left alone, and snapshots keep the old copies. One shared background thread with a short
   * queue; when it is busy, reads simply do not reallocate.
   */
  private static final int REALLOCATE_CLUSTERS_PER_RUN = 4;
  /** Reads longer than this (1 MiB) are not reallocated: the queued copies stay within a few MiB. */
  private static final int REALLOCATE_MAX_CLUSTERS = 256;
  private static final java.util.concurrent.ThreadPoolExecutor REALLOCATOR = new java.util.concurrent.ThreadPoolExecutor(
      1, 1, 0, java.util.concurrent.TimeUnit.SECONDS, new java.util.concurrent.ArrayBlockingQueue<>(32), r -> {
        Thread t = new Thread(r, "read-reallocate");
        t.setDaemon(true);
        return t;
      }, new java.util.concurrent.ThreadPoolExecutor.DiscardPolicy());
  final LongAdder readsBackend = new LongAdder();

  private LocalVolume(VolumeSpec spec, UUID id, Path wbDir, EngineContext ctx, MetadataStore metadata) {
    this.spec = spec;
    this.id = id;
    this.namespace = namespaceOf(id);
    this.volumeKey = id.getMostSignificantBits() ^ id.getLeastSignificantBits();
    this.wbDir = wbDir;
    this.ctx = ctx;
    this.metadata = metadata;
    this.slotsPerSco = (int) (spec.scoSizeBytes() / Layout.CLUSTER_BYTES);
    for (int i = 0; i < STRIPES; i++) {
      stripes[i] = new ReentrantLock();
    }
    this.committer = new GroupCommitter(spec.name(), this::commit,
        ctx.config().groupCommitMaxWaitMicros(), ctx.config().groupCommitMaxBytes(), 0);
  }

  static String namespaceOf(UUID id) {
    return "vdisk-" + id;
  }

  @Override
  public VolumeSpec spec() {
    return spec;
  }

  @Override
  public String name() {
    return spec.name();
  }

  @Override
  public UUID id() {
    return id;
  }

  @Override
  public long sizeBytes() {
    return spec.sizeBytes();
  }

  @Override
  public int blockSize() {
    return spec.blockSize();
  }

  boolean isClosed() {
    return closed;
  }

  /** Takes the record's settings, template flag and lineage (at open and after every change). */
  void configure(VolumeRecord r) {
    Verify.that(r.id().equals(id), "record of another vDisk");
    String[] ns = new String[r.lineage().size()];
    for (int i = 0; i < ns.length; i++) {
      ns[i] = r.lineage().get(i).namespace();
    }
    // a flatten empties the lineage once no mapping entry names it; a read that looked its
    // clusters up just before may still resolve an ancestor's level, so the old names stay
    lineageNamespaces = ns.length == 0 && lineageNamespaces.length > 0 ? lineageNamespaces : ns;
    ctx.readCache().setQuota(volumeKey, r.settings().readCacheQuotaBytes());
    record = r;
    spec = r.spec();
  }

  VolumeRecord record() {
    return record;
  }

  /** Sets its index in the vPool's dedupe table (the engine registers dedupe-enabled vDisks). */
  void setSharedIndex(int index) {
    sharedIndex = index;
  }

  /** Whether writes look for identical clusters already stored. */
  private boolean deduping() {
    VolumeRecord r = record;
    return sharedIndex >= 0 && r != null && r.settings().dedupe() && ctx.dedupe() != null;
  }

  @Override
  public VolumeSettings settings() {
    return record.settings();
  }

  @Override
  public boolean isTemplate() {
    return record.template();
  }

  @Override
  public java.util.Optional<CloneSource> cloneSource() {
    List<VolumeRecord.Ancestor> l = record.lineage();
    return l.isEmpty() ? java.util.Optional.empty()
        : java.util.Optional.of(new CloneSource(l.get(0).name(), l.get(0).snapshot()));
  }

  @Override
  public Export export(String holder, boolean writable) {
    if (writable && isTemplate()) {
      throw new IllegalStateException("vDisk " + name() + " is a template: it can only be cloned, not exported for writing");
    }
    long key = exportIds.incrementAndGet();
    exports.put(key, holder);
    AtomicBoolean done = new AtomicBoolean();
    return () -> {
      if (done.compareAndSet(false, true)) {
        exports.remove(key);
      }
    };
  }

  @Override
  public List<String> exportHolders() {
    return List.copyOf(new TreeMap<>(exports).values());
  }

  private void checkWritable() throws IOException {
    if (record != null && record.template()) {
      throw new IOException("vDisk " + name() + " is a template: it is read-only (clone it to write)");
    }
  }

  String namespace() {
    return namespace;
  }

  // ---------------------------------------------------------------- open and recovery

  /**
   * Opens the vDisk: loads the last checkpoint, replays the TLogs after it (stopping at the first
   * torn or corrupt record and setting aside everything after it), seals the TLog that was open
   * at the crash, re-queues uploads, and opens a fresh SCO.
   */
  static LocalVolume open(VolumeSpec spec, UUID id, Path metadataDir, EngineContext ctx) throws IOException {
    return open(spec, id, metadataDir, ctx, OwnershipLease.ALWAYS);
  }

  /**
   * As above, under an ownership lease: refused (VolumeFencedException) when it does not hold now,
   * since opening may restore from the DTL and upload; the DTL stream writes with its epoch.
   */
  static LocalVolume open(VolumeSpec spec, UUID id, Path metadataDir, EngineContext ctx, OwnershipLease lease)
      throws IOException {
    if (!lease.held(System.nanoTime())) {
      throw new VolumeFencedException(spec.name(), "this node's ownership lease (" + lease + ") does not hold, so it"
          + " does not open it");
    }
    Path wbDir = ctx.writeBuffer().directoryFor(namespaceOf(id));
    if (DtlRestore.needed(spec, metadataDir, wbDir, ctx)) {
      DtlRestore.restore(spec, id, metadataDir, wbDir, ctx, lease.epoch());
    }
    String boot = ctx.bootId().get();
    BootMarker.State prev = BootMarker.read(wbDir);
    long dtlLast = -1;
    if (BootMarker.mayLackAcknowledgedWrites(prev, boot)) {
      dtlLast = DtlRestore.afterReboot(spec, id, wbDir, ctx, prev, lease.epoch());
    }
    MetadataStore md = MetadataStore.open(metadataDir, id, ctx.pageCache());
    LocalVolume v = new LocalVolume(spec, id, wbDir, ctx, md);
    v.bootId = boot;
    v.lease = lease;
    try {
      v.recover(dtlLast);
      // A kill -9 leaves written but unforced files (the page cache) that recovery read back as they
      // are: force them before this run adds to them, so that the history on disk stays a prefix and
      // no acknowledgement of the last run keeps resting on the DTL.
      v.forceWriteBuffer();
      v.forcedMark = new long[] {v.current.number, v.tlogPos, Layout.slotOffset(v.nextSlot)};
      if (spec.dtlMode() == DtlMode.SYNC) {
        BootMarker.write(wbDir, new BootMarker.State(boot, 0)); // only sync mode acknowledges on the DTL's force
      }
    } catch (IOException | RuntimeException e) {
      md.close();
      throw e;
    }
    v.committer.markDurable(v.lastSeq);
    v.committer.start();
    try {
      DtlRestore.markWriteBuffer(wbDir);
      if (Files.deleteIfExists(metadataDir.resolve(DtlRestore.RESTORING))) {
        Fs.fsyncDirectory(metadataDir); // restored and opened: from here on its write buffer is its history
      }
      Files.deleteIfExists(wbDir.resolve(DtlRestore.OPEN_WITHOUT_DTL)); // it served this open only
      if (ctx.dtl() != null && spec.dtlMode() != DtlMode.NONE) {
        v.dtl = ctx.dtl().open(id, spec.name(), spec.dtlMode(), v.lastSeq, v.current.number - 1, v::sealForDtl,
            v::leftSync, lease.epoch(), v::dtlFenced);
        v.dtl.backendHolds(v.backendWatermark());
      } else {
        v.dtl = DtlStream.standalone(spec.dtlMode(), spec.dtlMode() == DtlMode.NONE ? "DTL mode none" : "no DTL client");
      }
    } catch (IOException | RuntimeException e) {
      v.close();
      throw e;
    }
    return v;
  }

  /**
   * @param dtlLast the sequence number the recovered history must reach (the DTL's last entry
   *     after a reboot), or -1: checked before recovery accounts, uploads or checkpoints anything,
   *     so that a refusal leaves nothing of this attempt behind in the engine's shared parts
   */
  private void recover(long dtlLast) throws IOException {
    long appliedSeq = metadata.appliedSeq();
    long replayFrom = metadata.replayFromTlog();
    TreeSet<Long> tlogNumbers = numbersIn("tlog_");
    TreeSet<Long> scoNumbers = numbersIn("sco_");
    log.info("vDisk {}: recovering from the checkpoint at sequence {} (replay from TLog {}); TLogs in the write buffer: {}",
        name(), appliedSeq, replayFrom, tlogNumbers);
    lastSeq = appliedSeq;
    recoveredSeq = appliedSeq;
    long prevSeq = -1;
    long lastNumber = replayFrom - 1;
    boolean stopped = false;
    long replayed = 0;
    for (long n : tlogNumbers.tailSet(replayFrom, true)) {
      if (stopped) {
        quarantine(n, "it follows a torn or corrupt TLog");
        continue;
      }
      if (n != lastNumber + 1) {
        log.warn("vDisk {}: TLog {} missing before TLog {}; history stops at TLog {}", name(), lastNumber + 1, n, lastNumber);
        stopped = true;
        quarantine(n, "a TLog before it is missing");
        continue;
      }
      Path tlogPath = wbDir.resolve(Layout.tlogName(n));
      TLog.Scan scan;
      try {
        scan = TLog.scan(tlogPath, id, n);
      } catch (IOException e) {
        log.warn("vDisk {}: {}", name(), e.getMessage());
        scan = new TLog.Scan(List.of(), 0, "bad header");
      }
      ScoData sco = scoNumbers.contains(n) ? new ScoData(wbDir.resolve(Layout.scoName(n)), n) : null;
      int kept = 0;
      int slots = 0;
      String stopReason = scan.stopReason();
      try {
        for (TLog.Record r : scan.records()) {
          if (prevSeq >= 0 && r.seq() != prevSeq + 1) {
            stopReason = "sequence jumps from " + prevSeq + " to " + r.seq();
            break;
          }
          if (r.type() == TLog.WRITE && !scan.sealed()) {
            // the TLog was open at the crash: its SCO data may not have reached the disk
            if (sco == null || !sco.matches(r.a(), r.dataCrc())) {
              stopReason = "data of cluster " + r.cluster() + " (SCO " + n + " slot " + r.a() + ") is missing or torn";
              break;
            }
          }
          if (r.seq() > appliedSeq) {
            apply(n, r);
            replayed++;
          }
          prevSeq = r.seq();
          lastSeq = Math.max(lastSeq, r.seq());
          recoveredSeq = Math.max(recoveredSeq, r.seq());
          kept++;
          if (r.type() == TLog.WRITE) {
            slots = r.a() + 1;
          }
        }
      } finally {
        if (sco != null) {
          sco.close();
        }
      }
      if (scan.validBytes() < TLog.HEADER_BYTES) {
        // not even a header: nothing of this TLog was ever acknowledged
        log.warn("vDisk {}: TLog {} has no valid header; setting it aside", name(), n);
        quarantine(n, "its header is torn");
        stopped = true;
        continue;
      }
      lastNumber = n;
      if (stopReason != null && scan.sealed() && kept == scan.records().size()) {
        // junk after a complete, sealed TLog: drop the junk, the history goes on
        log.warn("vDisk {}: TLog {} has bytes after its SEAL ({}); truncating them", name(), n, stopReason);
        truncate(n, kept, slots);
        continue;
      }
      if (stopReason != null) {
        log.warn("vDisk {}: TLog {} ends early ({}); keeping its first {} records, setting aside everything after",
            name(), n, stopReason, kept);
        truncate(n, kept, slots);
        stopped = true;
      }
      if (!scan.sealed() || stopReason != null) {
        seal(n, kept, slots);
      }
    }
    // SCOs without a TLog were created just before a crash and hold nothing acknowledged
    for (long n : scoNumbers) {
      if (n > lastNumber && Files.exists(wbDir.resolve(Layout.scoName(n)))) {
        Files.deleteIfExists(wbDir.resolve(Layout.scoName(n)));
      }
    }
    if (replayed > 0) {
      log.info("vDisk {}: replayed {} TLog records after the checkpoint (sequence {} to {})",
          name(), replayed, appliedSeq + 1, lastSeq);
    }
    if (dtlLast > recoveredSeq) {
      DtlRestore.refuse(name(), wbDir.resolve(DtlRestore.OPEN_WITHOUT_DTL), "recovery stopped at sequence "
          + recoveredSeq + " although the DTL held the history up to " + dtlLast, null);
    }
    // account what is in the write buffer and find what still has to go to the backend
    for (long n : numbersIn("tlog_")) {
      long size = Files.size(wbDir.resolve(Layout.tlogName(n)));
      localTlogs.put(n, size);
      ctx.writeBuffer().account(size);
    }
    List<Long> toUpload = new ArrayList<>();
    for (long n : numbersIn("sco_")) {
      Path p = wbDir.resolve(Layout.scoName(n));
      ctx.writeBuffer().account(Files.size(p));
      ScoHandle h = new ScoHandle(n, p, FileChannel.open(p, StandardOpenOption.READ), this::scoLeftBuffer);
      scos.put(n, h);
      if (ctx.backend().exists(namespace, Layout.tlogName(n))) {
        markUploaded(n);
      } else {
        toUpload.add(n);
      }
    }
    for (long n : localTlogs.keySet()) {
      if (!scos.containsKey(n) && ctx.backend().exists(namespace, Layout.tlogName(n))) {
        uploaded.add(n);
      }
    }
    openNext(lastNumber + 1);
    long following = lastNumber + 2;
    preparing = ctx.checkpointer().submit(() -> prepare(following));
    // a checkpoint now, so that the next start does not replay this history again
    MetadataStore.Cut cut = metadata.cut(lastSeq, lastNumber + 1);
    metadata.write(cut);
    metadata.complete(cut);
    trimTlogs();
    for (long n : toUpload) {
      ctx.uploader().submit(this, n);
    }
  }

  /** Forces every SCO and TLog of the write buffer, then its directory (at open). */
  private void forceWriteBuffer() throws IOException {
    for (String prefix : new String[] {"sco_", "tlog_"}) {
      for (long n : numbersIn(prefix)) {
        Path p = wbDir.resolve(prefix.equals("sco_") ? Layout.scoName(n) : Layout.tlogName(n));
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
          ch.force(true);
        } catch (java.nio.file.NoSuchFileException e) {
          // uploaded meanwhile (recovery queued it): the backend holds it
        }
      }
    }
    Fs.fsyncDirectory(wbDir);
  }

  private TreeSet<Long> numbersIn(String prefix) throws IOException {
    TreeSet<Long> out = new TreeSet<>();
    try (var s = Files.newDirectoryStream(wbDir, prefix + "*")) {
      for (Path p : s) {
        long n = Layout.numberOf(p.getFileName().toString(), prefix);
        if (n > 0) {
          out.add(n);
        }
      }
    }
    return out;
  }

  /** Reads SCO slots during recovery to check a record's data checksum. */
  private final class ScoData implements AutoCloseable {
    private final FileChannel ch;
    private final long size;
    private final ByteBuffer buf = ByteBuffer.allocate(Layout.CLUSTER_BYTES);

    ScoData(Path p, long number) throws IOException {
      ch = FileChannel.open(p, StandardOpenOption.READ);
      size = ch.size();
      if (size >= Layout.SCO_HEADER_BYTES) {
        ByteBuffer h = ByteBuffer.allocate(Layout.SCO_HEADER_BYTES);
        TLog.readFully(ch, h, 0);
        Sco.checkHeader(h, p, id, number);
      }
    }

    boolean matches(int slot, int crc) throws IOException {
      long off = Layout.slotOffset(slot);
      if (off + Layout.CLUSTER_BYTES > size) {
        return false;
      }
      buf.clear();
      TLog.readFully(ch, buf, off);
      buf.flip();
      return Layout.crc32c(buf) == crc;
    }

    @Override
    public void close() throws IOException {
      ch.close();
    }
  }

  private void apply(long tlogNumber, TLog.Record r) throws IOException {
    switch (r.type()) {
      case TLog.WRITE -> metadata.set(r.cluster(), Layout.location(tlogNumber, r.a()), r.dataCrc());
      case TLog.UNMAP -> metadata.unmap(r.cluster(), r.a());
      case TLog.SHARE -> metadata.set(r.target(), r.sharedLocation(), r.dataCrc());
      default -> { }
    }
  }

  /** Keeps the first {@code records} of TLog n and the first {@code slots} of SCO n. */
  private void truncate(long n, int records, int slots) throws IOException {
    try (FileChannel ch = FileChannel.open(wbDir.resolve(Layout.tlogName(n)), StandardOpenOption.WRITE)) {
      ch.truncate(TLog.HEADER_BYTES + (long) records * TLog.RECORD_BYTES);
      ch.force(true);
    }
    Path sco = wbDir.resolve(Layout.scoName(n));
    if (Files.exists(sco)) {
      Fs.unshare(sco);
      try (FileChannel ch = FileChannel.open(sco, StandardOpenOption.WRITE)) {
        ch.truncate(Layout.slotOffset(slots));
        ch.force(true);
      }
    }
  }

  /** Appends a SEAL to TLog n (found open at recovery) and makes it and its SCO durable. */
  private void seal(long n, int records, int slots) throws IOException {
    Path sco = wbDir.resolve(Layout.scoName(n));
    if (!Files.exists(sco)) {
      // an empty SCO, so that every TLog has its SCO in the backend
      try (FileChannel ch = FileChannel.open(sco, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        TLog.writeFully(ch, Sco.header(id, n), 0);
        ch.force(true);
      }
    } else {
      Fs.unshare(sco);
      try (FileChannel ch = FileChannel.open(sco, StandardOpenOption.WRITE)) {
        if (ch.size() > Layout.slotOffset(slots)) {
          ch.truncate(Layout.slotOffset(slots));
        }
        ch.force(true);
      }
    }
    try (FileChannel ch = FileChannel.open(wbDir.resolve(Layout.tlogName(n)), StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(TLog.RECORD_BYTES);
      TLog.encode(TLog.Record.seal(++lastSeq, slots, records), b);
      b.flip();
      TLog.writeFully(ch, b, TLog.HEADER_BYTES + (long) records * TLog.RECORD_BYTES);
      ch.force(true);
    }
    Fs.fsyncDirectory(wbDir);
  }

  private void quarantine(long n, String why) throws IOException {
    Path q = wbDir.resolve("quarantine");
    Files.createDirectories(q);
    for (String name : new String[] {Layout.tlogName(n), Layout.scoName(n)}) {
      Path p = wbDir.resolve(name);
      if (Files.exists(p)) {
        Files.move(p, q.resolve(name + "." + System.currentTimeMillis()), StandardCopyOption.REPLACE_EXISTING);
      }
    }
    log.warn("vDisk {}: set aside TLog/SCO {} in {} because {}", name(), n, q, why);
  }

  /** Creates SCO n and TLog n and makes them current; caller holds the append lock (or is opening). */
  private void openNext(long n) throws IOException {
    Prepared p = null;
    if (preparing != null) {
      try {
        p = preparing.get(); // started at the previous roll: normally done long ago
      } catch (java.util.concurrent.ExecutionException e) {
        log.warn("vDisk {}: preparing SCO {} failed, creating it now: {}", name(), n, e.getCause().toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted while preparing SCO " + n);
      } finally {
        preparing = null;
      }
    }
    if (p == null || p.number() != n) {
      if (p != null) {
        p.discard();
      }
      p = prepare(n);
    }
    current = new ScoHandle(n, p.scoPath(), p.sco(), this::scoLeftBuffer);
    scos.put(n, current);
    localTlogs.put(n, (long) TLog.HEADER_BYTES);
    tlog = p.tlog();
    tlogPos = TLog.HEADER_BYTES;
    tlogRecords = 0;
    nextSlot = 0;
    tlogBuffer.clear();
  }

  /** An empty SCO and TLog, created and made durable ahead of the roll that will use them. */
  private record Prepared(long number, Path scoPath, FileChannel sco, Path tlogPath, FileChannel tlog) {
    void discard() throws IOException {
      sco.close();
      tlog.close();
      Files.deleteIfExists(scoPath);
      Files.deleteIfExists(tlogPath);
    }
  }

  /** Creates SCO n and TLog n with their headers, fsynced together with the directory. */
  private Prepared prepare(long n) throws IOException {
    Verify.that(n <= Layout.SCO_NUMBER_MAX, "vDisk %s ran out of SCO numbers", name());
    Path scoPath = wbDir.resolve(Layout.scoName(n));
    Path tlogPath = wbDir.resolve(Layout.tlogName(n));
    Files.deleteIfExists(scoPath); // a leftover may be linked into the backend: never truncate it in place
    FileChannel scoCh = FileChannel.open(scoPath, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    FileChannel tlogCh = FileChannel.open(tlogPath, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE);
    TLog.writeFully(scoCh, Sco.header(id, n), 0);
    TLog.writeFully(tlogCh, TLog.header(id, n), 0);
    scoCh.force(true);
    tlogCh.force(true);
    Fs.fsyncDirectory(wbDir);
    ctx.writeBuffer().account(Layout.SCO_HEADER_BYTES + TLog.HEADER_BYTES);
    return new Prepared(n, scoPath, scoCh, tlogPath, tlogCh);
  }

  // ---------------------------------------------------------------- writes

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    writeDeferred(offset, src, durability).await();
  }

  @Override
  public long contentStamp() {
    return closed ? 0 : metadata.stamp();
  }

  @Override
  public boolean writesAtOnce(long bytes) {
    long clusters = (bytes + Layout.CLUSTER_BYTES) >>> Layout.CLUSTER_SHIFT; // an unaligned write may touch one more
    return !closed && dtl.hasRoom() && ctx.writeBuffer().admitsAtOnce(clusters * (Layout.CLUSTER_BYTES + TLog.RECORD_BYTES));
  }

  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    int len = src.remaining();
    checkRange(offset, len);
    checkWritable();
    checkTakingWrites();
    if (len == 0) {
      return durability == Durability.DURABLE ? this::flush : ownedOrNone();
    }
    long first = offset >>> Layout.CLUSTER_SHIFT;
    long last = (offset + len - 1) >>> Layout.CLUSTER_SHIFT;
    int n = (int) (last - first + 1);
    dtl.awaitRoom(); // back-pressure while the DTL lags (never while it is unreachable)
    admit(n);
    try {
      committer.enter();
    } catch (IOException e) {
      ctx.writeBuffer().release(admitted(n));
      throw e;
    }
    long appended = 0;
    long seq;
    long[] locations;
    ByteBuffer data;
    try {
      lockStripes(first, last);
      try {
        checkOpen();
        data = clusterAligned(offset, src, first, n);
        int[] crcs = clusterCrcs(data, n);
        locations = new long[n];
        if (deduping()) {
          seq = appendDeduped(first, n, data, crcs, locations);
        } else {
          seq = append(first, n, data, crcs, locations, null, null);
        }
        src.position(src.limit());
        appended = (long) n * Layout.CLUSTER_BYTES;
      } finally {
        unlockStripes(first, last);
      }
    } finally {
      committer.exit(appended);
      if (appended == 0) {
        ctx.writeBuffer().release(admitted(n));
      }
    }
    if (spec.cachePolicy() == CachePolicy.ON_WRITE) {
      for (int i = 0; i < n; i++) {
        ctx.readCache().offer(volumeKey, locations[i],
            data.duplicate().position(i * Layout.CLUSTER_BYTES).limit((i + 1) * Layout.CLUSTER_BYTES));
      }
    }
    long acked = seq;
    if (durability == Durability.DURABLE) {
      return () -> {
        awaitDurable(acked);
        checkOwned();
      };
    }
    if (dtl.mode() == DtlMode.SYNC) {
      return () -> {
        dtl.awaitHeld(acked);
        checkOwned();
      };
    }
    return ownedOrNone();
  }

  /**
   * The acknowledgement of a write that waits for nothing: under a lease, the ownership check; a
   * single node's (no lease) has nothing left to check (fencing was checked before the append) and
   * answers {@link Pending#NONE}, which front ends complete in line.
   */
  private Pending ownedOrNone() {
    return lease == OwnershipLease.ALWAYS ? Pending.NONE : ownedCheck;
  }

  // ---------------------------------------------------------------- ownership

  /**
   * Throws unless this node may acknowledge now: not fenced, not being released, and its
   * ownership lease holds. Called last before every acknowledgement (a volatile read or two and
   * one clock read).
   */
  void checkOwned() throws VolumeFencedException {
    String f = fenced != null ? fenced : refusingWrites;
    if (f != null) {
      throw new VolumeFencedException(name(), f);
    }
    OwnershipLease l = lease;
    if (l != OwnershipLease.ALWAYS && !l.held(System.nanoTime())) {
      throw new VolumeFencedException(name(), "its ownership lease (epoch " + l.epoch() + ") ran out");
    }
  }

  /** Throws if it is fenced or being released: a new write is not even appended. */
  private void checkTakingWrites() throws VolumeFencedException {
    String f = fenced != null ? fenced : refusingWrites;
    if (f != null) {
      throw new VolumeFencedException(name(), f);
    }
  }

  /** Throws unless this node may put the vDisk's objects to the backend now. */
  void checkMayUpload() throws VolumeFencedException {
    String f = fenced;
    if (f != null) {
      throw new VolumeFencedException(name(), f);
    }
    OwnershipLease l = lease;
    if (l != OwnershipLease.ALWAYS && !l.held(System.nanoTime())) {
      throw new VolumeFencedException(name(), "its ownership lease (epoch " + l.epoch() + ") ran out: no upload");
    }
  }

  OwnershipLease lease() {
    return lease;
  }

  long dtlEpoch() {
    return dtl.epoch();
  }

  /** The DTL stream's state, DTL and epoch, read together (the stream is replaced when its DTL moves). */
  Engine.DtlStatus dtlStatus() {
    org.vsa.dtl.DtlStream d = dtl;
    return new Engine.DtlStatus(d.state(), d.peer(), d.epoch());
  }

  /** Fences it for good on this node: no acknowledgement, no upload from now on. */
  void fence(String why) {
    fenced = why;
    log.warn("vDisk {}: FENCED on this node ({}): writes, flushes and unmaps fail, nothing is uploaded", name(), why);
  }

  /**
   * The DTL refused this stream's epoch: another node took the vDisk over with a higher one. Only
   * with an ownership lease (in a cluster); a single node's next open fences its previous
   * incarnation the same way, which is then closed anyway. Must not block.
   */
  private void dtlFenced() {
    if (lease != OwnershipLease.ALWAYS && fenced == null) {
      fence("its DTL has seen a higher ownership epoch than this node's " + lease.epoch() + ": another node owns it");
    }
  }

  boolean isFenced() {
    return fenced != null;
  }

  /** Takes no new write from now on (a release); what was written still reaches the backend. */
  void refuseWrites(String why) {
    appendLock.lock();
    try {
      refusingWrites = why; // under the append lock: no write appends after it
    } finally {
      appendLock.unlock();
    }
  }

  /**
   * Moves the DTL stream to the peer the DTL connector names now (the control plane placed a new
   * one): a new stream under the same epoch, which catches up through the backend as after a DTL
   * restart. Writes acknowledged on the old DTL's force alone are forced locally before it goes.
   */
  void reopenDtl() throws IOException {
    if (ctx.dtl() == null || spec.dtlMode() == DtlMode.NONE) {
      return;
    }
    DtlStream old;
    long through;
    appendLock.lock();
    try {
      checkOpen();
      long lastSco = tlogRecords > 0 ? current.number : current.number - 1;
      DtlStream fresh = ctx.dtl().open(id, spec.name(), spec.dtlMode(), lastSeq, lastSco, this::sealForDtl,
          this::leftSync, lease.epoch(), this::dtlFenced);
      old = dtl;
      dtl = fresh;
      through = lastSeq;
      fresh.backendHolds(backendWatermark());
    } finally {
      appendLock.unlock();
    }
    try {
      committer.awaitDurable(through); // nothing rests on the old DTL's copy any more
    } finally {
      old.close();
    }
  }

  /**
   * Returns once everything up to {@code seq} is safe as a DURABLE write's acknowledgement promises.
   * In DTL mode sync while the stream is OK_SYNC (and the boot marker names its epoch), that is once
   * the DTL has forced it: the local force is asked for in the background (within
   * {@link #DTL_ACKED_FORCE_NANOS}), and recovery after a reboot takes what the write buffer lost
   * from the DTL. Otherwise it is the local group commit, as in the other modes (and in sync mode
   * the DTL as well, as for every sync-mode write).
   */
  private void awaitDurable(long seq) throws IOException {
    DtlStream d = dtl;
    if (d.mode() != DtlMode.SYNC) {
      committer.awaitDurable(seq);
      return;
    }
    if (d.state() == DtlState.OK_SYNC) {
      if (dtlAcks) {
        dtlAckSeq.accumulateAndGet(seq, Math::max); // before the wait: leftSync() forces through it
        if (d.awaitHeld(seq) && d.state() == DtlState.OK_SYNC) {
          committer.requestWithin(seq, dtlAckedForceNanos);
          IOException failure = committer.failure();
          if (failure != null) {
            throw new IOException("vDisk " + name() + " stopped after a write-buffer failure", failure);
          }
          return;
        }
      } else {
        armDtlAcks(d);
      }
    }
    try {
      committer.awaitDurable(seq);
    } catch (IOException e) {
      String f = fenced;
      if (f != null) {
        // fenced under the write (another epoch took it, or this node reopened it): the initiator
        // retries elsewhere or later, as for any write of a fenced vDisk, rather than seeing an I/O error
        VolumeFencedException x = new VolumeFencedException(name(), f);
        x.addSuppressed(e);
        throw x;
      }
      throw e;
    }
    d.awaitHeld(seq);
  }

  /**
   * The stream is OK_SYNC for the first time in this run: records its epoch in the boot marker (in
   * the background), after which DURABLE writes may be acknowledged on the DTL's force alone.
   */
  private void armDtlAcks(DtlStream d) {
    if (!dtlAcksArming.compareAndSet(false, true)) {
      return;
    }
    try {
      ctx.checkpointer().execute(() -> {
        try {
          if (!closed) {
            BootMarker.write(wbDir, new BootMarker.State(bootId, d.epoch()));
            dtlAcks = true;
            log.info("vDisk {}: DURABLE writes are acknowledged once the DTL (epoch {}) has forced them; the write"
                + " buffer is forced in the background", name(), d.epoch());
          }
        } catch (IOException | RuntimeException e) {
          log.warn("vDisk {}: cannot write the boot marker ({}); DURABLE writes keep waiting for the local force", name(),
              e.toString());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      dtlAcksArming.set(false);
    }
  }

  /** Whether DURABLE writes may be acknowledged on the DTL's force alone now (tests). */
  boolean dtlAcksArmed() {
    return dtlAcks;
  }

  /** {TLog/SCO number, TLog bytes, SCO bytes} of the open pair as the last group commit forced it (tests). */
  long[] forcedMark() {
    return forcedMark.clone();
  }

  /** The DTL stream left OK_SYNC: force at once what was acknowledged on its force alone. Must not block. */
  private void leftSync(DtlState to) {
    long s = dtlAckSeq.get();
    if (s > 0) {
      committer.request(s);
    }
  }

  /**
   * The CRC32C of each of the {@code n} whole clusters from {@code data}'s position, through one
   * view and one checksum object (a view and a checksum per cluster cost more than the checksum
   * itself, for a direct buffer most of all).
   */
  private static int[] clusterCrcs(ByteBuffer data, int n) {
    int[] crcs = new int[n];
    ByteBuffer view = data.duplicate();
    int base = data.position();
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    for (int i = 0; i < n; i++) {
      view.limit(base + (i + 1) * Layout.CLUSTER_BYTES).position(base + i * Layout.CLUSTER_BYTES);
      crc.reset();
      crc.update(view);
      crcs[i] = (int) crc.getValue();
    }
    return crcs;
  }

  private static long admitted(int clusters) {
    return (long) clusters * (Layout.CLUSTER_BYTES + TLog.RECORD_BYTES);
  }

  private void admit(int clusters) throws IOException {
    try {
      ctx.writeBuffer().admit(admitted(clusters));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while the write buffer was full");
    }
  }

  /** The write's data as whole clusters, merging partial head and tail clusters with what is there. */
  private ByteBuffer clusterAligned(long offset, ByteBuffer src, long first, int n) throws IOException {
    int len = src.remaining();
    int head = (int) (offset & (Layout.CLUSTER_BYTES - 1));
    if (head == 0 && len == n * Layout.CLUSTER_BYTES) {
      return src.slice();
    }
    ByteBuffer data = ByteBuffer.allocate(n * Layout.CLUSTER_BYTES);
    if (head != 0) {
      readClusters(first, 1, data.duplicate().limit(Layout.CLUSTER_BYTES), false);
    }
    int tailEnd = head + len;
    if ((tailEnd & (Layout.CLUSTER_BYTES - 1)) != 0 && (n > 1 || head == 0)) {
      readClusters(first + n - 1, 1, data.duplicate().position((n - 1) * Layout.CLUSTER_BYTES), false);
    }
    data.position(head);
    data.put(src.duplicate());
    data.clear();
    return data;
  }

  /**
   * Dedupe: each cluster whose SHA-256 (and CRC32C) the index knows becomes a SHARE record naming
   * the stored copy, no data; the others are appended as usual and remembered for the index.
   * The share lock is held from the lookups until the mapping names the shared copies, so a scrub
   * cannot delete a copy in between (see {@link Dedupe}). Caller holds the clusters' stripes.
   */
  private long appendDeduped(long first, int n, ByteBuffer data, int[] crcs, long[] locations) throws IOException {
    Dedupe dd = ctx.dedupe();
    Dedupe.Key[] keys = new Dedupe.Key[n];
    for (int i = 0; i < n; i++) {
      keys[i] = Dedupe.Key.of(Dedupe.sha256(data.duplicate().position(i * Layout.CLUSTER_BYTES)
          .limit((i + 1) * Layout.CLUSTER_BYTES)));
    }
    long[] sharedLocs = new long[n];
    int hits = 0;
    var lock = dd.shareLock();
    lock.lock();
    long seq;
    try {
      for (int i = 0; i < n; i++) {
        sharedLocs[i] = dd.lookup(keys[i], crcs[i]);
        hits += sharedLocs[i] != 0 ? 1 : 0;
      }
      seq = append(first, n, data, crcs, locations, hits == 0 ? null : sharedLocs, keys);
    } finally {
      lock.unlock();
    }
    if (hits > 0) {
      shared.add(hits);
      ctx.writeBuffer().release((long) hits * Layout.CLUSTER_BYTES); // admitted, never written
    }
    return seq;
  }

  /**
   * Appends whole clusters; returns the last sequence number used. Fills {@code locations}.
   * {@code sharedLocs} (may be null): clusters with a non-zero entry get a SHARE record to that
   * location instead of data. {@code keys} (may be null): digests of the clusters, remembered for
   * the dedupe index.
   */
  private long append(long first, int n, ByteBuffer data, int[] crcs, long[] locations, long[] sharedLocs,
      Dedupe.Key[] keys) throws IOException {
    appendLock.lock();
    try {
      checkOpen();
      checkTakingWrites(); // a release sealed the history: nothing (scrub, reallocation included) goes after it
      int i = 0;
      while (i < n) {
        if (tlogRecords >= 4L * slotsPerSco) {
          roll(); // SHARE records take no slot: bound the TLog anyway
        }
        if (sharedLocs != null && sharedLocs[i] != 0) {
          appendRecord(TLog.Record.share(++lastSeq, first + i, sharedLocs[i], crcs[i]));
          metadata.set(first + i, sharedLocs[i], crcs[i]);
          locations[i] = sharedLocs[i];
          i++;
          continue;
        }
        if (nextSlot == slotsPerSco) {
          roll();
        }
        int k = Math.min(n - i, slotsPerSco - nextSlot);
        if (sharedLocs != null) {
          int run = 1;
          while (run < k && sharedLocs[i + run] == 0) {
            run++;
          }
          k = run;
        }
        ByteBuffer chunk = data.duplicate().position(i * Layout.CLUSTER_BYTES).limit((i + k) * Layout.CLUSTER_BYTES);
        try {
          TLog.writeFully(current.channel, chunk, Layout.slotOffset(nextSlot));
        } catch (IOException e) {
          throw writeBufferFailed("writing SCO " + current.number, e);
        }
        for (int j = 0; j < k; j++) {
          long cluster = first + i + j;
          long loc = Layout.location(current.number, nextSlot + j);
          appendRecord(TLog.Record.write(++lastSeq, cluster, nextSlot + j, crcs[i + j]), data,
              (i + j) * Layout.CLUSTER_BYTES);
          overwritten(metadata.set(cluster, loc, crcs[i + j]));
          locations[i + j] = loc;
          if (keys != null && ctx.dedupe().reservePending()) {
            pendingShares.computeIfAbsent(current.number, x -> new ArrayList<>())
                .add(new Dedupe.Pending(keys[i + j], nextSlot + j, crcs[i + j]));
          }
        }
        nextSlot += k;
        i += k;
      }
      lastAppendNanos = System.nanoTime();
      if (dtl.mode() == DtlMode.SYNC) {
        writeTlogBuffer(); // acknowledged before the next flush: its record must survive a kill -9 here too
      }
      if (metadata.residentPages() > ctx.dirtyPagesMax()) {
        startCheckpoint(current.number);
      }
      return lastSeq;
    } finally {
      appendLock.unlock();
    }
  }

  /**
   * A write replaced the cluster at {@code old}: counts it against its SCO, and once most of a
   * sealed SCO of this vDisk is overwritten, tells the backend its pages need not stay cached
   * (see {@link #DROP_CACHED_FRACTION}). Caller holds the append lock.
   */
  private void overwritten(long old) {
    if (old == 0) {
      return;
    }
    long n = Layout.scoOf(old);
    if (n >= current.number || Layout.lineageOf(old) != 0) {
      return;
    }
    int[] count = overwrittenInSco.computeIfAbsent(n, x -> new int[1]);
    if (++count[0] != (int) (slotsPerSco * DROP_CACHED_FRACTION)) {
      return;
    }
    if (overwrittenInSco.size() > 4096) {
      overwrittenInSco.clear(); // a hint, not an account: bounded, forgets rather than grows
    }
    String sco = Layout.scoName(n);
    try {
      ctx.checkpointer().execute(() -> ctx.backend().dropCached(namespace, sco));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing
    }
  }

  private IOException writeBufferFailed(String what, IOException e) {
    IOException io = new IOException("vDisk " + name() + ": " + what + " in the write buffer failed", e);
    committer.fail(io);
    return io;
  }

  private void appendRecord(TLog.Record r) throws IOException {
    appendRecord(r, null, 0);
  }

  /**
   * Appends a TLog record and ships it, with the cluster's data for a write (the cluster at
   * {@code dataOffset} of {@code data}), to the DTL.
   */
  private void appendRecord(TLog.Record r, ByteBuffer data, int dataOffset) throws IOException {
    if (tlogBuffer.remaining() < TLog.RECORD_BYTES) {
      writeTlogBuffer();
    }
    TLog.encode(r, tlogBuffer);
    tlogRecords++;
    DtlStream d = dtl;
    if (d.mode() != DtlMode.NONE) {
      byte[] rec = new byte[TLog.RECORD_BYTES];
      tlogBuffer.get(tlogBuffer.position() - TLog.RECORD_BYTES, rec);
      byte[] bytes = new byte[data == null ? 0 : Layout.CLUSTER_BYTES];
      if (data != null) {
        data.get(dataOffset, bytes);
      }
      d.append(r.seq(), current.number, rec, bytes);
    }
  }

  private void writeTlogBuffer() throws IOException {
    tlogBuffer.flip();
    int n = tlogBuffer.remaining();
    try {
      TLog.writeFully(tlog, tlogBuffer, tlogPos);
    } catch (IOException e) {
      throw writeBufferFailed("writing TLog " + current.number, e);
    }
    tlogPos += n;
    localTlogs.put(current.number, tlogPos);
    tlogBuffer.clear();
  }

  /** Group commit's action: forces the open SCO and TLog. Runs on the committer thread. */
  private long commit() throws IOException {
    ScoHandle sco;
    FileChannel tl;
    long target;
    List<Sealed> sealed;
    long[] mark;
    appendLock.lock();
    try {
      writeTlogBuffer();
      target = lastSeq;
      sco = current;
      tl = tlog;
      mark = new long[] {current.number, tlogPos, Layout.slotOffset(nextSlot)};
      sealed = new ArrayList<>(sealedUnsynced);
      sealedUnsynced.clear();
    } finally {
      appendLock.unlock();
    }
    // older SCOs first: the history on stable storage stays a prefix of the history written
    for (Sealed s : sealed) {
      s.sco().channel.force(false);
      s.tlog().force(false);
      s.tlog().close();
    }
    sco.channel.force(false);
    tl.force(false);
    forcedMark = mark;
    for (Sealed s : sealed) {
      uploadAfterSeq.put(s.sco().number, target);
      ctx.uploader().submit(this, s.sco().number);
    }
    return target;
  }

  /** A SCO sealed by a roll, with its TLog channel, waiting for the commit that forces both. */
  private record Sealed(ScoHandle sco, FileChannel tlog) {}

  /** Seals the current SCO and opens the next; caller holds the append lock. */
  private void roll() throws IOException {
    long n = current.number;
    appendRecord(TLog.Record.seal(++lastSeq, nextSlot, tlogRecords));
    ctx.writeBuffer().account(TLog.RECORD_BYTES);
    writeTlogBuffer();
    // No fsync here, under the append lock every writer waits on: the next commit forces the
    // sealed pair (before the new one) and then queues its upload.
    sealedUnsynced.add(new Sealed(current, tlog));
    committer.request(lastSeq);
    tlogsSinceCheckpoint++;
    openNext(n + 1);
    long following = n + 2;
    preparing = ctx.checkpointer().submit(() -> prepare(following));
    if (tlogsSinceCheckpoint >= TLOGS_PER_CHECKPOINT) {
      startCheckpoint(n + 1);
    }
  }

  /**
   * Seals the open SCO now if it holds anything (the engine asks when the write buffer fills up
   * with open SCOs, or when a vDisk has been idle), so that it can go to the backend.
   */
  void sealIfIdle(long idleNanos) throws IOException {
    if (System.nanoTime() - lastAppendNanos < idleNanos) {
      return;
    }
    appendLock.lock();
    try {
      if (!closed && tlogRecords > 0) {
        roll();
      }
    } finally {
      appendLock.unlock();
    }
  }

  // ---------------------------------------------------------------- checkpoints

  /** Takes a cut and writes it in the background; caller holds the append lock. */
  private void startCheckpoint(long replayFromTlog) {
    if (!checkpointRunning.compareAndSet(false, true)) {
      return;
    }
    tlogsSinceCheckpoint = 0;
    MetadataStore.Cut cut = metadata.cut(lastSeq, replayFromTlog);
    ctx.checkpointer().execute(() -> {
      try {
        // the WAL rule: the pages may name only writes whose records and data are durable
        committer.awaitDurable(cut.appliedSeq());
        metadata.write(cut);
        appendLock.lock();
        try {
          metadata.complete(cut);
        } finally {
          appendLock.unlock();
        }
        trimTlogs();
      } catch (IOException | RuntimeException e) {
        if (!closed) {
          log.error("vDisk {}: checkpoint failed; will retry at the next trigger", name(), e);
        }
      } finally {
        checkpointRunning.set(false);
      }
    });
  }

  /** Deletes local TLogs that the backend holds and the checkpoint covers. */
  private void trimTlogs() {
    long replayFrom = metadata.replayFromTlog();
    for (Map.Entry<Long, Long> e : localTlogs.headMap(replayFrom, false).entrySet()) {
      long n = e.getKey();
      if (uploaded.contains(n) && localTlogs.remove(n) != null) {
        try {
          Files.deleteIfExists(wbDir.resolve(Layout.tlogName(n)));
        } catch (IOException ex) {
          log.warn("vDisk {}: could not delete TLog {}: {}", name(), n, ex.toString());
        }
        uploaded.remove(n);
        ctx.writeBuffer().release(e.getValue());
      }
    }
  }

  // ---------------------------------------------------------------- upload

  /** Puts SCO n and then TLog n to the backend; then SCO n may leave the write buffer. */
  void uploadSco(long n) throws IOException {
    ScoHandle h = scos.get(n);
    Verify.that(h != null, "SCO %d of vDisk %s queued for upload is not in the write buffer", n, name());
    // Sealed: nothing writes to it again (recovery unshares before truncating), so a backend on
    // this file system may link it instead of copying it.
    Long through = uploadAfterSeq.get(n);
    DtlStream d = dtl;
    if (through != null && d.mode() == DtlMode.SYNC) {
      // In sync mode the backend must not get ahead of the DTL while the DTL protects the stream:
      // records nobody waited for (a read's reallocations, a seal) would otherwise reach the backend
      // first, and an adoption then finds the DTL's stream ending before the backend's and refuses
      // it as out of sync. Returns at once unless the stream is OK_SYNC, within the ack timeout.
      d.awaitHeld(through);
    }
    checkMayUpload(); // never past the lease: another node may own the vDisk by then
    ctx.backend().putSealed(namespace, Layout.scoName(n), h.path);
    checkMayUpload();
    ctx.backend().put(namespace, Layout.tlogName(n), wbDir.resolve(Layout.tlogName(n)));
    markUploaded(n);
  }

  private void markUploaded(long n) {
    uploaded.add(n);
    uploadAfterSeq.remove(n);
    ScoHandle h = scos.remove(n);
    if (h != null) {
      h.release();
    }
    trimTlogs();
    long watermark = backendWatermark();
    dtl.backendHolds(watermark);
    publishShares(watermark);
  }

  /** Dedupe: clusters of SCOs up to {@code watermark} (all in the backend) enter the index. */
  private void publishShares(long watermark) {
    Dedupe dd = ctx.dedupe();
    int idx = sharedIndex;
    if (dd == null) {
      return;
    }
    // entered first, forgotten after: while a SCO has pending clusters a scrub leaves it alone
    // (hasPendingShares), so a scrub's purge always comes after its entries went in
    List<Map.Entry<Long, List<Dedupe.Pending>>> ready = new ArrayList<>();
    appendLock.lock();
    try {
      for (Map.Entry<Long, List<Dedupe.Pending>> e : pendingShares.headMap(watermark, true).entrySet()) {
        ready.add(Map.entry(e.getKey(), e.getValue())); // lists of sealed SCOs: no longer appended to
      }
    } finally {
      appendLock.unlock();
    }
    for (Map.Entry<Long, List<Dedupe.Pending>> e : ready) {
      if (idx >= 0 && !closed) {
        dd.publish(idx, e.getKey(), e.getValue());
      }
    }
    long released = 0;
    appendLock.lock();
    try {
      for (Map.Entry<Long, List<Dedupe.Pending>> e : ready) {
        if (pendingShares.remove(e.getKey(), e.getValue())) {
          released += e.getValue().size();
        }
      }
    } finally {
      appendLock.unlock();
    }
    dd.releasePending(released);
  }

  /** Whether clusters of SCO n still wait to enter the dedupe index (a scrub leaves such a SCO alone). */
  boolean hasPendingShares(long n) {
    appendLock.lock();
    try {
      return pendingShares.containsKey(n);
    } finally {
      appendLock.unlock();
    }
  }

  /** Forgets the clusters not yet in the index (close, crash). */
  private void dropPendingShares() {
    Dedupe dd = ctx.dedupe();
    if (dd == null) {
      return;
    }
    long n = 0;
    appendLock.lock();
    try {
      for (List<Dedupe.Pending> l : pendingShares.values()) {
        n += l.size();
      }
      pendingShares.clear();
    } finally {
      appendLock.unlock();
    }
    dd.releasePending(n);
  }

  /** Every SCO up to this one is in the backend (SCOs leave the write buffer only once uploaded). */
  private long backendWatermark() {
    long min = Long.MAX_VALUE;
    for (long n : scos.keySet()) {
      min = Math.min(min, n);
    }
    ScoHandle c = current;
    if (c != null) {
      min = Math.min(min, c.number);
    }
    return min == Long.MAX_VALUE ? 0 : min - 1;
  }

  /** The DTL catches up through the backend: seal the open SCO if it is at most {@code sco}. */
  private void sealForDtl(long sco) {
    appendLock.lock();
    try {
      if (!closed && current != null && current.number <= sco && tlogRecords > 0) {
        roll();
      }
    } catch (IOException e) {
      log.warn("vDisk {}: sealing SCO {} for the DTL failed: {}", name(), sco, e.toString());
    } finally {
      appendLock.unlock();
    }
  }

  DtlState dtlState() {
    return dtl.state();
  }

  String dtlReason() {
    return dtl.reason();
  }

  private void scoLeftBuffer(long bytes) {
    ctx.writeBuffer().release(bytes);
  }

  /** SCOs of this vDisk still waiting for the backend (the open one excluded). */
  int scosNotUploaded() {
    return (int) scos.keySet().stream().filter(n -> current == null || n != current.number).count();
  }

  // ---------------------------------------------------------------- reads

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    int len = dst.remaining();
    checkRange(offset, len);
    checkOpen();
    if (len == 0) {
      return;
    }
    long first = offset >>> Layout.CLUSTER_SHIFT;
    long last = (offset + len - 1) >>> Layout.CLUSTER_SHIFT;
    int n = (int) (last - first + 1);
    int head = (int) (offset & (Layout.CLUSTER_BYTES - 1));
    boolean sequential = streams.sequential(offset, len);
    boolean cacheable = spec.cachePolicy() == CachePolicy.ON_READ && !sequential;
    if (head == 0 && len == n * Layout.CLUSTER_BYTES) {
      readClusters(first, n, dst.duplicate(), cacheable, sequential);
    } else {
      ByteBuffer tmp = ByteBuffer.allocate(n * Layout.CLUSTER_BYTES);
      readClusters(first, n, tmp.duplicate(), cacheable, sequential);
      tmp.position(head).limit(head + len);
      dst.duplicate().put(tmp);
    }
    dst.position(dst.limit());
  }

  /** Fills {@code out} (n whole clusters from its position) with clusters [first, first+n). */
  private void readClusters(long first, int n, ByteBuffer out, boolean cacheable) throws IOException {
    readClusters(first, n, out, cacheable, false);
  }

  private void readClusters(long first, int n, ByteBuffer out, boolean cacheable, boolean reallocate)
      throws IOException {
    long[] locs = new long[n];
    int[] crcs = new int[n];
    metadata.lookup(first, n, locs, crcs);
    int base = out.position();
    int runs = 0;
    int i = 0;
    while (i < n) {
      if (locs[i] == 0) {
        int j = i + 1;
        while (j < n && locs[j] == 0) {
          j++;
        }
        zero(out, base + i * Layout.CLUSTER_BYTES, (j - i) * Layout.CLUSTER_BYTES);
        i = j;
        continue;
      }
      int j = i + 1;
      while (j < n && locs[j] == locs[j - 1] + 1 && Layout.slotOf(locs[j - 1]) < 0xFFFF) {
        j++;
      }
      readRun(first + i, locs, crcs, i, j, out, base, cacheable);
      runs++;
      i = j;
    }
    if (reallocate && n >= 2 * REALLOCATE_CLUSTERS_PER_RUN && n <= REALLOCATE_MAX_CLUSTERS
        && runs * REALLOCATE_CLUSTERS_PER_RUN > n) {
      reallocate(first, n, out, base, locs, crcs);
    }
  }

  /** Queues the rewrite of clusters [first, first+n) just read into {@code out} (see {@link #REALLOCATOR}). */
  private void reallocate(long first, int n, ByteBuffer out, int base, long[] locs, int[] crcs) {
    if (closed || REALLOCATOR.getQueue().remainingCapacity() == 0 || (record != null && record.template())) {
      return;
    }
    ByteBuffer copy = ByteBuffer.allocate(n * Layout.CLUSTER_BYTES);
    copy.put(out.duplicate().position(base).limit(base + n * Layout.CLUSTER_BYTES)).flip();
    long[] expected = locs.clone();
    for (int i = 0; i < n; i++) {
      if (Layout.isShared(expected[i])) {
        expected[i] = 0; // a shared copy stays shared: relocate skips it
      }
    }
    REALLOCATOR.execute(() -> {
      try {
        if (!closed) {
          reallocated.add(relocate(first, expected, copy, crcs));
        }
      } catch (IOException | RuntimeException e) {
        log.debug("vDisk {}: read reallocation of clusters {}+{} skipped: {}", name(), first, n, e.toString());
      }
    });
  }

  private static void zero(ByteBuffer out, int pos, int len) {
    for (int k = 0; k < len; k += 8) {
      out.putLong(pos + k, 0L);
    }
  }

  /** Reads clusters i..j-1, which lie in consecutive slots of one SCO. */
  private void readRun(long firstCluster, long[] locs, int[] crcs, int i, int j, ByteBuffer out, int base,
      boolean cacheable) throws IOException {
    long sco = Layout.scoOf(locs[i]);
    int level = Layout.lineageOf(locs[i]);
    // a clone's clusters at level > 0 live in an ancestor's SCOs, which are in the backend
    String ns = level == 0 ? namespace : level == Layout.SHARED_LEVEL ? sharedNamespace(locs[i]) : lineageNamespaces[level - 1];
    ScoHandle h = level == 0 ? scos.get(sco) : null;
    if (h != null && h.tryAcquire()) {
      try {
        ByteBuffer dst = out.duplicate().position(base + i * Layout.CLUSTER_BYTES).limit(base + j * Layout.CLUSTER_BYTES);
        TLog.readFully(h.channel, dst, Layout.slotOffset(Layout.slotOf(locs[i])));
      } finally {
        h.release();
      }
      readsLocal.add(j - i);
      verify(firstCluster, locs, crcs, i, j, out, base, "write buffer");
      return;
    }
    // not in the write buffer: the read cache, then a ranged read of the missing runs from the backend
    int k = i;
    while (k < j) {
      ByteBuffer dst = out.duplicate().position(base + k * Layout.CLUSTER_BYTES).limit(base + (k + 1) * Layout.CLUSTER_BYTES);
      if (spec.cachePolicy() != CachePolicy.NONE && ctx.readCache().read(volumeKey, locs[k], crcs[k], dst)) {
        readsCache.increment();
        k++;
        continue;
      }
      int m = k + 1;
      while (m < j) {
        ByteBuffer probe = out.duplicate().position(base + m * Layout.CLUSTER_BYTES).limit(base + (m + 1) * Layout.CLUSTER_BYTES);
        if (spec.cachePolicy() != CachePolicy.NONE && ctx.readCache().read(volumeKey, locs[m], crcs[m], probe)) {
          break;
        }
        m++;
      }
      ByteBuffer run = out.duplicate().position(base + k * Layout.CLUSTER_BYTES).limit(base + m * Layout.CLUSTER_BYTES);
      try {
        ctx.backend().read(ns, Layout.scoName(sco), Layout.slotOffset(Layout.slotOf(locs[k])), run);
      } catch (NoSuchObjectException e) {
        throw new IOException("vDisk " + name() + ": SCO " + sco + (level == 0 ? "" : " of " + ns) + " holding cluster "
            + (firstCluster + k - i) + " is neither in the write buffer nor in the backend", e);
      }
      readsBackend.add(m - k);
      verify(firstCluster, locs, crcs, k, m, out, base, "backend");
      if (cacheable && m - k <= SEQUENTIAL_RUN_CLUSTERS) {
        // scans (long runs, or reads that continue a stream) would only push out the hot blocks
        for (int c = k; c < m; c++) {
          ctx.readCache().offer(volumeKey, locs[c],
              out.duplicate().position(base + c * Layout.CLUSTER_BYTES).limit(base + (c + 1) * Layout.CLUSTER_BYTES));
        }
      }
      if (m < j) {
        readsCache.increment(); // the probe that ended the run was a hit
        m++;
      }
      k = m;
    }
  }

  /**
   * Flatten: reads clusters [first, first + n) at the locations {@code locs} looked up earlier
   * (not the current mapping), each checked against {@code crcs}, into {@code out}. Every
   * location must be non-zero.
   */
  void readAt(long first, long[] locs, int[] crcs, ByteBuffer out) throws IOException {
    checkOpen();
    int n = locs.length;
    int base = out.position();
    int i = 0;
    while (i < n) {
      Verify.that(locs[i] != 0, "flatten read of an unmapped cluster %d", first + i);
      int j = i + 1;
      while (j < n && locs[j] == locs[j - 1] + 1 && Layout.slotOf(locs[j - 1]) < 0xFFFF) {
        j++;
      }
      readRun(first + i, locs, crcs, i, j, out, base, false);
      i = j;
    }
  }

  /** The namespace a shared (deduplicated) location names. */
  private String sharedNamespace(long loc) throws IOException {
    Dedupe dd = ctx.dedupe();
    Dedupe.Namespace n = dd == null ? null : dd.namespace(Layout.sharedIndexOf(loc));
    if (n == null || n.state() == Dedupe.State.GONE) {
      throw new IOException("vDisk " + name() + ": a cluster maps to shared namespace " + Layout.sharedIndexOf(loc)
          + ", which the vPool's dedupe table does not hold");
    }
    return n.name();
  }

  private void verify(long firstCluster, long[] locs, int[] crcs, int i, int j, ByteBuffer out, int base, String tier)
      throws IOException {
    ByteBuffer b = out.duplicate(); // one view and one checksum object for the whole run
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    for (int c = i; c < j; c++) {
      b.limit(base + (c + 1) * Layout.CLUSTER_BYTES).position(base + c * Layout.CLUSTER_BYTES);
      crc.reset();
      crc.update(b);
      if ((int) crc.getValue() != crcs[c]) {
        String msg = String.format("vDisk %s: cluster %d read from the %s (SCO %d slot %d) fails its checksum",
            name(), firstCluster + c - i, tier, Layout.scoOf(locs[c]), Layout.slotOf(locs[c]));
        log.error(msg);
        throw new IOException(msg);
      }
    }
  }

  // ---------------------------------------------------------------- flush, unmap

  @Override
  public void flush() throws IOException {
    long target;
    appendLock.lock();
    try {
      checkOpen();
      target = lastSeq;
    } finally {
      appendLock.unlock();
    }
    if (dtl.mode() == DtlMode.SYNC) {
      awaitDurable(target);
    } else {
      committer.awaitDurable(target);
      if (dtl.mode() != DtlMode.NONE) {
        dtl.awaitHeld(target);
      }
    }
    checkOwned();
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    checkRange(offset, length);
    checkWritable();
    checkTakingWrites();
    if (length == 0) {
      return;
    }
    long end = offset + length;
    long firstFull = (offset + Layout.CLUSTER_BYTES - 1) >>> Layout.CLUSTER_SHIFT;
    long endFull = end >>> Layout.CLUSTER_SHIFT;
    if (firstFull >= endFull) {
      // inside one cluster, or across one boundary without a whole cluster: zeros
      writeZeros(offset, end);
      return;
    }
    if ((offset & (Layout.CLUSTER_BYTES - 1)) != 0) {
      writeZeros(offset, firstFull << Layout.CLUSTER_SHIFT);
    }
    if ((end & (Layout.CLUSTER_BYTES - 1)) != 0) {
      writeZeros(endFull << Layout.CLUSTER_SHIFT, end);
    }
    lockStripes(firstFull, endFull - 1);
    try {
      appendLock.lock();
      try {
        checkOpen();
        for (long c = firstFull; c < endFull; c += Integer.MAX_VALUE) {
          int count = (int) Math.min(Integer.MAX_VALUE, endFull - c);
          appendRecord(TLog.Record.unmap(++lastSeq, c, count));
          ctx.writeBuffer().account(TLog.RECORD_BYTES);
          metadata.unmap(c, count);
        }
        lastAppendNanos = System.nanoTime();
        if (dtl.mode() == DtlMode.SYNC) {
          writeTlogBuffer();
        }
      } finally {
        appendLock.unlock();
      }
    } finally {
      unlockStripes(firstFull, endFull - 1);
    }
    if (dtl.mode() == DtlMode.SYNC) {
      dtl.awaitHeld(lastSeq);
    }
    checkOwned();
  }

  private void writeZeros(long from, long to) throws IOException {
    if (to > from) {
      write(from, ByteBuffer.allocate((int) (to - from)), Durability.BUFFERED);
    }
  }

  // ---------------------------------------------------------------- locks, checks

  private void lockStripes(long first, long last) {
    BitSet set = stripeSet(first, last);
    for (int s = set.nextSetBit(0); s >= 0; s = set.nextSetBit(s + 1)) {
      stripes[s].lock();
    }
  }

  private void unlockStripes(long first, long last) {
    BitSet set = stripeSet(first, last);
    for (int s = set.nextSetBit(0); s >= 0; s = set.nextSetBit(s + 1)) {
      stripes[s].unlock();
    }
  }

  private static BitSet stripeSet(long first, long last) {
    BitSet set = new BitSet(STRIPES);
    long g0 = first >>> STRIPE_SHIFT;
    long g1 = last >>> STRIPE_SHIFT;
    if (g1 - g0 + 1 >= STRIPES) {
      set.set(0, STRIPES);
    } else {
      for (long g = g0; g <= g1; g++) {
        set.set((int) (g & (STRIPES - 1)));
      }
    }
    return set;
  }

  private void checkRange(long offset, long len) {
    int bs = spec.blockSize();
    if (offset < 0 || len < 0 || offset % bs != 0 || len % bs != 0) {
      throw new IllegalArgumentException(String.format(
          "vDisk %s: offset %d and length %d must be non-negative multiples of the block size %d", name(), offset, len, bs));
    }
    if (offset > spec.sizeBytes() - len) {
      throw new IllegalArgumentException(String.format(
          "vDisk %s: range [%d, %d) lies beyond its size %d", name(), offset, offset + len, spec.sizeBytes()));
    }
  }

  private void checkOpen() throws IOException {
    if (closed) {
      throw new IOException("vDisk " + name() + " is closed");
    }
    IOException failure = committer.failure();
    if (failure != null) {
      throw new IOException("vDisk " + name() + " stopped after a write-buffer failure: " + failure.getMessage(), failure);
    }
  }

  // ---------------------------------------------------------------- close

  /** Flushes, checkpoints and closes; the files stay for the next start. */
  void close() throws IOException {
    if (closed) {
      return;
    }
    IOException error = null;
    long target;
    appendLock.lock();
    try {
      closed = true; // no write appends after this
      target = lastSeq;
    } finally {
      appendLock.unlock();
    }
    try {
      committer.awaitDurable(target);
      if (dtlAcks) {
        BootMarker.write(wbDir, new BootMarker.State(bootId, 0)); // every acknowledged write is forced locally
      }
    } catch (IOException e) {
      error = e;
    }
    waitForCheckpoint();
    try {
      if (error == null) {
        appendLock.lock();
        try {
          MetadataStore.Cut cut = metadata.cut(lastSeq, current.number);
          metadata.write(cut);
          metadata.complete(cut);
        } finally {
          appendLock.unlock();
        }
      }
    } catch (IOException e) {
      error = e;
    }
    try {
      committer.stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    dtl.close();
    dropPendingShares();
    closeFiles(true);
    if (error != null) {
      throw error;
    }
  }

  /** Closes every file of the vDisk; {@code clean}: also removes the unused prepared pair. */
  private void closeFiles(boolean clean) throws IOException {
    try {
      tlog.close();
    } catch (IOException ignored) {
      // closing a channel after force cannot lose data
    }
    for (Sealed s : sealedUnsynced) {
      s.tlog().close();
    }
    sealedUnsynced.clear();
    Prepared p = null;
    if (preparing != null) {
      try {
        p = preparing.get(30, java.util.concurrent.TimeUnit.SECONDS);
      } catch (Exception e) {
        log.warn("vDisk {}: the prepared SCO was not ready at close: {}", name(), e.toString());
      }
      preparing = null;
    }
    if (p != null) {
      if (clean) {
        p.discard();
        ctx.writeBuffer().release(Layout.SCO_HEADER_BYTES + TLog.HEADER_BYTES);
      } else {
        p.sco().close();
        p.tlog().close();
      }
    }
    for (ScoHandle h : scos.values()) {
      h.closeKeep();
    }
    metadata.close();
  }

  /** Drops everything without flushing: what a crash leaves behind (tests only). */
  void abandon() throws IOException {
    closed = true;
    dtl.close();
    waitForCheckpoint();
    try {
      committer.stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    dropPendingShares();
    closeFiles(false);
  }

  private void waitForCheckpoint() {
    for (int i = 0; i < 600_000 && checkpointRunning.get(); i++) {
      java.util.concurrent.locks.LockSupport.parkNanos(100_000);
    }
  }

  /** Deletes this vDisk's write-buffer files (after close). */
  void deleteLocalFiles() throws IOException {
    long bytes = 0;
    try (var s = Files.newDirectoryStream(wbDir)) {
      for (Path p : s) {
        if (Files.isRegularFile(p)) {
          String f = p.getFileName().toString();
          if (Layout.numberOf(f, "sco_") > 0 || Layout.numberOf(f, "tlog_") > 0) {
            bytes += Files.size(p);
          }
          Files.delete(p);
        }
      }
    }
    deleteTree(wbDir);
    ctx.writeBuffer().release(bytes);
    ctx.readCache().invalidateVolume(volumeKey);
    ctx.readCache().setQuota(volumeKey, 0);
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      List<Path> paths = walk.sorted(java.util.Comparator.reverseOrder()).toList();
      for (Path p : paths) {
        Files.deleteIfExists(p);
      }
    }
  }

  /**
   * Changes the nominal size. Growing is instant (thin); shrinking first unmaps what lies
   * beyond the new end, so that growing again later reads zeros there. The caller persists the
   * new spec before calling this.
   */
  void resize(VolumeSpec newSpec) throws IOException {
    Verify.that(newSpec.name().equals(spec.name()), "resize keeps the name");
    long old = spec.sizeBytes();
    if (newSpec.sizeBytes() < old) {
      unmap(newSpec.sizeBytes(), old - newSpec.sizeBytes());
      flush();
    }
    spec = newSpec;
  }

  // ---------------------------------------------------------------- snapshots and scrubbing

  /**
   * The point a snapshot names: seals the open SCO if it holds anything and waits until
   * everything written so far is durable. Returns {last TLog of the history so far, its last
   * sequence number}. Constant time whatever the vDisk's size.
   */
  long[] sealForSnapshot() throws IOException {
    long last;
    long seq;
    appendLock.lock();
    try {
      checkOpen();
      if (tlogRecords > 0) {
        roll();
      }
      last = current.number - 1;
      seq = lastSeq;
    } finally {
      appendLock.unlock();
    }
    committer.awaitDurable(seq);
    return new long[] {last, seq};
  }

  /** True once every SCO and TLog up to {@code lastTlog} is in the backend. */
  boolean uploadedThrough(long lastTlog) {
    return scos.keySet().stream().noneMatch(n -> n <= lastTlog);
  }

  /** SCO numbers whose file is still in the write buffer (the open one included). */
  Set<Long> scosInWriteBuffer() {
    return Set.copyOf(scos.keySet());
  }

  /** TLog numbers whose file is still in the write buffer. */
  Set<Long> tlogsInWriteBuffer() {
    return Set.copyOf(localTlogs.keySet());
  }

  /** The number of the open SCO/TLog. */
  long openNumber() {
    appendLock.lock();
    try {
      return current.number;
    } finally {
      appendLock.unlock();
    }
  }

  /** Every mapped cluster of the live mapping (see {@link MetadataStore#forEachEntry}). */
  void forEachMapped(MetadataStore.EntryConsumer f) throws IOException {
    metadata.forEachEntry(f);
  }

  /**
   * Scrubbing: writes {@code data} (one cluster, checksum {@code crc}) anew for {@code cluster},
   * as an ordinary write into the open SCO, but only if the cluster still maps to
   * {@code expected}; a client write that got there first wins. Returns whether it moved.
   */
  boolean relocate(long cluster, long expected, ByteBuffer data, int crc) throws IOException {
    return relocate(cluster, new long[] {expected}, data, new int[] {crc}) == 1;
  }

  /**
   * Scrubbing, for a run of clusters [first, first + n): each cluster i whose mapping is still
   * {@code expected[i]} is written anew with its bytes from {@code data} (n clusters) and checksum
   * {@code crcs[i]}; {@code expected[i] == 0} skips it. Returns how many moved.
   */
  int relocate(long first, long[] expected, ByteBuffer data, int[] crcs) throws IOException {
    int n = expected.length;
    admit(n);
    try {
      committer.enter();
    } catch (IOException e) {
      ctx.writeBuffer().release(admitted(n));
      throw e;
    }
    long appended = 0;
    int moved = 0;
    try {
      lockStripes(first, first + n - 1);
      try {
        checkOpen();
        long[] locs = new long[n];
        int[] current = new int[n];
        metadata.lookup(first, n, locs, current);
        int i = 0;
        while (i < n) {
          if (expected[i] == 0 || locs[i] != expected[i]) {
            i++;
            continue;
          }
          int j = i + 1;
          while (j < n && expected[j] != 0 && locs[j] == expected[j]) {
            j++;
          }
          ByteBuffer chunk = data.duplicate().position(i * Layout.CLUSTER_BYTES).limit(j * Layout.CLUSTER_BYTES).slice();
          append(first + i, j - i, chunk, java.util.Arrays.copyOfRange(crcs, i, j), new long[j - i], null,
              deduping() ? keysOf(chunk, j - i) : null);
          appended += (long) (j - i) * Layout.CLUSTER_BYTES;
          moved += j - i;
          i = j;
        }
        return moved;
      } finally {
        unlockStripes(first, first + n - 1);
      }
    } finally {
      committer.exit(appended);
      if (moved < n) {
        ctx.writeBuffer().release(admitted(n - moved));
      }
    }
  }

  private static Dedupe.Key[] keysOf(ByteBuffer data, int n) {
    Dedupe.Key[] keys = new Dedupe.Key[n];
    for (int i = 0; i < n; i++) {
      keys[i] = Dedupe.Key.of(Dedupe.sha256(data.duplicate().position(i * Layout.CLUSTER_BYTES)
          .limit((i + 1) * Layout.CLUSTER_BYTES)));
    }
    return keys;
  }

  /** The mapping entry of one cluster: {location, crc} (diagnostics and tests). */
  long[] mappingOf(long cluster) throws IOException {
    long[] locs = new long[1];
    int[] crcs = new int[1];
    metadata.lookup(cluster, 1, locs, crcs);
    return new long[] {locs[0], crcs[0]};
  }

  /** Counters for tests and the management surface. */
  Map<String, Long> stats() {
    Map<String, Long> m = new TreeMap<>();
    m.put("readsLocal", readsLocal.sum());
    m.put("readsCache", readsCache.sum());
    m.put("reallocated", reallocated.sum());
    m.put("dedupeShared", shared.sum());
    m.put("readsBackend", readsBackend.sum());
    m.put("commits", committer.commits.sum());
    m.put("commitTriggerQueueEmpty", committer.triggerQueueEmpty.sum());
    m.put("commitTriggerBytes", committer.triggerBytes.sum());
    m.put("commitTriggerWaitTime", committer.triggerWaitTime.sum());
    m.put("residentPages", (long) metadata.residentPages());
    m.put("scosInWriteBuffer", (long) scos.size());
    m.put("dtlState", (long) dtl.state().ordinal());
    long[] heldBack = dtl.heldBack();
    m.put("dtlHeldBackWrites", heldBack[0]);
    m.put("dtlHeldBackMillis", heldBack[1] / 1_000_000);
    return m;
  }
}
