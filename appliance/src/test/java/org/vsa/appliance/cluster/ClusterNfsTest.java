package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.ObjectStore;
import org.vsa.nfs.Export;
import org.vsa.nfs.NfsConfig;
import org.vsa.nfs.NfsServer;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.volume.Adoption;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Engine;
import org.vsa.volume.OwnershipLease;
import org.vsa.volume.TestEngines;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.PeerClient;
import org.vsa.volume.remote.PeerClients;
import org.vsa.volume.remote.PeerUnavailableException;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * Two nodes in one JVM (engines with their own data directories over one shared backend
 * directory), each with its forward server and an NFS server whose catalog is a
 * {@link ClusterVolumeCatalog} over a directory the test controls. libnfs on node B reads and
 * writes vDisk d1, owned by A, through the forwarding; with no owner, I/O is answered "retry later"
 * (NFS3ERR_JUKEBOX); once B adopted d1, I/O on B goes on locally, and A's NFS server forwards to B.
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class ClusterNfsTest {
  private static final long FAR_NANOS = 3_600_000_000_000L;
  private static final int DATA_BYTES = 36 << 20;

  @TempDir Path dir;
  private final Directory cluster = new Directory();
  private final List<AutoCloseable> open = new ArrayList<>();
  private Node a;
  private Node b;
  private final Map<String, Engine> engines = new ConcurrentHashMap<>();
  /** Where the control plane puts a new vDisk (null: on the node that creates it). */
  private volatile String placeOn;
  private static final byte[] D0 = TestEngines.pattern(5, 1 << 20);

  /** The cluster as the test says it is: vDisks, owners, live nodes' forward endpoints. */
  static final class Directory {
    final Map<String, ClusterDirectory.VdiskInfo> vdisks = new ConcurrentHashMap<>();
    final Map<String, String> owners = new ConcurrentHashMap<>();
    final Map<String, InetSocketAddress> volumeEndpoints = new ConcurrentHashMap<>();

    ClusterDirectory as(String self) {
      return new ClusterDirectory() {
        @Override
        public String self() {
          return self;
        }

        @Override
        public Map<String, VdiskInfo> vdisks() {
          return Map.copyOf(vdisks);
        }

        @Override
        public Optional<String> owner(String vdisk) {
          return Optional.ofNullable(owners.get(vdisk));
        }

        @Override
        public Optional<InetSocketAddress> endpoint(String node, String kind) {
          return kind.equals(VOLUME) ? Optional.ofNullable(volumeEndpoints.get(node)) : Optional.empty();
        }

        @Override
        public void onChange(Runnable r) {}
      };
    }
  }

  /** A node's local vDisks, as the appliance's engine catalog hands them out (without its metering). */
  record Local(Engine engine) implements VolumeCatalog {
    @Override
    public Optional<BlockVolume> get(String name) {
      return engine.handle(name).map(v -> v);
    }

    @Override
    public List<Entry> list() {
      return engine.volumes().stream().map(v -> new Entry(v.name(), v.spec().vpool())).toList();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      return engine.create(TestEngines.spec(name, sizeBytes));
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      engine.resize(name, sizeBytes);
      return engine.handle(name).orElseThrow();
    }

    @Override
    public void delete(String name) throws IOException {
      engine.delete(name);
    }
  }

  record Node(String name, Engine engine, VolumeForwarding forwarding, ClusterVolumeCatalog catalog, NfsServer nfs) {
    String url(String path) {
      return "nfs://127.0.0.1" + path + "?nfsport=" + nfs.localAddress().getPort() + "&mountport="
          + nfs.mountAddress().getPort() + "&version=3";
    }
  }

  private static OwnershipLease lease(long epoch) {
    return OwnershipLease.renewable(epoch, System.nanoTime() + FAR_NANOS);
  }

  /** Each node its own store over the one shared backend directory (an engine closes its store). */
  private ObjectStore backend() throws IOException {
    return new LocalDirectoryObjectStore(dir.resolve("backend"));
  }

  private Node node(String name, long epoch) throws IOException {
    Engine engine = Engine.start(TestEngines.config(dir.resolve(name), backend()), null, () -> "boot",
        n -> lease(epoch));
    open.add(engine);
    engines.put(name, engine);
    VolumeForwarding forwarding = VolumeForwarding.start(RemoteVolumeServer.Config.defaults().withPort(0), engine);
    open.add(forwarding);
    ClusterDirectory self = cluster.as(name);
    forwarding.serve(self);
    cluster.volumeEndpoints.put(name, forwarding.localAddress());
    PeerClients clients = new PeerClients(PeerClient.Config.defaults());
    open.add(clients);
    Local local = new Local(engine);
    // the control plane's part: a cluster-unique vDisk, owned by the node placement picks
    ClusterVolumeCatalog.Creator creator = (vdisk, vpool, sizeBytes) -> {
      String on = placeOn != null ? placeOn : name;
      Volume v = engines.get(on).create(TestEngines.spec(vdisk, sizeBytes));
      cluster.vdisks.put(vdisk, new ClusterDirectory.VdiskInfo(vdisk, v.id(), vpool, sizeBytes));
      cluster.owners.put(vdisk, on);
    };
    ClusterVolumeCatalog catalog = new ClusterVolumeCatalog(local, self, creator, clients);
    NfsServer nfs = NfsServer.start(NfsConfig.defaults(dir.resolve(name).resolve("namespace")).withPorts(0, 0)
        .withPortmap(NfsConfig.Portmap.NONE).withExports(List.of(Export.open("default"))), catalog);
    open.add(0, nfs); // closed before the forwarding and the engine
    return new Node(name, engine, forwarding, catalog, nfs);
  }

  /** vsa-nfs-read (src/test/c), built with gcc against libnfs: says which NFS status a READ got. */
  private Path reader() throws Exception {
    Path exe = dir.resolve("vsa-nfs-read");
    if (!Files.exists(exe)) {
      Path src = Path.of("src/test/c/vsa-nfs-read.c").toAbsolutePath();
      if (!Files.isExecutable(Path.of("/usr/bin/gcc")) || !Files.exists(Path.of("/usr/include/nfsc/libnfs.h"))) {
        fail("gcc or libnfs-dev is not installed: run ./test.sh");
      }
      ok("gcc", "-O2", "-o", exe.toString(), src.toString(), "-lnfs");
    }
    return exe;
  }

  /** What the control plane's directory does now and then: reads each vDisk's record (its size) again. */
  private void refreshSizes() {
    for (var e : cluster.vdisks.entrySet()) {
      String owner = cluster.owners.get(e.getKey());
      if (owner != null) {
        engines.get(owner).volume(e.getKey()).ifPresent(v -> cluster.vdisks.put(e.getKey(),
            new ClusterDirectory.VdiskInfo(e.getKey(), v.id(), e.getValue().vpool(), v.sizeBytes())));
      }
    }
  }

  @BeforeEach
  void start() throws Exception {
    for (String tool : List.of("nfs-cp", "nfs-ls", "nfs-cat")) {
      if (!Files.isExecutable(Path.of("/usr/bin", tool))) {
        fail(tool + " is not installed: run ./test.sh (apt-get install -y libnfs-utils)");
      }
    }
    // d0 exists before the NFS servers start, as a vDisk of the cluster owned by A
    try (Engine first = Engine.start(TestEngines.config(dir.resolve("A"), backend()), null, () -> "boot",
        n -> lease(1))) {
      Volume d0 = first.create(TestEngines.spec("d0", 1 << 20));
      d0.write(0, ByteBuffer.wrap(D0), org.vsa.volume.Durability.DURABLE);
      cluster.vdisks.put("d0", new ClusterDirectory.VdiskInfo("d0", d0.id(), "default", d0.sizeBytes()));
      cluster.owners.put("d0", "A");
    }
    a = node("A", 1);
    b = node("B", 2);
  }

  @AfterEach
  void stop() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  record Run(int exit, String out, String err) {}

  private Run tool(String... command) throws Exception {
    Path out = Files.createTempFile(dir, "tool", ".out");
    Path err = Files.createTempFile(dir, "tool", ".err");
    Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail(String.join(" ", command) + " did not finish in 300 s");
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }

  private Run ok(String... command) throws Exception {
    Run r = tool(command);
    assertEquals(0, r.exit(), String.join(" ", command) + ": " + r.err());
    return r;
  }

  private byte[] cat(Node n, String file) throws Exception {
    Path out = dir.resolve("cat-" + n.name() + "-" + System.nanoTime());
    ok("nfs-cp", n.url("/default/" + file), out.toString());
    return Files.readAllBytes(out);
  }

  private static byte[] head(BlockVolume v, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(len);
    v.read(0, b);
    return b.array();
  }

  @Test
  void aNonOwnerServesTheVdiskFileThroughItsOwnerRetriesWithoutOneAndGoesOnWhenItOwnsIt() throws Exception {
    // B lists and reads the file of A's vDisk d0, there before B's NFS server started
    assertTrue(ok("nfs-ls", b.url("/default/")).out().contains("d0.raw"), "node B lists d0's file");
    assertArrayEquals(D0, cat(b, "d0.raw"), "d0 read through B");

    // 36 MiB in through B into a new vDisk d1 that the control plane places on A, and out again
    placeOn = "A";
    byte[] data = TestEngines.pattern(7, DATA_BYTES);
    Path in = dir.resolve("in.raw");
    Files.write(in, data);
    ok("nfs-cp", in.toString(), b.url("/default/d1.raw"));
    assertEquals("A", cluster.owners.get("d1"), "d1 was created on A");
    assertTrue(a.engine().volume("d1").orElseThrow().sizeBytes() >= DATA_BYTES, "B grew it on A as it wrote");
    assertTrue(ok("nfs-ls", b.url("/default/")).out().contains("d1.raw"), "node B lists d1's file");
    assertArrayEquals(data, cat(b, "d1.raw"), "read back through B");
    assertArrayEquals(data, head(a.engine().volume("d1").orElseThrow(), DATA_BYTES), "the bytes are in A's engine");
    assertTrue(b.engine().handle("d1").isEmpty(), "B never had d1 locally: its I/O was forwarded");
    refreshSizes();

    // nobody owns d1: B answers retry later (JUKEBOX), not an I/O error; so does A, which no longer serves it
    cluster.owners.remove("d1");
    assertTrue(b.catalog().list().contains(new VolumeCatalog.Entry("d1", "default")), "still listed: its file stays");
    BlockVolume none = b.catalog().get("d1").orElseThrow();
    assertThrows(PeerUnavailableException.class, () -> none.read(0, ByteBuffer.allocate(4096)));
    for (Node n : List.of(b, a)) {
      Run refused = tool(reader().toString(), n.url("/default/d1.raw"), "0", "65536");
      assertEquals(1, refused.exit(), n.name() + ": " + refused.out() + refused.err());
      assertTrue(refused.out().contains("NFS3ERR_JUKEBOX"), n.name() + " answers retry later: " + refused.out());
    }
    Run served = tool(reader().toString(), b.url("/default/d0.raw"), "0", "65536");
    assertEquals("read 65536", served.out().trim(), "d0, still owned by A, is read through B meanwhile: " + served.err());

    // A hands d1 over, B adopts it and is named its owner: I/O through B goes on, now local
    a.engine().release("d1", java.time.Duration.ofSeconds(120));
    b.engine().adopt(new Adoption.Request(cluster.vdisks.get("d1").id(), lease(2), null, 1, null, false));
    cluster.owners.put("d1", "B");
    assertArrayEquals(data, cat(b, "d1.raw"), "B serves what A held");
    // and A, no longer the owner, forwards its clients to B
    assertVdiskFile(a, "d1", data);
    // a new file through A lands on B and is read back through both
    placeOn = "B";
    byte[] more = TestEngines.pattern(8, 3_000_017);
    Path in2 = dir.resolve("in2.raw");
    Files.write(in2, more);
    ok("nfs-cp", in2.toString(), a.url("/default/d2.raw"));
    assertEquals("B", cluster.owners.get("d2"));
    assertArrayEquals(more, cat(a, "d2.raw"), "read through A (its namespace made the file), forwarded to B");
    refreshSizes();
    assertVdiskFile(b, "d2", more);
  }

  @Test
  void aFileMadeOnOneNodeIsAVdiskOfThatNodeAndReadableFromTheOther() throws Exception {
    byte[] data = TestEngines.pattern(11, 5_000_001);
    Path in = dir.resolve("new.raw");
    Files.write(in, data);
    ok("nfs-cp", in.toString(), b.url("/default/made-on-b.raw"));
    String vdisk = cluster.owners.entrySet().stream().filter(e -> e.getValue().equals("B")).map(Map.Entry::getKey)
        .findFirst().orElseThrow(() -> new AssertionError("no vDisk was created through B's creator"));
    assertTrue(b.engine().volume(vdisk).isPresent(), "the new vDisk is B's");
    assertTrue(a.engine().handle(vdisk).isEmpty(), "not A's");
    refreshSizes();
    assertVdiskFile(a, vdisk, data);
    // A cannot delete what B serves, and says who does
    IOException e = assertThrows(IOException.class, () -> a.catalog().delete(vdisk));
    assertTrue(e.getMessage().contains("node B"), e.getMessage());
  }

  /**
   * On a node whose namespace did not make the file, a vDisk's file is {@code <vdisk>.raw} and as
   * long as the vDisk (each node keeps its own namespace): {@code data} then zeros.
   */
  private void assertVdiskFile(Node n, String vdisk, byte[] data) throws Exception {
    byte[] got = cat(n, vdisk + ".raw");
    long size = cluster.vdisks.get(vdisk).sizeBytes();
    assertEquals(size, got.length, vdisk + ".raw on " + n.name());
    assertArrayEquals(data, java.util.Arrays.copyOf(got, data.length), vdisk + ".raw on " + n.name());
    for (int i = data.length; i < got.length; i++) {
      if (got[i] != 0) {
        fail(vdisk + ".raw on " + n.name() + ": byte " + i + " past the data is not zero");
      }
    }
  }

  @Test
  void aMoveBetweenTwoRequestsIsReportedOnceAsNotOwner() throws Exception {
    BlockVolume first = b.catalog().get("d0").orElseThrow();
    first.write(0, ByteBuffer.wrap(TestEngines.pattern(3, 4096)), org.vsa.volume.Durability.BUFFERED);
    a.engine().release("d0", java.time.Duration.ofSeconds(60));
    b.engine().adopt(new Adoption.Request(cluster.vdisks.get("d0").id(), lease(2), null, 1, null, false));
    cluster.owners.put("d0", "B");
    // the first volume after the move says so (the NFS server changes its write verifier), until moved()
    BlockVolume moved = b.catalog().get("d0").orElseThrow();
    assertThrows(NotOwnerException.class, () -> moved.read(0, ByteBuffer.allocate(4096)));
    assertThrows(NotOwnerException.class, () -> b.catalog().get("d0").orElseThrow().flush());
    b.catalog().moved("d0");
    BlockVolume now = b.catalog().get("d0").orElseThrow();
    assertArrayEquals(TestEngines.pattern(3, 4096), head(now, 4096), "the released write is there");
  }

  @Test
  void anOwnerThatFencedTheVdiskAnswersNotOwnerSoThatTheCallerAsksAgain() throws Exception {
    BlockVolume d0 = b.catalog().get("d0").orElseThrow();
    d0.write(0, ByteBuffer.wrap(TestEngines.pattern(4, 4096)), org.vsa.volume.Durability.DURABLE);
    a.engine().fence("d0"); // A's lease ran out: it acknowledges nothing more
    NotOwnerException e = assertThrows(NotOwnerException.class,
        () -> d0.write(4096, ByteBuffer.wrap(TestEngines.pattern(5, 4096)), org.vsa.volume.Durability.DURABLE));
    assertTrue(e.getMessage().contains("fenced"), e.getMessage());
    assertThrows(NotOwnerException.class, d0::flush);
  }
}
