package org.vsa.appliance.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.vsa.cache.ReadCache;
import org.vsa.cache.WriteBuffer;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Engine;
import org.vsa.volume.OfflineVdisk;
import org.vsa.volume.Volume;

/**
 * The node's meters in one Micrometer registry, exposed by {@code GET /metrics} (Prometheus text
 * format) and summed up by {@code GET /api/v1/stats}: per-vDisk I/O (counted by
 * {@link MeteredVolume}, the volume both front ends get), the engine's per-vDisk counters, the
 * write buffer, the read cache, the DTL, the backend and the JVM.
 *
 * <p>vDisks are found by asking the engine at each scrape: meters of a vDisk created since appear,
 * those of a deleted one are removed (its meters start from zero if it is created again).
 */
public final class ApplianceMetrics implements AutoCloseable {
  /** The content type of the Prometheus text exposition format 0.0.4. */
  public static final String PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

  /** Engine counters that go up and down (the rest only go up). */
  private static final Set<String> ENGINE_GAUGES = Set.of("residentPages", "scosInWriteBuffer", "dtlState");

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Engine engine;
  private final String nodeName;
  private final CountingObjectStore backend;
  private final DtlServer dtlServer;
  private final Map<String, VdiskMeters> vdisks = new ConcurrentHashMap<>();
  /** By the volume wrapped (weakly: a deleted vDisk's handle goes away with it). */
  private final Map<BlockVolume, MeteredVolume> wrappers = new java.util.WeakHashMap<>();
  private final MultiGauge dtlServerGauge;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  /**
   * @param backend the backend as the engine uses it, or null if it is not counted
   * @param dtlServer this node's DTL server, or null when it does not run one
   */
  public ApplianceMetrics(Engine engine, String nodeName, CountingObjectStore backend, DtlServer dtlServer) {
    this.engine = engine;
    this.nodeName = nodeName;
    this.backend = backend;
    this.dtlServer = dtlServer;
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    bindWriteBuffer(engine.writeBuffer());
    bindReadCache(engine.readCache());
    if (backend != null) {
      Tags t = Tags.of("kind", backend.kind());
      FunctionCounter.builder("vsa.backend.puts", backend, CountingObjectStore::puts).tags(t).register(registry);
      FunctionCounter.builder("vsa.backend.gets", backend, CountingObjectStore::gets).tags(t).register(registry);
      FunctionCounter.builder("vsa.backend.errors", backend, CountingObjectStore::errors).tags(t).register(registry);
      Gauge.builder("vsa.backend.healthy", backend, b -> b.healthy() ? 1 : 0).tags(t)
          .description("1 if the last backend call did not fail").register(registry);
    }
    dtlServerGauge = MultiGauge.builder("vsa.dtl.server.vdisk")
        .description("what this node's DTL server holds per vDisk (tag stat)").register(registry);
    if (dtlServer != null) {
      Gauge.builder("vsa.dtl.server.used", dtlServer, DtlServer::usedBytes).baseUnit("bytes").register(registry);
      Gauge.builder("vsa.dtl.server.capacity", dtlServer, DtlServer::capacityBytes).baseUnit("bytes").register(registry);
    }
  }

  private void bindWriteBuffer(WriteBuffer wb) {
    Gauge.builder("vsa.writebuffer.used", wb, WriteBuffer::usedBytes).baseUnit("bytes").register(registry);
    Gauge.builder("vsa.writebuffer.capacity", wb, WriteBuffer::capacityBytes).baseUnit("bytes").register(registry);
    Gauge.builder("vsa.writebuffer.holding", wb, w -> w.isHolding() ? 1 : 0)
        .description("1 while writes are held until the write buffer has room").register(registry);
    FunctionCounter.builder("vsa.writebuffer.throttled.writes", wb, WriteBuffer::throttledCount)
        .description("writes slowed down by the write buffer's throttle").register(registry);
    FunctionCounter.builder("vsa.writebuffer.held.writes", wb, WriteBuffer::heldCount)
        .description("writes held until the write buffer had room").register(registry);
  }

  private void bindReadCache(ReadCache rc) {
    Gauge.builder("vsa.readcache.used", rc, c -> c.entries() * (double) ReadCache.BLOCK_BYTES).baseUnit("bytes")
        .register(registry);
    Gauge.builder("vsa.readcache.capacity", rc, c -> c.capacityBlocks() * (double) ReadCache.BLOCK_BYTES)
        .baseUnit("bytes").register(registry);
    FunctionCounter.builder("vsa.readcache.hits", rc, ReadCache::hits).register(registry);
    FunctionCounter.builder("vsa.readcache.misses", rc, ReadCache::misses).register(registry);
    FunctionCounter.builder("vsa.readcache.io.errors", rc, ReadCache::ioErrors).register(registry);
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /**
   * The volume a front end gets for {@code v}: its I/O counts into the vDisk's meters. The vPool
   * tag comes from the engine's record of the vDisk ({@code ""} if it has none, an offline vDisk
   * whose record is unreadable).
   */
  public BlockVolume meter(BlockVolume v) {
    if (v instanceof MeteredVolume) {
      return v;
    }
    VdiskMeters m = meters(v.name(), vpoolOf(v));
    // the same wrapper for the same handle: the iSCSI target keeps a LUN's state (reservations)
    // while the volume it resolves to is the same object
    synchronized (wrappers) {
      MeteredVolume old = wrappers.get(v);
      if (old != null && old.meters() == m) {
        return old;
      }
      MeteredVolume fresh = new MeteredVolume(v, m);
      wrappers.put(v, fresh);
      return fresh;
    }
  }

  private String vpoolOf(BlockVolume v) {
    if (v instanceof Volume vol) {
      return vol.spec().vpool();
    }
    return engine.volume(v.name()).map(x -> x.spec().vpool())
        .or(() -> engine.offlineVdisk(v.name()).flatMap(OfflineVdisk::spec).map(s -> s.vpool())).orElse("");
  }

  private VdiskMeters meters(String name, String vpool) {
    VdiskMeters m = vdisks.get(name);
    if (m != null && m.vpool.equals(vpool)) {
      return m;
    }
    synchronized (vdisks) {
      m = vdisks.get(name);
      if (m != null && m.vpool.equals(vpool)) {
        return m;
      }
      if (m != null) {
        remove(m);
      }
      VdiskMeters fresh = new VdiskMeters(registry, name, vpool);
      bindEngine(fresh);
      vdisks.put(name, fresh);
      return fresh;
    }
  }

  /** The engine's counters of the vDisk (reads per tier, group commits per trigger, ...). */
  private void bindEngine(VdiskMeters m) {
    Tags tags = Tags.of("vdisk", m.vdisk, "vpool", m.vpool);
    for (String key : engine.stats(m.vdisk).keySet()) {
      String name = "vsa.vdisk.engine." + snake(key);
      if (ENGINE_GAUGES.contains(key)) {
        m.add(Gauge.builder(name, engine, e -> e.stats(m.vdisk).getOrDefault(key, 0L)).tags(tags).register(registry));
      } else {
        m.add(FunctionCounter.builder(name, engine, e -> e.stats(m.vdisk).getOrDefault(key, 0L)).tags(tags)
            .register(registry));
      }
    }
    for (DtlState s : DtlState.values()) {
      m.add(Gauge.builder("vsa.vdisk.dtl.state", engine,
              e -> e.dtlState(m.vdisk).map(x -> x == s ? 1 : 0).orElse(0))
          .tags(tags.and("state", s.name().toLowerCase(java.util.Locale.ROOT)))
          .description("1 for the vDisk's current DTL state").register(registry));
    }
  }

  static String snake(String camel) {
    return camel.replaceAll("([a-z0-9])([A-Z])", "$1.$2").toLowerCase(java.util.Locale.ROOT);
  }

  private void remove(VdiskMeters m) {
    synchronized (m.meters) {
      for (Meter meter : m.meters) {
        registry.remove(meter);
      }
    }
  }

  /** Meters for every vDisk the engine knows, none for one it no longer knows. */
  private void sync() {
    Set<String> known = new HashSet<>();
    for (Volume v : engine.volumes()) {
      known.add(v.name());
      meters(v.name(), v.spec().vpool());
    }
    for (OfflineVdisk o : engine.offlineVdisks()) {
      known.add(o.name());
      meters(o.name(), o.spec().map(s -> s.vpool()).orElse(""));
    }
    synchronized (wrappers) {
      wrappers.keySet().removeIf(v -> !known.contains(v.name()) && !engine.contains(v.name()));
    }
    synchronized (vdisks) {
      for (VdiskMeters m : List.copyOf(vdisks.values())) {
        // asked again: a vDisk created since the list above keeps the meters its volume already counts into
        if (!known.contains(m.vdisk) && !engine.contains(m.vdisk)) {
          vdisks.remove(m.vdisk, m);
          remove(m);
        }
      }
    }
    if (dtlServer != null) {
      Map<UUID, String> names = new java.util.HashMap<>();
      engine.volumes().forEach(v -> names.put(v.id(), v.name()));
      List<MultiGauge.Row<?>> rows = new ArrayList<>();
      dtlServer.stats().forEach((id, stats) -> {
        String who = names.getOrDefault(id, id.toString());
        for (String stat : List.of("entries", "liveBytes", "fileBytes")) {
          Long value = stats.get(stat);
          if (value != null) {
            rows.add(MultiGauge.Row.of(Tags.of("vdisk", who, "stat", snake(stat).replace('.', '_')), value));
          }
        }
      });
      dtlServerGauge.register(rows, true);
    }
  }

  /** Stops listening to GC events and closes the registry (scrapes after this see nothing new). */
  @Override
  public void close() {
    gc.close();
    registry.close();
  }

  /** The Prometheus text format (0.0.4) of every meter. */
  public byte[] scrape() {
    sync();
    return registry.scrape(PROMETHEUS_TEXT).getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  /** The body of {@code GET /api/v1/stats}: cumulative figures since the start, from the same meters. */
  public Map<String, Object> stats() {
    sync();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("time", System.currentTimeMillis());
    Map<String, Object> node = new LinkedHashMap<>();
    node.put("name", nodeName);
    node.put("uptimeSeconds", ManagementFactory.getRuntimeMXBean().getUptime() / 1000);
    out.put("node", node);
    List<Map<String, Object>> vdiskList = new ArrayList<>();
    Map<String, VdiskMeters.IoTotals> pools = new TreeMap<>();
    for (VdiskMeters m : new TreeMap<>(vdisks).values()) {
      VdiskMeters.IoTotals t = m.totals();
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("name", m.vdisk);
      v.put("vpool", m.vpool);
      putTotals(v, t);
      vdiskList.add(v);
      pools.merge(m.vpool, t, VdiskMeters.IoTotals::plus);
    }
    out.put("vdisks", vdiskList);
    List<Map<String, Object>> poolList = new ArrayList<>();
    pools.forEach((name, t) -> {
      Map<String, Object> p = new LinkedHashMap<>();
      p.put("name", name);
      putTotals(p, t);
      poolList.add(p);
    });
    out.put("vpools", poolList);
    WriteBuffer wb = engine.writeBuffer();
    Map<String, Object> w = new LinkedHashMap<>();
    w.put("usedBytes", wb.usedBytes());
    w.put("capacityBytes", wb.capacityBytes());
    w.put("throttling", wb.isHolding());
    w.put("throttledWrites", wb.throttledCount());
    out.put("writeBuffer", w);
    ReadCache rc = engine.readCache();
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("usedBytes", rc.entries() * ReadCache.BLOCK_BYTES);
    r.put("capacityBytes", rc.capacityBlocks() * ReadCache.BLOCK_BYTES);
    r.put("hits", rc.hits());
    r.put("misses", rc.misses());
    out.put("readCache", r);
    Map<String, Object> b = new LinkedHashMap<>();
    b.put("kind", backend == null ? "unknown" : backend.kind());
    b.put("healthy", backend == null || backend.healthy());
    b.put("puts", backend == null ? 0 : backend.puts());
    b.put("gets", backend == null ? 0 : backend.gets());
    b.put("errors", backend == null ? 0 : backend.errors());
    out.put("backend", b);
    List<Map<String, Object>> dtl = new ArrayList<>();
    for (Volume v : engine.volumes()) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("vdisk", v.name());
      d.put("mode", v.settings().dtlMode().name().toLowerCase(java.util.Locale.ROOT));
      d.put("state", stateName(engine.dtlState(v.name())));
      dtl.add(d);
    }
    for (OfflineVdisk o : engine.offlineVdisks()) {
      Map<String, Object> d = new LinkedHashMap<>();
      d.put("vdisk", o.name());
      d.put("mode", o.spec().map(s -> s.dtlMode().name().toLowerCase(java.util.Locale.ROOT)).orElse("unknown"));
      d.put("state", "offline");
      dtl.add(d);
    }
    dtl.sort(java.util.Comparator.comparing(d -> (String) d.get("vdisk")));
    out.put("dtl", dtl);
    return out;
  }

  /** ok (OK_SYNC, OK_STANDALONE), catching_up, degraded. */
  private static String stateName(Optional<DtlState> s) {
    if (s.isEmpty()) {
      return "unknown";
    }
    return org.vsa.appliance.mgmt.ManagementApi.dtlStateName(s.get());
  }

  private static void putTotals(Map<String, Object> m, VdiskMeters.IoTotals t) {
    m.put("readOps", t.readOps());
    m.put("writeOps", t.writeOps());
    m.put("readBytes", t.readBytes());
    m.put("writeBytes", t.writeBytes());
    m.put("readLatencyMicrosTotal", t.readLatencyMicrosTotal());
    m.put("writeLatencyMicrosTotal", t.writeLatencyMicrosTotal());
  }
}
