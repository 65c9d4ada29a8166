package org.vsa.appliance.mgmt;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.Sizes;
import org.vsa.dtl.DtlMode;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Engine;
import org.vsa.volume.FlattenReport;
import org.vsa.volume.SnapshotInfo;
import org.vsa.volume.OfflineVdisk;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSettings;
import org.vsa.volume.VolumeSpec;
import org.vsa.appliance.mgmt.Routes.Doc;

/**
 * The resources of the management API, version 1 (under {@code /api/v1}): vDisks, their
 * settings, snapshots (rollback), clones (flatten) and templates. Every input is checked here
 * first, so that bad input is a 400 naming the field; an unknown vDisk or snapshot is a 404; a
 * request the engine refuses in the current state (name taken, in use, has clones) is a 409 with
 * the engine's reason. A vDisk created or cloned through the API becomes the next free LUN of the
 * first iSCSI target (kept across restarts in {@link LunTable}) and appears as
 * {@code <name>.raw} in its vPool's NFS export.
 */
public final class ManagementApi implements ManagementServer.Handler {
  private static final Logger log = LoggerFactory.getLogger(ManagementApi.class);
  static final String PREFIX = "/api/v1";
  private static final Pattern NAME = Pattern.compile(VolumeSpec.NAME_PATTERN);
  private static final Pattern NFS_CREATED = Pattern.compile(".*-nfs-[0-9]+");

  private final Engine engine;
  private final ApplianceConfig config;
  private final IscsiTarget iscsi;
  private final LunTable lunTable;
  private final Map<String, FlattenJob> flattens = new ConcurrentHashMap<>();
  private final ExecutorService background = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "mgmt-flatten");
    t.setDaemon(true);
    return t;
  });

  /** A flatten started through the API: running, done (with its report) or failed (with why). */
  public record FlattenJob(String state, String error, FlattenReport report) {}

  private final org.vsa.appliance.NfsUse nfsUse;
  private final WebUi webUi = new WebUi();

  public ManagementApi(Engine engine, ApplianceConfig config, IscsiTarget iscsi, LunTable lunTable,
      org.vsa.appliance.NfsUse nfsUse) {
    this.nfsUse = nfsUse;
    this.engine = engine;
    this.config = config;
    this.iscsi = iscsi;
    this.lunTable = lunTable;
    this.events = new EventLog();
    this.watcher = new EngineWatcher(engine, events, true);
    ChapStore chap;
    try {
      chap = ChapStore.open(config.node().dataDir().resolve("iscsi"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    this.nodeResources = new NodeResources(this, engine, config, events, watcher);
    addRoutes();
    new IscsiResources(this, iscsi, lunTable, chap, events).register(routes);
    nodeResources.register(routes);
    routes.add("GET", "/openapi.json", Doc.of("this API's OpenAPI 3 document"),
        (m, q, b) -> ok(openApi()));
    // Answered by the appliance's metrics (org.vsa.appliance.metrics.MetricsRoutes, in front of this
    // handler); listed here so that the OpenAPI document has it. Reached only without metrics.
    routes.add("GET", "/stats", Doc.of("cumulative I/O counters per vDisk and vPool, write buffer, read cache,"
        + " backend and DTL state, for the dashboard (rates are deltas between two calls)").refuses(404),
        (m, q, b) -> {
          throw new ApiException(404, "no statistics: this appliance runs without metrics", null);
        });
  }

  private final EventLog events;
  private final EngineWatcher watcher;
  private final NodeResources nodeResources;

  /**
   * A DTL state as every part of the API, the CLI, the statistics and the dashboard names it:
   * {@code ok-sync}, {@code ok-standalone}, {@code catching-up}, {@code degraded}.
   */
  public static String dtlStateName(org.vsa.dtl.DtlState s) {
    return s.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  /** This node's NFS server, whose exports the API changes (none: NFS disabled). */
  public void setNfs(org.vsa.nfs.NfsServer nfs) {
    nodeResources.nfs(nfs);
  }

  /** This node's part in owning the cluster's vDisks (none: a single node). */
  public void setClusterController(org.vsa.appliance.cluster.ClusterController c) {
    controller = c;
    nodeResources.controller(c);
  }

  private volatile org.vsa.appliance.cluster.ClusterController controller;

  /** The cluster this node is a member of (none: a single node). */
  public void setCluster(org.vsa.appliance.cluster.ClusterView cluster) {
    nodeResources.cluster(cluster);
  }
  private volatile Map<String, Object> openApi;

  private Map<String, Object> openApi() {
    Map<String, Object> d = openApi;
    if (d == null) {
      d = OpenApiDocument.build(routes.all(), PREFIX);
      openApi = d;
    }
    return d;
  }

  /** The events of this appliance (listeners may be added). */
  public EventLog events() {
    return events;
  }

  /** Where this node's services listen (shown by GET /nodes), e.g. iscsi -> 127.0.0.1:3260. */
  public void setEndpoints(Map<String, Object> endpoints) {
    nodeResources.endpoints(endpoints);
  }

  // ---------------------------------------------------------------- routing

  private final Routes routes = new Routes();

  private void addRoutes() {
    // Doc: what the OpenAPI document says of each route (Routes.Doc)
    routes.add("GET", "", Doc.of("the API: its version and resources"),
        (m, q, b) -> ok(index()));
    routes.add("GET", "/vdisks", Doc.of("every vDisk, online and offline"),
        (m, q, b) -> ok(listVdisks()));
    routes.add("POST", "/vdisks", Doc.of("create a thin vDisk, exported as the next LUN").status(201).body("name", "size", "vpool", "blockSize", "scoSize", "dtlMode", "cachePolicy", "readCacheQuota", "dedupe", "export").refuses(409),
        (m, q, b) -> createVdisk(object(b)));
    routes.add("GET", "/vdisks/{name}", Doc.of("one vDisk with its settings").refuses(404),
        (m, q, b) -> ok(showAny(m.group(1))));
    routes.add("POST", "/vdisks/{name}/open", Doc.of("bring an offline vDisk online").refuses(404, 409),
        (m, q, b) -> open(m.group(1)));
    routes.add("PATCH", "/vdisks/{name}", Doc.of("resize a vDisk").body("size").refuses(404, 409),
        (m, q, b) -> resize(vdisk(m.group(1)), object(b)));
    routes.add("DELETE", "/vdisks/{name}", Doc.of("delete a vDisk (in a cluster from any node; 202 when it is still"
        + " under way after 60 s: it goes on by itself)").status(204).refuses(404, 409),
        (m, q, b) -> deleteAny(m.group(1)));
    routes.add("GET", "/vdisks/{name}/settings", Doc.of("a vDisk's settings").refuses(404, 409),
        (m, q, b) -> ok(settings(vdisk(m.group(1)).settings())));
    routes.add("PATCH", "/vdisks/{name}/settings", Doc.of("change a vDisk's settings").body("dtlMode", "cachePolicy", "readCacheQuota", "dedupe").refuses(404, 409),
        (m, q, b) -> updateSettings(vdisk(m.group(1)), object(b)));
    routes.add("GET", "/vdisks/{name}/snapshots", Doc.of("a vDisk's snapshots, oldest first").refuses(404, 409),
        (m, q, b) -> ok(snapshots(vdisk(m.group(1)))));
    routes.add("POST", "/vdisks/{name}/snapshots", Doc.of("take a snapshot").status(201).body("name").refuses(404, 409),
        (m, q, b) -> createSnapshot(vdisk(m.group(1)), object(b)));
    routes.add("GET", "/vdisks/{name}/snapshots/{snapshot}", Doc.of("one snapshot").refuses(404, 409),
        (m, q, b) -> ok(snapshot(vdisk(m.group(1)), m.group(2))));
    routes.add("DELETE", "/vdisks/{name}/snapshots/{snapshot}", Doc.of("delete a snapshot").status(204).refuses(404, 409),
        (m, q, b) -> deleteSnapshot(vdisk(m.group(1)), m.group(2)));
    routes.add("POST", "/vdisks/{name}/snapshots/{snapshot}/rollback", Doc.of("roll a vDisk back to a snapshot").refuses(404, 409),
        (m, q, b) -> rollback(vdisk(m.group(1)), m.group(2)));
    routes.add("POST", "/vdisks/{name}/clones", Doc.of("clone a vDisk from a snapshot").status(201).body("name", "snapshot", "export").refuses(404, 409),
        (m, q, b) -> createClone(vdisk(m.group(1)), object(b)));
    routes.add("POST", "/vdisks/{name}/flatten", Doc.of("start flattening a clone").status(202).optionalBody("rate").refuses(404, 409),
        (m, q, b) -> flatten(vdisk(m.group(1)), optionalObject(b)));
    routes.add("GET", "/vdisks/{name}/flatten", Doc.of("the state of a flatten").refuses(404, 409),
        (m, q, b) -> flattenState(vdisk(m.group(1))));
    routes.add("POST", "/vdisks/{name}/template", Doc.of("make a vDisk a template").refuses(404, 409),
        (m, q, b) -> setTemplate(vdisk(m.group(1))));
  }

  /** The route table (for the OpenAPI document and the tests). */
  public Routes routes() {
    return routes;
  }

  @Override
  public ManagementServer.Reply handle(String method, String path, Map<String, String> query, byte[] body)
      throws IOException {
    if (WebUi.isUiPath(path)) {
      if (!method.equals("GET")) {
        throw new ApiException(405, method + " is not allowed on " + path + " (allowed: GET)", null);
      }
      return webUi.get(path);
    }
    if (!path.equals(PREFIX) && !path.startsWith(PREFIX + "/")) {
      throw ApiException.notFound("no such resource: " + path + " (the API is under " + PREFIX + ")");
    }
    String rest = path.substring(PREFIX.length());
    if (rest.endsWith("/")) {
      rest = rest.substring(0, rest.length() - 1);
    }
    List<String> allowed = new ArrayList<>();
    for (Routes.Route e : routes.all()) {
      Matcher m = e.pattern().matcher(rest);
      if (m.matches()) {
        if (e.method().equals(method)) {
          try {
            return e.handler().run(m, query, body);
          } catch (IllegalStateException ex) {
            throw ApiException.conflict(ex.getMessage());
          } catch (IllegalArgumentException ex) {
            throw ApiException.badInput(null, ex.getMessage());
          }
        }
        allowed.add(e.method());
      }
    }
    if (!allowed.isEmpty()) {
      throw new ApiException(405, method + " is not allowed on " + path + " (allowed: " + String.join(", ", allowed) + ")", null);
    }
    throw ApiException.notFound("no such resource: " + path);
  }

  /** The web dashboard's static files (page, scripts, style, uPlot) load without the credential. */
  @Override
  public boolean isPublic(String path) {
    return WebUi.isUiPath(path);
  }

  private static ManagementServer.Reply ok(Object body) {
    return new ManagementServer.Reply(200, body);
  }

  private Map<String, Object> index() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("api", "vsa management API");
    m.put("version", 1);
    m.put("resources", routes.all().stream().map(r -> PREFIX + r.template()).filter(t -> !t.equals(PREFIX))
        .distinct().toList());
    m.put("openapi", PREFIX + "/openapi.json");
    return m;
  }

  // ---------------------------------------------------------------- vDisks

  /** An online vDisk; 404 if there is none, 409 with the reason if it is offline. */
  Volume vdisk(String name) {
    Optional<Volume> v = engine.volume(name);
    if (v.isPresent()) {
      return v.get();
    }
    Optional<OfflineVdisk> off = engine.offlineVdisk(name);
    if (off.isPresent()) {
      throw ApiException.conflict(off.get().reason() + " (the vDisk is offline: bring it online with POST " + PREFIX
          + "/vdisks/" + name + "/open, vsa vdisk open " + name + ")");
    }
    throw ApiException.notFound("no vDisk " + name);
  }

  private List<Map<String, Object>> listVdisks() {
    java.util.TreeMap<String, Map<String, Object>> out = new java.util.TreeMap<>();
    for (Volume v : engine.volumes()) {
      out.put(v.name(), summary(v));
    }
    for (OfflineVdisk o : engine.offlineVdisks()) {
      out.put(o.name(), offlineSummary(o));
    }
    return new ArrayList<>(out.values());
  }

  private Map<String, Object> summary(Volume v) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", v.name());
    m.put("state", "online");
    m.put("reason", null);
    m.put("vpool", v.spec().vpool());
    m.put("sizeBytes", v.sizeBytes());
    m.put("size", Sizes.format(v.sizeBytes()));
    m.put("template", v.isTemplate());
    m.put("parent", v.cloneSource().map(c -> Map.of("vdisk", c.parent(), "snapshot", c.snapshot())).orElse(null));
    m.put("iscsi", luns(v.name()));
    m.put("nfs", nfsFile(v.name(), v.spec().vpool()));
    return m;
  }

  /** An offline vDisk: what its record says (if readable), and why it is offline. */
  private Map<String, Object> offlineSummary(OfflineVdisk o) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", o.name());
    m.put("state", "offline");
    m.put("reason", o.reason());
    m.put("vpool", o.spec().map(VolumeSpec::vpool).orElse(null));
    m.put("sizeBytes", o.spec().map(VolumeSpec::sizeBytes).orElse(null));
    m.put("size", o.spec().map(s -> Sizes.format(s.sizeBytes())).orElse(null));
    m.put("offlineSince", o.since().toString());
    m.put("retriedPeriodically", o.retriedPeriodically());
    m.put("iscsi", luns(o.name()));
    m.put("nfs", o.spec().map(s -> nfsFile(o.name(), s.vpool())).orElse(null));
    return m;
  }

  private List<Map<String, Object>> luns(String vdisk) {
    List<Map<String, Object>> luns = new ArrayList<>();
    for (IscsiConfig.Target t : iscsiTargets()) {
      t.luns().forEach((lun, name) -> {
        if (name.equals(vdisk)) {
          luns.add(Map.of("target", t.iqn(), "lun", lun));
        }
      });
    }
    return luns;
  }

  private Map<String, Object> showAny(String name) {
    Optional<OfflineVdisk> off = engine.offlineVdisk(name);
    if (off.isPresent() && engine.volume(name).isEmpty()) {
      return offlineSummary(off.get());
    }
    return show(vdisk(name));
  }

  /**
   * Brings an offline vDisk online (its cause fixed: the DTL back, or open-without-dtl created);
   * 200 with the vDisk either way when it is online, 409 with the reason when it stays offline.
   */
  private ManagementServer.Reply open(String name) {
    if (!engine.contains(name)) {
      throw ApiException.notFound("no vDisk " + name);
    }
    try {
      engine.retryOpen(name);
    } catch (IOException e) {
      throw ApiException.conflict("vDisk " + name + " stays offline: " + e.getMessage());
    }
    return ok(show(vdisk(name)));
  }

  private Map<String, Object> show(Volume v) {
    Map<String, Object> m = summary(v);
    m.put("blockSize", v.blockSize());
    m.put("scoSizeBytes", v.spec().scoSizeBytes());
    m.put("settings", settings(v.settings()));
    m.put("dtlState", engine.dtlState(v.name()).map(ManagementApi::dtlStateName).orElse(null));
    m.put("snapshots", engine.snapshotNames(v.name()));
    m.put("exportHolders", v.exportHolders());
    FlattenJob f = flattens.get(v.name());
    if (f != null) {
      m.put("flatten", f);
    }
    return m;
  }

  private static Map<String, Object> settings(VolumeSettings s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("dtlMode", s.dtlMode().configName());
    m.put("cachePolicy", s.cachePolicy().configName());
    m.put("readCacheQuotaBytes", s.readCacheQuotaBytes());
    m.put("dedupe", s.dedupe());
    return m;
  }

  private List<IscsiConfig.Target> iscsiTargets() {
    return iscsi == null ? List.of() : iscsi.config().targets();
  }

  private String nfsFile(String name, String vpool) {
    if (!config.nfs().enabled() || NFS_CREATED.matcher(name).matches()) {
      return null;
    }
    return config.nfs().server().exports().stream().filter(e -> e.vpool().equals(vpool)).findFirst()
        .map(e -> (e.path().endsWith("/") ? e.path() : e.path() + "/") + name + ".raw").orElse(null);
  }

  private ManagementServer.Reply createVdisk(ObjectNode b) throws IOException {
    known(b, "name", "size", "vpool", "blockSize", "scoSize", "dtlMode", "cachePolicy", "readCacheQuota", "dedupe",
        "export");
    String name = name(b, "name");
    long size = size(b, "size", true, 0);
    String vpoolName = b.has("vpool") ? text(b, "vpool") : config.vpools().get(0).name();
    ApplianceConfig.Vpool pool = config.vpool(vpoolName)
        .orElseThrow(() -> ApiException.badInput("vpool", "vPool " + vpoolName + " is not configured on this node (known: "
            + config.vpools().stream().map(ApplianceConfig.Vpool::name).toList() + ")"));
    int blockSize = b.has("blockSize") ? (int) integer(b, "blockSize") : 512;
    if (blockSize != 512 && blockSize != 4096) {
      throw ApiException.badInput("blockSize", "blockSize must be 512 or 4096; got " + blockSize);
    }
    long sco = size(b, "scoSize", false, pool.scoSizeBytes());
    if (sco % 4096 != 0 || sco < VolumeSpec.SCO_SIZE_MIN || sco > VolumeSpec.SCO_SIZE_MAX) {
      throw ApiException.badInput("scoSize", "scoSize must be a multiple of 4KiB in [4MiB, 128MiB]; got " + sco);
    }
    if (size % 4096 != 0 || size < Sizes.MiB || size > 64 * Sizes.TiB) {
      throw ApiException.badInput("size", "size must be a multiple of 4KiB in [1MiB, 64TiB]; got " + size);
    }
    VolumeSettings settings = new VolumeSettings(DtlMode.NONE, pool.cachePolicy(), 0, false);
    settings = applySettings(settings, b, Set.of("dtlMode", "cachePolicy", "readCacheQuota", "dedupe"));
    boolean export = !b.has("export") || bool(b, "export");
    if (engine.contains(name)) {
      throw ApiException.conflict("vDisk " + name + " already exists"
          + (engine.offlineVdisk(name).isPresent() ? " (offline)" : ""));
    }
    VolumeSpec spec = new VolumeSpec(name, pool.name(), size, blockSize, sco, settings.cachePolicy(), settings.dtlMode());
    org.vsa.appliance.cluster.ClusterController c = controller;
    if (c != null) {
      return createInCluster(c, spec, settings);
    }
    Volume v = engine.create(spec, settings);
    if (export) {
      exportAsLun(v.name());
    }
    log.info("management API: vDisk {} created ({} bytes, vPool {})", name, size, pool.name());
    events.emit(EventLog.Severity.INFO, "vdisk.created", name, "vDisk " + name + " created (" + Sizes.format(size)
        + ", vPool " + pool.name() + ")");
    return new ManagementServer.Reply(201, show(v));
  }

  /**
   * In a cluster: created once for the cluster, then owned by the node the cluster places it on
   * (its iSCSI target is iqn...:vdisk:NAME on that node's portal; any portal redirects there).
   */
  private ManagementServer.Reply createInCluster(org.vsa.appliance.cluster.ClusterController c, VolumeSpec spec,
      VolumeSettings settings) throws IOException {
    if (!c.create(spec, settings)) {
      throw ApiException.conflict("vDisk " + spec.name() + " already exists in the cluster");
    }
    java.util.Optional<String> owner = c.awaitOwner(spec.name(), java.time.Duration.ofSeconds(30));
    log.info("management API: vDisk {} created in the cluster ({} bytes, vPool {}), served by node {}", spec.name(),
        spec.sizeBytes(), spec.vpool(), owner.orElse("(none yet)"));
    events.emit(EventLog.Severity.INFO, "vdisk.created", spec.name(), "vDisk " + spec.name() + " created in the"
        + " cluster (" + Sizes.format(spec.sizeBytes()) + ", vPool " + spec.vpool() + ")");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", spec.name());
    m.put("size", spec.sizeBytes());
    m.put("vpool", spec.vpool());
    m.put("owner", owner.orElse(null));
    return new ManagementServer.Reply(201, m);
  }

  private ManagementServer.Reply resize(Volume v, ObjectNode b) throws IOException {
    known(b, "size");
    long size = size(b, "size", true, 0);
    if (size % 4096 != 0 || size < Sizes.MiB || size > 64 * Sizes.TiB) {
      throw ApiException.badInput("size", "size must be a multiple of 4KiB in [1MiB, 64TiB]; got " + size);
    }
    engine.resize(v.name(), size);
    return ok(show(vdisk(v.name())));
  }

  /** A single node deletes its own vDisk; in a cluster the deletion is the cluster's, from any node. */
  private ManagementServer.Reply deleteAny(String name) throws IOException {
    org.vsa.appliance.cluster.ClusterController c = controller;
    if (c == null) {
      return delete(vdisk(name));
    }
    Optional<Volume> here = engine.volume(name);
    if (here.isPresent()) {
      refuseIfLoggedIn(here.get(), "deleted"); // sessions on this node; the owner's front ends let go of it
    }
    org.vsa.appliance.cluster.ClusterController.DeleteOutcome outcome;
    try {
      outcome = c.delete(name, java.time.Duration.ofSeconds(60));
    } catch (java.util.NoSuchElementException e) {
      throw ApiException.notFound(e.getMessage());
    }
    unexport(name);
    if (outcome == org.vsa.appliance.cluster.ClusterController.DeleteOutcome.UNDER_WAY) {
      log.warn("management API: vDisk {}: deletion requested, still under way", name);
      events.emit(EventLog.Severity.WARNING, "vdisk.deleted", name, "vDisk " + name + ": deletion requested in the"
          + " cluster, still under way (no node serves it any more)");
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", name);
      m.put("state", "deleting");
      return new ManagementServer.Reply(202, m);
    }
    log.info("management API: vDisk {} deleted from the cluster", name);
    events.emit(EventLog.Severity.INFO, "vdisk.deleted", name, "vDisk " + name + " deleted from the cluster");
    return new ManagementServer.Reply(204, null);
  }

  private ManagementServer.Reply delete(Volume v) throws IOException {
    refuseIfLoggedIn(v, "deleted");
    engine.delete(v.name());
    unexport(v.name());
    log.info("management API: vDisk {} deleted", v.name());
    events.emit(EventLog.Severity.INFO, "vdisk.deleted", v.name(), "vDisk " + v.name() + " deleted");
    return new ManagementServer.Reply(204, null);
  }

  private ManagementServer.Reply updateSettings(Volume v, ObjectNode b) throws IOException {
    known(b, "dtlMode", "cachePolicy", "readCacheQuota", "dedupe");
    if (b.isEmpty()) {
      throw ApiException.badInput(null, "no setting given (known: dtlMode, cachePolicy, readCacheQuota, dedupe)");
    }
    VolumeSettings s = applySettings(v.settings(), b, Set.of("dtlMode", "cachePolicy", "readCacheQuota", "dedupe"));
    return ok(settings(engine.updateSettings(v.name(), s)));
  }

  private static VolumeSettings applySettings(VolumeSettings s, ObjectNode b, Set<String> keys) {
    for (String k : List.of("dtlMode", "cachePolicy", "readCacheQuota", "dedupe")) {
      if (!keys.contains(k) || !b.has(k)) {
        continue;
      }
      JsonNode n = b.get(k);
      try {
        switch (k) {
          case "dtlMode" -> s = s.withDtlMode(DtlMode.parse(text(b, k)));
          case "cachePolicy" -> s = s.withCachePolicy(CachePolicy.parse(text(b, k)));
          case "readCacheQuota" -> s = s.withReadCacheQuota(size(b, k, true, 0));
          default -> s = s.withDedupe(bool(b, k));
        }
      } catch (ApiException e) {
        throw e;
      } catch (RuntimeException e) {
        throw ApiException.badInput(k, k + " = " + n + ": " + e.getMessage());
      }
    }
    return s;
  }

  // ---------------------------------------------------------------- snapshots, clones, templates

  private List<Map<String, Object>> snapshots(Volume v) throws IOException {
    List<Map<String, Object>> out = new ArrayList<>();
    for (SnapshotInfo s : engine.snapshots(v.name())) {
      out.add(snapshotJson(s));
    }
    return out;
  }

  private Map<String, Object> snapshot(Volume v, String name) throws IOException {
    for (SnapshotInfo s : engine.snapshots(v.name())) {
      if (s.name().equals(name)) {
        return snapshotJson(s);
      }
    }
    throw ApiException.notFound("vDisk " + v.name() + " has no snapshot " + name);
  }

  private static Map<String, Object> snapshotJson(SnapshotInfo s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", s.name());
    m.put("created", s.created().toString());
    m.put("sizeBytes", s.sizeBytes());
    m.put("scheduled", s.scheduled());
    m.put("pinnedBytes", s.pinnedBytes());
    m.put("clones", s.clones());
    return m;
  }

  private void requireSnapshot(Volume v, String snap) {
    if (!engine.snapshotNames(v.name()).contains(snap)) {
      throw ApiException.notFound("vDisk " + v.name() + " has no snapshot " + snap);
    }
  }

  private ManagementServer.Reply createSnapshot(Volume v, ObjectNode b) throws IOException {
    known(b, "name");
    String name = name(b, "name");
    SnapshotInfo s = engine.createSnapshot(v.name(), name);
    events.emit(EventLog.Severity.INFO, "snapshot.created", v.name(), "snapshot " + name + " of vDisk " + v.name()
        + " taken");
    return new ManagementServer.Reply(201, snapshotJson(s));
  }

  private ManagementServer.Reply deleteSnapshot(Volume v, String snap) throws IOException {
    requireSnapshot(v, snap);
    engine.deleteSnapshot(v.name(), snap);
    events.emit(EventLog.Severity.INFO, "snapshot.deleted", v.name(), "snapshot " + snap + " of vDisk " + v.name()
        + " deleted");
    return new ManagementServer.Reply(204, null);
  }

  private ManagementServer.Reply rollback(Volume v, String snap) throws IOException {
    requireSnapshot(v, snap);
    refuseIfLoggedIn(v, "rolled back");
    engine.rollback(v.name(), snap);
    events.emit(EventLog.Severity.WARNING, "vdisk.rolled-back", v.name(), "vDisk " + v.name()
        + " rolled back to snapshot " + snap + " (later writes are gone)");
    return ok(show(vdisk(v.name())));
  }

  private ManagementServer.Reply createClone(Volume parent, ObjectNode b) throws IOException {
    known(b, "name", "snapshot", "export");
    String name = name(b, "name");
    String snap = b.has("snapshot") ? text(b, "snapshot") : null;
    if (snap == null && !parent.isTemplate()) {
      throw ApiException.badInput("snapshot", "snapshot is required (only a template's clone may leave it out)");
    }
    if (snap != null) {
      requireSnapshot(parent, snap);
    }
    boolean export = !b.has("export") || bool(b, "export");
    if (engine.contains(name)) {
      throw ApiException.conflict("vDisk " + name + " already exists"
          + (engine.offlineVdisk(name).isPresent() ? " (offline)" : ""));
    }
    Volume c = engine.cloneVolume(parent.name(), snap, name);
    if (export) {
      exportAsLun(c.name());
    }
    log.info("management API: vDisk {} cloned from {}@{}", name, parent.name(), snap == null ? "(template)" : snap);
    events.emit(EventLog.Severity.INFO, "vdisk.created", name, "vDisk " + name + " cloned from " + parent.name()
        + (snap == null ? " (template)" : "@" + snap));
    return new ManagementServer.Reply(201, show(c));
  }

  private ManagementServer.Reply flatten(Volume v, ObjectNode b) {
    known(b, "rate");
    long rate = size(b, "rate", false, 0);
    if (v.cloneSource().isEmpty()) {
      throw ApiException.conflict("vDisk " + v.name() + " is not a clone: there is nothing to flatten");
    }
    if (!engine.snapshotNames(v.name()).isEmpty()) {
      throw ApiException.conflict("vDisk " + v.name() + " cannot be flattened while it has snapshots ("
          + String.join(", ", engine.snapshotNames(v.name())) + "); delete them first");
    }
    FlattenJob running = new FlattenJob("running", null, null);
    FlattenJob before = flattens.get(v.name());
    if (before != null && before.state().equals("running")) {
      throw ApiException.conflict("a flatten of vDisk " + v.name() + " is already running");
    }
    flattens.put(v.name(), running);
    background.execute(() -> {
      try {
        flattens.put(v.name(), new FlattenJob("done", null, engine.flatten(v.name(), rate)));
      } catch (IOException | RuntimeException e) {
        log.warn("management API: flatten of vDisk {} failed: {}", v.name(), e.toString());
        flattens.put(v.name(), new FlattenJob("failed", e.getMessage() == null ? e.toString() : e.getMessage(), null));
      }
    });
    return new ManagementServer.Reply(202, running);
  }

  private ManagementServer.Reply flattenState(Volume v) {
    FlattenJob f = flattens.get(v.name());
    if (f == null) {
      throw ApiException.notFound("no flatten of vDisk " + v.name() + " was started since the appliance started");
    }
    return ok(f);
  }

  private ManagementServer.Reply setTemplate(Volume v) throws IOException {
    refuseIfLoggedIn(v, "made a template");
    engine.setTemplate(v.name());
    return ok(show(vdisk(v.name())));
  }

  // ---------------------------------------------------------------- exports

  /**
   * iSCSI sessions are not exports the engine knows of (the target binds LUNs at login), so a
   * rollback or deletion of a vDisk that is a LUN of a target with logged-in initiators is refused
   * here, naming them. NFSv3 has no sessions: a vDisk whose file was read or written over NFS in
   * the last minute ({@link org.vsa.appliance.NfsUse#IN_USE_NANOS}) counts as in use too.
   */
  void refuseIfLoggedIn(Volume v, String what) {
    if (nfsUse != null && nfsUse.inUse(v.name())) {
      long seconds = nfsUse.sinceLastUse(v.name()).orElse(0) / 1_000_000_000L;
      throw ApiException.conflict("vDisk " + v.name() + " is in use: its file was read or written over NFS "
          + seconds + " s ago (NFS has no sessions: a vDisk used in the last "
          + org.vsa.appliance.NfsUse.IN_USE_NANOS / 1_000_000_000L + " s counts as in use); stop its clients before it is "
          + what);
    }
    for (IscsiConfig.Target t : iscsiTargets()) {
      if (t.luns().containsValue(v.name())) {
        List<String> sessions = iscsi.sessionsOf(t.iqn());
        if (!sessions.isEmpty()) {
          throw ApiException.conflict("vDisk " + v.name() + " is in use: it is a LUN of iSCSI target " + t.iqn()
              + ", where " + String.join(", ", sessions) + " are logged in; log them out before it is " + what);
        }
      }
    }
  }

  /** Maps the vDisk as the next free LUN of the first iSCSI target, and remembers it. */
  private void exportAsLun(String vdisk) throws IOException {
    if (iscsi == null || iscsiTargets().isEmpty()) {
      return;
    }
    IscsiConfig.Target t = iscsiTargets().get(0);
    int lun = 0;
    while (t.luns().containsKey(lun)) {
      lun++;
    }
    if (lun > 16383) {
      log.warn("iSCSI target {} has no free LUN for vDisk {}", t.iqn(), vdisk);
      return;
    }
    lunTable.add(new LunTable.Lun(t.iqn(), lun, vdisk));
    iscsi.mapLun(t.iqn(), lun, vdisk);
  }

  private void unexport(String vdisk) throws IOException {
    for (LunTable.Lun l : lunTable.removeVdisk(vdisk)) {
      if (iscsi != null) {
        iscsi.unmapLun(l.iqn(), l.lun());
      }
    }
  }

  /** At start: maps the LUNs the API made before (a LUN taken by the configuration meanwhile stays the configuration's). */
  public static void restoreLuns(IscsiTarget iscsi, LunTable table, Engine engine) {
    for (LunTable.Lun l : table.all()) {
      try {
        if (!engine.contains(l.vdisk())) {
          log.warn("iSCSI LUN {} of {}: vDisk {} no longer exists; not mapped", l.lun(), l.iqn(), l.vdisk());
          continue;
        }
        if (engine.handle(l.vdisk()).isEmpty()) {
          log.warn("iSCSI LUN {} of {}: vDisk {} is offline with an unreadable record; the LUN is left out of sessions"
              + " until it is online", l.lun(), l.iqn(), l.vdisk());
        }
        iscsi.mapLun(l.iqn(), l.lun(), l.vdisk());
      } catch (RuntimeException e) {
        log.warn("iSCSI LUN {} of {} (vDisk {}) made through the API is not mapped: {}", l.lun(), l.iqn(), l.vdisk(),
            e.getMessage());
      }
    }
  }

  // ---------------------------------------------------------------- input

  static ObjectNode object(byte[] body) {
    if (body.length == 0) {
      throw ApiException.badInput(null, "a JSON object body is required");
    }
    JsonNode n;
    try {
      n = ManagementServer.JSON.readTree(body);
    } catch (JsonProcessingException e) {
      throw ApiException.badInput(null, "the body is not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw ApiException.badInput(null, "the body cannot be read: " + e.getMessage());
    }
    if (n == null || !n.isObject()) {
      throw ApiException.badInput(null, "the body must be a JSON object");
    }
    return (ObjectNode) n;
  }

  static ObjectNode optionalObject(byte[] body) {
    return body.length == 0 ? ManagementServer.JSON.createObjectNode() : object(body);
  }

  static void known(ObjectNode b, String... fields) {
    Set<String> k = Set.of(fields);
    for (Iterator<String> it = b.fieldNames(); it.hasNext(); ) {
      String f = it.next();
      if (!k.contains(f)) {
        throw ApiException.badInput(f, "unknown field '" + f + "' (known: " + String.join(", ", fields) + ")");
      }
    }
  }

  static String text(ObjectNode b, String f) {
    JsonNode n = b.get(f);
    if (n == null || !n.isTextual()) {
      throw ApiException.badInput(f, f + " must be a string" + (n == null ? " (missing)" : "; got " + n));
    }
    return n.asText();
  }

  private static String name(ObjectNode b, String f) {
    String s = text(b, f);
    if (!NAME.matcher(s).matches()) {
      throw ApiException.badInput(f, f + " must match " + VolumeSpec.NAME_PATTERN + "; got '" + s + "'");
    }
    return s;
  }

  static long integer(ObjectNode b, String f) {
    JsonNode n = b.get(f);
    if (n == null || !n.canConvertToLong() || !n.isIntegralNumber()) {
      throw ApiException.badInput(f, f + " must be an integer; got " + n);
    }
    return n.asLong();
  }

  static boolean bool(ObjectNode b, String f) {
    JsonNode n = b.get(f);
    if (n == null || !n.isBoolean()) {
      throw ApiException.badInput(f, f + " must be true or false; got " + n);
    }
    return n.asBoolean();
  }

  /** A size: a byte count, or a string with a unit ("10GiB", "512M"). */
  private static long size(ObjectNode b, String f, boolean required, long dflt) {
    JsonNode n = b.get(f);
    if (n == null || n.isNull()) {
      if (required) {
        throw ApiException.badInput(f, f + " is required (" + Sizes.UNITS_HELP + ")");
      }
      return dflt;
    }
    long v;
    if (n.isIntegralNumber() && n.canConvertToLong()) {
      v = n.asLong();
    } else if (n.isTextual()) {
      try {
        v = Sizes.parse(n.asText());
      } catch (IllegalArgumentException e) {
        throw ApiException.badInput(f, f + " = \"" + n.asText() + "\" " + e.getMessage());
      }
    } else {
      throw ApiException.badInput(f, f + " must be " + Sizes.UNITS_HELP + "; got " + n);
    }
    if (v < 0) {
      throw ApiException.badInput(f, f + " must not be negative; got " + v);
    }
    return v;
  }

  public void close() {
    watcher.close();
    background.shutdownNow();
  }

  Optional<FlattenJob> flattenJob(String vdisk) {
    return Optional.ofNullable(flattens.get(vdisk));
  }
}
