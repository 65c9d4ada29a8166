package org.vsa.appliance.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.swagger.v3.parser.OpenAPIV3Parser;
import io.swagger.v3.parser.core.models.ParseOptions;
import io.swagger.v3.parser.core.models.SwaggerParseResult;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.backends.s3.S3Settings;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.RawInitiator;

/**
 * The node-level resources of the management API (vPools, backends, iSCSI, NFS, nodes, DTL,
 * events, status, the OpenAPI document) against an appliance in this JVM; and, walking the route
 * table, that every route wants the credential, is in the OpenAPI document and answers bad input
 * without a 500.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ResourcesApiTest {
  @TempDir
  Path work;

  private ApplianceConfig config() throws Exception {
    return new ConfigLoader(work).parse(ManagementApiTest.BASE_YAML + "management: {port: 0}\n", "test",
        ConfigOverrides.none());
  }

  @Test
  void presetsOfAFragmentBackendWithTheActiveOneMarked() throws Exception {
    java.nio.file.Files.write(work.resolve("backend.key"), new byte[32]);
    ApplianceConfig c = new ConfigLoader(work).parse(ManagementApiTest.BASE_YAML + "management: {port: 0}\n"
        + "backend:\n  type: fragment\n  stores: [{name: a, dir: s/a}, {name: b, dir: s/b}, {name: c, dir: s/c}]\n"
        + "  presets:\n    - {name: fast, policies: [{k: 1, m: 1}], fragmentSize: 64KiB}\n"
        + "    - {name: safe, policies: [{k: 2, m: 1}], fragmentSize: 64KiB, compression: lz4, encryption: aes-256-gcm,"
        + " keyFile: backend.key}\n  preset: safe\n", "test", ConfigOverrides.none());
    try (Appliance a = Appliance.start(c)) {
      Api api = Api.admin(a);
      Api.Response all = api.get("/presets");
      assertEquals(200, all.status());
      assertEquals(2, all.body().size(), all.body().toString());
      assertEquals("fast", all.body().get(0).get("name").asText());
      assertFalse(all.body().get(0).get("active").asBoolean());
      JsonNode safe = api.get("/presets/safe").body();
      assertTrue(safe.get("active").asBoolean());
      assertTrue(safe.get("encrypted").asBoolean());
      assertEquals("lz4", safe.get("compression").asText());
      assertEquals(2, safe.get("policies").get(0).get("k").asInt());
      assertFalse(all.body().toString().contains("key"), "no key material or key file: " + all.body());
      Api.Response none = api.get("/presets/nope");
      assertEquals(404, none.status());
      assertTrue(none.error().contains("fast") && none.error().contains("safe"), none.error());
      assertEquals(401, new Api(a, null).get("/presets").status());
    }
  }

  /** The route's path with every parameter replaced by {@code value}. */
  private static String path(Routes.Route r, String value) {
    return r.template().replaceAll("\\{[A-Za-z]+}", value);
  }

  @Test
  void everyRouteIsDocumentedAndNeverAnswers500ToBadInput() throws Exception {
    try (Appliance a = Appliance.start(config())) {
      List<Routes.Route> routes = a.managementApi().orElseThrow().routes().all();
      assertTrue(routes.size() > 30, "the table has every route: " + routes.size());
      Api api = Api.admin(a);
      Set<Integer> fine = Set.of(200, 201, 202, 204, 400, 404, 405, 409);
      for (Routes.Route r : routes) {
        for (String body : List.of("not json", "{\"x\": 1}", "[]")) {
          Api.Response x = api.call(r.method(), path(r, "nope-x"), body);
          assertTrue(fine.contains(x.status()), r.method() + " " + r.template() + " " + body + " -> " + x.status() + " "
              + x.body());
        }
      }
      // the OpenAPI document: every route, validated by swagger-parser with no message
      Api.Response doc = api.get("/openapi.json");
      assertEquals(200, doc.status());
      ParseOptions o = new ParseOptions();
      o.setResolve(true);
      SwaggerParseResult parsed = new OpenAPIV3Parser().readContents(doc.body().toString(), null, o);
      assertEquals(List.of(), parsed.getMessages() == null ? List.of() : parsed.getMessages());
      assertEquals("3.0.3", parsed.getOpenAPI().getOpenapi());
      Set<String> documented = new HashSet<>();
      parsed.getOpenAPI().getPaths().forEach((p, item) -> item.readOperationsMap().forEach((m, op) -> {
        documented.add(m.name() + " " + p);
        assertNotEquals(null, op.getResponses().get("401"), m + " " + p + " documents 401");
        assertNotEquals(null, op.getResponses().get("400"), m + " " + p + " documents 400");
      }));
      Set<String> routed = new HashSet<>();
      for (Routes.Route r : routes) {
        routed.add(r.method() + " " + (r.template().isEmpty() ? "/" : r.template()));
      }
      assertEquals(routed, documented, "the document and the route table name the same operations");
      assertTrue(documented.contains("PUT /iscsi/chap") && documented.contains("GET /vpools/{name}"), documented.toString());
    }
  }

  @Test
  void everyRouteIsRefusedWithoutTheCredential() throws Exception {
    // one appliance per 9 routes: the 10th failed login within a minute would get 429 instead of 401
    List<Routes.Route> routes;
    try (Appliance a = Appliance.start(config())) {
      routes = a.managementApi().orElseThrow().routes().all();
    }
    for (int from = 0; from < routes.size(); from += 9) {
      try (Appliance a = Appliance.start(config())) {
        Api wrong = new Api(a, new AdminCredential("admin", "not-the-password-1").basicHeader());
        for (Routes.Route r : routes.subList(from, Math.min(routes.size(), from + 9))) {
          Api.Response x = wrong.call(r.method(), path(r, "demo"), "{}");
          assertEquals(401, x.status(), r.method() + " " + r.template() + " -> " + x.body());
        }
        assertTrue(a.engine().volume("demo").isPresent(), "nothing was done without the credential");
      }
    }
  }

  @Test
  void vpoolsBackendsNfsNodesDtlAndStatus() throws Exception {
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      JsonNode pools = api.get("/vpools").body();
      assertEquals(1, pools.size());
      assertEquals("default", pools.get(0).get("name").asText());
      assertEquals(1, pools.get(0).get("vdiskCount").asInt());
      assertEquals(16L << 20, pools.get(0).get("provisionedBytes").asLong());
      assertEquals("local", pools.get(0).get("backend").asText());
      JsonNode pool = api.get("/vpools/default").body();
      assertEquals("demo", pool.get("vdisks").get(0).get("name").asText());
      assertEquals(256L << 20, pool.get("writeBuffer").get("capacityBytes").asLong());
      Api.Response noPool = api.get("/vpools/nope");
      assertEquals(404, noPool.status());
      assertTrue(noPool.error().contains("nope"), noPool.error());

      JsonNode backends = api.get("/backends").body();
      assertEquals("local", backends.get(0).get("kind").asText());
      assertEquals("ok", backends.get(0).get("health").asText());
      assertEquals(200, api.get("/backends/default").status());
      assertEquals(404, api.get("/backends/nope").status());
      assertEquals(0, api.get("/presets").body().size(), "a local backend has no presets");
      Api.Response noPreset = api.get("/presets/default");
      assertEquals(404, noPreset.status());
      assertTrue(noPreset.error().contains("backend type fragment"), noPreset.error());

      JsonNode exports = api.get("/nfs/exports").body();
      assertEquals("/default", exports.get(0).get("path").asText());
      assertEquals("default", exports.get(0).get("vpool").asText());
      assertEquals("rw", exports.get(0).get("clients").get(0).get("access").asText());

      JsonNode nodes = api.get("/nodes").body();
      assertEquals(1, nodes.size());
      assertTrue(nodes.get(0).get("self").asBoolean());
      String name = nodes.get(0).get("name").asText();
      assertEquals(a.iscsi().orElseThrow().localAddress().getPort(),
          Integer.parseInt(nodes.get(0).get("endpoints").get("iscsi").asText().replaceAll(".*:", "")));
      assertEquals(200, api.get("/nodes/" + name).status());
      assertEquals(404, api.get("/nodes/nope-node").status());

      JsonNode dtl = api.get("/vdisks/demo/dtl").body();
      assertEquals("demo", dtl.get("vdisk").asText());
      assertEquals("none", dtl.get("mode").asText());
      assertEquals("ok-standalone", dtl.get("state").asText());
      assertEquals(404, api.get("/vdisks/nope/dtl").status());

      JsonNode status = api.get("/status").body();
      assertEquals(1, status.get("vdisks").get("total").asInt());
      assertEquals(1, status.get("dtl").get("ok-standalone").asInt());
      assertEquals("ok", status.get("backend").get("health").asText());
      assertEquals(256L << 20, status.get("writeBuffer").get("capacityBytes").asLong());
    }
  }

  @Test
  void s3KeysAreMasked() throws Exception {
    S3Settings s = S3Settings.of(URI.create("http://127.0.0.1:9000"), "us-east-1", "bucket", true,
        "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    String shown = Api.JSON.writeValueAsString(NodeResources.s3(s));
    assertFalse(shown.contains("wJalrXUtnFEMI"), shown);
    assertFalse(shown.contains("AKIAIOSFODNN7EXAMPLE"), shown);
    assertTrue(shown.contains("****MPLE") && shown.contains("bucket"), shown);
    assertNull(NodeResources.mask(null));
    assertEquals("****", NodeResources.mask("short"));
  }

  @Test
  void vdisksAreExportedAndUnexportedAsLunsAndKeptAcrossRestarts() throws Exception {
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      assertEquals(201, api.call("POST", "/vdisks", "{\"name\": \"vm1\", \"size\": \"16MiB\", \"export\": false}").status());
      JsonNode t = api.get("/iscsi/targets").body().get(0);
      assertEquals(IscsiConfig.DEFAULT_IQN, t.get("iqn").asText());
      assertEquals(1, t.get("luns").size());
      assertEquals("config", t.get("luns").get(0).get("source").asText());
      assertEquals(0, t.get("sessions").size());
      assertFalse(t.get("chap").asBoolean());

      Map<String, String> bad = Map.of(
          "{\"lun\": \"x\"}", "lun",
          "{\"lun\": 20000}", "lun",
          "{\"iscsi\": false}", "iscsi",
          "{\"iscsi\": \"yes\"}", "iscsi",
          "{\"target\": 5}", "target",
          "{\"colour\": 1}", "colour");
      for (Map.Entry<String, String> e : bad.entrySet()) {
        Api.Response r = api.call("POST", "/vdisks/vm1/export", e.getKey());
        assertEquals(400, r.status(), e.getKey() + " -> " + r.body());
        assertEquals(e.getValue(), r.field(), e.getKey() + " -> " + r.body());
      }
      Api.Response noTarget = api.call("POST", "/vdisks/vm1/export", "{\"target\": \"iqn.2026-11.org.vsa:nope\"}");
      assertEquals(404, noTarget.status());
      assertEquals("target", noTarget.field());
      assertEquals(404, api.call("POST", "/vdisks/nope/export", "{\"iscsi\": true}").status());
      assertEquals(409, api.call("POST", "/vdisks/vm1/export", "{\"lun\": 0}").status(), "LUN 0 is demo's");

      Api.Response exported = api.call("POST", "/vdisks/vm1/export", "{\"iscsi\": true}");
      assertEquals(201, exported.status(), String.valueOf(exported.body()));
      assertEquals(1, exported.body().get("lun").asInt());
      assertEquals("vm1", a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().get(1));
      assertEquals(409, api.call("POST", "/vdisks/vm1/export", null).status(), "exported already");
      assertEquals(409, api.call("DELETE", "/vdisks/demo/export", null).status(), "the configuration's LUN stays");
    }
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      assertEquals("vm1", a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().get(1),
          "the LUN is mapped again at start");
      assertEquals(204, api.call("DELETE", "/vdisks/vm1/export", null).status());
      assertFalse(a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().containsKey(1));
      assertEquals(409, api.call("DELETE", "/vdisks/vm1/export", null).status(), "not a LUN any more");
      assertEquals(404, api.call("DELETE", "/vdisks/nope/export", null).status());
    }
  }

  @Test
  void chapIsSetWithoutShowingTheSecretAppliesToTheNextLoginAndIsKept() throws Exception {
    Path file = work.resolve("data/iscsi/api-chap");
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      int port = a.iscsi().orElseThrow().localAddress().getPort();
      assertFalse(api.get("/iscsi/chap").body().get(0).get("chap").asBoolean());

      Map<String, String> bad = Map.of(
          "{\"user\": \"init\", \"secret\": \"short\"}", "secret",
          "{\"user\": \"init\", \"secret\": \"has spaces in it\"}", "secret",
          "{\"secret\": \"twelve-bytes-ok\"}", "user",
          "{\"user\": \"\", \"secret\": \"twelve-bytes-ok\"}", "user",
          "{\"user\": \"init\", \"secret\": \"twelve-bytes-ok\", \"mutualUser\": \"tgt\"}", "mutualSecret",
          "{\"user\": \"init\", \"secret\": \"twelve-bytes-ok\", \"mutualUser\": \"tgt\", \"mutualSecret\": \"twelve-bytes-ok\"}",
          "mutualSecret",
          "{\"user\": \"init\", \"secret\": \"twelve-bytes-ok\", \"extra\": 1}", "extra");
      for (Map.Entry<String, String> e : bad.entrySet()) {
        Api.Response r = api.call("PUT", "/iscsi/chap", e.getKey());
        assertEquals(400, r.status(), e.getKey() + " -> " + r.body());
        assertEquals(e.getValue(), r.field(), e.getKey() + " -> " + r.body());
      }
      assertEquals(400, api.call("PUT", "/iscsi/chap", "").status());
      Api.Response noTarget = api.call("PUT", "/iscsi/chap",
          "{\"target\": \"iqn.2026-11.org.vsa:nope\", \"user\": \"init\", \"secret\": \"twelve-bytes-ok\"}");
      assertEquals(404, noTarget.status());
      assertFalse(Files.exists(file), "nothing stored by refused input");

      Api.Response set = api.call("PUT", "/iscsi/chap", "{\"user\": \"init\", \"secret\": \"twelve-bytes-ok\"}");
      assertEquals(200, set.status(), String.valueOf(set.body()));
      assertTrue(set.body().get("chap").asBoolean());
      String shown = api.get("/iscsi/chap").body().toString() + api.get("/iscsi/targets").body();
      assertFalse(shown.contains("twelve-bytes-ok"), shown);
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
      try (RawInitiator i = new RawInitiator(port)) {
        assertNotEquals(0, i.login(IscsiConfig.DEFAULT_IQN, org.vsa.appliance.DtlProcessTestAccess.ops()).u8(36),
            "a login without CHAP is refused once CHAP is set");
      }
    }
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      int port = a.iscsi().orElseThrow().localAddress().getPort();
      assertTrue(a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().chap().isPresent(),
          "CHAP set through the API applies again at start");
      assertEquals("api", api.get("/iscsi/chap").body().get(0).get("source").asText());
      assertEquals(404, api.call("DELETE", "/iscsi/chap?target=iqn.2026-11.org.vsa:nope", null).status());
      assertEquals(204, api.call("DELETE", "/iscsi/chap", null).status());
      assertFalse(api.get("/iscsi/chap").body().get(0).get("chap").asBoolean());
      try (RawInitiator i = new RawInitiator(port)) {
        assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, org.vsa.appliance.DtlProcessTestAccess.ops()).u8(36),
            "a login without CHAP is let in again");
      }
    }
  }

  @Test
  void eventsRecordWhatWasDoneAndAreReadSinceAnId() throws Exception {
    try (Appliance a = Appliance.start(config())) {
      Api api = Api.admin(a);
      long before = api.get("/events").body().get("lastId").asLong();
      assertEquals(201, api.call("POST", "/vdisks", "{\"name\": \"vm1\", \"size\": \"16MiB\"}").status());
      assertEquals(201, api.call("POST", "/vdisks/vm1/snapshots", "{\"name\": \"s1\"}").status());
      assertEquals(200, api.call("POST", "/vdisks/vm1/snapshots/s1/rollback", null).status());
      assertEquals(204, api.call("DELETE", "/vdisks/vm1/snapshots/s1", null).status());
      assertEquals(204, api.call("DELETE", "/vdisks/vm1", null).status());
      JsonNode got = api.get("/events?since=" + before).body();
      List<String> kinds = new ArrayList<>();
      for (JsonNode e : got.get("events")) {
        if (e.get("subject").asText().equals("vm1")) {
          kinds.add(e.get("kind").asText());
        }
        assertTrue(e.get("id").asLong() > before);
        assertFalse(e.get("time").asText().isEmpty());
      }
      assertEquals(List.of("vdisk.created", "snapshot.created", "vdisk.rolled-back", "snapshot.deleted", "vdisk.deleted"),
          kinds);
      long last = got.get("lastId").asLong();
      assertEquals(0, api.get("/events?since=" + last).body().get("events").size());
      assertEquals(1, api.get("/events?since=" + before + "&limit=1").body().get("events").size());
      for (String[] q : List.of(new String[] {"since=abc", "since"}, new String[] {"since=-1", "since"},
          new String[] {"limit=0", "limit"}, new String[] {"limit=100000", "limit"}, new String[] {"colour=red", "colour"})) {
        Api.Response r = api.get("/events?" + q[0]);
        assertEquals(400, r.status(), q[0]);
        assertEquals(q[1], r.field(), q[0]);
      }
    }
  }

  /** Waits (bounded) until GET /events has an event of {@code kind} about {@code subject}. */
  private static JsonNode awaitEvent(Api api, String kind, String subject) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      for (JsonNode e : api.get("/events").body().get("events")) {
        if (e.get("kind").asText().equals(kind) && e.get("subject").asText().equals(subject)) {
          return e;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("no event " + kind + " of " + subject + " within 60 s: " + api.get("/events").body());
      }
      Thread.sleep(100);
    }
  }

  @Test
  void aVdiskGoingOfflineAndOnlineIsAnEventSeenByTheWatcher() throws Exception {
    ApplianceConfig c = new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\nmanagement: {port: 0}\n"
        + "iscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
        + "vdisks: [{name: good, size: 4MiB}, {name: bad, size: 4MiB}]\nwriteBuffer: {capacity: 256MiB}\n"
        + "readCache: {capacity: 16MiB}\n", "test", ConfigOverrides.none());
    try (Appliance a = Appliance.start(c)) {
      assertTrue(a.engine().volume("bad").isPresent());
    }
    Path checkpoint = work.resolve("data/metadata/bad/checkpoint");
    byte[] intact = Files.readAllBytes(checkpoint);
    byte[] corrupt = intact.clone();
    corrupt[corrupt.length / 2] ^= 0x5a;
    Files.write(checkpoint, corrupt);
    try (Appliance a = Appliance.start(c)) {
      Api api = Api.admin(a);
      JsonNode off = awaitEvent(api, "vdisk.offline", "bad");
      assertEquals("error", off.get("severity").asText());
      assertTrue(off.get("message").asText().contains("checkpoint"), off.toString());
      assertEquals(1, api.get("/status").body().get("vdisks").get("offline").asInt());
      assertEquals(1, api.get("/vpools/default").body().get("offlineCount").asInt());
      Files.write(checkpoint, intact);
      assertEquals(200, api.call("POST", "/vdisks/bad/open", null).status());
      JsonNode on = awaitEvent(api, "vdisk.online", "bad");
      assertTrue(on.get("id").asLong() > off.get("id").asLong());
    }
  }

  /**
   * A vDisk in DTL mode async whose peer does not answer: the watcher reports DEGRADED (a warning
   * with the reason), GET /vdisks/{name}/dtl says so; once a DTL server listens on that address the
   * vDisk reconnects and the watcher reports it recovered.
   */
  @Test
  void aDegradedDtlAndItsRecoveryAreEventsSeenByTheWatcher() throws Exception {
    int port;
    try (java.net.ServerSocket probe = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort(); // closed again: connections to it are refused until the server below
    }
    ApplianceConfig c = new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0, peer: \"127.0.0.1:" + port
        + "\"}\nmanagement: {port: 0}\niscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nwriteBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n",
        "test", ConfigOverrides.none());
    try (Appliance a = Appliance.start(c)) {
      Api api = Api.admin(a);
      assertEquals(201, api.call("POST", "/vdisks", "{\"name\": \"prot\", \"size\": \"16MiB\", \"dtlMode\": \"async\"}")
          .status());
      JsonNode degraded = awaitEvent(api, "dtl.degraded", "prot");
      assertEquals("warning", degraded.get("severity").asText());
      assertTrue(degraded.get("message").asText().contains("127.0.0.1:" + port), degraded.toString());
      assertEquals("degraded", api.get("/vdisks/prot/dtl").body().get("state").asText());
      try (org.vsa.dtl.DtlServer peer = org.vsa.dtl.DtlServer.start(work.resolve("peer-dtl"), "127.0.0.1", port, 64L << 20)) {
        JsonNode recovered = awaitEvent(api, "dtl.recovered", "prot");
        assertTrue(recovered.get("id").asLong() > degraded.get("id").asLong());
        assertNotEquals("degraded", api.get("/vdisks/prot/dtl").body().get("state").asText());
      }
    }
  }

  /**
   * NFS exports changed through the API: served at once (libnfs lists the new one), bad input named
   * by field, removal, and the table kept across a restart in place of the configuration's.
   */
  @Test
  void nfsExportsAreChangedThroughTheApiAndKeptAcrossARestart() throws Exception {
    ApplianceConfig c = new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\nmanagement: {port: 0}\n"
        + "iscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n"
        + "vpools: [{name: default, scoSize: 4MiB}, {name: second, scoSize: 4MiB}]\nvdisks: [{name: demo, size: 16MiB}]\n"
        + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n", "test", ConfigOverrides.none());
    try (Appliance a = Appliance.start(c)) {
      Api api = Api.admin(a);
      String body = "{\"vpool\": \"second\", \"path\": \"/second\", \"clients\": [{\"host\": \"127.0.0.1\","
          + " \"access\": \"rw\", \"squash\": \"no_root_squash\"}]}";
      assertEquals(2, api.get("/nfs/exports").body().size(), "each vPool exported at /<vpool> by default");
      assertEquals(204, api.call("DELETE", "/nfs/exports?path=/second", null).status());
      assertEquals(1, api.get("/nfs/exports").body().size());
      Api.Response created = api.call("PUT", "/nfs/exports", body);
      assertEquals(201, created.status(), created.body().toString());
      assertEquals("/second", created.body().get("path").asText());
      assertEquals(200, api.call("PUT", "/nfs/exports", body).status(), "the same path again replaces it");
      assertEquals(2, api.get("/nfs/exports").body().size());
      int nfsPort = a.nfs().orElseThrow().localAddress().getPort();
      int mountPort = a.nfs().orElseThrow().mountAddress().getPort();
      String url = "nfs://127.0.0.1/second/?version=3&nfsport=" + nfsPort + "&mountport=" + mountPort;
      assertEquals(0, nfsLs(url), "nfs-ls of the new export");

      String[][] bad = {
          {"{\"vpool\": \"nope\", \"path\": \"/x\", \"clients\": [{\"host\": \"*\"}]}", "vpool"},
          {"{\"vpool\": \"second\", \"path\": \"x y\", \"clients\": [{\"host\": \"*\"}]}", "path"},
          {"{\"vpool\": \"second\", \"path\": \"/x\", \"clients\": []}", "clients"},
          {"{\"vpool\": \"second\", \"path\": \"/x\", \"clients\": [{\"host\": \"10.0.0.0/99\"}]}", "clients[0].host"},
          {"{\"vpool\": \"second\", \"path\": \"/x\", \"clients\": [{\"host\": \"*\", \"access\": \"rx\"}]}",
              "clients[0].access"},
          {"{\"vpool\": \"second\", \"path\": \"/x\", \"clients\": [{\"host\": \"*\", \"anonUid\": -1}]}",
              "clients[0].anonUid"},
          {"{\"vpool\": \"default\", \"path\": \"/other\", \"clients\": [{\"host\": \"*\"}]}", "vpool"},
          {"{\"vpool\": \"second\", \"path\": \"/default/in\", \"clients\": [{\"host\": \"*\"}]}", "path"},
          {"{\"vpool\": \"second\", \"path\": \"/x\", \"clients\": [{\"host\": \"*\"}], \"extra\": 1}", "extra"},
      };
      for (String[] x : bad) {
        Api.Response r = api.call("PUT", "/nfs/exports", x[0]);
        assertEquals(400, r.status(), x[0] + " -> " + r.body());
        assertEquals(x[1], r.body().get("field").asText(), x[0] + " -> " + r.body());
      }
      assertEquals(2, api.get("/nfs/exports").body().size(), "bad input changed nothing");
      assertEquals(404, api.call("DELETE", "/nfs/exports?path=/nope", null).status());
      assertEquals(204, api.call("DELETE", "/nfs/exports?path=/default", null).status());
      assertTrue(nfsLs(url.replace("/second/", "/default/")) != 0, "the removed export cannot be listed");
      assertEquals(401, new Api(a, null).call("PUT", "/nfs/exports", body).status());
    }
    try (Appliance a = Appliance.start(c)) {
      JsonNode exports = Api.admin(a).get("/nfs/exports").body();
      assertEquals(1, exports.size(), "the API's table, not the configuration's: " + exports);
      assertEquals("/second", exports.get(0).get("path").asText());
    }
  }

  /** libnfs's nfs-ls (installed by test.sh); its exit status, within 60 s. */
  private static int nfsLs(String url) throws Exception {
    Process p = new ProcessBuilder("nfs-ls", url).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "nfs-ls ended within 60 s");
    System.out.println("nfs-ls " + url + " -> " + p.exitValue() + ": " + out.strip());
    return p.exitValue();
  }

  /**
   * A backend that refuses uploads (the vDisk's namespace directory replaced by a file) fills the
   * write buffer: the watcher reports failed uploads, then throttling; with the backend repaired it
   * reports both over, and every byte written meanwhile reads back.
   */
  @Test
  void failingUploadsAndThrottlingAreEventsSeenByTheWatcher() throws Exception {
    ApplianceConfig c = new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\nmanagement: {port: 0}\n"
        + "iscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
        + "vdisks: [{name: fill, size: 96MiB}]\nwriteBuffer: {capacity: 64MiB}\nreadCache: {capacity: 16MiB}\n",
        "test", ConfigOverrides.none());
    try (Appliance a = Appliance.start(c)) {
      Api api = Api.admin(a);
      org.vsa.volume.Volume v = a.engine().volume("fill").orElseThrow();
      java.nio.file.Path backend = work.resolve("data").resolve("backend");
      java.nio.file.Path ns;
      try (java.util.stream.Stream<java.nio.file.Path> l = java.nio.file.Files.list(backend)) {
        ns = l.filter(p -> p.getFileName().toString().startsWith("vdisk-")).findFirst().orElseThrow();
      }
      java.nio.file.Path aside = backend.resolve("aside");
      java.nio.file.Files.move(ns, aside);
      java.nio.file.Files.writeString(ns, "not a directory: every put into the namespace fails\n");
      byte[] model = new byte[(int) v.sizeBytes()];
      java.util.Random rnd = new java.util.Random(7);
      java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor();
      java.util.concurrent.Future<?> writes = writer.submit(() -> {
        byte[] chunk = new byte[1 << 20];
        for (long off = 0; off < model.length; off += chunk.length) { // 96 MiB into a 64 MiB buffer
          rnd.nextBytes(chunk);
          System.arraycopy(chunk, 0, model, (int) off, chunk.length);
          v.write(off, java.nio.ByteBuffer.wrap(chunk), org.vsa.volume.Durability.BUFFERED);
        }
        v.flush();
        return null;
      });
      try {
        JsonNode failed = awaitEvent(api, "backend.upload-failed", "backend");
        assertEquals("warning", failed.get("severity").asText());
        assertEquals("failing", api.get("/backends/default").body().get("health").asText());
        JsonNode throttling = awaitEvent(api, "writebuffer.throttling", "write buffer");
        assertEquals("warning", throttling.get("severity").asText());
        assertFalse(writes.isDone(), "96 MiB cannot fit a 64 MiB write buffer whose uploads fail");

        java.nio.file.Files.delete(ns);
        java.nio.file.Files.move(aside, ns);
        writes.get(120, TimeUnit.SECONDS);
        JsonNode recovered = awaitEvent(api, "backend.recovered", "backend");
        assertTrue(recovered.get("id").asLong() > failed.get("id").asLong());
        awaitEvent(api, "writebuffer.throttling-stopped", "write buffer");
        assertEquals("ok", api.get("/backends/default").body().get("health").asText());
      } finally {
        writer.shutdownNow();
        if (!java.nio.file.Files.isDirectory(ns)) {
          java.nio.file.Files.deleteIfExists(ns);
          java.nio.file.Files.move(aside, ns);
        }
      }
      byte[] back = new byte[model.length];
      v.read(0, java.nio.ByteBuffer.wrap(back));
      assertTrue(java.util.Arrays.equals(model, back), "every byte written while uploads failed reads back");
    }
  }

  @Test
  void theEventRingKeepsTheNewestAndCountsOnFromTheOldest() {
    EventLog log = new EventLog(3);
    List<Long> heard = new ArrayList<>();
    log.addListener(e -> heard.add(e.id()));
    for (int i = 0; i < 5; i++) {
      log.emit(EventLog.Severity.INFO, "test", "s" + i, "event " + i);
    }
    assertEquals(List.of(3L, 4L, 5L), log.since(0, 10).stream().map(EventLog.Event::id).toList());
    assertEquals(List.of(5L), log.since(4, 10).stream().map(EventLog.Event::id).toList());
    assertEquals(List.of(3L), log.since(0, 1).stream().map(EventLog.Event::id).toList());
    assertEquals(5, log.lastId());
    assertEquals(3, log.oldestId());
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), heard);
  }
}
