package org.vsa.appliance.mgmt;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.mgmt.Routes.Doc;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;
import org.vsa.volume.Volume;

/**
 * The iSCSI resources: targets (portal, LUNs, logged-in sessions, whether CHAP is required),
 * exporting a vDisk as a LUN and taking it back, and the targets' CHAP credentials. CHAP set here
 * applies to logins from then on (sessions logged in stay) and is kept in the data directory
 * ({@link ChapStore}) over the configuration file's; secrets are never shown, only whether they
 * are set.
 */
final class IscsiResources {
  private static final Logger log = LoggerFactory.getLogger(IscsiResources.class);
  /** RFC 3720 section 8.2.1: a CHAP secret of at least 12 bytes; 255 is the most the target takes. */
  static final int SECRET_BYTES_MIN = 12;
  static final int SECRET_BYTES_MAX = 255;

  private final ManagementApi api;
  private final IscsiTarget iscsi;
  private final LunTable lunTable;
  private final ChapStore chapStore;
  private final EventLog events;

  IscsiResources(ManagementApi api, IscsiTarget iscsi, LunTable lunTable, ChapStore chapStore, EventLog events) {
    this.api = api;
    this.iscsi = iscsi;
    this.lunTable = lunTable;
    this.chapStore = chapStore;
    this.events = events;
  }

  void register(Routes r) {
    r.add("GET", "/iscsi/targets", Doc.of("the iSCSI targets: portal, LUNs, sessions, whether CHAP is required"),
        (m, q, b) -> ok(targets()));
    r.add("GET", "/iscsi/targets/{iqn}", Doc.of("one iSCSI target").refuses(404), (m, q, b) -> ok(target(m.group(1))));
    r.add("POST", "/vdisks/{name}/export", Doc.of("export a vDisk as an iSCSI LUN (the next free one unless given)")
        .status(201).optionalBody("iscsi", "target", "lun").refuses(404, 409), (m, q, b) -> export(m.group(1),
        ManagementApi.optionalObject(b)));
    r.add("DELETE", "/vdisks/{name}/export", Doc.of("take back a vDisk's iSCSI LUNs made through the API")
        .status(204).refuses(404, 409), (m, q, b) -> unexport(m.group(1)));
    r.add("GET", "/iscsi/chap", Doc.of("per target: whether CHAP and mutual CHAP are set (never the secrets)"),
        (m, q, b) -> ok(chapState()));
    r.add("PUT", "/iscsi/chap", Doc.of("set a target's CHAP credentials for logins from now on")
        .body("target", "user", "secret", "mutualUser", "mutualSecret").refuses(404), (m, q, b) ->
        putChap(ManagementApi.object(b)));
    r.add("DELETE", "/iscsi/chap", Doc.of("turn CHAP off on a target (the first unless ?target=IQN)").query("target")
        .status(204).refuses(404), (m, q, b) -> deleteChap(q.get("target")));
  }

  private static ManagementServer.Reply ok(Object body) {
    return new ManagementServer.Reply(200, body);
  }

  private List<IscsiConfig.Target> all() {
    return iscsi == null ? List.of() : iscsi.config().targets();
  }

  private IscsiConfig.Target find(String iqn, String field) {
    if (iscsi == null) {
      throw ApiException.notFound("iSCSI is disabled on this node (iscsi.enabled = false)");
    }
    if (iqn == null) {
      return all().stream().findFirst().orElseThrow(() -> ApiException.notFound("this node has no iSCSI target"));
    }
    return iscsi.config().target(iqn).orElseThrow(() -> new ApiException(404, "no iSCSI target " + iqn
        + " (known: " + all().stream().map(IscsiConfig.Target::iqn).toList() + ")", field));
  }

  List<Map<String, Object>> targets() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (IscsiConfig.Target t : all()) {
      out.add(targetJson(t));
    }
    return out;
  }

  private Map<String, Object> target(String iqn) {
    return targetJson(find(iqn, null));
  }

  private Map<String, Object> targetJson(IscsiConfig.Target t) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("iqn", t.iqn());
    var a = iscsi.localAddress();
    m.put("portals", List.of(a.getAddress().getHostAddress() + ":" + a.getPort()));
    List<Map<String, Object>> luns = new ArrayList<>();
    new java.util.TreeMap<>(t.luns()).forEach((lun, vdisk) -> {
      Map<String, Object> l = new LinkedHashMap<>();
      l.put("lun", lun);
      l.put("vdisk", vdisk);
      l.put("source", lunTable.all().contains(new LunTable.Lun(t.iqn(), lun, vdisk)) ? "api" : "config");
      luns.add(l);
    });
    m.put("luns", luns);
    m.put("sessions", iscsi.sessionsOf(t.iqn()));
    m.put("chap", t.chap().isPresent());
    m.put("mutualChap", t.mutualChap().isPresent());
    return m;
  }

  // ---------------------------------------------------------------- export

  private ManagementServer.Reply export(String name, ObjectNode b) throws IOException {
    ManagementApi.known(b, "iscsi", "target", "lun");
    Volume v = api.vdisk(name);
    if (b.has("iscsi") && !ManagementApi.bool(b, "iscsi")) {
      throw ApiException.badInput("iscsi", "iscsi must be true (a vDisk is always a file of its vPool's NFS export;"
          + " DELETE .../export takes its LUNs back)");
    }
    String iqn = b.has("target") ? ManagementApi.text(b, "target") : null;
    IscsiConfig.Target t = find(iqn, "target");
    int lun;
    if (b.has("lun")) {
      long l = ManagementApi.integer(b, "lun");
      if (l < 0 || l > 16383) {
        throw ApiException.badInput("lun", "lun must be in [0, 16383]; got " + l);
      }
      lun = (int) l;
      if (t.luns().containsKey(lun)) {
        throw ApiException.conflict("LUN " + lun + " of iSCSI target " + t.iqn() + " is taken by vDisk " + t.luns().get(lun));
      }
    } else {
      lun = 0;
      while (t.luns().containsKey(lun)) {
        lun++;
      }
      if (lun > 16383) {
        throw ApiException.conflict("iSCSI target " + t.iqn() + " has no free LUN");
      }
    }
    if (t.luns().containsValue(v.name())) {
      throw ApiException.conflict("vDisk " + v.name() + " is a LUN of iSCSI target " + t.iqn() + " already");
    }
    lunTable.add(new LunTable.Lun(t.iqn(), lun, v.name()));
    try {
      iscsi.mapLun(t.iqn(), lun, v.name());
    } catch (RuntimeException e) {
      lunTable.removeVdisk(v.name());
      throw e;
    }
    events.emit(EventLog.Severity.INFO, "vdisk.exported", v.name(), "vDisk " + v.name() + " is LUN " + lun
        + " of iSCSI target " + t.iqn());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("target", t.iqn());
    out.put("lun", lun);
    out.put("vdisk", v.name());
    return new ManagementServer.Reply(201, out);
  }

  private ManagementServer.Reply unexport(String name) throws IOException {
    Volume v = api.vdisk(name);
    List<String> fromConfig = new ArrayList<>();
    boolean any = false;
    for (IscsiConfig.Target t : all()) {
      for (Map.Entry<Integer, String> e : t.luns().entrySet()) {
        if (e.getValue().equals(v.name())) {
          any = true;
          if (!lunTable.all().contains(new LunTable.Lun(t.iqn(), e.getKey(), v.name()))) {
            fromConfig.add(t.iqn() + " LUN " + e.getKey());
          }
        }
      }
    }
    if (!any) {
      throw ApiException.conflict("vDisk " + v.name() + " is not an iSCSI LUN");
    }
    if (!fromConfig.isEmpty()) {
      throw ApiException.conflict("vDisk " + v.name() + " is " + String.join(", ", fromConfig)
          + " by the configuration file; remove it there (and restart)");
    }
    api.refuseIfLoggedIn(v, "unexported");
    for (LunTable.Lun l : lunTable.removeVdisk(v.name())) {
      iscsi.unmapLun(l.iqn(), l.lun());
    }
    events.emit(EventLog.Severity.INFO, "vdisk.unexported", v.name(), "vDisk " + v.name() + " is no iSCSI LUN any more");
    return new ManagementServer.Reply(204, null);
  }

  // ---------------------------------------------------------------- CHAP

  private List<Map<String, Object>> chapState() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (IscsiConfig.Target t : all()) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("target", t.iqn());
      m.put("chap", t.chap().isPresent());
      m.put("mutualChap", t.mutualChap().isPresent());
      m.put("source", chapStore.all().containsKey(t.iqn()) ? "api" : "config");
      out.add(m);
    }
    return out;
  }

  private ManagementServer.Reply putChap(ObjectNode b) throws IOException {
    ManagementApi.known(b, "target", "user", "secret", "mutualUser", "mutualSecret");
    IscsiConfig.Target t = find(b.has("target") ? ManagementApi.text(b, "target") : null, "target");
    IscsiConfig.Chap chap = new IscsiConfig.Chap(user(b, "user"), secret(b, "secret"));
    Optional<IscsiConfig.Chap> mutual = Optional.empty();
    if (b.has("mutualUser") || b.has("mutualSecret")) {
      String mu = user(b, "mutualUser");
      String ms = secret(b, "mutualSecret");
      if (ms.equals(chap.secret())) {
        throw ApiException.badInput("mutualSecret", "mutualSecret must differ from secret (RFC 3720 section 8.2.1)");
      }
      mutual = Optional.of(new IscsiConfig.Chap(mu, ms));
    }
    chapStore.put(t.iqn(), new ChapStore.Entry(Optional.of(chap), mutual));
    iscsi.setChap(t.iqn(), Optional.of(chap), mutual);
    log.info("management API: CHAP of iSCSI target {} set (user {}{})", t.iqn(), chap.user(),
        mutual.isPresent() ? ", mutual" : "");
    events.emit(EventLog.Severity.INFO, "iscsi.chap-set", t.iqn(), "CHAP of iSCSI target " + t.iqn() + " set"
        + (mutual.isPresent() ? " (mutual)" : "") + "; it applies to logins from now on");
    return ok(chapState().stream().filter(m -> m.get("target").equals(t.iqn())).findFirst().orElseThrow());
  }

  private ManagementServer.Reply deleteChap(String iqn) throws IOException {
    IscsiConfig.Target t = find(iqn, "target");
    chapStore.put(t.iqn(), new ChapStore.Entry(Optional.empty(), Optional.empty()));
    iscsi.setChap(t.iqn(), Optional.empty(), Optional.empty());
    events.emit(EventLog.Severity.WARNING, "iscsi.chap-removed", t.iqn(), "CHAP of iSCSI target " + t.iqn()
        + " turned off: any initiator that reaches the portal may log in");
    return new ManagementServer.Reply(204, null);
  }

  private static String user(ObjectNode b, String f) {
    String s = ManagementApi.text(b, f);
    if (s.isEmpty() || s.length() > 255 || !s.matches("[\\x21-\\x7e]+")) {
      throw ApiException.badInput(f, f + " must be 1 to 255 printable ASCII characters without spaces");
    }
    return s;
  }

  private static String secret(ObjectNode b, String f) {
    String s = ManagementApi.text(b, f);
    int bytes = s.getBytes(StandardCharsets.UTF_8).length;
    if (bytes < SECRET_BYTES_MIN || bytes > SECRET_BYTES_MAX || !s.matches("[\\x21-\\x7e]+")) {
      throw ApiException.badInput(f, f + " must be " + SECRET_BYTES_MIN + " to " + SECRET_BYTES_MAX
          + " printable ASCII characters without spaces (RFC 3720: at least 12 bytes; some initiators take at most 16); got "
          + bytes + " bytes");
    }
    return s;
  }
}
