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
 * {@code vsa vdisk delete} through the node that does not serve the vDisk: exit 0, the vDisk is
 * gone from {@code vsa cluster vdisks} and {@code vsa vdisk list} on both nodes, a second delete
 * exits 3 (not found), and {@code vsa vdisk create} of the same name makes it again.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class ClusterDeleteCliTest {
  @TempDir
  Path work;

  private static final ObjectMapper JSON = new ObjectMapper();

  private Appliance start(String node, int port, int other, String cluster) throws Exception {
    return Appliance.start(new ConfigLoader(work.resolve(node)).parse("node: {name: " + node + ", dataDir: data}\n"
        + "dtl: {port: 0}\nmanagement: {port: 0}\niscsi: {port: 0}\nnfs: {enabled: false}\n"
        + "backend: {type: local, dir: " + work.resolve("backend") + "}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: []\nwriteBuffer: {capacity: 256MiB}\n"
        + "readCache: {capacity: 16MiB}\n"
        + "cluster: {enabled: true, name: " + cluster + ", port: " + port + ", volumePort: 0, namespacePort: 0,"
        + " members: [127.0.0.1:" + port + ", 127.0.0.1:" + other + "], heartbeatMillis: 500, leaseMillis: 2500,"
        + " leaseMarginMillis: 500}\n", "test", ConfigOverrides.none()));
  }

  private CliRun vsa(String node, String... args) {
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--data-dir", "data"));
    return CliRun.run(work.resolve(node), all.toArray(String[]::new));
  }

  private static boolean lists(JsonNode array, String vdisk) {
    for (JsonNode x : array) {
      if (vdisk.equals(x.path("name").asText())) {
        return true;
      }
    }
    return false;
  }

  @Test
  void aVdiskDeletedThroughTheOtherNodeIsGoneFromBothAndItsNameCanBeUsedAgain() throws Exception {
    int pa = FreePorts.next();
    int pb = FreePorts.next();
    String cluster = "del" + pa;
    try (Appliance a = start("a", pa, pb, cluster); Appliance b = start("b", pb, pa, cluster)) {
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (a.clusterController().orElseThrow().service().live().size() < 2
          || b.clusterController().orElseThrow().service().live().size() < 2) {
        assertTrue(System.nanoTime() < deadline, "both nodes alive to each other within 60 s");
        Thread.sleep(50);
      }
      CliRun create = vsa("a", "vdisk", "create", "vm1", "--size", "16M");
      assertEquals(0, create.exitCode(), create.out() + create.err());
      String owner = null;
      deadline = System.nanoTime() + 60_000_000_000L;
      while (owner == null) {
        assertTrue(System.nanoTime() < deadline, "vm1 served within 60 s");
        owner = a.clusterController().orElseThrow().owner("vm1").orElse(null);
        Thread.sleep(50);
      }
      String other = owner.equals("a") ? "b" : "a";
      CliRun delete = vsa(other, "vdisk", "delete", "vm1");
      assertEquals(0, delete.exitCode(), delete.out() + delete.err());
      assertEquals("vDisk vm1 deleted\n", delete.out());
      deadline = System.nanoTime() + 30_000_000_000L;
      for (String n : List.of("a", "b")) {
        while (true) {
          JsonNode cv = JSON.readTree(vsa(n, "cluster", "vdisks", "--json").out());
          JsonNode vl = JSON.readTree(vsa(n, "vdisk", "list", "--json").out());
          if (!lists(cv, "vm1") && !lists(vl, "vm1")) {
            break;
          }
          assertTrue(System.nanoTime() < deadline, n + " still lists vm1: " + cv + " " + vl);
          Thread.sleep(200);
        }
      }
      CliRun again = vsa(owner, "vdisk", "delete", "vm1");
      assertEquals(3, again.exitCode(), again.out() + again.err());
      assertTrue(again.err().contains("vm1"), again.err());
      CliRun recreate = vsa(other, "vdisk", "create", "vm1", "--size", "16M");
      assertEquals(0, recreate.exitCode(), recreate.out() + recreate.err());
      CliRun taken = vsa(owner, "vdisk", "create", "vm1", "--size", "16M");
      assertEquals(4, taken.exitCode(), taken.out() + taken.err());
    }
  }

}
