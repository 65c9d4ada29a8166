package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

/**
 * The management verbs of the CLI against an appliance running in this JVM: one test per
 * family, with the exit statuses scripts rely on (0, 2 refused input, 3 not found, 4 conflict,
 * 5 authentication). The CLI finds the API and the credential through {@code --data-dir}.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ManageCliTest {
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
    return new ObjectMapper().readTree(r.out());
  }

  @Test
  void vdiskVerbs() throws Exception {
    CliRun created = vsa("vdisk", "create", "vm1", "--size", "64MiB", "--read-cache-quota", "16MiB");
    assertEquals(0, created.exitCode(), created.err());
    assertTrue(created.out().startsWith("NAME"), created.out());
    assertTrue(created.out().contains("vm1") && created.out().contains("64MiB"), created.out());

    CliRun list = vsa("vdisk", "list");
    assertEquals(0, list.exitCode(), list.err());
    assertEquals(3, list.out().lines().count(), "header, demo, vm1:\n" + list.out());
    JsonNode listed = json(vsa("vdisk", "list", "--json"));
    assertEquals("demo", listed.get(0).get("name").asText());
    assertEquals("vm1", listed.get(1).get("name").asText());

    assertEquals(0, vsa("vdisk", "resize", "vm1", "--size", "128MiB").exitCode());
    assertEquals(0, vsa("vdisk", "set", "vm1", "dedupe=true", "cachePolicy=none").exitCode());
    JsonNode shown = json(vsa("vdisk", "show", "vm1", "--json"));
    assertEquals(128L << 20, shown.get("sizeBytes").asLong());
    assertTrue(shown.get("settings").get("dedupe").asBoolean());
    CliRun human = vsa("vdisk", "show", "vm1");
    assertTrue(human.out().contains("settings") && human.out().contains("readCacheQuotaBytes=16777216"), human.out());

    CliRun missing = vsa("vdisk", "show", "nope");
    assertEquals(3, missing.exitCode());
    assertEquals("vsa: no vDisk nope", missing.oneErrLine());
    assertEquals(4, vsa("vdisk", "create", "vm1", "--size", "64MiB").exitCode(), "the name is taken");
    CliRun bad = vsa("vdisk", "create", "vm2", "--size", "lots");
    assertEquals(2, bad.exitCode());
    assertTrue(bad.oneErrLine().contains("size"), bad.err());
    assertEquals(2, vsa("vdisk", "set", "vm1", "colour=red").exitCode());
    assertEquals(2, vsa("vdisk", "set", "vm1", "novalue").exitCode());
    assertEquals(2, vsa("vdisk", "create").exitCode(), "a usage error");

    CliRun deleted = vsa("vdisk", "delete", "vm1");
    assertEquals(0, deleted.exitCode(), deleted.err());
    assertEquals(3, vsa("vdisk", "delete", "vm1").exitCode());

    CliRun noAuth = vsa("vdisk", "list", "--password", "not-the-password");
    assertEquals(5, noAuth.exitCode());
    assertTrue(noAuth.oneErrLine().contains("authentication"), noAuth.err());
    CliRun noCredential = CliRun.run(work, "vdisk", "list", "--data-dir", "elsewhere", "--url",
        "http://127.0.0.1:" + appliance.managementAddress().orElseThrow().getPort());
    assertEquals(5, noCredential.exitCode(), noCredential.err());
    CliRun unreachable = CliRun.run(work, "vdisk", "list", "--url", "http://127.0.0.1:1", "--password", "x");
    assertEquals(1, unreachable.exitCode());
    assertTrue(unreachable.oneErrLine().contains("cannot reach"), unreachable.err());
  }

  @Test
  void snapshotVerbs() throws Exception {
    CliRun created = vsa("snapshot", "create", "demo", "s1");
    assertEquals(0, created.exitCode(), created.err());
    assertEquals(0, vsa("snapshot", "create", "demo", "s2").exitCode());
    CliRun list = vsa("snapshot", "list", "demo");
    assertTrue(list.out().startsWith("NAME") && list.out().contains("PINNEDBYTES"), list.out());
    JsonNode listed = json(vsa("snapshot", "list", "demo", "--json"));
    assertEquals(2, listed.size());
    assertTrue(listed.get(0).get("created").asText().contains("T"));
    assertEquals(4, vsa("snapshot", "create", "demo", "s1").exitCode());
    assertEquals(2, vsa("snapshot", "create", "demo", "bad/name").exitCode());
    assertEquals(3, vsa("snapshot", "list", "nope").exitCode());

    CliRun rolled = vsa("snapshot", "rollback", "demo", "s1");
    assertEquals(0, rolled.exitCode(), rolled.err());
    assertEquals(List.of("s1"), appliance.engine().snapshotNames("demo"), "a rollback drops later snapshots");
    assertEquals(3, vsa("snapshot", "rollback", "demo", "s2").exitCode());
    assertEquals(0, vsa("snapshot", "delete", "demo", "s1").exitCode());
    assertEquals(3, vsa("snapshot", "delete", "demo", "s1").exitCode());
  }

  @Test
  void cloneAndTemplateVerbs() throws Exception {
    assertEquals(0, vsa("snapshot", "create", "demo", "base").exitCode());
    CliRun cloned = vsa("clone", "create", "demo", "base", "c1");
    assertEquals(0, cloned.exitCode(), cloned.err());
    assertTrue(cloned.out().contains("demo@base"), cloned.out());
    CliRun held = vsa("snapshot", "delete", "demo", "base");
    assertEquals(4, held.exitCode());
    assertTrue(held.oneErrLine().contains("c1"), held.err());
    assertEquals(3, vsa("clone", "create", "demo", "nope", "c2").exitCode());

    CliRun flat = vsa("clone", "flatten", "c1", "--rate", "512MiB");
    assertEquals(0, flat.exitCode(), flat.err());
    assertTrue(flat.out().contains("flattened") && flat.out().contains("demo@base"), flat.out());
    assertEquals(4, vsa("clone", "flatten", "c1").exitCode(), "no longer a clone");
    assertEquals(0, vsa("snapshot", "delete", "demo", "base").exitCode(), "the flattened clone no longer holds it");

    CliRun t = vsa("template", "set", "c1");
    assertEquals(0, t.exitCode(), t.err());
    assertTrue(appliance.engine().volume("c1").orElseThrow().isTemplate());
    assertEquals(0, vsa("clone", "create", "c1", "template", "vm").exitCode());
    assertEquals(3, vsa("template", "set", "nope").exitCode());
    assertEquals(2, vsa("clone").exitCode(), "a group alone is a usage error");
  }
}
