package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.FreePorts;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;

/**
 * Two appliances on one shared backend directory: {@code vsa node add} on the first records the
 * second's member address in the backend, and the second, started with no seed of its own, joins
 * through it; {@code vsa node list} on either shows both up. A single node refuses to add one.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ClusterNodesTest {
  @TempDir
  Path work;

  private static final ObjectMapper JSON = new ObjectMapper();

  private Appliance start(String node, String cluster) throws Exception {
    return Appliance.start(new ConfigLoader(work.resolve(node)).parse("node: {name: " + node + ", dataDir: data}\n"
        + "dtl: {port: 0}\nmanagement: {port: 0}\niscsi: {port: 0}\nnfs: {enabled: false}\n"
        + "backend: {type: local, dir: " + work.resolve("backend") + "}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: []\nwriteBuffer: {capacity: 256MiB}\n"
        + "readCache: {capacity: 16MiB}\n" + cluster, "test", ConfigOverrides.none()));
  }

  private CliRun vsa(String node, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", "data"));
    return CliRun.run(work.resolve(node), all.toArray(String[]::new));
  }

  @Test
  void aNodeRecordedByNodeAddJoinsThroughTheBackend() throws Exception {
    int pa = FreePorts.next();
    int pb = FreePorts.next();
    String name = "t" + pa;
    try (Appliance a = start("a", "cluster: {enabled: true, name: " + name + ", port: " + pa + ", volumePort: 0, namespacePort: 0}\n")) {
      CliRun add = vsa("a", "node", "add", "127.0.0.1:" + pb);
      assertEquals(0, add.exitCode(), add.err());
      assertEquals("node 127.0.0.1:" + pb + " recorded (not joined yet)\n", add.out());
      JsonNode before = JSON.readTree(vsa("a", "node", "list", "--json").out());
      assertEquals(2, before.size(), before.toString());
      assertEquals("down", before.get(1).path("state").asText(), before.toString());

      CliRun bad = vsa("a", "node", "add", "no-port-here");
      assertEquals(2, bad.exitCode(), bad.out() + bad.err());
      assertTrue(bad.err().contains("address"), bad.err());

      try (Appliance b = start("b", "cluster: {enabled: true, name: " + name + ", port: " + pb + ", volumePort: 0, namespacePort: 0}\n")) {
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (a.cluster().orElseThrow().members().size() < 2) {
          assertTrue(System.nanoTime() < deadline, "b joined within 60 s");
          Thread.sleep(50);
        }
        for (String n : List.of("a", "b")) {
          CliRun list = vsa(n, "node", "list");
          assertEquals(0, list.exitCode(), list.err());
          JsonNode nodes = JSON.readTree(vsa(n, "node", "list", "--json").out());
          assertEquals(2, nodes.size(), nodes.toString());
          assertEquals("a", nodes.get(0).path("name").asText());
          assertEquals("b", nodes.get(1).path("name").asText());
          for (JsonNode x : nodes) {
            assertEquals("up", x.path("state").asText(), nodes.toString());
            assertTrue(x.path("endpoints").has("iscsi"), nodes.toString());
          }
          assertEquals("127.0.0.1:" + pb, nodes.get(1).path("memberAddress").asText());
        }
        assertEquals(0, vsa("a", "node", "show", "b").exitCode());
        CliRun vdisks = vsa("b", "cluster", "vdisks", "--json");
        assertEquals(0, vdisks.exitCode(), vdisks.err());
        assertEquals(0, JSON.readTree(vdisks.out()).size(), vdisks.out());
        CliRun force = vsa("b", "cluster", "force", "nosuch");
        assertEquals(3, force.exitCode(), force.out() + force.err());
        assertTrue(force.err().contains("nosuch"), force.err());
      }
    }
  }

  @Test
  void aSingleNodeRefusesToAddOne() throws Exception {
    try (Appliance a = start("a", "")) {
      CliRun add = vsa("a", "node", "add", "127.0.0.1:5999");
      assertEquals(4, add.exitCode(), add.out() + add.err());
      assertTrue(add.err().contains("cluster.enabled"), add.err());
      CliRun vdisks = vsa("a", "cluster", "vdisks");
      assertEquals(4, vdisks.exitCode(), vdisks.out() + vdisks.err());
      assertTrue(vdisks.err().contains("cluster.enabled"), vdisks.err());
    }
  }

}
