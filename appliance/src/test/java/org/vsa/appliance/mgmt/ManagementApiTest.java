package org.vsa.appliance.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.RawInitiator;

/** The management API, per resource, against an appliance in this JVM: good input, bad input, no credential. */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ManagementApiTest {
  @TempDir
  Path work;

  static final String BASE_YAML = "node: {dataDir: data}\ndtl: {port: 0}\niscsi: {port: 0}\n"
      + "nfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
      + "vdisks: [{name: demo, size: 16MiB}]\nwriteBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n";

  private ApplianceConfig config(String extra) throws Exception {
    String m = extra.contains("management:") ? "" : "management: {port: 0}\n";
    return new ConfigLoader(work).parse(BASE_YAML + m + extra, "test", ConfigOverrides.none());
  }

  @Test
  void everyCallNeedsTheCredentialCreatedAtFirstStartAndFailuresAreRateLimited() throws Exception {
    Path data = work.resolve("data");
    String password;
    try (Appliance a = Appliance.start(config(""))) {
      Path f = data.resolve(AdminCredential.FILE);
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
      password = AdminCredential.read(data).orElseThrow().password();
      assertTrue(password.length() >= 20, "a long random password");
      assertEquals(a.managementAddress().orElseThrow().getPort(),
          Integer.parseInt(Files.readString(data.resolve(Appliance.MANAGEMENT_URL_FILE)).strip().replaceAll(".*:", "")));

      Api.Response none = new Api(a, null).get("/vdisks");
      assertEquals(401, none.status());
      assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Basic"));
      assertEquals(401, new Api(a, new AdminCredential("admin", "wrong-password-1").basicHeader()).get("/vdisks").status());
      assertEquals(401, new Api(a, new AdminCredential("root", password).basicHeader()).get("/vdisks").status());
      assertEquals(401, new Api(a, "Basic !!!not-base64").get("/vdisks").status());
      assertEquals(401, new Api(a, "Bearer " + password).call("DELETE", "/vdisks/demo", null).status());
      assertTrue(a.engine().volume("demo").isPresent(), "an unauthenticated DELETE deleted nothing");
      assertEquals(200, Api.admin(a).get("/vdisks").status());
      // failed logins are limited per address: after 10 in a minute even the right password waits
      for (int i = 0; i < 6; i++) {
        new Api(a, null).get("/vdisks");
      }
      Api.Response limited = Api.admin(a).get("/vdisks");
      assertEquals(429, limited.status(), String.valueOf(limited.body()));
    }
    assertFalse(Files.exists(data.resolve(Appliance.MANAGEMENT_URL_FILE)), "the URL file goes at stop");
    try (Appliance a = Appliance.start(config(""))) {
      assertEquals(password, AdminCredential.read(data).orElseThrow().password(), "the credential is kept across restarts");
      assertEquals(200, Api.admin(a).get("/vdisks").status());
    }
    // a password from the configuration replaces the file's
    try (Appliance a = Appliance.start(config("management: {port: 0, password: configured-secret-1}\n"))) {
      assertEquals(200, new Api(a, new AdminCredential("admin", "configured-secret-1").basicHeader()).get("/vdisks").status());
      assertEquals(401, Api.admin(a).get("/vdisks").status());
    }
  }

  @Test
  void vdisksAreCreatedShownResizedSetAndDeletedAndBadInputNamesTheField() throws Exception {
    try (Appliance a = Appliance.start(config(""))) {
      Api api = Api.admin(a);
      Api.Response created = api.call("POST", "/vdisks", "{\"name\": \"vm1\", \"size\": \"64MiB\", \"dtlMode\": \"none\","
          + " \"readCacheQuota\": \"16MiB\"}");
      assertEquals(201, created.status(), String.valueOf(created.body()));
      assertEquals(64L << 20, created.body().get("sizeBytes").asLong());
      assertEquals(16L << 20, created.body().get("settings").get("readCacheQuotaBytes").asLong());
      assertEquals(1, created.body().get("iscsi").get(0).get("lun").asInt(), "the next free LUN after demo's 0");
      assertEquals("/default/vm1.raw", created.body().get("nfs").asText());
      assertEquals("vm1", a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().get(1));

      List<String> names = api.get("/vdisks").body().findValuesAsText("name");
      assertEquals(List.of("demo", "vm1"), names);
      assertEquals(409, api.call("POST", "/vdisks", "{\"name\": \"vm1\", \"size\": \"64MiB\"}").status());

      Map<String, String> bad = Map.of(
          "{\"name\": \"vm2\"}", "size",
          "{\"name\": \"vm2\", \"size\": \"ten\"}", "size",
          "{\"name\": \"vm2\", \"size\": 1000}", "size",
          "{\"name\": \"bad name\", \"size\": \"1GiB\"}", "name",
          "{\"name\": 7, \"size\": \"1GiB\"}", "name",
          "{\"name\": \"vm2\", \"size\": \"1GiB\", \"colour\": \"red\"}", "colour",
          "{\"name\": \"vm2\", \"size\": \"1GiB\", \"vpool\": \"nope\"}", "vpool",
          "{\"name\": \"vm2\", \"size\": \"1GiB\", \"dtlMode\": \"fast\"}", "dtlMode",
          "{\"name\": \"vm2\", \"size\": \"1GiB\", \"blockSize\": 1024}", "blockSize",
          "{\"name\": \"vm2\", \"size\": \"1GiB\", \"readCacheQuota\": 1000}", "readCacheQuota");
      for (Map.Entry<String, String> e : bad.entrySet()) {
        Api.Response r = api.call("POST", "/vdisks", e.getKey());
        assertEquals(400, r.status(), e.getKey() + " -> " + r.body());
        assertEquals(e.getValue(), r.field(), e.getKey() + " -> " + r.body());
      }
      for (String body : List.of("", "not json", "[1, 2]", "{\"name\": \"vm2\", \"size\": {}}", "{\"name\":")) {
        Api.Response r = api.call("POST", "/vdisks", body);
        assertEquals(400, r.status(), body + " -> " + r.body());
      }
      assertTrue(a.engine().volume("vm2").isEmpty(), "nothing was created by bad input");

      Api.Response shown = api.get("/vdisks/vm1");
      assertEquals(200, shown.status());
      assertEquals("none", shown.body().get("settings").get("dtlMode").asText());
      assertEquals(404, api.get("/vdisks/nope").status());

      assertEquals(200, api.call("PATCH", "/vdisks/vm1", "{\"size\": \"128MiB\"}").status());
      assertEquals(128L << 20, a.engine().volume("vm1").orElseThrow().sizeBytes());
      assertEquals("size", api.call("PATCH", "/vdisks/vm1", "{\"size\": -4096}").field());
      assertEquals("size", api.call("PATCH", "/vdisks/vm1", "{}").field());
      assertEquals(404, api.call("PATCH", "/vdisks/nope", "{\"size\": \"1GiB\"}").status());

      Api.Response set = api.call("PATCH", "/vdisks/vm1/settings", "{\"cachePolicy\": \"none\", \"dedupe\": true}");
      assertEquals(200, set.status(), String.valueOf(set.body()));
      assertTrue(a.engine().volume("vm1").orElseThrow().settings().dedupe());
      assertEquals("dedupe", api.call("PATCH", "/vdisks/vm1/settings", "{\"dedupe\": \"yes\"}").field());
      assertEquals("cachePolicy", api.call("PATCH", "/vdisks/vm1/settings", "{\"cachePolicy\": \"always\"}").field());
      assertEquals("scoSize", api.call("PATCH", "/vdisks/vm1/settings", "{\"scoSize\": \"8MiB\"}").field());
      assertEquals(400, api.call("PATCH", "/vdisks/vm1/settings", "{}").status());
      assertEquals("none", api.get("/vdisks/vm1/settings").body().get("cachePolicy").asText());

      assertEquals(405, api.call("PUT", "/vdisks/vm1", "{}").status());
      assertEquals(404, api.get("/nothing").status());

      assertEquals(204, api.call("DELETE", "/vdisks/vm1", null).status());
      assertEquals(404, api.call("DELETE", "/vdisks/vm1", null).status());
      assertFalse(a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().containsKey(1),
          "its LUN went with it");
    }
  }

  @Test
  void snapshotsClonesFlattenAndTemplates() throws Exception {
    Path data = work.resolve("data");
    try (Appliance a = Appliance.start(config(""))) {
      Api api = Api.admin(a);
      byte[] bytes = new byte[1 << 20];
      new java.util.Random(3).nextBytes(bytes);
      a.engine().volume("demo").orElseThrow().write(0, java.nio.ByteBuffer.wrap(bytes), org.vsa.volume.Durability.DURABLE);

      Api.Response snap = api.call("POST", "/vdisks/demo/snapshots", "{\"name\": \"s1\"}");
      assertEquals(201, snap.status(), String.valueOf(snap.body()));
      assertTrue(snap.body().has("created"));
      assertEquals("name", api.call("POST", "/vdisks/demo/snapshots", "{\"name\": \"../x\"}").field());
      assertEquals(409, api.call("POST", "/vdisks/demo/snapshots", "{\"name\": \"s1\"}").status());
      assertEquals(404, api.call("POST", "/vdisks/nope/snapshots", "{\"name\": \"s1\"}").status());
      Api.Response list = api.get("/vdisks/demo/snapshots");
      assertEquals("s1", list.body().get(0).get("name").asText());
      assertTrue(list.body().get(0).has("pinnedBytes") && list.body().get(0).has("created"));
      assertEquals(200, api.get("/vdisks/demo/snapshots/s1").status());
      assertEquals(404, api.get("/vdisks/demo/snapshots/s9").status());

      Api.Response clone = api.call("POST", "/vdisks/demo/clones", "{\"name\": \"c1\", \"snapshot\": \"s1\"}");
      assertEquals(201, clone.status(), String.valueOf(clone.body()));
      assertEquals("demo", clone.body().get("parent").get("vdisk").asText());
      assertEquals(1, clone.body().get("iscsi").get(0).get("lun").asInt());
      assertEquals(404, api.call("POST", "/vdisks/demo/clones", "{\"name\": \"c2\", \"snapshot\": \"s9\"}").status());
      assertEquals("snapshot", api.call("POST", "/vdisks/demo/clones", "{\"name\": \"c2\"}").field());
      assertEquals("name", api.call("POST", "/vdisks/demo/clones", "{\"snapshot\": \"s1\"}").field());

      Api.Response held = api.call("DELETE", "/vdisks/demo/snapshots/s1", null);
      assertEquals(409, held.status());
      assertTrue(held.error().contains("c1"), held.error());

      // rollback: refused while an initiator is logged in to the target that has demo as a LUN
      int port = a.iscsi().orElseThrow().localAddress().getPort();
      try (RawInitiator i = new RawInitiator(port)) {
        assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, org.vsa.appliance.DtlProcessTestAccess.ops()).u8(36));
        Api.Response busy = api.call("POST", "/vdisks/demo/snapshots/s1/rollback", null);
        assertEquals(409, busy.status());
        assertTrue(busy.error().contains("in use") && busy.error().contains("logged in"), busy.error());
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      Api.Response rolled;
      do {
        rolled = api.call("POST", "/vdisks/demo/snapshots/s1/rollback", null); // the logout is seen asynchronously
      } while (rolled.status() == 409 && System.nanoTime() < deadline && sleep());
      assertEquals(200, rolled.status(), String.valueOf(rolled.body()));
      assertEquals(404, api.call("POST", "/vdisks/demo/snapshots/s9/rollback", null).status());

      // flatten: 202, then done; the snapshot is free afterwards
      assertEquals(409, api.call("POST", "/vdisks/demo/flatten", null).status(), "not a clone");
      assertEquals("rate", api.call("POST", "/vdisks/c1/flatten", "{\"rate\": \"fast\"}").field());
      assertEquals(202, api.call("POST", "/vdisks/c1/flatten", "{\"rate\": \"256MiB\"}").status());
      Api.Response f;
      deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      do {
        f = api.get("/vdisks/c1/flatten");
      } while (f.body().get("state").asText().equals("running") && System.nanoTime() < deadline && sleep());
      assertEquals("done", f.body().get("state").asText(), String.valueOf(f.body()));
      assertTrue(api.get("/vdisks/c1").body().get("parent").isNull());
      assertEquals(204, api.call("DELETE", "/vdisks/demo/snapshots/s1", null).status());
      byte[] back = new byte[bytes.length];
      a.engine().volume("c1").orElseThrow().read(0, java.nio.ByteBuffer.wrap(back));
      assertTrue(java.util.Arrays.equals(bytes, back), "the flattened clone reads what the snapshot held");

      // templates: marked, then cloned without naming a snapshot
      assertEquals(200, api.call("POST", "/vdisks/c1/template", null).status());
      assertTrue(api.get("/vdisks/c1").body().get("template").asBoolean());
      assertEquals(201, api.call("POST", "/vdisks/c1/clones", "{\"name\": \"vm\", \"export\": false}").status());
      assertEquals(0, api.get("/vdisks/vm").body().get("iscsi").size());
      assertEquals(409, api.call("POST", "/vdisks/c1/snapshots", "{\"name\": \"x\"}").status(), "a template takes no snapshots");
      assertEquals(404, api.call("POST", "/vdisks/nope/template", null).status());
    }
    // LUNs made through the API come back at the next start
    try (Appliance a = Appliance.start(config(""))) {
      assertEquals("c1", a.iscsi().orElseThrow().config().target(IscsiConfig.DEFAULT_IQN).orElseThrow().luns().get(1));
      assertTrue(Files.exists(data.resolve("iscsi").resolve("api-luns")));
    }
  }

  private static boolean sleep() throws InterruptedException {
    Thread.sleep(50);
    return true;
  }
}
