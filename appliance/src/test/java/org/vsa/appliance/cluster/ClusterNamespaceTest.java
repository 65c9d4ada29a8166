package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.nfs.LocalNamespace;
import org.vsa.nfs.Namespace;
import org.vsa.nfs.NfsException;
import org.vsa.nfs.SetAttr;
import org.vsa.nfs.Status;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.nfs.remote.NamespaceServer;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;

/**
 * {@link ClusterNamespace}: the calls of a node that does not serve the vPool's namespace go to the
 * node that does (over the namespace forward server), to this node's own namespace once it serves
 * it, and get JUKEBOX while no node does; the write verifier changes when the calls move; a node
 * serving another namespace under the vPool's name is not forwarded to.
 */
class ClusterNamespaceTest {
  @TempDir Path work;

  private static final long ID = 0x1234_5678_9abcL;

  /** No vDisks: every file of these tests is a small one. */
  private static final VolumeCatalog NO_VDISKS = new VolumeCatalog() {
    @Override
    public Optional<BlockVolume> get(String name) {
      return Optional.empty();
    }

    @Override
    public List<Entry> list() {
      return List.of();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      throw new IOException("no vDisks here");
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      throw new IOException("no vDisks here");
    }

    @Override
    public void delete(String name) throws IOException {
      throw new IOException("no vDisks here");
    }
  };

  /** One node's namespace server, serving whatever {@code served} holds. */
  private record Node(String name, NamespaceServer server, Map<String, Namespace> served) implements AutoCloseable {
    static Node start(String name) throws IOException {
      Map<String, Namespace> served = new ConcurrentHashMap<>();
      NamespaceServer s = NamespaceServer.start(NamespaceServer.Config.defaults().withPort(0),
          vpool -> Optional.ofNullable(served.get(vpool)));
      return new Node(name, s, served);
    }

    InetSocketAddress endpoint() {
      return new InetSocketAddress("127.0.0.1", server.localAddress().getPort());
    }

    @Override
    public void close() {
      server.close();
    }
  }

  @Test
  void callsFollowTheNamespacesOwner() throws Exception {
    Map<String, String> owner = new ConcurrentHashMap<>();
    try (Node a = Node.start("A"); Node b = Node.start("B")) {
      Map<String, InetSocketAddress> endpoints = Map.of("A", a.endpoint(), "B", b.endpoint());
      LocalNamespace onA = LocalNamespace.openWithId("default", work.resolve("A"), NO_VDISKS, List.of(), 0, ID);
      ClusterNamespace seenFromB = new ClusterNamespace("default", ID, "B",
          () -> Optional.ofNullable(owner.get("default")), n -> Optional.ofNullable(endpoints.get(n)),
          RemoteNamespace.Config.defaults());
      try {
        // no owner yet: retry later
        NfsException none = assertThrows(NfsException.class, () -> seenFromB.getattr(seenFromB.rootId()));
        assertEquals(Status.JUKEBOX, none.status());

        // A serves it: B's calls go there, and what they make is on A
        a.served().put("default", onA);
        owner.put("default", "A");
        long dir = seenFromB.mkdir(seenFromB.rootId(), "vm1", 0, 0, SetAttr.NONE);
        long file = seenFromB.create(dir, "vm1.vmx", 0, 0, SetAttr.NONE, false);
        byte[] data = new byte[10_000];
        new Random(1).nextBytes(data);
        seenFromB.write(file, 0, ByteBuffer.wrap(data), Durability.DURABLE);
        assertEquals(file, onA.lookup(onA.lookup(onA.rootId(), "vm1"), "vm1.vmx"), "made through B, found on A");
        assertArrayEquals(data, read(onA, file, data.length));
        long verifierWhileForwarded = seenFromB.writeEpoch();

        // A lets go (a takeover under way): B's calls get JUKEBOX, nothing is done anywhere
        a.served().remove("default");
        owner.remove("default");
        assertEquals(Status.JUKEBOX, assertThrows(NfsException.class,
            () -> seenFromB.create(dir, "lost.txt", 0, 0, SetAttr.NONE, false)).status());
        assertThrows(NfsException.class, () -> onA.lookup(dir, "lost.txt"), "not made on A");

        // B wins it and serves A's namespace itself (as a restore from the backend would give it)
        onA.close();
        LocalNamespace onB = LocalNamespace.openWithId("default", work.resolve("A"), NO_VDISKS, List.of(), 0, 999);
        assertEquals(ID, onB.namespaceId(), "an existing namespace keeps its id");
        b.served().put("default", onB);
        seenFromB.setLocal(onB);
        owner.put("default", "B");
        assertArrayEquals(data, read(seenFromB, file, data.length), "the same file under the same id");
        assertNotEquals(verifierWhileForwarded, seenFromB.writeEpoch(), "the write verifier changes with the owner");

        // a node serving another namespace under the vPool's name is refused, retryably
        LocalNamespace other = LocalNamespace.openWithId("default", work.resolve("other"), NO_VDISKS, List.of(), 0,
            ID + 1);
        a.served().put("default", other);
        seenFromB.setLocal(null);
        owner.put("default", "A");
        NfsException wrong = assertThrows(NfsException.class, () -> seenFromB.getattr(seenFromB.rootId()));
        assertEquals(Status.JUKEBOX, wrong.status());
        assertTrue(wrong instanceof NamespaceUnavailableException, wrong.toString());
        other.close();
        onB.close();
        // and a local namespace with another id is never installed
        LocalNamespace third = LocalNamespace.openWithId("default", work.resolve("third"), NO_VDISKS, List.of(), 0,
            ID + 2);
        assertThrows(IllegalStateException.class, () -> seenFromB.setLocal(third));
        third.close();
      } finally {
        seenFromB.close();
      }
    }
  }

  private static byte[] read(Namespace ns, long file, int length) throws NfsException {
    ByteBuffer dst = ByteBuffer.allocate(length);
    Namespace.Read r = ns.read(file, 0, dst);
    assertEquals(length, r.count());
    return dst.array();
  }
}
