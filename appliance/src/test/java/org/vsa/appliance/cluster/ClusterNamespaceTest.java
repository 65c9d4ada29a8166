package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

  /** No vDisks: every file of the first test is a small one. */
  private static final VolumeCatalog NO_VDISKS = VolumeCatalog.NONE;

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
          RemoteNamespace.Config.defaults(), NO_VDISKS);
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

  /**
   * A namespace restored after its lease was lost (or let go, or the node stops) is never served:
   * the check and the install are atomic with {@link ClusterNamespaces#close}, and the restored
   * copy is closed; one restored under a lease that holds is served until closed.
   */
  @Test
  void aNamespaceRestoredAfterItsLeaseWasLostIsClosedNotServed() throws Exception {
    org.vsa.backends.ObjectStore backend = new org.vsa.backends.LocalDirectoryObjectStore(work.resolve("backend"));
    java.util.concurrent.atomic.AtomicBoolean held = new java.util.concurrent.atomic.AtomicBoolean(true);
    java.util.concurrent.atomic.AtomicBoolean loseDuringRestore = new java.util.concurrent.atomic.AtomicBoolean(true);
    List<Boolean> closed = new java.util.concurrent.CopyOnWriteArrayList<>();
    ClusterNamespaces host = new ClusterNamespaces(null, backend, (vpool, epoch, holdsLease, id) -> {
      Namespace ns = LocalNamespace.openWithId(vpool, work.resolve("ns-" + epoch), NO_VDISKS, List.of(), 0, id);
      if (loseDuringRestore.get()) {
        held.set(false); // the lease runs out (or a release comes) while the restore runs
      }
      int index = closed.size();
      closed.add(false);
      return (Namespace) java.lang.reflect.Proxy.newProxyInstance(Namespace.class.getClassLoader(),
          new Class<?>[] {Namespace.class}, (proxy, m, args) -> {
            if (m.getName().equals("close")) {
              closed.set(index, true);
            }
            try {
              return m.invoke(ns, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
              throw e.getCause();
            }
          });
    }, RemoteNamespace.Config.defaults(), NO_VDISKS);

    IOException lost = assertThrows(IOException.class, () -> host.open("default", 3, held::get));
    assertTrue(lost.getMessage().contains("lost"), lost.getMessage());
    assertFalse(host.serves("default"));
    assertTrue(host.lookup("default").isEmpty(), "not served to the other nodes");
    assertEquals(List.of(true), closed, "the copy restored under the lost lease is closed");

    loseDuringRestore.set(false);
    held.set(true);
    host.open("default", 4, held::get);
    assertTrue(host.serves("default"));
    assertTrue(host.lookup("default").isPresent());
    host.close("default");
    assertFalse(host.serves("default"));
    assertEquals(List.of(true, true), closed);
  }

  /** vDisks in memory, shared by the "nodes" of a test; {@code writes} and {@code reads} count the calls made through this view. */
  private static final class MemoryVdisks implements VolumeCatalog {
    final Map<String, MemoryVolume> vdisks;
    final java.util.concurrent.atomic.AtomicInteger writes = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger flushes = new java.util.concurrent.atomic.AtomicInteger();

    MemoryVdisks(Map<String, MemoryVolume> vdisks) {
      this.vdisks = vdisks;
    }

    @Override
    public Optional<BlockVolume> get(String name) {
      MemoryVolume v = vdisks.get(name);
      return v == null ? Optional.empty() : Optional.of(counted(v));
    }

    private BlockVolume counted(MemoryVolume v) {
      return new org.vsa.volume.ForwardingBlockVolume() {
        @Override
        protected BlockVolume delegate() {
          return v;
        }

        @Override
        public void read(long offset, ByteBuffer dst) throws IOException {
          reads.incrementAndGet();
          v.read(offset, dst);
        }

        @Override
        public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
          writes.incrementAndGet();
          v.write(offset, src, durability);
        }

        @Override
        public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
          write(offset, src, durability);
          return Pending.NONE;
        }

        @Override
        public void flush() {
          flushes.incrementAndGet();
        }
      };
    }

    @Override
    public List<Entry> list() {
      return vdisks.keySet().stream().map(n -> new Entry(n, "default")).toList();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) {
      MemoryVolume v = new MemoryVolume(name, sizeBytes);
      vdisks.put(name, v);
      return counted(v);
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) {
      MemoryVolume v = vdisks.get(name);
      v.resize(sizeBytes);
      return counted(v);
    }

    @Override
    public void delete(String name) {
      vdisks.remove(name);
    }

    /** vDisk -> why it is in use. */
    final Map<String, String> busy = new ConcurrentHashMap<>();
    /** Nobody can tell now (a takeover under way). */
    volatile boolean unknown;

    @Override
    public Optional<String> inUse(String name) throws IOException {
      if (unknown) {
        throw new org.vsa.volume.remote.PeerUnavailableException("vDisk " + name + " has no owner right now");
      }
      return Optional.ofNullable(busy.get(name));
    }
  }

  /**
   * A REMOVE of a vDisk's file, through a node that does not serve the namespace: refused (ACCES)
   * while the vDisk is in use, JUKEBOX while nobody can tell, and nothing is deleted; once it is
   * not in use the file and its vDisk are gone. A small file is removed without asking.
   */
  @Test
  void aRemoveOfAVdiskFileInUseIsRefusedAndDeletesNothing() throws Exception {
    Map<String, MemoryVolume> shared = new ConcurrentHashMap<>();
    MemoryVdisks onA = new MemoryVdisks(shared);
    try (Node a = Node.start("A")) {
      LocalNamespace ns = LocalNamespace.openWithId("default", work.resolve("A"), onA, List.of("*.raw"), 0, ID);
      a.served().put("default", ns);
      ClusterNamespace b = new ClusterNamespace("default", ID, "B", () -> Optional.of("A"),
          n -> Optional.of(a.endpoint()), RemoteNamespace.Config.defaults(), new MemoryVdisks(shared));
      try {
        long file = b.create(b.rootId(), "disk.raw", 0, 0, SetAttr.NONE, false);
        b.write(file, 0, ByteBuffer.wrap(new byte[1 << 20]), Durability.DURABLE);
        assertEquals(1, shared.size(), "disk.raw is a vDisk's file");
        String vdisk = shared.keySet().iterator().next();

        onA.busy.put(vdisk, "an initiator is logged in to it");
        NfsException inUse = assertThrows(NfsException.class, () -> b.remove(b.rootId(), "disk.raw"));
        assertEquals(Status.ACCES, inUse.status(), inUse.toString());
        onA.busy.clear();
        onA.unknown = true;
        assertEquals(Status.JUKEBOX, assertThrows(NfsException.class, () -> b.remove(b.rootId(), "disk.raw")).status());
        assertEquals(file, b.lookup(b.rootId(), "disk.raw"), "the file is still there");
        assertTrue(shared.containsKey(vdisk), "and its vDisk");

        onA.unknown = false;
        b.remove(b.rootId(), "disk.raw");
        assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> b.lookup(b.rootId(), "disk.raw")).status());
        assertFalse(shared.containsKey(vdisk), "its vDisk is deleted");

        onA.unknown = true; // a small file is no vDisk's: nobody is asked
        b.create(b.rootId(), "notes.txt", 0, 0, SetAttr.NONE, false);
        b.remove(b.rootId(), "notes.txt");
      } finally {
        b.close();
        ns.close();
      }
    }
  }

  /** A vDisk in memory (4 KiB blocks), thread-safe. */
  private static final class MemoryVolume implements BlockVolume {
    private final String name;
    private final java.util.UUID id = java.util.UUID.randomUUID();
    private byte[] bytes;

    MemoryVolume(String name, long size) {
      this.name = name;
      this.bytes = new byte[Math.toIntExact(size)];
    }

    synchronized void resize(long size) {
      bytes = java.util.Arrays.copyOf(bytes, Math.toIntExact(size));
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public java.util.UUID id() {
      return id;
    }

    @Override
    public synchronized long sizeBytes() {
      return bytes.length;
    }

    @Override
    public int blockSize() {
      return 4096;
    }

    private void check(long offset, int len) {
      if (offset % 4096 != 0 || len % 4096 != 0 || offset + len > bytes.length) {
        throw new IllegalArgumentException("unaligned or out of range: " + offset + "+" + len);
      }
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) {
      check(offset, dst.remaining());
      dst.put(bytes, (int) offset, dst.remaining());
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src, Durability durability) {
      check(offset, src.remaining());
      src.get(bytes, (int) offset, src.remaining());
    }

    @Override
    public void flush() {}

    @Override
    public synchronized void unmap(long offset, long length) {
      java.util.Arrays.fill(bytes, (int) offset, (int) (offset + length), (byte) 0);
    }
  }

  @Test
  void aVdiskFilesBytesGoStraightToItsVdiskNotThroughTheNamespacesOwner() throws Exception {
    Map<String, MemoryVolume> shared = new ConcurrentHashMap<>();
    MemoryVdisks onA = new MemoryVdisks(shared);
    MemoryVdisks fromB = new MemoryVdisks(shared);
    try (Node a = Node.start("A")) {
      LocalNamespace ns = LocalNamespace.openWithId("default", work.resolve("A"), onA, List.of("*.raw"), 0, ID);
      a.served().put("default", ns);
      ClusterNamespace b = new ClusterNamespace("default", ID, "B", () -> Optional.of("A"),
          n -> Optional.of(a.endpoint()), RemoteNamespace.Config.defaults(), fromB);
      try {
        long file = b.create(b.rootId(), "disk.raw", 0, 0, SetAttr.NONE, false);
        byte[] first = new byte[1 << 20];
        new Random(7).nextBytes(first);
        // it grows the file: done by the owner, which journals the size
        b.write(file, 0, ByteBuffer.wrap(first), Durability.BUFFERED);
        assertEquals(0, fromB.writes.get(), "a growing write goes to the namespace's owner");
        assertEquals(first.length, ns.getattr(file).size());

        // whole blocks inside the file: straight to the vDisk from B
        byte[] second = new byte[256 << 10];
        new Random(8).nextBytes(second);
        Namespace.Written w = b.write(file, 64 << 10, ByteBuffer.wrap(second), Durability.DURABLE);
        assertEquals(second.length, w.count());
        assertTrue(w.durable());
        assertEquals(1, fromB.writes.get(), "written directly");
        System.arraycopy(second, 0, first, 64 << 10, second.length);

        // not whole blocks: merged by the owner
        byte[] third = new byte[1000];
        new Random(9).nextBytes(third);
        b.write(file, 5000, ByteBuffer.wrap(third), Durability.BUFFERED);
        assertEquals(1, fromB.writes.get(), "an unaligned write goes to the owner");
        System.arraycopy(third, 0, first, 5000, third.length);

        // reads: direct from B (aligned or not, clipped at the end of the file), and the same on A
        int readsBefore = fromB.reads.get();
        assertArrayEquals(first, read(b, file, first.length));
        ByteBuffer tail = ByteBuffer.allocate(10_000);
        Namespace.Read r = b.read(file, first.length - 777, tail);
        assertEquals(777, r.count(), "clipped at the end of the file");
        assertArrayEquals(java.util.Arrays.copyOfRange(first, first.length - 777, first.length),
            java.util.Arrays.copyOf(tail.array(), 777));
        assertTrue(fromB.reads.get() >= readsBefore + 2, "read directly");
        assertArrayEquals(first, read(ns, file, first.length), "the owner sees every byte");

        // COMMIT flushes the vDisk here, then commits at the owner
        b.commit(file);
        assertEquals(1, fromB.flushes.get());
        // the owner learned of the direct write (its mtime), and a truncation through B is seen at once
        b.setattr(file, new SetAttr(null, null, null, 4096L, SetAttr.DONT_CHANGE, SetAttr.DONT_CHANGE));
        assertEquals(0, b.read(file, 8192, ByteBuffer.allocate(4096)).count(), "past the new end");
      } finally {
        b.close();
        ns.close();
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
