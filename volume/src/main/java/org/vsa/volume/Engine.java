package org.vsa.volume;

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
 * directory.
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

  private Engine(EngineContext ctx) {
    this.ctx = ctx;
    this.maintenance = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "engine-maintenance");
      t.setDaemon(true);
      return t;
    });
  }

  public static Engine start(EngineConfig config) throws IOException {
    return start(config, null);
  }

  /**
   * Starts with a DTL client: vDisks whose spec asks for a DTL copy their writes through
   * {@code dtl}, and one whose write buffer is gone is restored from the backend and its DTL.
   */
  public static Engine start(EngineConfig config, org.vsa.dtl.DtlConnector dtl) throws IOException {
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
    EngineContext ctx = new EngineContext(config, wb, rc, config.backend(), pageCache,
        new Uploader(config.uploadThreads()), checkpointer, dtl);
    Engine e = new Engine(ctx);
    try {
      e.openAll();
    } catch (IOException | RuntimeException ex) {
      e.close();
      throw ex;
    }
    e.maintenance.scheduleWithFixedDelay(e::maintain, 500, 500, TimeUnit.MILLISECONDS);
    return e;
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
      VolumeRecord r = VolumeRecord.decode(Files.readAllBytes(rec), rec);
      long t0 = System.nanoTime();
      LocalVolume v = LocalVolume.open(r.spec(), r.id(), dir, ctx);
      volumes.put(r.spec().name(), v);
      log.info("vDisk {} ({} bytes, id {}) opened in {} ms", r.spec().name(), r.spec().sizeBytes(), r.id(),
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }
  }

  /** Every vDisk, sorted by name. */
  public List<Volume> volumes() {
    return List.copyOf(volumes.values());
  }

  public Optional<Volume> volume(String name) {
    return Optional.ofNullable(volumes.get(name));
  }

  /** Creates a thin vDisk; IllegalStateException if the name is taken. */
  public synchronized Volume create(VolumeSpec spec) throws IOException {
    checkOpen();
    if (volumes.containsKey(spec.name())) {
      throw new IllegalStateException("vDisk " + spec.name() + " already exists");
    }
    UUID id = UUID.randomUUID();
    VolumeRecord rec = new VolumeRecord(id, spec);
    String ns = LocalVolume.namespaceOf(id);
    ctx.backend().createNamespace(ns);
    Path dir = ctx.config().metadataDir().resolve(spec.name());
    Files.createDirectories(dir);
    storeRecord(rec);
    Fs.fsyncDirectory(ctx.config().metadataDir());
    LocalVolume v = LocalVolume.open(spec, id, dir, ctx);
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
    LocalVolume v = volumes.get(name);
    if (v == null) {
      throw new IllegalStateException("no vDisk " + name);
    }
    VolumeSpec s = v.spec();
    VolumeSpec next = new VolumeSpec(s.name(), s.vpool(), sizeBytes, s.blockSize(), s.scoSizeBytes(), s.cachePolicy(),
        s.dtlMode());
    if (sizeBytes == s.sizeBytes()) {
      return;
    }
    if (sizeBytes < s.sizeBytes()) {
      v.resize(next); // discard first, so that a crash in between leaves the old size with zeros past the new end
      storeRecord(new VolumeRecord(v.id(), next));
    } else {
      storeRecord(new VolumeRecord(v.id(), next));
      v.resize(next);
    }
    log.info("vDisk {} resized from {} to {} bytes", name, s.sizeBytes(), sizeBytes);
  }

  /** Writes the vDisk's record atomically beside its metadata and into its backend namespace. */
  private void storeRecord(VolumeRecord rec) throws IOException {
    Path dir = ctx.config().metadataDir().resolve(rec.spec().name());
    Path tmp = dir.resolve(RECORD_FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, java.nio.ByteBuffer.wrap(rec.encode()), 0);
      ch.force(true);
    }
    Files.move(tmp, dir.resolve(RECORD_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
    ctx.backend().put(LocalVolume.namespaceOf(rec.id()), "volume", rec.encode());
  }

  /** Deletes the vDisk, locally and in the backend. */
  public synchronized void delete(String name) throws IOException {
    checkOpen();
    LocalVolume v = volumes.remove(name);
    if (v == null) {
      throw new IllegalStateException("no vDisk " + name);
    }
    v.close();
    v.deleteLocalFiles();
    LocalVolume.deleteTree(ctx.config().metadataDir().resolve(name));
    ctx.backend().deleteNamespace(v.namespace());
    log.info("vDisk {} deleted", name);
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

  /** The DTL state of a vDisk (OK_STANDALONE for mode none); empty if there is no such vDisk. */
  public Optional<org.vsa.dtl.DtlState> dtlState(String name) {
    LocalVolume v = volumes.get(name);
    return v == null ? Optional.empty() : Optional.of(v.dtlState());
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
    ctx.checkpointer().shutdown();
    try {
      ctx.checkpointer().awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    ctx.readCache().close();
    ctx.backend().close();
    if (first != null) {
      throw first;
    }
  }

  /** For tests: stops without flushing, as a crash would (files stay as they are). */
  void crash() throws IOException {
    closed = true;
    maintenance.shutdownNow();
    try {
      ctx.uploader().close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (LocalVolume v : volumes.values()) {
      v.abandon();
    }
    volumes.clear();
    ctx.checkpointer().shutdownNow();
    ctx.readCache().close();
    ctx.backend().close();
  }
}
