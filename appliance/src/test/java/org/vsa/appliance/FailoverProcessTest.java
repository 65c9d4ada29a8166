package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.ClusterProcesses.Node;
import org.vsa.appliance.IscsiLoad.Event;
import org.vsa.appliance.IscsiLoad.Spec;
import org.vsa.iscsi.RawInitiator;

/**
 * Failover of three {@code vsa serve} processes on 127.0.0.1 (see {@link ClusterProcesses}) with
 * real clients: vsa-iscsi-load (libiscsi, FUA writes, logs in through any portal and follows
 * redirects), libiscsi's iscsi-inq and iscsi-readcapacity16, libnfs's nfs-ls, nfs-cp and nfs-cat,
 * vsa-nfs-write and vsa-nfs-rm (libnfs). The vDisk {@code demo} is in DTL mode sync; the cluster runs with a
 * short lease (heartbeat 500 ms, lease 3 s, margin 0.5 s).
 *
 * <ul>
 *   <li>kill -9 of demo's owner under write load: another node serves it within the bound, and
 *       every write the tool saw acknowledged reads back; then planned maintenance (SIGTERM) of its
 *       DTL node, which comes back, and of the new owner, whose last published DTL state is then
 *       not ok-sync: both exit 0, and the node back serves demo, not refused, with every
 *       acknowledged write;</li>
 *   <li>SIGSTOP of the owner past its lease: another node takes over and takes writes; after
 *       SIGCONT the old owner acknowledges none: not on a session opened before the pause, not
 *       to new logins on its portal (redirected, or their writes fail NOT READY); the new owner
 *       holds exactly what was acknowledged;</li>
 *   <li>an iSCSI login on a non-owner's portal is redirected to the owner;</li>
 *   <li>NFS on a non-owner reads and writes demo's file (forwarded to the owner) and a new file;
 *       every node shows the same namespace (a small file made through each, read through all);
 *       NFS REMOVE (vsa-nfs-rm) of a vDisk's file through a node that does not serve the vDisk
 *       deletes the vDisk in the cluster, and is refused while an initiator is logged in to it;</li>
 *   <li>kill -9 of the node serving the vPool's NFS namespace while files are made and committed
 *       through another node: another node serves the namespace, and every acknowledged file reads
 *       back through every node left.</li>
 * </ul>
 *
 * Needs gcc, libiscsi-dev, libiscsi-bin, libnfs-dev and libnfs-utils (./test.sh installs them).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class FailoverProcessTest {
  /** The goal is 15 s from the crash to the vDisk served again; asserted with room for a loaded machine. */
  static final Duration FAILOVER_BOUND = Duration.ofSeconds(45);
  static final Duration FIRST_OWNER = Duration.ofSeconds(90);
  static final int BLOCKS = 8; // 4 KiB units
  static final long UNITS = ClusterProcesses.VDISK_BYTES / (BLOCKS * ClusterProcesses.BLOCK_BYTES);

  @TempDir
  Path work;

  private ClusterProcesses start(TestInfo info) throws Exception {
    return ClusterProcesses.start(FailoverProcessTest.class.getSimpleName() + "-"
        + info.getTestMethod().orElseThrow().getName(), work, ClusterProcesses.Timing.SHORT);
  }

  @Test
  void killNineOfTheOwnerUnderLoadFailsOverWithEveryAcknowledgedWrite(TestInfo info) throws Exception {
    try (ClusterProcesses cluster = start(info)) {
      Node owner = cluster.awaitOwner(n -> true, FIRST_OWNER, "first owner of demo");
      cluster.awaitDtlInSync(owner, Duration.ofSeconds(60));
      Spec spec = Spec.write(0, 0, UNITS, BLOCKS, 240, cluster.portals(cluster.nodes()));
      long killMillis;
      Node next;
      try (IscsiLoad load = IscsiLoad.start(ClusterProcesses.IQN, spec)) {
        load.awaitCount(e -> e.kind().equals("ack"), 300, Duration.ofSeconds(90), "acknowledged writes before the kill");
        killMillis = System.currentTimeMillis();
        long killNanos = System.nanoTime();
        cluster.kill(owner);
        next = cluster.awaitOwner(n -> n != owner, FAILOVER_BOUND, "new owner after kill -9 of " + owner.name);
        long ownedMillis = (System.nanoTime() - killNanos) / 1_000_000;
        Event first = load.await(e -> e.kind().equals("ack") && e.millis() > killMillis
            && !owner.portal().equals(e.servedBy()), FAILOVER_BOUND, "acknowledged write after the kill");
        long ackMillis = first.millis() - killMillis;
        System.out.printf("failover after kill -9 of %s: %s owns demo after %d ms (seen through the API), first write"
            + " acknowledged by %s %d ms after the kill (goal 15000 ms, bound %d ms)%n", owner.name, next.name,
            ownedMillis, first.servedBy(), ackMillis, FAILOVER_BOUND.toMillis());
        assertTrue(ackMillis <= FAILOVER_BOUND.toMillis(), "first acknowledged write " + ackMillis + " ms after the kill");
        int before = load.count(e -> e.kind().equals("ack"));
        load.awaitCount(e -> e.kind().equals("ack"), before + 200, Duration.ofSeconds(90),
            "acknowledged writes on the new owner");
        load.stop();
        assertEquals(next.portal(), first.servedBy(), "the writes after the kill go to the new owner\n" + load.report());
        verifyAcknowledgedUnits(cluster, load, 0, List.of(next));
        // then planned maintenance, one node after the other (SIGTERM, as systemctl stop sends it). First
        // demo's DTL node: demo runs without a DTL meanwhile, and its owner publishes that (a crash of the
        // owner now would be refused); the DTL node comes back (demo's DTL is not placed there again at once)
        Node third = cluster.nodes().stream().filter(n -> n != owner && n != next).findFirst().orElseThrow();
        assertEquals(0, cluster.terminate(third, Duration.ofSeconds(90)), "exit status of " + third.name + "\n"
            + cluster.report());
        String published = awaitDtlPublishedNot("ok-sync", next, Duration.ofSeconds(30));
        cluster.restart(third);
        published = next.vdiskView().orElseThrow().path("dtlPublished").asText(null);
        assertNotEquals("ok-sync", published, "demo's DTL after its DTL node came back");
        // then the owner: it hands demo over through the backend, and the node back from maintenance
        // serves it without a refusal and without force, every acknowledged write in it
        assertEquals(0, cluster.terminate(next, Duration.ofSeconds(90)), "exit status of " + next.name + "\n"
            + cluster.report());
        Node last = cluster.awaitOwner(n -> n == third, FAILOVER_BOUND, "owner after the clean stop of " + next.name
            + " (its last published DTL state: " + published + ")");
        verifyAcknowledgedUnits(cluster, load, 0, List.of(last));
      }
    }
  }

  /**
   * kill -9 of the node serving the vPool's NFS namespace while files are made and committed through
   * another node: another node serves the namespace within the bound, and every file whose creation
   * and COMMIT were acknowledged is there, byte for byte, through every node left.
   */
  @Test
  void killNineOfTheNamespacesOwnerKeepsEveryAcknowledgedFile(TestInfo info) throws Exception {
    try (ClusterProcesses cluster = start(info)) {
      Node nsOwner = cluster.awaitNamespaceOwner(n -> true, FIRST_OWNER, "first node serving the namespace");
      Node writer = cluster.nodes().stream().filter(n -> n != nsOwner).findFirst().orElseThrow();
      Map<String, byte[]> acked = new java.util.concurrent.ConcurrentHashMap<>();
      java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
      java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
      java.util.concurrent.atomic.AtomicReference<Throwable> broke = new java.util.concurrent.atomic.AtomicReference<>();
      Path empty = Files.createFile(work.resolve("empty"));
      Thread load = new Thread(() -> {
        try {
          // until told to stop (bounded: 5 minutes); a refused attempt (MNT refused or JUKEBOX during the
          // takeover) is retried at a client's pace, 100 ms later, rather than burning through the names
          long until = System.nanoTime() + Duration.ofMinutes(5).toNanos();
          for (int i = 0; !stop.get() && System.nanoTime() < until; i++) {
            byte[] data = new byte[4096 + 977 * (i % 50)];
            new Random(1000 + i).nextBytes(data);
            Path in = work.resolve("file-" + i);
            Files.write(in, data);
            String name = "vm-" + i + ".vmx";
            // CREATE (durable on return), then WRITE and COMMIT
            if (Tool.run(60, "nfs-cp", empty.toString(), writer.nfsUrl(name)).exit() == 0
                && Tool.run(60, nfsWrite(), writer.nfsUrl(name), in.toString(), "0").exit() == 0) {
              acked.put(name, data);
            } else {
              failed.incrementAndGet();
              Thread.sleep(100);
            }
          }
        } catch (Throwable t) {
          broke.set(t);
        }
      }, "namespace-load");
      load.start();
      try {
        long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
        while (acked.size() < 5) {
          assertTrue(System.nanoTime() < deadline && load.isAlive(), "5 files made before the kill: " + acked.size()
              + ", " + broke.get());
          Thread.sleep(50);
        }
        long killNanos = System.nanoTime();
        cluster.kill(nsOwner);
        Node next = cluster.awaitNamespaceOwner(n -> n != nsOwner, FAILOVER_BOUND,
            "new node serving the namespace after kill -9 of " + nsOwner.name);
        System.out.printf("namespace failover after kill -9 of %s: %s serves it after %d ms%n", nsOwner.name,
            next.name, (System.nanoTime() - killNanos) / 1_000_000);
        int before = acked.size();
        while (acked.size() < before + 5) {
          assertTrue(System.nanoTime() < deadline + FAILOVER_BOUND.toNanos() && load.isAlive(),
              "files made after the failover: " + (acked.size() - before) + ", " + broke.get() + "\n" + cluster.report());
          Thread.sleep(50);
        }
      } finally {
        stop.set(true);
        load.join(120_000);
      }
      assertEquals(null, broke.get(), "the load ran");
      for (Node reader : cluster.up()) {
        // a node learns the new owner from the cluster's records within a tick or two; its MNT waits for that
        String ls = Tool.ok(60, "nfs-ls", reader.nfsUrl("")).out();
        for (Map.Entry<String, byte[]> e : acked.entrySet()) {
          assertTrue(ls.contains(e.getKey()), e.getKey() + " listed through " + reader.name + ":\n" + ls);
          Path out = work.resolve(e.getKey() + "-from-" + reader.name);
          Tool.toFile(60, out, "nfs-cat", reader.nfsUrl(e.getKey()));
          assertArrayEquals(e.getValue(), Files.readAllBytes(out), e.getKey() + " through " + reader.name);
        }
      }
      System.out.println(acked.size() + " acknowledged files read back through every node left; " + failed.get()
          + " refused or failed during the failover");
    }
  }

  /** Reads back every unit the load wrote (and the next, maybe in flight): acknowledged ones hold the pattern. */
  /** Waits (bounded) until the owner's view of demo publishes a DTL state other than {@code not}; returns it. */
  private static String awaitDtlPublishedNot(String not, Node owner, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String state = owner.vdiskView().map(v -> v.path("dtlPublished").asText(null)).orElse(null);
      if (state != null && !state.equals(not)) {
        return state;
      }
      assertTrue(System.nanoTime() < deadline, "demo's DTL state published by " + owner.name + " still " + state
          + " after " + timeout);
      Thread.sleep(100);
    }
  }

  private static void verifyAcknowledgedUnits(ClusterProcesses cluster, IscsiLoad load, long seed, List<Node> through)
      throws Exception {
    Set<Long> acked = load.events("ack").stream().map(Event::unit).collect(Collectors.toCollection(TreeSet::new));
    assertTrue(!acked.isEmpty(), "no write was acknowledged\n" + load.report());
    long units = Math.min(UNITS, ((TreeSet<Long>) acked).last() + 2);
    try (IscsiLoad check = IscsiLoad.start(ClusterProcesses.IQN, Spec.check(List.of(seed), 0, units, BLOCKS, 120,
        cluster.portals(through)))) {
      assertEquals(0, check.awaitExit(Duration.ofSeconds(150)), check.report());
      Map<Long, String> got = new HashMap<>();
      for (Event e : check.events("unit")) {
        got.put(e.unit(), e.detail());
      }
      assertEquals(units, got.size(), "a verdict for every unit\n" + check.report());
      List<String> wrong = new ArrayList<>();
      for (Map.Entry<Long, String> e : got.entrySet()) {
        boolean ok = e.getValue().equals("ok");
        if (acked.contains(e.getKey()) ? !ok : !(ok || e.getValue().equals("zero"))) {
          wrong.add("unit " + e.getKey() + (acked.contains(e.getKey()) ? " (acknowledged)" : " (not acknowledged)")
              + ": " + e.getValue());
        }
      }
      assertTrue(wrong.isEmpty(), wrong.size() + " units wrong: " + wrong.subList(0, Math.min(20, wrong.size()))
          + "\n" + cluster.report());
      System.out.println(acked.size() + " acknowledged units read back, " + (units - acked.size())
          + " not acknowledged (either content accepted)");
    }
  }

  @Test
  void anOwnerPausedPastItsLeaseAcknowledgesNothingAfterTheTakeover(TestInfo info) throws Exception {
    long units = 200;
    try (ClusterProcesses cluster = start(info)) {
      Node old = cluster.awaitOwner(n -> true, FIRST_OWNER, "first owner of demo");
      cluster.awaitDtlInSync(old, Duration.ofSeconds(60));
      // seed 1 through any portal, all acknowledged by the owner
      try (IscsiLoad a = IscsiLoad.start(ClusterProcesses.IQN, Spec.write(1, 0, units, BLOCKS, 90,
          cluster.portals(cluster.nodes())))) {
        assertEquals(0, a.awaitExit(Duration.ofSeconds(120)), a.report());
        assertEquals(units, a.events("ack").size(), a.report());
      }
      // a session on the owner that outlives its ownership: one write acknowledged now, one sent after SIGCONT
      long zombieLba = units * BLOCKS + 4096;
      byte[] before = new byte[BLOCKS * ClusterProcesses.BLOCK_BYTES];
      byte[] after = new byte[before.length];
      new Random(11).nextBytes(before);
      new Random(12).nextBytes(after);
      RawInitiator zombie = new RawInitiator(old.iscsiPort);
      try {
        assertEquals(0, zombie.login(ClusterProcesses.IQN, DtlProcessTest.ops()).u8(36), "login on the owner");
        assertEquals(0, zombie.scsi(0, RawInitiator.write10(zombieLba, BLOCKS, true), before, 0).status(),
            "a FUA write on the owner's session");
      } catch (IOException | AssertionError e) {
        zombie.close();
        throw e;
      }
      long stoppedNanos = System.nanoTime();
      cluster.pause(old);
      Node next = cluster.awaitOwner(n -> n != old, FAILOVER_BOUND, "takeover from the paused " + old.name);
      System.out.printf("%s paused: %s owns demo after %d ms%n", old.name, next.name,
          (System.nanoTime() - stoppedNanos) / 1_000_000);
      // seed 2 through the new owner: every unit acknowledged there
      try (IscsiLoad b = IscsiLoad.start(ClusterProcesses.IQN, Spec.write(2, 0, units, BLOCKS, 90,
          List.of(next.portal())))) {
        assertEquals(0, b.awaitExit(Duration.ofSeconds(120)), b.report() + cluster.report());
        assertEquals(units, b.events("ack").size(), b.report());
        assertTrue(b.events("ack").stream().allMatch(e -> next.portal().equals(e.servedBy())), b.report());
      }
      long pausedMillis = (System.nanoTime() - stoppedNanos) / 1_000_000;
      assertTrue(pausedMillis > cluster.timing().leaseMillis(), "paused " + pausedMillis + " ms, past the lease");
      cluster.resume(old);
      String zombieOutcome;
      try (zombie) {
        RawInitiator.Result r = zombie.scsi(0, RawInitiator.write10(zombieLba, BLOCKS, true), after, 0);
        zombieOutcome = "status 0x" + Integer.toHexString(r.status()) + " sense " + HexFormat.of().formatHex(r.sense());
        assertNotEquals(0, r.status(), "the old owner acknowledged a write on its session after the takeover");
      } catch (IOException e) {
        zombieOutcome = "connection failed: " + e;
      }
      System.out.println("write on the resumed old owner's session: " + zombieOutcome);
      // seed 3 straight to the old owner's portal: redirected to the new owner, or refused; never acknowledged there
      List<Event> staleAcks;
      Set<Long> ackedC;
      try (IscsiLoad c = IscsiLoad.start(ClusterProcesses.IQN, Spec.write(3, 0, units, BLOCKS, 20,
          List.of(old.portal())))) {
        int exit = c.awaitExit(Duration.ofSeconds(60));
        assertTrue(exit == 0 || exit == 1, "exit " + exit + "\n" + c.report());
        staleAcks = c.events("ack").stream().filter(e -> !next.portal().equals(e.servedBy())).toList();
        ackedC = c.events("ack").stream().map(Event::unit).collect(Collectors.toSet());
        System.out.printf("writes sent to the resumed %s: %d acknowledged by %s, %d by another node, %d failures,"
            + " %d logins (%d refused)%n", old.name, ackedC.size() - staleAcks.size(), next.name, staleAcks.size(),
            c.events("fail").size(), c.events("login").size(),
            c.stderrLines().stream().filter(l -> l.startsWith("login through")).count());
        assertTrue(staleAcks.isEmpty(), "acknowledged by the old owner after the takeover: " + staleAcks + "\n"
            + c.report() + cluster.report());
      }
      Node owner = cluster.awaitOwner(n -> true, Duration.ofSeconds(30), "owner after the old one resumed");
      assertEquals(next, owner, "the takeover stands after the old owner resumed");
      try (IscsiLoad check = IscsiLoad.start(ClusterProcesses.IQN, Spec.check(List.of(3L, 2L, 1L), 0, units, BLOCKS,
          60, List.of(next.portal())))) {
        assertEquals(0, check.awaitExit(Duration.ofSeconds(90)), check.report());
        List<Event> verdicts = check.events("unit");
        assertEquals(units, verdicts.size(), check.report());
        List<String> wrong = new ArrayList<>();
        for (Event e : verdicts) {
          boolean want3 = ackedC.contains(e.unit());
          boolean ok = e.detail().equals("ok") || (!want3 && e.detail().equals("seed 2"));
          if (!ok) {
            wrong.add("unit " + e.unit() + " holds " + e.detail() + ", expected " + (want3 ? "seed 3" : "seed 2 or 3"));
          }
        }
        assertTrue(wrong.isEmpty(), wrong + "\n" + cluster.report());
      }
      try (RawInitiator reader = new RawInitiator(next.iscsiPort)) {
        assertEquals(0, reader.login(ClusterProcesses.IQN, DtlProcessTest.ops()).u8(36), "login on the new owner");
        RawInitiator.Result r = reader.scsi(0, RawInitiator.read10(zombieLba, BLOCKS), null, before.length);
        assertEquals(0, r.status());
        assertArrayEquals(before, r.data(), "the new owner holds the write the old owner acknowledged before its pause,"
            + " not the one sent after (" + zombieOutcome + ")");
      }
    }
  }

  /** Access through a node that does not own a vDisk: one cluster for these tests (they leave demo where it is). */
  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class ThroughANonOwner {
    Path dir;
    ClusterProcesses cluster;
    Node owner;
    Node other;

    @BeforeAll
    void startCluster() throws Exception {
      // made here: a nested class's @TempDir is not there yet in a per-class @BeforeAll
      dir = Files.createTempDirectory("failover-non-owner");
      cluster = ClusterProcesses.start(FailoverProcessTest.class.getSimpleName() + "-ThroughANonOwner", dir,
          ClusterProcesses.Timing.SHORT);
      owner = cluster.awaitOwner(n -> true, FIRST_OWNER, "first owner of demo");
      other = cluster.nodes().stream().filter(n -> n != owner).findFirst().orElseThrow();
    }

    @AfterAll
    void stopCluster() throws IOException {
      if (cluster != null) {
        cluster.close();
      }
      if (dir != null) {
        org.vsa.volume.LocalVolumes.deleteTree(dir);
      }
    }

    @Test
    void anIscsiLoginIsRedirectedToTheOwner() throws Exception {
      assertEquals(owner, cluster.awaitOwner(n -> true, FIRST_OWNER, "owner of demo"), "demo stayed where it was");
      String lun = "iscsi://" + other.portal() + "/" + ClusterProcesses.IQN + "/0";
      Tool inq = Tool.ok(60, "iscsi-inq", lun);
      assertTrue(inq.out().contains("VSA"), inq.out());
      Tool cap = Tool.ok(60, "iscsi-readcapacity16", lun);
      assertTrue(cap.out().contains("Total size:" + ClusterProcesses.VDISK_BYTES), cap.out());
      // a unit past what the NFS test writes: never written
      long lba = (32L << 20) / ClusterProcesses.BLOCK_BYTES;
      try (IscsiLoad check = IscsiLoad.start(ClusterProcesses.IQN, Spec.check(List.of(0L), lba, 1, BLOCKS, 60,
          List.of(other.portal())))) {
        assertEquals(0, check.awaitExit(Duration.ofSeconds(90)), check.report());
        List<Event> logins = check.events("login");
        assertEquals(1, logins.size(), check.report());
        assertEquals(owner.portal(), logins.get(0).servedBy(), "the login through " + other.name
            + " is served by the owner " + owner.name + "\n" + check.report());
        assertEquals("zero", check.events("unit").get(0).detail(), "nothing written there\n" + check.report());
      }
    }

    @Test
    void nfsReadsAndWritesTheVdisksFileAndANewOne() throws Exception {
      String ls = Tool.ok(60, "nfs-ls", other.nfsUrl("")).out();
      assertTrue(ls.contains(ClusterProcesses.VDISK + ".raw"), "demo's file through " + other.name + ":\n" + ls);

      byte[] data = new byte[16 << 20];
      new Random(8).nextBytes(data);
      Path in = dir.resolve("in.bin");
      Files.write(in, data);
      // into demo's file through the non-owner (forwarded to the owner)
      Tool.ok(120, nfsWrite(), other.nfsUrl("demo.raw"), in.toString(), "0");
      Path cat = dir.resolve("cat.bin");
      Tool.toFile(120, cat, "nfs-cat", other.nfsUrl("demo.raw"));
      assertEquals(ClusterProcesses.VDISK_BYTES, Files.size(cat));
      assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(cat), data.length), "nfs-cat through " + other.name);
      for (Node n : List.of(other, owner)) {
        Path out = dir.resolve("demo-from-" + n.name + ".bin");
        Files.deleteIfExists(out); // nfs-cp does not overwrite a local file
        Tool.ok(120, "nfs-cp", n.nfsUrl("demo.raw"), out.toString());
        assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(out), data.length), "nfs-cp out through " + n.name);
      }
      // a new vDisk file through the non-owner, read back through it with nfs-cp and nfs-cat
      Tool.ok(120, "nfs-cp", in.toString(), other.nfsUrl("copied.img"));
      Path out = dir.resolve("copied.bin");
      Files.deleteIfExists(out); // nfs-cp does not overwrite a local file
      Tool.ok(120, "nfs-cp", other.nfsUrl("copied.img"), out.toString());
      assertArrayEquals(data, Files.readAllBytes(out), "copied.img through " + other.name);
      Path catCopied = dir.resolve("copied-cat.bin");
      Tool.toFile(120, catCopied, "nfs-cat", other.nfsUrl("copied.img"));
      assertArrayEquals(data, Files.readAllBytes(catCopied), "nfs-cat of copied.img through " + other.name);
      // one namespace for the cluster: the owner's export shows the file made through the other node
      String ownerLs = Tool.ok(60, "nfs-ls", owner.nfsUrl("")).out();
      assertTrue(ownerLs.contains("copied.img"), "copied.img through the owner " + owner.name + ":\n" + ownerLs);
    }

    @Test
    void everyNodeShowsTheSameNamespace() throws Exception {
      List<Node> nodes = cluster.nodes();
      for (int i = 0; i < nodes.size(); i++) {
        Node writer = nodes.get(i);
        byte[] data = new byte[(64 << 10) + 17 * i];
        new Random(100 + i).nextBytes(data);
        Path in = dir.resolve("small-" + i + ".bin");
        Files.write(in, data);
        String name = "notes-" + writer.name + ".txt";
        // a small file (not a vDisk): it lives in the namespace, wherever that is served
        Tool.ok(60, "nfs-cp", in.toString(), writer.nfsUrl(name));
        for (Node reader : nodes) {
          Path out = dir.resolve("small-" + i + "-from-" + reader.name + ".bin");
          Tool.toFile(60, out, "nfs-cat", reader.nfsUrl(name));
          assertArrayEquals(data, Files.readAllBytes(out), name + " made through " + writer.name + ", read through "
              + reader.name);
          String ls = Tool.ok(60, "nfs-ls", reader.nfsUrl("")).out();
          assertTrue(ls.contains(name), name + " in the listing through " + reader.name + ":\n" + ls);
        }
      }
    }

    /**
     * NFS REMOVE (vsa-nfs-rm, libnfs) of a vDisk's file through a node that does not serve the
     * vDisk: the cluster deletes the vDisk, its file is gone through every node (nfs-ls), no node
     * lists it (GET /cluster/vdisks, GET /vdisks), and a new vDisk of the name reads zeros. While an
     * initiator is logged in to the vDisk (vsa-iscsi-load, on its owner), the REMOVE is refused
     * (NFS3ERR_ACCES) and nothing is deleted.
     */
    @Test
    void nfsRemoveOfAVdisksFileThroughANonOwnerDeletesTheVdiskUnlessItIsInUse() throws Exception {
      String name = "scratch";
      String file = name + ".raw";
      long bytes = 16L << 20;
      createVdisk(other, name, bytes);
      Node vOwner = cluster.awaitOwnerOf(name, n -> true, FIRST_OWNER, "owner of " + name);
      Node remover = cluster.nodes().stream().filter(n -> n != vOwner).findFirst().orElseThrow();
      Node writer = cluster.nodes().stream().filter(n -> n != remover).findFirst().orElseThrow();

      // written through one node (the first LOOKUP of <name>.raw gives the vDisk its file)
      byte[] data = new byte[1 << 20];
      new Random(77).nextBytes(data);
      Path in = dir.resolve("scratch-in.bin");
      Files.write(in, data);
      retry(Duration.ofSeconds(60), "write of " + file + " through " + writer.name,
          () -> Tool.run(120, nfsWrite(), writer.nfsUrl(file), in.toString(), "0"));
      Path cat = dir.resolve("scratch-cat.bin");
      Tool.toFile(120, cat, "nfs-cat", remover.nfsUrl(file));
      assertArrayEquals(data, Arrays.copyOf(Files.readAllBytes(cat), data.length), "written through " + writer.name);

      // removed through a node that does not serve the vDisk
      Tool rm = Tool.run(120, nfsRm(), remover.nfsUrl(file));
      assertEquals(0, rm.exit(), "REMOVE of " + file + " through " + remover.name + ": " + rm.out());
      for (Node n : cluster.nodes()) {
        String ls = Tool.ok(60, "nfs-ls", n.nfsUrl("")).out();
        assertTrue(!ls.contains(file), file + " is gone through " + n.name + ":\n" + ls);
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      for (Node n : cluster.nodes()) {
        while (n.vdiskView(name).isPresent() || n.get("/vdisks").toString().contains("\"name\":\"" + name + "\"")) {
          assertTrue(System.nanoTime() < deadline, n.name + " still lists vDisk " + name + ": " + n.vdiskView(name)
              + "\n" + cluster.report());
          Thread.sleep(100);
        }
      }

      // a new vDisk of the name reads zeros
      createVdisk(remover, name, bytes);
      Node again = cluster.awaitOwnerOf(name, n -> true, FIRST_OWNER, "owner of the new " + name);
      Path zeros = dir.resolve("scratch-zeros.bin");
      retry(Duration.ofSeconds(60), "nfs-cat of the new " + file, () -> {
        Files.deleteIfExists(zeros);
        return Tool.run(120, "/bin/sh", "-c", "nfs-cat '" + remover.nfsUrl(file) + "' > '" + zeros + "'");
      });
      assertEquals(bytes, Files.size(zeros));
      assertArrayEquals(new byte[(int) bytes], Files.readAllBytes(zeros), "the new " + name + " reads zeros");

      // in use: an initiator logged in to it (on its owner); the REMOVE through another node is refused
      Node notOwner = cluster.nodes().stream().filter(n -> n != again).findFirst().orElseThrow();
      try (IscsiLoad load = IscsiLoad.start("iqn.2026-11.org.vsa:vdisk:" + name, Spec.write(5, 0, 256, BLOCKS, 120,
          cluster.portals(cluster.nodes())))) {
        load.awaitCount(e -> e.kind().equals("ack"), 20, Duration.ofSeconds(90), "writes of an initiator of " + name);
        Tool refused = Tool.run(120, nfsRm(), notOwner.nfsUrl(file));
        assertEquals(1, refused.exit(), "REMOVE of " + file + " in use, through " + notOwner.name + ": "
            + refused.out());
        assertTrue(refused.out().contains("NFS3ERR_ACCES"), refused.out());
        load.stop();
      }
      assertTrue(again.vdiskView(name).isPresent(), name + " is not deleted");
      Tool.toFile(120, dir.resolve("scratch-kept.bin"), "nfs-cat", notOwner.nfsUrl(file));
      assertEquals(bytes, Files.size(dir.resolve("scratch-kept.bin")), "its file is still there");
    }

    private void createVdisk(Node through, String name, long bytes) throws Exception {
      java.net.http.HttpResponse<String> r = through.call("POST", "/vdisks", "{\"name\": \"" + name
          + "\", \"size\": " + bytes + "}");
      assertEquals(201, r.statusCode(), "POST /vdisks " + name + " on " + through.name + ": " + r.body());
    }
  }

  /** Runs {@code call} until it exits 0, for at most {@code bound} (a vDisk just made is listed a little later). */
  private static Tool retry(Duration bound, String what, java.util.concurrent.Callable<Tool> call) throws Exception {
    long deadline = System.nanoTime() + bound.toNanos();
    while (true) {
      Tool t = call.call();
      if (t.exit() == 0) {
        return t;
      }
      assertTrue(System.nanoTime() < deadline, what + " within " + bound + ": " + t.out());
      Thread.sleep(500);
    }
  }

  private static synchronized String nfsRm() throws IOException, InterruptedException {
    return gcc("vsa-nfs-rm");
  }

  private static synchronized String nfsWrite() throws IOException, InterruptedException {
    return gcc("vsa-nfs-write");
  }

  /** The libnfs client {@code src/test/c/<tool>.c}, built with gcc into target/ when missing or older. */
  private static synchronized String gcc(String tool) throws IOException, InterruptedException {
    Path src = Path.of("src/test/c/" + tool + ".c").toAbsolutePath();
    Path bin = Path.of("target/" + tool).toAbsolutePath();
    if (!Files.isExecutable(bin) || Files.getLastModifiedTime(bin).compareTo(Files.getLastModifiedTime(src)) < 0) {
      assertTrue(Files.exists(Path.of("/usr/include/nfsc/libnfs.h")),
          "libnfs's headers are missing: apt-get install -y libnfs-dev (./test.sh does)");
      Tool.ok(120, "gcc", "-O2", "-Wall", "-o", bin.toString(), src.toString(), "-lnfs");
    }
    return bin.toString();
  }

  /** A command-line tool's run; a missing tool fails the test. */
  record Tool(int exit, String out) {
    static Tool ok(int seconds, String... cmd) throws IOException, InterruptedException {
      Path out = Files.createTempFile("failover-tool", ".out");
      try {
        Tool t = run(seconds, out, true, cmd);
        assertEquals(0, t.exit(), String.join(" ", cmd) + " failed: " + t.out());
        return t;
      } finally {
        Files.deleteIfExists(out);
      }
    }

    /** Runs it; its exit status and output, whatever they are. */
    static Tool run(int seconds, String... cmd) throws IOException, InterruptedException {
      Path out = Files.createTempFile("failover-tool", ".out");
      try {
        return run(seconds, out, true, cmd);
      } finally {
        Files.deleteIfExists(out);
      }
    }

    /** stdout to a file (binary), stderr kept for the failure message. */
    static void toFile(int seconds, Path file, String... cmd) throws IOException, InterruptedException {
      Tool t = run(seconds, file, false, cmd);
      assertEquals(0, t.exit(), String.join(" ", cmd) + " failed: " + t.out());
    }

    private static Tool run(int seconds, Path out, boolean mergeErr, String... cmd)
        throws IOException, InterruptedException {
      require(cmd[0]);
      Path err = Files.createTempFile("failover-tool", ".err");
      try {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (mergeErr) {
          pb.redirectErrorStream(true);
        } else {
          pb.redirectError(err.toFile());
        }
        Process p = pb.start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          fail(String.join(" ", cmd) + " did not finish within " + seconds + " s");
        }
        String text = mergeErr ? Files.readString(out, StandardCharsets.UTF_8) : Files.readString(err,
            StandardCharsets.UTF_8);
        return new Tool(p.exitValue(), text);
      } finally {
        Files.deleteIfExists(err);
      }
    }

    private static void require(String tool) {
      if (tool.contains("/")) {
        return;
      }
      for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
        if (Files.isExecutable(Path.of(d, tool))) {
          return;
        }
      }
      fail(tool + " is not installed: run ./test.sh (apt-get install -y libiscsi-bin libnfs-utils)");
    }
  }
}
