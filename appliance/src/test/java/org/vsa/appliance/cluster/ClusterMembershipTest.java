package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.FreePorts;
import org.vsa.backends.LocalDirectoryObjectStore;

class ClusterMembershipTest {
  @TempDir
  Path dir;

  @Test
  void threeNodesFindEachOtherThroughOneSeedAndSeeOneLeave() throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next(), FreePorts.next()};
    String seed = "127.0.0.1:" + ports[0];
    List<ClusterMembership> nodes = new ArrayList<>();
    List<List<ClusterMembership.NodeInfo>> seenByFirst = new CopyOnWriteArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        ClusterMembership m = ClusterMembership.start("test-" + ports[0], "127.0.0.1", ports[i], List.of(seed),
            "node" + i, i == 2 ? "rack-b" : "rack-a", Map.of("vsa.iscsi", "127.0.0.1:" + (4000 + i)));
        nodes.add(m);
        if (i == 0) {
          m.onChange(seenByFirst::add);
        }
      }
      for (ClusterMembership m : nodes) {
        await(() -> m.members().size() == 3, "every node sees three members");
      }
      List<ClusterMembership.NodeInfo> all = nodes.get(1).members();
      assertEquals(List.of("node0", "node1", "node2"), all.stream().map(ClusterMembership.NodeInfo::name).toList());
      assertEquals("rack-b", all.get(2).faultDomain());
      assertEquals("127.0.0.1:4002", all.get(2).attributes().get("vsa.iscsi"));
      assertEquals("127.0.0.1:" + ports[2], all.get(2).address());
      assertTrue(all.get(1).local());
      assertFalse(all.get(0).local());

      nodes.remove(2).close();
      await(() -> nodes.get(0).members().size() == 2, "node0 sees node2 leave");
      await(() -> !seenByFirst.isEmpty() && seenByFirst.get(seenByFirst.size() - 1).size() == 2,
          "node0's listener heard of it");
    } finally {
      nodes.forEach(ClusterMembership::close);
    }
  }

  @Test
  void theRegistryKeepsAddressesAndSkipsARecordThatDoesNotCheckOut() throws IOException {
    try (LocalDirectoryObjectStore store = new LocalDirectoryObjectStore(dir)) {
      MemberRegistry r = new MemberRegistry(store);
      assertEquals(List.of(), r.addresses());
      r.add("127.0.0.1:5701");
      r.add("[::1]:5702");
      r.add("127.0.0.1:5701");
      assertEquals(List.of("127.0.0.1:5701", "[::1]:5702"), r.addresses().stream().sorted().toList());
      // a record changed behind the registry's back
      String name = MemberRegistry.objectName("127.0.0.1:5701");
      String text = new String(store.get(MemberRegistry.NAMESPACE, name), StandardCharsets.UTF_8);
      store.put(MemberRegistry.NAMESPACE, name, text.replace("127.0.0.1", "127.0.0.9").getBytes(StandardCharsets.UTF_8));
      assertEquals(List.of("[::1]:5702"), r.addresses());
      assertTrue(r.remove("[::1]:5702"));
      assertFalse(r.remove("[::1]:5702"));
      assertTrue(Files.isDirectory(dir));
    }
  }

  private static void await(BooleanSupplier c, String what) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 60 s: " + what);
      }
      Thread.sleep(50);
    }
  }

}
