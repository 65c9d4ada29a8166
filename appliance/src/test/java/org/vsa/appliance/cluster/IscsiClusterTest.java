package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.DtlProcessTestAccess;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;
import org.vsa.iscsi.RawInitiator;
import org.vsa.iscsi.TargetLocator;
import org.vsa.iscsi.VolumeLookup;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * Two nodes' iSCSI targets in one JVM on 127.0.0.1, each bound to the cluster through a directory
 * the test controls, over one engine (both nodes see the same vDisks, as two nodes over a shared
 * backend would after a takeover). The real libiscsi tools log in, discover, write and read.
 */
class IscsiClusterTest {
  static final long SIZE_BYTES = 64L << 20;
  static final String DEMO = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "demo");
  static final String OTHER = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "Other_Disk");
  static final String STATIC = "iqn.2026-11.org.vsa:static";

  @TempDir
  Path dir;
  Engine engine;
  final Cluster cluster = new Cluster();
  IscsiTarget a;
  IscsiTarget b;
  IscsiCluster boundA;
  IscsiCluster boundB;
  int pa;
  int pb;

  @BeforeEach
  void start() throws Exception {
    engine = TestEngines.start(dir.resolve("engine"));
    for (String v : List.of("demo", "Other_Disk", "local")) {
      engine.create(TestEngines.spec(v, SIZE_BYTES));
    }
    VolumeLookup volumes = name -> engine.handle(name);
    // node a also has a target of its static configuration, LUN 0 = vDisk local, not a cluster vDisk
    a = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0, List.of(IscsiConfig.Target.of(STATIC, Map.of(0, "local")))),
        volumes);
    b = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0, List.of()), volumes);
    pa = a.localAddress().getPort();
    pb = b.localAddress().getPort();
    cluster.portals.put("a", new InetSocketAddress("127.0.0.1", pa));
    cluster.portals.put("b", new InetSocketAddress("127.0.0.1", pb));
    for (String v : List.of("demo", "Other_Disk")) {
      cluster.vdisks.put(v, new ClusterDirectory.VdiskInfo(v, UUID.randomUUID(), "default", SIZE_BYTES));
    }
    cluster.owners.put("demo", "b");
    cluster.owners.put("Other_Disk", "a");
    boundA = IscsiCluster.bind(a, cluster.node("a"), volumes);
    boundB = IscsiCluster.bind(b, cluster.node("b"), volumes);
  }

  @AfterEach
  void stop() throws IOException {
    boundA.close();
    boundB.close();
    a.close();
    b.close();
    engine.close();
  }

  String url(int port, String iqn) {
    return "iscsi://127.0.0.1:" + port + "/" + iqn + "/0";
  }

  /** Changes ownership as the controller would, then waits until both nodes have followed. */
  void owner(String vdisk, String node) throws Exception {
    if (node == null) {
      cluster.owners.remove(vdisk);
    } else {
      cluster.owners.put(vdisk, node);
    }
    cluster.changed();
    boundA.settle();
    boundB.settle();
  }

  @Test
  void anyNodesPortalServesEveryVdiskAndDiscoveryListsEachAtItsOwner() throws Exception {
    assertEquals(Set.of("Other_Disk"), boundA.served());
    assertEquals(Set.of("demo"), boundB.served());
    for (int port : List.of(pa, pb)) {
      Result inq = ok("iscsi-inq", url(port, DEMO));
      assertTrue(inq.out().contains("Vendor:VSA"), inq.out());
      Result cap = ok("iscsi-readcapacity16", url(port, OTHER));
      assertTrue(cap.out().contains("Total size:" + SIZE_BYTES), cap.out());
      String serial = engine.volume("demo").orElseThrow().id().toString().replace("-", "");
      Result vpd80 = ok("iscsi-inq", "-e", "1", "-c", "128", url(port, DEMO));
      assertTrue(vpd80.out().contains(serial), "vDisk demo's serial through port " + port + ": " + vpd80.out());

      Result ls = ok("iscsi-ls", "iscsi://127.0.0.1:" + port);
      assertTrue(ls.out().contains("Target:" + DEMO + " Portal:127.0.0.1:" + pb + ",1"), ls.out());
      assertTrue(ls.out().contains("Target:" + OTHER + " Portal:127.0.0.1:" + pa + ",1"), ls.out());
    }
    // the static target stays a's own: served there, unknown to b
    assertTrue(ok("iscsi-ls", "iscsi://127.0.0.1:" + pa).out().contains("Target:" + STATIC + " Portal:127.0.0.1:" + pa),
        "a lists its static target");
    ok("iscsi-inq", url(pa, STATIC));
    Result notB = run("iscsi-inq", url(pb, STATIC));
    assertNotEquals(0, notB.exit(), notB.out());
    assertTrue(notB.out().contains("Target not found"), notB.out());
    // a per-vDisk name of no vDisk of the cluster
    String nope = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "nope");
    Result r = run("iscsi-inq", url(pa, nope));
    assertNotEquals(0, r.exit(), r.out());
    assertTrue(r.out().contains("Target not found"), r.out());
  }

  @Test
  void whenTheOwnerMovesTheOldNodesSessionsDropAndItsPortalSendsToTheNewOwner() throws Exception {
    String load = VsaIscsiLoad.build();
    int units = 16;
    int blocks = 8;
    Result wrote = ok(load, "write", DEMO, "0", "0", Integer.toString(units), Integer.toString(blocks), "60",
        "127.0.0.1:" + pb);
    for (int k = 0; k < units; k++) {
      assertTrue(wrote.out().contains("ack " + k + "\n"), "unit " + k + " acknowledged: " + wrote.out());
    }
    try (RawInitiator raw = new RawInitiator(pb)) {
      assertEquals(0, raw.login(DEMO, DtlProcessTestAccess.ops()).u8(36), "logged in on the owner");
      assertEquals(0, raw.scsi(0, RawInitiator.read10(0, 8), null, 4096).status());
      assertEquals(1, b.sessionsOf(DEMO).size());

      owner("demo", "a");

      assertEquals(List.of(), b.sessionsOf(DEMO), "b dropped the session");
      assertEquals(Set.of(), boundB.served());
      assertEquals(Set.of("demo", "Other_Disk"), boundA.served());
      assertTrue(b.config().target(DEMO).isEmpty(), "b no longer has the target");
      IOException e = assertThrows(IOException.class, () -> raw.scsi(0, RawInitiator.read10(0, 8), null, 4096),
          "a command on the dropped session fails");
      assertFalse(e instanceof SocketTimeoutException, "closed, not merely silent: " + e);
    }
    assertEquals(new TargetLocator.Elsewhere("127.0.0.1", pa, 1), boundB.locate(DEMO));
    // a new login through the OLD portal is redirected to a, which has the data written before the move
    Result check = ok(load, "check", DEMO, "0", "0", Integer.toString(units), Integer.toString(blocks), "60",
        "127.0.0.1:" + pb);
    for (int k = 0; k < units; k++) {
      assertTrue(check.out().contains("unit " + k + " ok\n"), "unit " + k + " read back: " + check.out());
    }
    Result ls = ok("iscsi-ls", "iscsi://127.0.0.1:" + pb);
    assertTrue(ls.out().contains("Target:" + DEMO + " Portal:127.0.0.1:" + pa + ",1"), ls.out());
  }

  @Test
  void withNoOwnerALoginIsToldToRetryAndSucceedsOnceAnOwnerAppears() throws Exception {
    owner("demo", null);
    assertEquals(Set.of(), boundB.served(), "b stopped serving it");
    for (int port : List.of(pa, pb)) {
      Result r = run("iscsi-inq", url(port, DEMO));
      assertNotEquals(0, r.exit(), r.out());
      assertTrue(r.out().contains("Service unavailable"), "retryable, not 'not found': " + r.out());
      assertFalse(ok("iscsi-ls", "iscsi://127.0.0.1:" + port).out().contains(DEMO), "not listed while unserved");
    }
    // the owner's portal unknown (it left the cluster) reads the same
    cluster.owners.put("demo", "c");
    cluster.changed();
    assertInstanceOf(TargetLocator.Unavailable.class, boundA.locate(DEMO));

    // an initiator that keeps trying through b's portal gets in once a takes the vDisk over
    String load = VsaIscsiLoad.build();
    Process p = new ProcessBuilder(load, "write", DEMO, "0", "100", "4", "8", "90", "127.0.0.1:" + pb)
        .redirectErrorStream(true).start();
    try {
      BufferedReader lines = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      List<String> seen = new ArrayList<>();
      String refused = CompletableFuture.supplyAsync(() -> {
        try {
          for (String l; (l = lines.readLine()) != null; ) {
            seen.add(l);
            if (l.startsWith("login through")) {
              return l;
            }
          }
          return "EOF " + seen;
        } catch (IOException e) {
          return e.toString();
        }
      }).get(60, TimeUnit.SECONDS);
      assertTrue(refused.contains("Service unavailable"), refused);
      owner("demo", "a");
      assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the client did not finish");
      StringBuilder rest = new StringBuilder();
      for (String l; (l = lines.readLine()) != null; ) {
        rest.append(l).append('\n');
      }
      assertEquals(0, p.exitValue(), rest.toString());
      for (int k = 0; k < 4; k++) {
        assertTrue(rest.toString().contains("ack " + k + "\n"), "unit " + k + ": " + rest);
      }
    } finally {
      p.destroyForcibly().waitFor();
    }
    Result check = ok(load, "check", DEMO, "0", "100", "4", "8", "60", "127.0.0.1:" + pa);
    for (int k = 0; k < 4; k++) {
      assertTrue(check.out().contains("unit " + k + " ok\n"), check.out());
    }
  }

  @Test
  void leavingDropsTheSessionsBeforeItReturnsAndHoldsUntilTheDirectoryMovesOn() throws Exception {
    try (RawInitiator raw = new RawInitiator(pa)) {
      assertEquals(0, raw.login(OTHER, DtlProcessTestAccess.ops()).u8(36));
      assertEquals(1, a.sessionsOf(OTHER).size());
      assertTrue(boundA.leaving("Other_Disk"), "drained");
      assertEquals(List.of(), a.sessionsOf(OTHER), "dropped before leaving returned");
      assertThrows(IOException.class, () -> raw.scsi(0, RawInitiator.read10(0, 8), null, 4096));
    }
    assertTrue(boundA.leaving("Other_Disk"), "idempotent");
    // the directory still names a (the controller fences next): a change elsewhere does not bring it back
    owner("demo", "b");
    assertEquals(Set.of(), boundA.served());
    Result r = run("iscsi-inq", url(pb, OTHER));
    assertTrue(r.out().contains("Service unavailable"), r.out());
    // the directory moves it to b, then back to a: a serves it again
    owner("Other_Disk", "b");
    ok("iscsi-inq", url(pa, OTHER));
    owner("Other_Disk", "a");
    assertEquals(Set.of("Other_Disk"), boundA.served());
    ok("iscsi-inq", url(pb, OTHER));
    // resume: the controller kept it after all
    boundA.leaving("Other_Disk");
    assertEquals(Set.of(), boundA.served());
    boundA.resume("Other_Disk");
    boundA.settle();
    assertEquals(Set.of("Other_Disk"), boundA.served());
    assertFalse(boundA.leaving("no such vDisk name!"), "a bad name is logged, not thrown");
  }

  @Test
  void aFailingDirectoryAnswersRetryAndTheNodeServesItsStaticTargets() throws Exception {
    cluster.broken = true;
    assertInstanceOf(TargetLocator.Unavailable.class, boundA.locate(DEMO));
    Result r = run("iscsi-inq", url(pa, DEMO));
    assertTrue(r.out().contains("Service unavailable"), r.out());
    cluster.changed(); // never throws into the control plane
    boundA.settle();
    assertEquals(Set.of("Other_Disk"), boundA.served(), "kept as it was");
    ok("iscsi-inq", url(pa, STATIC));
    Result ls = ok("iscsi-ls", "iscsi://127.0.0.1:" + pa);
    assertTrue(ls.out().contains("Target:" + STATIC), ls.out());
    cluster.broken = false;
    ok("iscsi-inq", url(pa, DEMO));
  }

  @Test
  void aVdiskOwnedHereWhoseVolumeIsNotOpenYetIsToldToRetry() throws Exception {
    cluster.vdisks.put("later", new ClusterDirectory.VdiskInfo("later", UUID.randomUUID(), "default", SIZE_BYTES));
    owner("later", "b");
    assertEquals(Set.of("demo"), boundB.served(), "no volume yet: no target");
    String later = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "later");
    Result r = run("iscsi-inq", url(pa, later));
    assertTrue(r.out().contains("Service unavailable"), r.out());
    engine.create(TestEngines.spec("later", SIZE_BYTES));
    // the next login retry makes b look again
    Result first = run("iscsi-inq", url(pb, later));
    boundB.settle();
    Result second = run("iscsi-inq", url(pa, later));
    assertEquals(0, second.exit(), first.out() + "\n---\n" + second.out());
    assertEquals(Set.of("demo", "later"), boundB.served());
  }

  @Test
  void concurrentChangesAndLeavingsEndInTheDirectorysState() throws Exception {
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        long seed = 17L * (t + 1);
        done.add(pool.submit(() -> {
          java.util.Random rnd = new java.util.Random(seed);
          String[] nodes = {"a", "b", null};
          for (int i = 0; i < 200; i++) {
            String v = rnd.nextBoolean() ? "demo" : "Other_Disk";
            switch (rnd.nextInt(3)) {
              case 0 -> {
                String n = nodes[rnd.nextInt(3)];
                if (n == null) {
                  cluster.owners.remove(v);
                } else {
                  cluster.owners.put(v, n);
                }
                cluster.changed();
              }
              case 1 -> (rnd.nextBoolean() ? boundA : boundB).leaving(v);
              default -> (rnd.nextBoolean() ? boundA : boundB).locate(rnd.nextBoolean() ? DEMO : OTHER);
            }
          }
          return null;
        }));
      }
      for (java.util.concurrent.Future<?> f : done) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    // whatever happened, the nodes end where the directory says, once it has moved on from each
    owner("demo", "a");
    owner("Other_Disk", "b");
    owner("demo", "b");
    owner("Other_Disk", "a");
    assertEquals(Set.of("Other_Disk"), boundA.served());
    assertEquals(Set.of("demo"), boundB.served());
    assertTrue(a.config().target(DEMO).isEmpty() && a.config().target(OTHER).isPresent(), "a's targets");
    assertTrue(b.config().target(OTHER).isEmpty() && b.config().target(DEMO).isPresent(), "b's targets");
    assertEquals(new TargetLocator.Elsewhere("127.0.0.1", pb, 1), boundA.locate(DEMO));
    assertEquals(TargetLocator.HERE, boundA.locate(OTHER));
    ok("iscsi-inq", url(pa, DEMO));
  }

  // ---------------------------------------------------------------------------------------------

  /** The cluster's state as the test sets it; each node's directory reads it. */
  static final class Cluster {
    final Map<String, ClusterDirectory.VdiskInfo> vdisks = new ConcurrentHashMap<>();
    final Map<String, String> owners = new ConcurrentHashMap<>();
    final Map<String, InetSocketAddress> portals = new ConcurrentHashMap<>();
    final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    volatile boolean broken;

    void changed() {
      listeners.forEach(Runnable::run);
    }

    ClusterDirectory node(String self) {
      return new ClusterDirectory() {
        @Override
        public String self() {
          return self;
        }

        @Override
        public Map<String, VdiskInfo> vdisks() {
          check();
          return Map.copyOf(vdisks);
        }

        @Override
        public Optional<String> owner(String vdisk) {
          check();
          return Optional.ofNullable(owners.get(vdisk));
        }

        @Override
        public Optional<InetSocketAddress> endpoint(String node, String kind) {
          check();
          return ISCSI.equals(kind) ? Optional.ofNullable(portals.get(node)) : Optional.empty();
        }

        @Override
        public void onChange(Runnable r) {
          listeners.add(r);
        }
      };
    }

    private void check() {
      if (broken) {
        throw new IllegalStateException("directory broken by the test");
      }
    }
  }

  record Result(int exit, String out) {}

  static Result ok(String... cmd) throws Exception {
    Result r = run(cmd);
    assertEquals(0, r.exit(), String.join(" ", cmd) + ":\n" + r.out());
    return r;
  }

  static Result run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> {
      try {
        return p.getInputStream().readAllBytes();
      } catch (IOException e) {
        return new byte[0];
      }
    });
    if (!p.waitFor(90, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      throw new AssertionError(String.join(" ", cmd) + " did not finish in 90 s");
    }
    return new Result(p.exitValue(), new String(out.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8));
  }

  /** Builds src/test/c/vsa-iscsi-load.c into target/ with gcc (libiscsi-dev and gcc: ./test.sh installs them). */
  static final class VsaIscsiLoad {
    private VsaIscsiLoad() {}

    static synchronized String build() throws Exception {
      Path src = Path.of("src/test/c/vsa-iscsi-load.c").toAbsolutePath();
      Path bin = Path.of("target/vsa-iscsi-load").toAbsolutePath();
      assertTrue(Files.exists(src), "missing " + src);
      if (!Files.isExecutable(bin) || Files.getLastModifiedTime(bin).compareTo(Files.getLastModifiedTime(src)) < 0) {
        assertTrue(Files.exists(Path.of("/usr/include/iscsi/iscsi.h")),
            "libiscsi's headers are missing: apt-get install -y libiscsi-dev (./test.sh does)");
        ok("gcc", "-O2", "-Wall", "-o", bin.toString(), src.toString(), "-liscsi");
      }
      return bin.toString();
    }
  }
}
