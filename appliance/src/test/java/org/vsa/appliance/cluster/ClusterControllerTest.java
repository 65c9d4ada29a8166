package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.FreePorts;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.volume.Durability;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeFencedException;

/**
 * Three appliances in one JVM on one backend directory, with short leases: a vDisk of the
 * configuration is created once and served by exactly one node, with its DTL on another; its data
 * survives a hand-over when its owner stops; a node whose ownership service is frozen past its
 * lease refuses writes, and the node that took over has exactly what was acknowledged.
 */
class ClusterControllerTest {
  @TempDir Path work;

  private Appliance start(String node, int memberPort, List<Integer> seeds, String cluster) throws Exception {
    return start(node, memberPort, seeds, cluster, "[{name: demo, size: 64MiB, dtlMode: sync}]");
  }

  private Appliance start(String node, int memberPort, List<Integer> seeds, String cluster, String vdisks)
      throws Exception {
    return start(node, memberPort, seeds, cluster, vdisks, "{enabled: false}");
  }

  private Appliance start(String node, int memberPort, List<Integer> seeds, String cluster, String vdisks, String nfs)
      throws Exception {
    StringBuilder members = new StringBuilder();
    for (int p : seeds) {
      members.append(members.length() == 0 ? "" : ", ").append("127.0.0.1:").append(p);
    }
    return Appliance.start(new ConfigLoader(work.resolve(node)).parse("node: {name: " + node + ", dataDir: data}\n"
        + "dtl: {port: 0}\nmanagement: {enabled: false}\niscsi: {enabled: false}\nnfs: " + nfs + "\n"
        + "backend: {type: local, dir: " + work.resolve("backend") + "}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\n"
        + "vdisks: " + vdisks + "\n"
        + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n"
        + "cluster: {enabled: true, name: " + cluster + ", port: " + memberPort + ", volumePort: 0, namespacePort: 0, members: [" + members + "],"
        + " faultDomain: fd-" + node + ", heartbeatMillis: 500, leaseMillis: 2500, leaseMarginMillis: 500}\n",
        "test", ConfigOverrides.none()));
  }

  private static ClusterController ctl(Appliance a) {
    return a.clusterController().orElseThrow();
  }

  /** Waits until every node sees the same live owner of {@code vdisk}, and that owner serves it; returns it. */
  private static Appliance awaitServed(List<Appliance> nodes, String vdisk, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      for (Appliance a : nodes) {
        Optional<Volume> v = a.engine().volume(vdisk);
        if (v.isPresent() && ctl(a).owner(vdisk).equals(Optional.of(ctl(a).self()))
            && ctl(a).service().mayAcknowledge(vdisk)) {
          boolean agreed = true;
          for (Appliance o : nodes) {
            agreed &= ctl(o).owner(vdisk).equals(Optional.of(ctl(a).self()));
          }
          if (agreed) {
            return a;
          }
        }
      }
      Thread.sleep(50);
    }
    StringBuilder sb = new StringBuilder();
    for (Appliance a : nodes) {
      sb.append(ctl(a).self()).append(" sees ").append(ctl(a).status()).append("; ");
    }
    throw new AssertionError("vDisk " + vdisk + " not served within " + timeout + ": " + sb);
  }

  @Test
  void oneOwnerServesTheVdiskItsDtlElsewhereAndTheDataSurvivesHandOverAndPause() throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next(), FreePorts.next()};
    List<Integer> seeds = List.of(ports[0], ports[1], ports[2]);
    String cluster = "c" + ports[0];
    List<Appliance> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        nodes.add(start("n" + (i + 1), ports[i], seeds, cluster));
      }
      long created = nodes.stream().filter(a -> a.createdVdisks().contains("demo")).count();
      assertEquals(1, created, "demo is created once in the cluster");

      Appliance owner = awaitServed(nodes, "demo", Duration.ofSeconds(30));
      for (Appliance a : nodes) {
        if (a != owner) {
          assertTrue(a.engine().volume("demo").isEmpty(), ctl(a).self() + " does not serve demo too");
        }
      }
      // the DTL is placed on another node and gets in sync
      awaitSyncPublished(owner);
      String dtlNode = ctl(owner).status().get(0).dtlNode();
      assertTrue(dtlNode != null && !dtlNode.equals(ctl(owner).self()), "DTL node " + dtlNode);

      byte[] first = random(1, 1 << 20);
      write(owner, 0, first);

      // planned: the owner stops (hands demo over through the backend); another node serves every byte
      List<Appliance> rest = new ArrayList<>(nodes);
      rest.remove(owner);
      owner.close();
      nodes.remove(owner);
      Appliance second = awaitServed(rest, "demo", Duration.ofSeconds(30));
      assertArrayEquals(first, read(second, 0, first.length), "data after the hand-over");

      // a pause past the lease: the frozen owner refuses writes, the other node takes over with the DTL
      awaitSyncPublished(second);
      byte[] more = random(2, 256 << 10);
      write(second, 4 << 20, more);
      Appliance third = rest.get(0) == second ? rest.get(1) : rest.get(0);
      ctl(second).service().freezeForTest(6000);
      Volume stale = second.engine().volume("demo").orElseThrow();
      assertTrue(refusedWithin(stale, 8 << 20, 5), "the frozen owner stops acknowledging within its lease");
      assertThrows(VolumeFencedException.class,
          () -> stale.write(8 << 20, ByteBuffer.wrap(random(4, 4096)), Durability.DURABLE));
      Appliance after = awaitServed(rest, "demo", Duration.ofSeconds(30));
      assertEquals(third, after, "the other node took demo over");
      assertArrayEquals(first, read(third, 0, first.length));
      assertArrayEquals(more, read(third, 4 << 20, more.length));
      // the old owner, awake again, sees the new owner, keeps its copy fenced and never acknowledges for it
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (!ctl(second).owner("demo").equals(Optional.of(ctl(third).self()))) {
        assertTrue(System.nanoTime() < deadline, "the old owner sees the new one: " + ctl(second).status());
        Thread.sleep(50);
      }
      assertFalse(ctl(second).service().mayAcknowledge("demo"));
      second.engine().volume("demo").ifPresent(v -> assertThrows(VolumeFencedException.class,
          () -> v.write(8 << 20, ByteBuffer.wrap(random(5, 4096)), Durability.DURABLE)));
      assertNotEquals(Optional.of("n0"), ctl(second).owner("demo"));
    } finally {
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  /** Waits until the owner's DTL of demo is in sync and a heartbeat says so (a takeover may then count on it). */
  private static void awaitSyncPublished(Appliance owner) throws InterruptedException {
    awaitSyncPublished(owner, "demo");
  }

  private static void awaitSyncPublished(Appliance owner, String vdisk) throws InterruptedException {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (owner.engine().dtlState(vdisk).orElse(null) != org.vsa.dtl.DtlState.OK_SYNC
        || ctl(owner).service().grant(vdisk).map(g -> g.published()).orElse(null) != org.vsa.dtl.DtlState.OK_SYNC) {
      assertTrue(System.nanoTime() < deadline, vdisk + "'s DTL in sync and published within 30 s: "
          + owner.engine().dtlState(vdisk) + " " + owner.engine().dtlReason(vdisk) + " " + ctl(owner).status());
      Thread.sleep(50);
    }
  }

  private static String dtlNodeOf(Appliance owner, String vdisk) {
    return ctl(owner).status().stream().filter(x -> x.name().equals(vdisk)).findFirst().orElseThrow().dtlNode();
  }

  /**
   * Two nodes of a new cluster (its name starts with {@code prefix}) with the vDisk demo (64 MiB, DTL
   * mode none), added to {@code nodes} as they start: the caller closes them.
   */
  private void startTwoServingDemoWithoutDtl(String prefix, List<Appliance> nodes) throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next()};
    List<Integer> seeds = List.of(ports[0], ports[1]);
    for (int i = 0; i < 2; i++) {
      nodes.add(start("n" + (i + 1), ports[i], seeds, prefix + ports[0], "[{name: demo, size: 64MiB, dtlMode: none}]"));
    }
  }

  @Test
  void aTakeoverOfAVdiskWithoutDtlIsRefusedUntilTheOperatorForcesIt() throws Exception {
    List<Appliance> nodes = new ArrayList<>();
    try {
      startTwoServingDemoWithoutDtl("f", nodes);
      Appliance owner = awaitServed(nodes, "demo", Duration.ofSeconds(30));
      Appliance other = nodes.get(0) == owner ? nodes.get(1) : nodes.get(0);
      byte[] data = random(21, 256 << 10);
      write(owner, 0, data);
      owner.engine().flushAll(); // in the write buffer, not necessarily in the backend
      // the owner goes silent past its lease: its last published DTL state is not ok-sync, so no takeover
      ctl(owner).service().freezeForTest(60_000);
      long deadline = System.nanoTime() + 30_000_000_000L;
      String refused = null;
      while (refused == null) {
        assertTrue(System.nanoTime() < deadline, "the takeover is refused within 30 s: " + ctl(other).status());
        refused = ctl(other).status().get(0).refused();
        Thread.sleep(50);
      }
      assertTrue(refused.contains("demo") && refused.contains("force"), refused);
      assertTrue(other.engine().volume("demo").isEmpty(), "no automatic takeover");
      assertTrue(ctl(other).owner("demo").isEmpty());
      // the operator accepts the loss: the other node takes it over with what the backend has
      ctl(other).force("demo");
      deadline = System.nanoTime() + 30_000_000_000L;
      while (other.engine().volume("demo").isEmpty() || !ctl(other).service().mayAcknowledge("demo")) {
        assertTrue(System.nanoTime() < deadline, "the forced takeover serves demo within 30 s: " + ctl(other).status());
        Thread.sleep(50);
      }
      assertTrue(ctl(other).status().get(0).refused() == null, ctl(other).status().toString());
      byte[] after = random(22, 4096);
      write(other, 1 << 20, after);
      assertArrayEquals(after, read(other, 1 << 20, after.length));
    } finally {
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  @Test
  void aCleanStopHandsAVdiskWithoutDtlOverWithoutRefusalOrForce() throws Exception {
    List<Appliance> nodes = new ArrayList<>();
    try {
      startTwoServingDemoWithoutDtl("h", nodes);
      Appliance owner = awaitServed(nodes, "demo", Duration.ofSeconds(30));
      Appliance other = nodes.get(0) == owner ? nodes.get(1) : nodes.get(0);
      byte[] data = random(31, 1 << 20);
      write(owner, 0, data);
      byte[] tail = random(32, 4096);
      write(owner, 32 << 20, tail);
      // its published DTL state is not ok-sync: had it died, the takeover would be refused (see above)
      assertNotEquals(org.vsa.dtl.DtlState.OK_SYNC, ctl(owner).service().grant("demo").orElseThrow().published());
      // planned maintenance: the owner stops (SIGTERM, systemctl stop)
      owner.close();
      nodes.remove(owner);
      Appliance after = awaitServed(nodes, "demo", Duration.ofSeconds(30));
      assertEquals(other, after);
      assertEquals(null, ctl(other).status().get(0).refused(), ctl(other).status().toString());
      assertArrayEquals(data, read(other, 0, data.length), "every acknowledged write after the hand-over");
      assertArrayEquals(tail, read(other, 32 << 20, tail.length));
    } finally {
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  @Test
  void aLoneNodeWhoseLeaseLapsedWinsItsVdiskBackAndKeepsItsCopy() throws Exception {
    int port = FreePorts.next();
    try (Appliance a = start("solo", port, List.of(port), "s" + port)) {
      List<Appliance> one = List.of(a);
      awaitServed(one, "demo", Duration.ofSeconds(30));
      long epoch = ctl(a).service().grant("demo").orElseThrow().epoch();
      byte[] data = random(11, 1 << 20);
      write(a, 0, data);
      Volume before = a.engine().volume("demo").orElseThrow();
      ctl(a).service().freezeForTest(4000);
      assertTrue(refusedWithin(before, 4 << 20, 5), "writes are refused once the lease lapsed");
      // nobody else can take it: the node claims the next epoch itself and serves its own copy again
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (ctl(a).service().grant("demo").map(g -> g.epoch()).orElse(0L) <= epoch
          || a.engine().volume("demo").filter(v -> v != before).isEmpty() || !ctl(a).service().mayAcknowledge("demo")) {
        assertTrue(System.nanoTime() < deadline, "demo served again at a newer epoch: " + ctl(a).status());
        Thread.sleep(50);
      }
      byte[] more = random(13, 8192);
      write(a, 8 << 20, more);
      assertArrayEquals(data, read(a, 0, data.length), "the copy kept across the new epoch");
      assertArrayEquals(more, read(a, 8 << 20, more.length));
    }
  }

  @Test
  void vdisksSpreadOverTheNodesAndADeadDtlNodeIsReplaced() throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next(), FreePorts.next()};
    List<Integer> seeds = List.of(ports[0], ports[1], ports[2]);
    String cluster = "c" + ports[0];
    List<Appliance> nodes = new ArrayList<>();
    try {
      for (int i = 0; i < 3; i++) {
        nodes.add(start("n" + (i + 1), ports[i], seeds, cluster, "[]"));
      }
      // created once every node counts the others alive: placement spreads them (a node that starts alone owns
      // what it creates, and ownership does not move when others join)
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (nodes.stream().anyMatch(a -> ctl(a).service().live().size() < 3)) {
        assertTrue(System.nanoTime() < deadline, "every node sees three alive within 30 s");
        Thread.sleep(50);
      }
      for (int i = 1; i <= 6; i++) {
        org.vsa.volume.VolumeSpec spec = new org.vsa.volume.VolumeSpec("d" + i, "default", 16 << 20, 512, 4 << 20,
            org.vsa.volume.CachePolicy.ON_READ, org.vsa.dtl.DtlMode.SYNC);
        assertTrue(ctl(nodes.get(0)).create(spec, org.vsa.volume.VolumeSettings.defaults(spec)));
      }
      java.util.Set<String> owners = new java.util.TreeSet<>();
      for (int i = 1; i <= 6; i++) {
        owners.add(ctl(awaitServed(nodes, "d" + i, Duration.ofSeconds(30))).self());
      }
      assertTrue(owners.size() >= 2, "six vDisks spread over more than one node: " + owners);

      Appliance owner = awaitServed(nodes, "d1", Duration.ofSeconds(30));
      awaitSyncPublished(owner, "d1");
      String dtlNode = dtlNodeOf(owner, "d1");
      Appliance dtl = nodes.stream().filter(a -> ctl(a).self().equals(dtlNode)).findFirst().orElseThrow();
      Appliance third = nodes.stream().filter(a -> a != owner && a != dtl).findFirst().orElseThrow();
      byte[] data = random(7, 512 << 10);
      writeTo(owner, "d1", 0, data);

      // the DTL node goes away: the DTL turns degraded, is placed on the third node and catches up there
      dtl.close();
      nodes.remove(dtl);
      deadline = System.nanoTime() + 30_000_000_000L;
      while (!ctl(third).self().equals(dtlNodeOf(owner, "d1"))) {
        assertTrue(System.nanoTime() < deadline, "d1's DTL moved to " + ctl(third).self() + " within 30 s: "
            + ctl(owner).status());
        Thread.sleep(50);
      }
      awaitSyncPublished(owner, "d1");
      byte[] more = random(8, 64 << 10);
      writeTo(owner, "d1", 1 << 20, more);
      ByteBuffer back = ByteBuffer.allocate(data.length);
      owner.engine().volume("d1").orElseThrow().read(0, back);
      assertArrayEquals(data, back.array());
    } finally {
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  /** Three nodes that all count each other alive (so placement spreads what is created). */
  private List<Appliance> threeNodes(String prefix) throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next(), FreePorts.next()};
    List<Integer> seeds = List.of(ports[0], ports[1], ports[2]);
    List<Appliance> nodes = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      nodes.add(start("n" + (i + 1), ports[i], seeds, prefix + ports[0], "[]"));
    }
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (nodes.stream().anyMatch(a -> ctl(a).service().live().size() < 3)) {
      assertTrue(System.nanoTime() < deadline, "every node sees three alive within 30 s");
      Thread.sleep(50);
    }
    return nodes;
  }

  private static org.vsa.volume.VolumeSpec spec(String name) {
    return new org.vsa.volume.VolumeSpec(name, "default", 16 << 20, 512, 4 << 20, org.vsa.volume.CachePolicy.ON_READ,
        org.vsa.dtl.DtlMode.SYNC);
  }

  private static void create(Appliance a, String name) throws IOException {
    org.vsa.volume.VolumeSpec s = spec(name);
    assertTrue(ctl(a).create(s, org.vsa.volume.VolumeSettings.defaults(s)), name + " created");
  }

  private Path backendDir() {
    return work.resolve("backend");
  }

  /**
   * Waits until no node knows the vDisk any more: not in its engine (no copy, online or offline), not
   * among the cluster's vDisks or in the status, no epoch held by its ownership machine, no owner seen,
   * and no heartbeat in the backend lists it.
   */
  private void awaitGoneEverywhere(List<Appliance> nodes, String vdisk) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (true) {
      List<String> left = new ArrayList<>();
      for (Appliance a : nodes) {
        String n = ctl(a).self();
        if (a.engine().contains(vdisk)) {
          left.add(n + " has a copy");
        }
        if (ctl(a).vdisks().containsKey(vdisk) || ctl(a).status().stream().anyMatch(x -> x.name().equals(vdisk))) {
          left.add(n + " lists it");
        }
        if (ctl(a).service().epoch(vdisk) != 0) {
          left.add(n + " holds it at epoch " + ctl(a).service().epoch(vdisk));
        }
        if (ctl(a).service().owners().containsKey(vdisk)) {
          left.add(n + " sees owner " + ctl(a).service().owners().get(vdisk));
        }
      }
      // the local directory store keeps object o of namespace ns in <dir>/ns/o (read, never written, here)
      try (java.util.stream.Stream<Path> files = java.nio.file.Files.list(backendDir().resolve(ClusterController.NAMESPACE))) {
        for (Path h : files.filter(f -> f.getFileName().toString().startsWith(
            org.vsa.appliance.cluster.ownership.Records.HEARTBEAT_PREFIX)).toList()) {
          org.vsa.appliance.cluster.ownership.Heartbeat hb;
          try {
            hb = org.vsa.appliance.cluster.ownership.Records.decodeHeartbeat(java.nio.file.Files.readAllBytes(h),
                h.getFileName().toString());
          } catch (java.nio.file.NoSuchFileException replaced) {
            continue;
          }
          if (hb.find(vdisk) != null) {
            left.add("the heartbeat of " + hb.node() + " lists it");
          }
        }
      }
      if (left.isEmpty()) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, vdisk + " gone from every node within 30 s; still: " + left);
      Thread.sleep(100);
    }
  }

  /** Whether the backend (a local directory store: one directory per namespace) holds the vDisk's namespace. */
  private boolean backendHas(java.util.UUID id) {
    return java.nio.file.Files.isDirectory(backendDir().resolve("vdisk-" + id));
  }

  @Test
  void aVdiskDeletedThroughANonOwnerIsGoneEverywhereAndItsNameMakesANewEmptyVdisk() throws Exception {
    List<Appliance> nodes = new ArrayList<>();
    try {
      nodes.addAll(threeNodes("d"));
      create(nodes.get(0), "vd");
      Appliance owner = awaitServed(nodes, "vd", Duration.ofSeconds(30));
      awaitSyncPublished(owner, "vd");
      java.util.UUID oldId = ctl(owner).vdisks().get("vd").id();
      byte[] data = random(31, 1 << 20);
      writeTo(owner, "vd", 0, data);
      owner.engine().flushAll();
      assertTrue(backendHas(oldId), "the vDisk's data is in the backend before");
      Appliance other = nodes.stream().filter(a -> a != owner).findFirst().orElseThrow();
      assertTrue(other.engine().volume("vd").isEmpty(), "the deleting node does not serve it");

      assertEquals(ClusterController.DeleteOutcome.DONE, ctl(other).delete("vd", Duration.ofSeconds(60)));
      assertFalse(backendHas(oldId), "its backend namespace is gone");
      awaitGoneEverywhere(nodes, "vd");
      assertThrows(java.util.NoSuchElementException.class, () -> ctl(other).delete("vd", Duration.ofSeconds(5)));

      // the name is free: a new vDisk of that name, empty, served by some node; the name is taken again
      Appliance creator = nodes.get(2);
      create(creator, "vd");
      org.vsa.volume.VolumeSpec again = spec("vd");
      assertFalse(ctl(nodes.get(1)).create(again, org.vsa.volume.VolumeSettings.defaults(again)), "taken again");
      Appliance next = awaitServed(nodes, "vd", Duration.ofSeconds(30));
      java.util.UUID newId = ctl(next).vdisks().get("vd").id();
      assertNotEquals(oldId, newId);
      ByteBuffer back = ByteBuffer.allocate(data.length);
      next.engine().volume("vd").orElseThrow().read(0, back);
      assertArrayEquals(new byte[data.length], back.array(), "the new vDisk reads zeros, never the old data");
      byte[] fresh = random(32, 64 << 10);
      writeTo(next, "vd", 0, fresh);
      ByteBuffer b2 = ByteBuffer.allocate(fresh.length);
      next.engine().volume("vd").orElseThrow().read(0, b2);
      assertArrayEquals(fresh, b2.array());
    } finally {
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  @Test
  void aVdiskDeletedWhileItsOwnerIsPausedIsNeverAcknowledgedByThatOwnerAgain() throws Exception {
    List<Appliance> nodes = new ArrayList<>();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    Thread writer = null;
    try {
      nodes.addAll(threeNodes("p"));
      create(nodes.get(0), "vp");
      Appliance owner = awaitServed(nodes, "vp", Duration.ofSeconds(30));
      awaitSyncPublished(owner, "vp");
      java.util.UUID id = ctl(owner).vdisks().get("vp").id();
      writeTo(owner, "vp", 0, random(41, 256 << 10));
      Volume stale = owner.engine().volume("vp").orElseThrow();
      // a client keeps writing to the owner; every acknowledgement's time is kept
      java.util.concurrent.atomic.AtomicLong lastAck = new java.util.concurrent.atomic.AtomicLong();
      java.util.concurrent.atomic.AtomicLong acks = new java.util.concurrent.atomic.AtomicLong();
      writer = new Thread(() -> {
        for (int i = 0; !stop.get(); i++) {
          try {
            stale.write((long) (i % 64) * 4096, ByteBuffer.wrap(random(500 + i, 4096)), Durability.DURABLE);
            lastAck.set(System.nanoTime());
            acks.incrementAndGet();
          } catch (IOException | RuntimeException e) {
            // refused: fenced, closed, deleted
          }
          java.util.concurrent.locks.LockSupport.parkNanos(5_000_000L);
        }
      }, "test-writer");
      writer.start();
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (acks.get() < 3) {
        assertTrue(System.nanoTime() < deadline, "the owner acknowledges writes before the pause");
        Thread.sleep(10);
      }
      long frozenAt = System.nanoTime();
      ctl(owner).service().freezeForTest(8000);
      Appliance other = nodes.stream().filter(a -> a != owner).findFirst().orElseThrow();
      assertEquals(ClusterController.DeleteOutcome.DONE, ctl(other).delete("vp", Duration.ofSeconds(60)));
      long deletedAt = System.nanoTime();
      assertFalse(backendHas(id), "its backend namespace is gone");
      // the owner's lease (2.5 s, margin 0.5 s) ran out by itself: nothing acknowledged after that
      assertTrue(lastAck.get() - frozenAt < 2_500_000_000L, "last acknowledgement "
          + (lastAck.get() - frozenAt) / 1_000_000 + " ms after the pause began");
      assertTrue(lastAck.get() < deletedAt);
      long acksAtDeletion = acks.get();
      // the owner wakes up: it never acknowledges a write of the deleted vDisk, and drops it
      awaitGoneEverywhere(nodes, "vp");
      long until = System.nanoTime() + 2_000_000_000L;
      while (System.nanoTime() < until) {
        boolean acknowledged;
        try {
          stale.write(0, ByteBuffer.wrap(random(99, 4096)), Durability.DURABLE);
          acknowledged = true;
        } catch (IOException | RuntimeException refused) {
          acknowledged = false;
        }
        assertFalse(acknowledged, "the old owner acknowledged a write of the deleted vDisk");
        Thread.sleep(50);
      }
      stop.set(true);
      writer.join(10_000);
      assertEquals(acksAtDeletion, acks.get(), "no write acknowledged by the old owner after the deletion");
      assertTrue(ctl(owner).service().owners().get("vp") == null);
    } finally {
      stop.set(true);
      if (writer != null) {
        writer.join(10_000);
      }
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  /**
   * Writes as an initiator does: a NOT READY (fenced: a heartbeat write that was slow on a busy
   * machine, a DTL state not yet published) is retried for up to 10 s.
   */
  /**
   * The NFS namespace's restore on a node that takes it over runs aside: while it is held up (a
   * namespace with many small files), a vDisk adoption on the same node completes and the vDisk
   * takes writes; calls to the namespace get JUKEBOX meanwhile and the directory names no owner of
   * it; once restored, the node serves the namespace with what its earlier owner acknowledged.
   */
  @Test
  void aSlowNamespaceRestoreDoesNotHoldUpAVdiskAdoption() throws Exception {
    int[] ports = {FreePorts.next(), FreePorts.next()};
    List<Integer> seeds = List.of(ports[0], ports[1]);
    String cluster = "r" + ports[0];
    String nfs = "{port: 0, mountPort: 0, portmap: none}";
    List<Appliance> nodes = new ArrayList<>();
    SlowRestore slow = null;
    try {
      Appliance n1 = start("n1", ports[0], seeds, cluster, "[]", nfs);
      nodes.add(n1);
      awaitNamespaceServed(n1, Duration.ofSeconds(30));
      long nsId = ((ClusterNamespaces) ctl(n1).namespaceHost()).namespaceId("default");
      byte[] content = random(41, 100_000);
      long file;
      try (ClusterNamespace viaN1 = client(n1, nsId)) {
        long dir = viaN1.mkdir(viaN1.rootId(), "vm1", 0, 0, org.vsa.nfs.SetAttr.NONE);
        file = viaN1.create(dir, "vm1.vmx", 0, 0, org.vsa.nfs.SetAttr.NONE, false);
        viaN1.write(file, 0, ByteBuffer.wrap(content), Durability.DURABLE);
      }

      Appliance n2 = start("n2", ports[1], seeds, cluster, "[]", nfs);
      nodes.add(n2);
      slow = new SlowRestore(ctl(n2).namespaceHost());
      ctl(n2).hostNamespaces(java.util.Set.of("default"), slow);
      // n1 stops: once its lease ran out, n2 wins the namespace and restores it (held up here)
      n1.close();
      nodes.remove(n1);
      assertTrue(slow.entered.await(30, java.util.concurrent.TimeUnit.SECONDS), "n2 restores the namespace");

      // meanwhile a vDisk is created in the cluster: n2 adopts it (from the backend) and serves it
      create(n2, "late");
      awaitServed(List.of(n2), "late", Duration.ofSeconds(30));
      byte[] data = random(42, 256 << 10);
      writeTo(n2, "late", 0, data);
      ByteBuffer back = ByteBuffer.allocate(data.length);
      n2.engine().volume("late").orElseThrow().read(0, back);
      assertArrayEquals(data, back.array(), "the vDisk adopted during the restore takes writes");
      assertFalse(slow.done, "the restore is still held up");
      assertTrue(ctl(n2).namespaceOwner("default").isEmpty(), "nobody named as the namespace's owner while it"
          + " is restored: " + ctl(n2).namespaceStatus());
      try (ClusterNamespace viaN2 = client(n2, nsId)) {
        org.vsa.nfs.NfsException e = assertThrows(org.vsa.nfs.NfsException.class,
            () -> viaN2.getattr(viaN2.rootId()));
        assertEquals(org.vsa.nfs.Status.JUKEBOX, e.status(), "calls are told to retry during the restore");

        slow.release.countDown();
        awaitNamespaceServed(n2, Duration.ofSeconds(30));
        assertTrue(slow.done, "served once restored");
        long dir = viaN2.lookup(viaN2.rootId(), "vm1");
        assertEquals(file, viaN2.lookup(dir, "vm1.vmx"), "the same file under the same id");
        ByteBuffer got = ByteBuffer.allocate(content.length);
        assertEquals(content.length, viaN2.read(file, 0, got).count());
        assertArrayEquals(content, got.array(), "what n1 acknowledged, restored on n2");
      }
    } finally {
      if (slow != null) {
        slow.release.countDown();
      }
      for (Appliance a : nodes) {
        a.close();
      }
    }
  }

  /** Holds a namespace's restore up until released (bounded), as a namespace of many small files does. */
  private static final class SlowRestore implements ClusterController.NamespaceHost {
    final ClusterController.NamespaceHost real;
    final java.util.concurrent.CountDownLatch entered = new java.util.concurrent.CountDownLatch(1);
    final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    volatile boolean done;

    SlowRestore(ClusterController.NamespaceHost real) {
      this.real = real;
    }

    @Override
    public void open(String vpool, long epoch, java.util.function.BooleanSupplier holdsLease) throws IOException {
      entered.countDown();
      try {
        if (!release.await(120, java.util.concurrent.TimeUnit.SECONDS)) {
          throw new IOException("test: the restore was never released");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      real.open(vpool, epoch, holdsLease);
      done = true;
    }

    @Override
    public void close(String vpool) {
      real.close(vpool);
    }

    @Override
    public boolean serves(String vpool) {
      return real.serves(vpool);
    }
  }

  /** A client of the vPool's namespace as another node's NFS server is: forwarded to whichever node serves it. */
  private static ClusterNamespace client(Appliance through, long nsId) {
    return new ClusterNamespace("default", nsId, "client", () -> ctl(through).namespaceOwner("default"),
        node -> ctl(through).endpoint(node, ClusterNamespaces.NAMESPACE_ENDPOINT),
        org.vsa.nfs.remote.RemoteNamespace.Config.defaults(), org.vsa.nfs.VolumeCatalog.NONE);
  }

  private static void awaitNamespaceServed(Appliance a, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ctl(a).namespaceOwner("default").equals(Optional.of(ctl(a).self()))) {
      assertTrue(System.nanoTime() < deadline, ctl(a).self() + " serves the namespace within " + timeout + ": "
          + ctl(a).namespaceStatus());
      Thread.sleep(50);
    }
  }

  /** Writes to {@code v} at {@code offset} until one is refused as fenced (true), for at most {@code seconds}. */
  private static boolean refusedWithin(Volume v, long offset, int seconds) throws Exception {
    long until = System.nanoTime() + seconds * 1_000_000_000L;
    for (int i = 0; System.nanoTime() < until; i++) {
      try {
        v.write(offset, ByteBuffer.wrap(random(100 + i, 4096)), Durability.DURABLE);
        Thread.sleep(20);
      } catch (VolumeFencedException e) {
        return true;
      }
    }
    return false;
  }

  private static void write(Appliance a, long offset, byte[] data) throws Exception {
    writeTo(a, "demo", offset, data);
  }

  /**
   * Writes as an initiator does: a NOT READY (fenced: a heartbeat write that was slow on a busy
   * machine, a DTL state not yet published) is retried for up to 10 s.
   */
  private static void writeTo(Appliance a, String vdisk, long offset, byte[] data) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      Optional<Volume> v = a.engine().volume(vdisk);
      try {
        if (v.isPresent()) {
          v.get().write(offset, ByteBuffer.wrap(data), Durability.DURABLE);
          return;
        }
      } catch (VolumeFencedException e) {
        // retried below
      }
      // fenced, or being reopened at a new epoch (its lease lapsed on a busy machine and was won back)
      assertTrue(System.nanoTime() < deadline, "write of " + vdisk + " acknowledged within 10 s: "
          + ctl(a).status());
      Thread.sleep(50);
    }
  }

  private static byte[] read(Appliance a, long offset, int len) throws IOException {
    Volume v = a.engine().volume("demo").orElseThrow();
    ByteBuffer b = ByteBuffer.allocate(len);
    v.read(offset, b);
    return b.array();
  }

  private static byte[] random(long seed, int n) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }

}
