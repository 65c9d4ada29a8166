package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.iscsi.IscsiConfig;

/**
 * The node-level verbs of the CLI (vpool, backend, iscsi, nfs, node, dtl, events, status) through
 * the {@code vsa} entry point against an appliance in this JVM: exit statuses, tables, --json.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ResourceCliTest {
  @TempDir
  Path work;
  Appliance appliance;

  @BeforeEach
  void start() throws Exception {
    appliance = Appliance.start(new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\nmanagement: {port: 0}\n"
        + "iscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
        + "vdisks: [{name: demo, size: 16MiB}]\nwriteBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n",
        "test", ConfigOverrides.none()));
  }

  @AfterEach
  void stop() {
    appliance.stop();
  }

  private CliRun vsa(String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", "data"));
    return CliRun.run(work, all.toArray(String[]::new));
  }

  private static JsonNode json(CliRun r) throws Exception {
    assertEquals(0, r.exitCode(), r.err());
    return new ObjectMapper().readTree(r.out());
  }

  @Test
  void vpoolAndBackendVerbs() throws Exception {
    CliRun list = vsa("vpool", "list");
    assertEquals(0, list.exitCode(), list.err());
    assertTrue(list.out().startsWith("NAME"), list.out());
    assertEquals(2, list.out().lines().count(), list.out());
    assertTrue(list.out().lines().skip(1).findFirst().orElseThrow().startsWith("default"), list.out());
    assertEquals("default", json(vsa("vpool", "list", "--json")).get(0).get("name").asText());
    CliRun show = vsa("vpool", "show", "default");
    assertEquals(0, show.exitCode(), show.err());
    assertTrue(show.out().contains("demo") && show.out().contains("provisionedBytes"), show.out());
    assertEquals("demo", json(vsa("vpool", "show", "default", "--json")).get("vdisks").get(0).get("name").asText());
    CliRun missing = vsa("vpool", "show", "nope");
    assertEquals(3, missing.exitCode());
    assertTrue(missing.oneErrLine().startsWith("vsa: no vPool nope"), missing.err());

    CliRun backends = vsa("backend", "list");
    assertEquals(0, backends.exitCode(), backends.err());
    assertTrue(backends.out().startsWith("NAME") && backends.out().contains("local") && backends.out().contains("ok"),
        backends.out());
    assertEquals("local", json(vsa("backend", "list", "--json")).get(0).get("kind").asText());
    assertEquals(2, vsa("backend").exitCode(), "a group without a verb is a usage error");
  }

  @Test
  void iscsiVerbs() throws Exception {
    assertEquals(0, vsa("vdisk", "create", "vm1", "--size", "16MiB", "--no-export").exitCode());
    CliRun targets = vsa("iscsi", "targets");
    assertEquals(0, targets.exitCode(), targets.err());
    assertTrue(targets.out().startsWith("IQN") && targets.out().contains(IscsiConfig.DEFAULT_IQN)
        && targets.out().contains("0=demo"), targets.out());

    CliRun exported = vsa("iscsi", "export", "vm1");
    assertEquals(0, exported.exitCode(), exported.err());
    assertTrue(exported.out().contains("vm1") && exported.out().contains(IscsiConfig.DEFAULT_IQN), exported.out());
    assertEquals(4, vsa("iscsi", "export", "vm1").exitCode(), "exported already");
    assertEquals(3, vsa("iscsi", "export", "nope").exitCode());
    assertEquals(2, vsa("iscsi", "export", "vm1", "--lun", "x").exitCode(), "picocli refuses a LUN that is no number");
    assertEquals(2, vsa("iscsi", "export", "vm1", "--lun", "99999").exitCode(), "the API refuses it");
    JsonNode t = json(vsa("iscsi", "targets", "--json"));
    assertEquals("vm1", t.get(0).get("luns").get(1).get("vdisk").asText());
    CliRun unexported = vsa("iscsi", "unexport", "vm1");
    assertEquals(0, unexported.exitCode(), unexported.err());
    assertEquals(4, vsa("iscsi", "unexport", "vm1").exitCode(), "not a LUN any more");
    assertEquals(4, vsa("iscsi", "unexport", "demo").exitCode(), "the configuration's LUN");

    Files.writeString(work.resolve("secret"), "twelve-bytes-ok\n");
    Files.writeString(work.resolve("short"), "short\n");
    CliRun refused = vsa("iscsi", "chap", "set", "--chap-user", "init", "--secret-file", "short");
    assertEquals(2, refused.exitCode());
    assertTrue(refused.oneErrLine().contains("secret"), refused.err());
    CliRun set = vsa("iscsi", "chap", "set", "--chap-user", "init", "--secret-file", "secret");
    assertEquals(0, set.exitCode(), set.err());
    assertFalse(set.out().contains("twelve-bytes-ok"), set.out());
    CliRun shown = vsa("iscsi", "chap", "show");
    assertTrue(shown.out().startsWith("TARGET") && shown.out().contains("true"), shown.out());
    assertTrue(json(vsa("iscsi", "chap", "show", "--json")).get(0).get("chap").asBoolean());
    assertEquals(3, vsa("iscsi", "chap", "off", "--target", "iqn.2026-11.org.vsa:nope").exitCode());
    assertEquals(0, vsa("iscsi", "chap", "off").exitCode());
    assertFalse(json(vsa("iscsi", "chap", "show", "--json")).get(0).get("chap").asBoolean());
  }

  @Test
  void nfsNodeDtlEventsAndStatusVerbs() throws Exception {
    CliRun exports = vsa("nfs", "exports");
    assertEquals(0, exports.exitCode(), exports.err());
    assertTrue(exports.out().startsWith("PATH") && exports.out().contains("/default") && exports.out().contains("rw"),
        exports.out());
    assertEquals("/default", json(vsa("nfs", "exports", "--json")).get(0).get("path").asText());

    CliRun set = vsa("nfs", "export", "/default", "--vpool", "default", "--client", "127.0.0.1(ro,root_squash,anonuid=7)",
        "--client", "10.0.0.0/24");
    assertEquals(0, set.exitCode(), set.err());
    JsonNode rules = json(vsa("nfs", "exports", "--json")).get(0).get("clients");
    assertEquals("ro", rules.get(0).get("access").asText());
    assertEquals("root-squash", rules.get(0).get("squash").asText());
    assertEquals(7, rules.get(0).get("anonUid").asInt());
    assertEquals("10.0.0.0/24", rules.get(1).get("host").asText());
    assertEquals(2, vsa("nfs", "export", "/default", "--vpool", "default", "--client", "*(rx)").exitCode());
    assertEquals(2, vsa("nfs", "export", "/default", "--vpool", "nope", "--client", "*").exitCode());
    assertEquals(0, vsa("nfs", "unexport", "/default").exitCode());
    assertEquals(3, vsa("nfs", "unexport", "/default").exitCode());
    assertEquals(0, json(vsa("nfs", "exports", "--json")).size());

    CliRun presets = vsa("backend", "presets");
    assertEquals(0, presets.exitCode(), presets.err());
    assertEquals(1, presets.out().lines().count(), "a local backend: the header only: " + presets.out());
    assertEquals(3, vsa("backend", "preset", "default").exitCode(), "no preset on a local backend");

    CliRun nodes = vsa("node", "list");
    assertEquals(0, nodes.exitCode(), nodes.err());
    assertEquals(2, nodes.out().lines().count(), nodes.out());
    String name = json(vsa("node", "list", "--json")).get(0).get("name").asText();
    assertEquals(0, vsa("node", "show", name).exitCode());
    assertEquals(3, vsa("node", "show", "nope-node").exitCode());

    CliRun dtl = vsa("dtl", "show", "demo");
    assertEquals(0, dtl.exitCode(), dtl.err());
    assertTrue(dtl.out().contains("ok-standalone"), dtl.out());
    assertEquals("none", json(vsa("dtl", "show", "demo", "--json")).get("mode").asText());
    assertEquals(3, vsa("dtl", "show", "nope").exitCode());

    long before = json(vsa("events", "--json")).get("lastId").asLong();
    assertEquals(0, vsa("vdisk", "create", "vm1", "--size", "16MiB").exitCode());
    CliRun events = vsa("events", "--since", String.valueOf(before));
    assertEquals(0, events.exitCode(), events.err());
    assertTrue(events.out().startsWith("ID") && events.out().contains("vdisk.created") && events.out().contains("vm1"),
        events.out());
    // --follow stops at its bound and prints one JSON object a line
    CliRun followed = vsa("events", "--since", String.valueOf(before), "--follow", "--timeout", "0", "--json");
    assertEquals(0, followed.exitCode(), followed.err());
    JsonNode first = new ObjectMapper().readTree(followed.out().lines().findFirst().orElseThrow());
    assertEquals("vdisk.created", first.get("kind").asText());
    assertEquals(2, vsa("events", "--since", "-1").exitCode());

    CliRun status = vsa("status");
    assertEquals(0, status.exitCode(), status.err());
    for (String s : List.of("node", "vdisks", "2 (2 online, 0 offline)", "write buffer", "of 256MiB (", "backend",
        "local, ok", "dtl", "ok-standalone 2", "events", "so far (vsa events)", "default")) {
      assertTrue(status.out().contains(s), s + " in:\n" + status.out());
    }
    assertEquals(2, json(vsa("status", "--json")).get("vdisks").get("total").asInt());

    CliRun wrong = CliRun.run(work, "status", "--data-dir", "data", "--password", "wrong-password-1");
    assertEquals(5, wrong.exitCode());
    appliance.stop();
    CliRun down = vsa("status");
    assertEquals(1, down.exitCode(), "the API is gone");
  }
}
