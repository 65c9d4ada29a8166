package org.vsa.appliance.mgmt;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.Sizes;
import org.vsa.appliance.mgmt.Routes.Doc;
import org.vsa.backends.fragment.Policy;
import org.vsa.backends.fragment.Preset;
import org.vsa.backends.s3.S3Settings;
import org.vsa.cache.WriteBuffer;
import org.vsa.nfs.ClientRule;
import org.vsa.nfs.Export;
import org.vsa.volume.Engine;
import org.vsa.volume.OfflineVdisk;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * What this node has and how it is: vPools, the backend (never its secrets), NFS exports, nodes
 * (this one; the cluster adds the others), each vDisk's DTL, the event ring and a one-screen
 * status.
 */
final class NodeResources {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(NodeResources.class);
  static final int EVENTS_LIMIT_MAX = EventLog.CAPACITY;

  private final ManagementApi api;
  private final Engine engine;
  private final ApplianceConfig config;
  private final EventLog events;
  private final EngineWatcher watcher;
  private volatile Map<String, Object> endpoints = Map.of();

  NodeResources(ManagementApi api, Engine engine, ApplianceConfig config, EventLog events, EngineWatcher watcher) {
    this.api = api;
    this.engine = engine;
    this.config = config;
    this.events = events;
    this.watcher = watcher;
  }

  private volatile org.vsa.appliance.cluster.ClusterView cluster;
  private volatile org.vsa.nfs.NfsServer nfs;

  void nfs(org.vsa.nfs.NfsServer n) {
    nfs = n;
  }

  void cluster(org.vsa.appliance.cluster.ClusterView c) {
    cluster = c;
  }

  private volatile org.vsa.appliance.cluster.ClusterController controller;

  void controller(org.vsa.appliance.cluster.ClusterController c) {
    controller = c;
  }

  void endpoints(Map<String, Object> e) {
    endpoints = Map.copyOf(e);
  }

  void register(Routes r) {
    r.add("GET", "/vpools", Doc.of("the vPools with their vDisks and usage"), (m, q, b) -> ok(vpools()));
    r.add("GET", "/vpools/{name}", Doc.of("one vPool").refuses(404), (m, q, b) -> ok(vpool(m.group(1))));
    r.add("GET", "/backends", Doc.of("the object backend(s): kind, stores, preset; S3 keys masked"),
        (m, q, b) -> ok(List.of(backend())));
    r.add("GET", "/backends/{name}", Doc.of("one backend").refuses(404), (m, q, b) -> ok(backend(m.group(1))));
    r.add("GET", "/presets", Doc.of("the fragment backend's presets (erasure-coding policies, fragment size,"
        + " compression, whether encrypted; never the key), the one in use marked active"), (m, q, b) -> ok(presets()));
    r.add("GET", "/presets/{name}", Doc.of("one preset").refuses(404), (m, q, b) -> ok(preset(m.group(1))));
    r.add("GET", "/nfs/exports", Doc.of("the NFS exports: path, vPool, client rules"), (m, q, b) -> ok(nfsExports()));
    r.add("PUT", "/nfs/exports", Doc.of("create or replace (by path) an NFS export; served at once and kept across"
        + " restarts").body("vpool", "path", "clients").refuses(409), (m, q, b) -> putExport(ManagementApi.object(b)));
    r.add("DELETE", "/nfs/exports", Doc.of("stop exporting ?path=/x; its clients' handles go stale").query("path")
        .status(204).refuses(404, 409), (m, q, b) -> deleteExport(q.get("path")));
    r.add("GET", "/nodes", Doc.of("the nodes: every member of the cluster (up), the recorded addresses of none"
        + " (down), or this node alone"), (m, q, b) -> ok(nodes()));
    r.add("POST", "/nodes", Doc.of("record a node's member address (host:port) so that a node started there joins this"
        + " cluster").status(201).body("address").refuses(409), (m, q, b) -> addNode(ManagementApi.object(b)));
    r.add("GET", "/cluster/vdisks", Doc.of("every vDisk of the cluster: the node serving it now (null while a"
        + " takeover is under way), this node's epoch and DTL node where it serves it, and why an automatic takeover"
        + " was refused").refuses(409), (m, q, b) -> ok(clusterVdisks()));
    r.add("POST", "/cluster/vdisks/{name}/force", Doc.of("force the refused takeover of a vDisk: the writes its"
        + " out-of-sync DTL lacks are accepted as lost").refuses(404, 409), (m, q, b) -> forceTakeover(m.group(1)));
    r.add("GET", "/nodes/{name}", Doc.of("one node").refuses(404), (m, q, b) -> ok(node(m.group(1))));
    r.add("GET", "/vdisks/{name}/dtl", Doc.of("a vDisk's DTL: mode, peer, state").refuses(404, 409),
        (m, q, b) -> ok(dtl(m.group(1))));
    r.add("GET", "/events", Doc.of("recent events after id 'since', oldest first").query("since", "limit"),
        (m, q, b) -> ok(events(q)));
    r.add("GET", "/status", Doc.of("this node in one screen: vPools, vDisks, write buffer, backend, DTL"),
        (m, q, b) -> ok(status()));
  }

  private static ManagementServer.Reply ok(Object body) {
    return new ManagementServer.Reply(200, body);
  }

  // ---------------------------------------------------------------- vPools

  private List<Map<String, Object>> vpools() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (ApplianceConfig.Vpool p : config.vpools()) {
      out.add(vpoolJson(p, false));
    }
    return out;
  }

  private Map<String, Object> vpool(String name) {
    ApplianceConfig.Vpool p = config.vpool(name).orElseThrow(() -> ApiException.notFound("no vPool " + name
        + " (known: " + config.vpools().stream().map(ApplianceConfig.Vpool::name).toList() + ")"));
    return vpoolJson(p, true);
  }

  private Map<String, Object> vpoolJson(ApplianceConfig.Vpool p, boolean detail) {
    TreeMap<String, Map<String, Object>> vdisks = new TreeMap<>();
    long provisioned = 0;
    int online = 0;
    for (Volume v : engine.volumes()) {
      if (v.spec().vpool().equals(p.name())) {
        provisioned += v.sizeBytes();
        online++;
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("name", v.name());
        d.put("state", "online");
        d.put("sizeBytes", v.sizeBytes());
        vdisks.put(v.name(), d);
      }
    }
    int offline = 0;
    for (OfflineVdisk o : engine.offlineVdisks()) {
      if (o.spec().map(VolumeSpec::vpool).orElse("").equals(p.name())) {
        offline++;
        provisioned += o.spec().map(VolumeSpec::sizeBytes).orElse(0L);
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("name", o.name());
        d.put("state", "offline");
        d.put("sizeBytes", o.spec().map(VolumeSpec::sizeBytes).orElse(null));
        vdisks.put(o.name(), d);
      }
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", p.name());
    m.put("backend", config.backend().type().configName());
    m.put("scoSizeBytes", p.scoSizeBytes());
    m.put("cachePolicy", p.cachePolicy().configName());
    m.put("vdiskCount", online + offline);
    m.put("offlineCount", offline);
    m.put("provisionedBytes", provisioned);
    m.put("provisioned", Sizes.format(provisioned));
    m.put("nfsExport", nfsPathOf(p.name()));
    if (detail) {
      m.put("vdisks", new ArrayList<>(vdisks.values()));
      m.put("writeBuffer", writeBuffer());
      m.put("scosAwaitingUpload", engine.scosAwaitingUpload());
    }
    return m;
  }

  private String nfsPathOf(String vpool) {
    if (!config.nfs().enabled()) {
      return null;
    }
    return config.nfs().server().exports().stream().filter(e -> e.vpool().equals(vpool)).map(Export::path)
        .findFirst().orElse(null);
  }

  private Map<String, Object> writeBuffer() {
    WriteBuffer wb = engine.writeBuffer();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("usedBytes", wb.usedBytes());
    m.put("capacityBytes", wb.capacityBytes());
    m.put("usedPercent", wb.capacityBytes() == 0 ? 0 : Math.round(100.0 * wb.usedBytes() / wb.capacityBytes()));
    m.put("holding", wb.isHolding());
    m.put("throttledCount", wb.throttledCount());
    return m;
  }

  // ---------------------------------------------------------------- backend

  static final String BACKEND_NAME = "default";

  private Map<String, Object> backend(String name) {
    if (!name.equals(BACKEND_NAME)) {
      throw ApiException.notFound("no backend " + name + " (this node has one: " + BACKEND_NAME + ")");
    }
    return backend();
  }

  private Map<String, Object> backend() {
    ApplianceConfig.Backend b = config.backend();
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", BACKEND_NAME);
    m.put("kind", b.type().configName());
    m.put("dir", b.dir() == null ? null : b.dir().toString());
    m.put("s3", b.s3() == null ? null : s3(b.s3()));
    List<Map<String, Object>> stores = new ArrayList<>();
    for (ApplianceConfig.Store s : b.stores()) {
      Map<String, Object> st = new LinkedHashMap<>();
      st.put("name", s.name());
      st.put("kind", s.type().configName());
      st.put("dir", s.dir() == null ? null : s.dir().toString());
      st.put("s3", s.s3() == null ? null : s3(s.s3()));
      stores.add(st);
    }
    m.put("stores", stores);
    m.put("preset", b.preset() == null ? null : preset(b.preset()));
    m.put("scosAwaitingUpload", engine.scosAwaitingUpload());
    m.put("scosUploaded", engine.scosUploaded());
    m.put("uploadFailures", engine.uploadFailures());
    m.put("health", watcher.uploadsFailing() ? "failing" : "ok");
    return m;
  }

  /** The bucket and where it is; the access key masked to its last 4 characters, the secret key never. */
  static Map<String, Object> s3(S3Settings s) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("endpoint", s.endpoint() == null ? null : s.endpoint().toString());
    m.put("region", s.region());
    m.put("bucket", s.bucket());
    m.put("prefix", s.prefix());
    m.put("pathStyle", s.pathStyle());
    m.put("accessKey", mask(s.accessKey()));
    m.put("secretKey", s.secretKey() == null || s.secretKey().isEmpty() ? null : "********");
    return m;
  }

  static String mask(String key) {
    if (key == null || key.isEmpty()) {
      return null;
    }
    return key.length() <= 8 ? "****" : "****" + key.substring(key.length() - 4);
  }

  private List<Map<String, Object>> presets() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (Preset p : config.backend().presets()) {
      Map<String, Object> m = preset(p);
      m.put("active", p.equals(config.backend().preset()));
      out.add(m);
    }
    return out;
  }

  private Map<String, Object> preset(String name) {
    for (Map<String, Object> p : presets()) {
      if (name.equals(p.get("name"))) {
        return p;
      }
    }
    throw ApiException.notFound("no preset " + name + (config.backend().presets().isEmpty()
        ? " (presets belong to backend type fragment; this node's backend is " + config.backend().type().configName() + ")"
        : " (known: " + config.backend().presets().stream().map(Preset::name).toList() + ")"));
  }

  private static Map<String, Object> preset(Preset p) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", p.name());
    List<Map<String, Object>> policies = new ArrayList<>();
    for (Policy x : p.policies()) {
      policies.add(Map.of("k", x.k(), "m", x.m(), "c", x.c(), "x", x.x()));
    }
    m.put("policies", policies);
    m.put("fragmentSizeBytes", p.fragmentSizeBytes());
    m.put("compression", p.compression().name().toLowerCase(java.util.Locale.ROOT));
    m.put("encrypted", p.encrypted());
    return m;
  }

  // ---------------------------------------------------------------- NFS, nodes

  private static final java.util.regex.Pattern EXPORT_PATH = java.util.regex.Pattern.compile("(/[A-Za-z0-9._-]+)+");

  private org.vsa.nfs.NfsServer nfsOrRefuse() {
    org.vsa.nfs.NfsServer n = nfs;
    if (n == null) {
      throw ApiException.conflict("NFS is disabled on this node (nfs.enabled = false)");
    }
    return n;
  }

  private ManagementServer.Reply putExport(com.fasterxml.jackson.databind.node.ObjectNode b) {
    org.vsa.nfs.NfsServer n = nfsOrRefuse();
    ManagementApi.known(b, "vpool", "path", "clients");
    String vpool = text(b, "vpool");
    if (config.vpool(vpool).isEmpty()) {
      throw ApiException.badInput("vpool", "no vPool " + vpool + " (known: "
          + config.vpools().stream().map(ApplianceConfig.Vpool::name).toList() + ")");
    }
    String path = text(b, "path");
    if (!EXPORT_PATH.matcher(path).matches()) {
      throw ApiException.badInput("path", "path " + path + " must look like /name[/name...] (A-Z a-z 0-9 . _ -)");
    }
    com.fasterxml.jackson.databind.JsonNode cs = b.get("clients");
    if (cs == null || !cs.isArray() || cs.isEmpty()) {
      throw ApiException.badInput("clients", "clients must list at least one rule, e.g. [{\"host\": \"10.0.0.0/24\","
          + " \"access\": \"rw\", \"squash\": \"no_root_squash\"}]");
    }
    List<ClientRule> rules = new ArrayList<>();
    for (int i = 0; i < cs.size(); i++) {
      com.fasterxml.jackson.databind.JsonNode c = cs.get(i);
      String f = "clients[" + i + "]";
      if (!c.isObject()) {
        throw ApiException.badInput(f, f + " must be an object with host, access, squash, anonUid, anonGid");
      }
      for (java.util.Iterator<String> it = c.fieldNames(); it.hasNext(); ) {
        String k = it.next();
        if (!List.of("host", "access", "squash", "anonUid", "anonGid").contains(k)) {
          throw ApiException.badInput(f + "." + k, "unknown field " + f + "." + k
              + " (known: host, access, squash, anonUid, anonGid)");
        }
      }
      String host = c.path("host").isTextual() ? c.path("host").textValue().trim() : "";
      String access = c.path("access").isMissingNode() ? "rw" : c.path("access").asText();
      if (!access.equals("rw") && !access.equals("ro")) {
        throw ApiException.badInput(f + ".access", f + ".access must be rw or ro, not " + access);
      }
      String squash = (c.path("squash").isMissingNode() ? "no_root_squash" : c.path("squash").asText()).replace('-', '_');
      if (!List.of("root_squash", "no_root_squash", "all_squash").contains(squash)) {
        throw ApiException.badInput(f + ".squash", f + ".squash must be root_squash, no_root_squash or all_squash");
      }
      int[] ids = new int[2];
      String[] idNames = {"anonUid", "anonGid"};
      for (int k = 0; k < 2; k++) {
        com.fasterxml.jackson.databind.JsonNode v = c.get(idNames[k]);
        long id = v == null ? ClientRule.NOBODY : v.canConvertToLong() && v.isIntegralNumber() ? v.asLong() : -1;
        if (id < 0 || id > Integer.MAX_VALUE) {
          throw ApiException.badInput(f + "." + idNames[k], f + "." + idNames[k] + " must be an integer in [0, "
              + Integer.MAX_VALUE + "]");
        }
        ids[k] = (int) id;
      }
      try {
        rules.add(new ClientRule(host, access.equals("ro"),
            org.vsa.nfs.Squash.valueOf(squash.toUpperCase(java.util.Locale.ROOT)), ids[0], ids[1]));
      } catch (IllegalArgumentException e) {
        throw ApiException.badInput(f + ".host", f + ".host = '" + host + "': " + e.getMessage());
      }
    }
    Export export = new Export(vpool, path, rules);
    List<Export> next = new ArrayList<>();
    boolean replaced = false;
    for (Export e : n.exports()) {
      if (e.path().equals(path)) {
        next.add(export);
        replaced = true;
      } else {
        next.add(e);
      }
    }
    if (!replaced) {
      next.add(export);
    }
    apply(n, next);
    events.emit(EventLog.Severity.INFO, "nfs.export-" + (replaced ? "changed" : "added"), path, "NFS export " + path
        + " (vPool " + vpool + ") " + (replaced ? "changed" : "added") + ": " + rules.size() + " client rule(s)");
    return new ManagementServer.Reply(replaced ? 200 : 201, exportJson(export));
  }

  private ManagementServer.Reply deleteExport(String path) {
    org.vsa.nfs.NfsServer n = nfsOrRefuse();
    if (path == null) {
      throw ApiException.badInput("path", "?path=/x names the export to remove");
    }
    List<Export> next = new ArrayList<>(n.exports());
    if (!next.removeIf(e -> e.path().equals(path))) {
      throw ApiException.notFound("no NFS export " + path + " (exported: " + n.exports().stream().map(Export::path)
          .toList() + ")");
    }
    apply(n, next);
    events.emit(EventLog.Severity.INFO, "nfs.export-removed", path, "NFS export " + path + " removed");
    return new ManagementServer.Reply(204, null);
  }

  /** Serves {@code next} and keeps it for the next start; the store first, so that a restart never undoes it. */
  private void apply(org.vsa.nfs.NfsServer n, List<Export> next) {
    List<Export> before = n.exports();
    try {
      NfsExportStore.store(config.node().dataDir(), next);
      n.setExports(next);
    } catch (IllegalArgumentException e) {
      restore(before);
      throw ApiException.badInput(e.getMessage().startsWith("vPool") ? "vpool" : "path", e.getMessage());
    } catch (java.io.IOException e) {
      restore(before);
      throw new ApiException(503, "the exports could not be changed: " + e.getMessage(), null);
    }
  }

  private void restore(List<Export> before) {
    try {
      NfsExportStore.store(config.node().dataDir(), before);
    } catch (java.io.IOException x) {
      log.error("NFS exports: the stored table could not be put back: {}", x.toString());
    }
  }

  private static String text(com.fasterxml.jackson.databind.JsonNode b, String field) {
    com.fasterxml.jackson.databind.JsonNode v = b.get(field);
    if (v == null || !v.isTextual() || v.textValue().isBlank()) {
      throw ApiException.badInput(field, field + " is required (text)");
    }
    return v.textValue();
  }

  private List<Map<String, Object>> nfsExports() {
    List<Map<String, Object>> out = new ArrayList<>();
    if (!config.nfs().enabled()) {
      return out;
    }
    org.vsa.nfs.NfsServer n = nfs;
    for (Export e : n != null ? n.exports() : config.nfs().server().exports()) {
      out.add(exportJson(e));
    }
    return out;
  }

  private static Map<String, Object> exportJson(Export e) {
    {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("path", e.path());
      m.put("vpool", e.vpool());
      List<Map<String, Object>> clients = new ArrayList<>();
      for (ClientRule c : e.clients()) {
        Map<String, Object> cm = new LinkedHashMap<>();
        cm.put("host", c.host());
        cm.put("access", c.readOnly() ? "ro" : "rw");
        cm.put("squash", c.squash().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'));
        cm.put("anonUid", c.anonUid());
        cm.put("anonGid", c.anonGid());
        clients.add(cm);
      }
      m.put("clients", clients);
      return m;
    }
  }

  private Map<String, Object> node(String name) {
    for (Map<String, Object> n : nodes()) {
      if (name.equals(n.get("name"))) {
        return n;
      }
    }
    throw ApiException.notFound("no node " + name + " (known: " + nodes().stream().map(n -> n.get("name")).toList()
        + ")");
  }

  private static final java.util.regex.Pattern MEMBER =
      java.util.regex.Pattern.compile("(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):([0-9]{1,5})");

  private org.vsa.appliance.cluster.ClusterController controllerOrConflict() {
    org.vsa.appliance.cluster.ClusterController c = controller;
    if (c == null) {
      throw ApiException.conflict("this node runs alone (cluster.enabled is false): its vDisks are its own");
    }
    return c;
  }

  private Map<String, Object> clusterVdisks() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (org.vsa.appliance.cluster.ClusterController.VdiskStatus s : controllerOrConflict().status()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", s.name());
      m.put("owner", s.owner());
      m.put("epoch", s.epoch() == 0 ? null : s.epoch());
      m.put("dtlNode", s.dtlNode());
      m.put("dtlPublished", s.dtlPublished() == null ? null : ManagementApi.dtlStateName(s.dtlPublished()));
      m.put("refused", s.refused());
      m.put("noDtl", s.noDtl());
      out.add(m);
    }
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("node", controllerOrConflict().self());
    m.put("live", List.copyOf(controllerOrConflict().service().live()));
    m.put("vdisks", out);
    List<Map<String, Object>> ns = new ArrayList<>();
    for (org.vsa.appliance.cluster.ClusterController.VdiskStatus s : controllerOrConflict().namespaceStatus()) {
      Map<String, Object> n = new LinkedHashMap<>();
      n.put("vpool", s.name().substring(org.vsa.appliance.cluster.ownership.Records.NAMESPACE_PREFIX.length()));
      n.put("owner", s.owner());
      n.put("epoch", s.epoch() == 0 ? null : s.epoch());
      n.put("refused", s.refused());
      ns.add(n);
    }
    m.put("namespaces", ns);
    return m;
  }

  private ManagementServer.Reply forceTakeover(String name) {
    org.vsa.appliance.cluster.ClusterController c = controllerOrConflict();
    if (!c.vdisks().containsKey(name)) {
      throw ApiException.notFound("no vDisk " + name + " in this cluster");
    }
    c.force(name);
    events.emit(EventLog.Severity.WARNING, "vdisk.takeover.forced", name, "the operator forced the takeover of vDisk "
        + name + ": writes its DTL lacks are accepted as lost");
    return ok(Map.of("name", name, "forced", true));
  }

  private ManagementServer.Reply addNode(com.fasterxml.jackson.databind.JsonNode body) {
    org.vsa.appliance.cluster.ClusterView c = cluster;
    if (c == null) {
      throw ApiException.conflict("this node runs alone (cluster.enabled is false): set cluster.enabled and restart it"
          + " to form a cluster");
    }
    com.fasterxml.jackson.databind.JsonNode a = body.get("address");
    if (a == null || !a.isTextual()) {
      throw ApiException.badInput("address", "address is required: the new node's member address, host:port");
    }
    String address = a.textValue().trim();
    java.util.regex.Matcher x = MEMBER.matcher(address);
    if (!x.matches() || Integer.parseInt(x.group(2)) < 1 || Integer.parseInt(x.group(2)) > 65535) {
      throw ApiException.badInput("address", "address " + address + " is not host:port (a name or IPv4 address, or"
          + " [IPv6], with a port in [1, 65535])");
    }
    try {
      c.record(address);
    } catch (java.io.IOException e) {
      throw new ApiException(503, "cannot record the member in the backend: " + e.getMessage(), null);
    }
    events.emit(EventLog.Severity.INFO, "node.added", address, "member address " + address + " recorded: a node started there joins");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("address", address);
    m.put("state", c.members().stream().anyMatch(n -> n.address().equals(address)) ? "up" : "not joined yet");
    return new ManagementServer.Reply(201, m);
  }

  private List<Map<String, Object>> nodes() {
    org.vsa.appliance.cluster.ClusterView c = cluster;
    if (c == null) {
      return List.of(node());
    }
    List<Map<String, Object>> out = new ArrayList<>();
    java.util.Set<String> up = new java.util.HashSet<>();
    for (org.vsa.appliance.cluster.ClusterMembership.NodeInfo n : c.members()) {
      up.add(n.address());
      if (n.local()) {
        Map<String, Object> m = node();
        m.put("memberAddress", n.address());
        m.put("faultDomain", n.faultDomain());
        out.add(m);
        continue;
      }
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("name", n.name());
      m.put("self", false);
      m.put("state", "up");
      m.put("memberAddress", n.address());
      m.put("faultDomain", n.faultDomain());
      Map<String, Object> ep = new TreeMap<>();
      n.attributes().forEach((k, v) -> {
        if (k.startsWith("vsa.endpoint.")) {
          ep.put(k.substring("vsa.endpoint.".length()), v);
        }
      });
      m.put("endpoints", ep);
      out.add(m);
    }
    try {
      for (String a : c.recorded()) {
        if (!up.contains(a)) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("name", a);
          m.put("self", false);
          m.put("state", "down");
          m.put("memberAddress", a);
          out.add(m);
        }
      }
    } catch (java.io.IOException e) {
      log.warn("nodes: the recorded members could not be read from the backend: {}", e.toString());
    }
    return out;
  }

  private Map<String, Object> node() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("name", config.node().name());
    m.put("self", true);
    m.put("state", "up");
    m.put("cluster", cluster == null ? null : cluster.clusterName());
    m.put("bindAddress", config.node().bindAddress().getHostAddress());
    m.put("endpoints", endpoints);
    m.put("vdiskCount", engine.volumes().size() + engine.offlineVdisks().size());
    m.put("version", version());
    return m;
  }

  private static String version() {
    java.util.Properties p = new java.util.Properties();
    try (var in = NodeResources.class.getResourceAsStream("/org/vsa/appliance/version.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (java.io.IOException e) {
      return "(unknown)";
    }
    return p.getProperty("version", "(unknown)");
  }

  // ---------------------------------------------------------------- DTL, events, status

  private Map<String, Object> dtl(String name) {
    Volume v = api.vdisk(name);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("vdisk", v.name());
    m.put("mode", v.settings().dtlMode().configName());
    org.vsa.appliance.cluster.ClusterController c = controller;
    // in a cluster the DTL goes where the cluster placed it, not to dtl.peer
    m.put("peer", (c != null ? c.dtlPeerOf(v.name()) : config.dtlPeerOf(v.name()))
        .map(a -> a.getHostString() + ":" + a.getPort()).orElse(null));
    m.put("state", engine.dtlState(v.name()).map(ManagementApi::dtlStateName)
        .orElse(null));
    m.put("reason", engine.dtlReason(v.name()).orElse(null));
    return m;
  }

  private Map<String, Object> events(Map<String, String> q) {
    long since = 0;
    int limit = EVENTS_LIMIT_MAX;
    for (String k : q.keySet()) {
      if (!k.equals("since") && !k.equals("limit")) {
        throw ApiException.badInput(k, "unknown query parameter '" + k + "' (known: since, limit)");
      }
    }
    if (q.containsKey("since")) {
      since = number(q.get("since"), "since");
    }
    if (q.containsKey("limit")) {
      long l = number(q.get("limit"), "limit");
      if (l < 1 || l > EVENTS_LIMIT_MAX) {
        throw ApiException.badInput("limit", "limit must be in [1, " + EVENTS_LIMIT_MAX + "]; got " + l);
      }
      limit = (int) l;
    }
    List<EventLog.Event> list = events.since(since, limit);
    Map<String, Object> m = new LinkedHashMap<>();
    long oldest = events.oldestId();
    m.put("lastId", events.lastId());
    m.put("dropped", Math.max(0, oldest - since - 1));
    List<Map<String, Object>> out = new ArrayList<>();
    for (EventLog.Event e : list) {
      Map<String, Object> em = new LinkedHashMap<>();
      em.put("id", e.id());
      em.put("time", e.time().toString());
      em.put("severity", e.severity().name().toLowerCase(java.util.Locale.ROOT));
      em.put("kind", e.kind());
      em.put("subject", e.subject());
      em.put("message", e.message());
      out.add(em);
    }
    m.put("events", out);
    return m;
  }

  private static long number(String s, String field) {
    try {
      long v = Long.parseLong(s);
      if (v < 0) {
        throw ApiException.badInput(field, field + " must not be negative; got " + v);
      }
      return v;
    } catch (NumberFormatException e) {
      throw ApiException.badInput(field, field + " must be a whole number; got '" + s + "'");
    }
  }

  private Map<String, Object> status() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("node", node());
    m.put("vpools", vpools());
    int online = engine.volumes().size();
    int offline = engine.offlineVdisks().size();
    m.put("vdisks", Map.of("total", online + offline, "online", online, "offline", offline));
    m.put("writeBuffer", writeBuffer());
    Map<String, Object> be = new LinkedHashMap<>();
    be.put("kind", config.backend().type().configName());
    be.put("health", watcher.uploadsFailing() ? "failing" : "ok");
    be.put("scosAwaitingUpload", engine.scosAwaitingUpload());
    be.put("uploadFailures", engine.uploadFailures());
    m.put("backend", be);
    Map<String, Integer> dtl = new TreeMap<>();
    for (Volume v : engine.volumes()) {
      engine.dtlState(v.name()).ifPresent(s -> dtl.merge(ManagementApi.dtlStateName(s),
          1, Integer::sum));
    }
    m.put("dtl", dtl);
    m.put("lastEventId", events.lastId());
    return m;
  }
}
