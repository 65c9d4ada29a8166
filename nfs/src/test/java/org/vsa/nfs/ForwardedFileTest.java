package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.PeerClient;
import org.vsa.volume.remote.RemoteVolume;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * An NFS server whose vDisk files are owned by "another node": its catalog hands out
 * {@link RemoteVolume}s forwarding to a {@link RemoteVolumeServer} in front of a real engine (two
 * such servers, A and B, play two owners of the same engine, so that a vDisk can move). libnfs
 * copies files in and out through the forwarding, and a move of the owner between an UNSTABLE
 * WRITE and its COMMIT changes the write verifier, so that the client resends.
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class ForwardedFileTest {
  @TempDir
  static Path dir;
  static Engine engine;
  static final Set<String> notOnA = ConcurrentHashMap.newKeySet();
  static final AtomicLong servedByA = new AtomicLong();
  static final AtomicLong servedByB = new AtomicLong();
  static RemoteVolumeServer a;
  static RemoteVolumeServer b;
  static PeerClient toA;
  static PeerClient toB;
  static Catalog catalog;
  static NfsServer server;

  static RemoteVolumeServer.Exports exports(AtomicLong served, Set<String> notHere) {
    return new RemoteVolumeServer.Exports() {
      @Override
      public Optional<BlockVolume> lookup(String vdisk) {
        if (notHere.contains(vdisk)) {
          return Optional.empty();
        }
        served.incrementAndGet();
        return engine.handle(vdisk).map(v -> v);
      }

      @Override
      public BlockVolume resize(String vdisk, long sizeBytes) throws IOException {
        engine.resize(vdisk, sizeBytes);
        return engine.handle(vdisk).orElseThrow();
      }
    };
  }

  /**
   * The catalog of a node that owns nothing: the engine stands for the cluster's list of vDisks,
   * every volume it hands out forwards to {@link #owner}, one RemoteVolume per vDisk kept until
   * {@link #moved}.
   */
  static final class Catalog implements VolumeCatalog {
    volatile PeerClient owner;
    final Map<String, RemoteVolume> open = new ConcurrentHashMap<>();
    final AtomicLong moves = new AtomicLong();

    @Override
    public Optional<BlockVolume> get(String name) {
      if (engine.handle(name).isEmpty()) {
        return Optional.empty();
      }
      RemoteVolume v = open.get(name);
      if (v != null) {
        return Optional.of(v);
      }
      try {
        v = owner.open(name);
      } catch (IOException e) {
        throw new IllegalStateException("vDisk " + name + ": " + e.getMessage(), e);
      }
      open.put(name, v);
      return Optional.of(v);
    }

    RemoteVolume remote(String name) throws IOException {
      return (RemoteVolume) get(name).orElseThrow(() -> new IOException("vDisk " + name + " is gone"));
    }

    @Override
    public List<Entry> list() {
      return engine.volumes().stream().map(v -> new Entry(v.name(), v.spec().vpool())).toList();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      engine.create(new VolumeSpec(name, vpool, sizeBytes, 512, VolumeSpec.SCO_SIZE_MIN,
          org.vsa.volume.CachePolicy.ON_READ));
      return remote(name);
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      RemoteVolume v = remote(name);
      v.resize(sizeBytes, false);
      return v;
    }

    @Override
    public BlockVolume grow(String name, long sizeBytes) throws IOException {
      RemoteVolume v = remote(name);
      v.resize(sizeBytes, true);
      return v;
    }

    @Override
    public void delete(String name) throws IOException {
      engine.delete(name);
      open.remove(name);
    }

    @Override
    public void moved(String name) {
      moves.incrementAndGet();
      open.remove(name);
    }
  }

  @BeforeAll
  static void start() throws Exception {
    Tools.requireInstalled();
    engine = TestEngines.start(dir.resolve("engine"));
    a = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0), exports(servedByA, notOnA));
    b = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0), exports(servedByB, Set.of()));
    toA = new PeerClient(a.localAddress(), PeerClient.Config.defaults());
    toB = new PeerClient(b.localAddress(), PeerClient.Config.defaults());
    catalog = new Catalog();
    catalog.owner = toA;
    server = NfsServer.start(NfsConfig.defaults(dir.resolve("namespace")).withPorts(0, 0)
        .withPortmap(NfsConfig.Portmap.NONE).withExports(List.of(Export.open("default"))), catalog);
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable c : new AutoCloseable[] {server, toA, toB, a, b, engine}) {
      if (c != null) {
        c.close();
      }
    }
  }

  static String url(String path) {
    return "nfs://127.0.0.1" + path + "?nfsport=" + server.localAddress().getPort() + "&mountport="
        + server.mountAddress().getPort() + "&version=3";
  }

  @Test
  void copiesA64MibVdiskFileInAndOutThroughItsOwner() throws Exception {
    byte[] data = TestEngines.pattern(42, 64 << 20);
    Path in = dir.resolve("in.raw");
    Files.write(in, data);
    long before = servedByA.get();
    Tools.ok(300, "nfs-cp", in.toString(), url("/default/fwd.raw"));
    Path out = dir.resolve("out.raw");
    Tools.ok(300, "nfs-cp", url("/default/fwd.raw"), out.toString());
    assertArrayEquals(data, Files.readAllBytes(out));
    assertTrue(servedByA.get() - before > 64, "the file's I/O went through the owner's forward server");
    // and the bytes are the owner's vDisk's
    assertArrayEquals(java.util.Arrays.copyOf(data, 1 << 20), TestEngines.read(engine.volume("fwd").orElseThrow(), 0,
        1 << 20));
    assertTrue(Tools.ok(60, "nfs-ls", url("/default/")).out().contains("fwd.raw"));
  }

  @Test
  void copiesAnUnalignedVdiskFileAndCatsIt() throws Exception {
    byte[] data = TestEngines.pattern(9, 3 * 1_000_003);
    Path in = dir.resolve("odd.raw");
    Files.write(in, data);
    Tools.ok(60, "nfs-cp", in.toString(), url("/default/odd.raw"));
    Path out = dir.resolve("odd.out");
    Tools.ok(60, "nfs-cp", url("/default/odd.raw"), out.toString());
    assertArrayEquals(data, Files.readAllBytes(out));
    Files.writeString(dir.resolve("hello.raw"), "hello, forwarded nfs\n");
    Tools.ok(60, "nfs-cp", dir.resolve("hello.raw").toString(), url("/default/hello.raw"));
    assertEquals("hello, forwarded nfs\n", Tools.ok(60, "nfs-cat", url("/default/hello.raw")).out());
  }

  @Test
  void anUnreachableOwnerGetsJukeboxAndTheFileServesOnceTheCatalogPointsToALiveOne() throws Exception {
    // a third owner, C, that dies while the catalog still points at it
    RemoteVolumeServer c3 = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
        exports(new AtomicLong(), Set.of()));
    try (Nfs3Client c = new Nfs3Client(new RpcClient(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()),
        0, 0), new RpcClient(new InetSocketAddress("127.0.0.1", server.mountAddress().getPort()), 0, 0));
        PeerClient toC = new PeerClient(c3.localAddress(), PeerClient.Config.defaults())) {
      catalog.owner = toC;
      byte[] root = c.mnt("/default");
      Nfs3Client.Res created = c.create(root, "away.raw", 0);
      assertEquals(0, created.status());
      byte[] fh = created.fh();
      byte[] data = TestEngines.pattern(11, 8192);
      Nfs3Client.Wrote w = c.write(fh, 0, data, 0); // UNSTABLE, acknowledged by C
      assertEquals(0, w.status());
      c3.close(); // C dies
      catalog.owner = toA; // the cluster now says A (the catalog only asks again once told)
      RpcClient.XdrIn r = c.nfs.call(RpcClient.NFS, 3, 6, o -> o.opaque(fh).l(0).i(8192));
      assertEquals(Status.JUKEBOX, r.i(), "an unreachable owner: try again later, not an I/O error");
      // the client retries: the catalog resolved the owner again
      assertArrayEquals(data, c.read(fh, 0, 8192));
      assertFalse(java.util.Arrays.equals(w.verifier(), c.commit(fh)),
          "C may have lost the UNSTABLE write: the COMMIT verifier differs, the client resends");
    } finally {
      catalog.owner = toA;
      c3.close();
    }
  }

  @Test
  void anOwnerMoveBetweenAnUnstableWriteAndItsCommitChangesTheVerifier() throws Exception {
    try (Nfs3Client c = new Nfs3Client(new RpcClient(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()),
        0, 0), new RpcClient(new InetSocketAddress("127.0.0.1", server.mountAddress().getPort()), 0, 0))) {
      byte[] root = c.mnt("/default");
      Nfs3Client.Res created = c.create(root, "moving.raw", 0);
      assertEquals(0, created.status());
      byte[] fh = created.fh();
      byte[] data = TestEngines.pattern(5, 64 << 10);
      Nfs3Client.Wrote w = c.write(fh, 0, data, 0); // UNSTABLE, through A
      assertEquals(0, w.status());
      assertArrayEquals(w.verifier(), c.commit(fh), "no move: the COMMIT verifier is the WRITE's");
      Nfs3Client.Wrote w2 = c.write(fh, 65536, data, 0);
      assertEquals(0, w2.status());
      // the vDisk moves from A to B: A answers NOT_OWNER, the catalog now resolves to B
      long bBefore = servedByB.get();
      catalog.owner = toB;
      notOnA.add("moving");
      try {
        NotOwnerException e = org.junit.jupiter.api.Assertions.assertThrows(NotOwnerException.class,
            () -> toA.open("moving"));
        assertEquals("moving", e.vdisk());
        byte[] verifier = c.commit(fh);
        assertNotNull(verifier, "the COMMIT went to the new owner");
        assertFalse(java.util.Arrays.equals(w2.verifier(), verifier),
            "the UNSTABLE write acknowledged by the old owner may be lost: the verifier changed, the client resends");
        assertTrue(servedByB.get() > bBefore);
        assertTrue(catalog.moves.get() > 0);
        // the client resends and commits: now they agree
        Nfs3Client.Wrote again = c.write(fh, 65536, data, 0);
        assertEquals(0, again.status());
        assertArrayEquals(again.verifier(), c.commit(fh));
        assertArrayEquals(data, c.read(fh, 65536, data.length));
        assertArrayEquals(data, c.read(fh, 0, data.length));
      } finally {
        notOnA.remove("moving");
        catalog.owner = toA;
      }
    }
  }
}
