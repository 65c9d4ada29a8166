package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.ObjectStore;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.SharedObjects;
import org.vsa.volume.TestEngines;

/**
 * The namespace written through to the backend: a restore on a fresh directory (the owner never
 * closed, as after a crash) gives exactly what was acknowledged; a stale owner changes nothing a
 * newer epoch restores and stops acknowledging once its lease is gone; a corrupt object fails the
 * restore naming it; concurrent changes share segments.
 */
class NamespaceMirrorTest {
  @TempDir
  Path dir;

  static final List<String> PATTERNS = NfsConfig.DEFAULT_VDISK_PATTERNS;

  static byte[] bytes(long seed, int len) {
    return TestEngines.pattern(seed, len);
  }

  static void write(Namespace ns, long id, long offset, byte[] b, Durability d) throws NfsException {
    ns.write(id, offset, ByteBuffer.wrap(b), d);
  }

  static byte[] read(Namespace ns, long id) throws NfsException {
    long size = ns.getattr(id).size();
    ByteBuffer b = ByteBuffer.allocate((int) size);
    while (b.hasRemaining()) {
      Namespace.Read r = ns.read(id, b.position(), b);
      if (r.count() == 0) {
        break;
      }
    }
    return b.array();
  }

  /** path -> what a client sees of it (type, mode, size, link target, bytes). */
  static TreeMap<String, String> tree(Namespace ns) throws NfsException {
    TreeMap<String, String> out = new TreeMap<>();
    walk(ns, ns.rootId(), "", out);
    return out;
  }

  private static void walk(Namespace ns, long dirId, String path, Map<String, String> out) throws NfsException {
    for (Namespace.Entry e : ns.readdir(dirId, 0, 100_000)) {
      if (e.name().equals(".") || e.name().equals("..")) {
        continue;
      }
      String p = path + "/" + e.name();
      Attr a = ns.getattr(e.fileId());
      String d = "type " + a.type() + " mode " + Integer.toOctalString(a.mode()) + " id " + a.fileId();
      if (a.type() == Attr.DIR) {
        out.put(p, d);
        walk(ns, e.fileId(), p, out);
      } else if (a.type() == Attr.LNK) {
        out.put(p, d + " -> " + ns.readlink(e.fileId()));
      } else {
        byte[] b = read(ns, e.fileId());
        out.put(p, d + " size " + a.size() + " vdisk " + a.vdisk() + " sha " + HexFormat.of().formatHex(sha(b)));
      }
    }
  }

  static byte[] sha(byte[] b) {
    try {
      return java.security.MessageDigest.getInstance("SHA-256").digest(b);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }

  static List<String> objects(ObjectStore store, String prefix) throws IOException {
    return store.list("nsm-default", prefix);
  }

  @Test
  void aRestoreOfANeverClosedNamespaceHoldsEveryAcknowledgedChange() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        ObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"))) {
      EngineCatalog catalog = new EngineCatalog(engine);
      // compacts often (every few KiB of journal): bases are rewritten along the way
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), catalog, PATTERNS, 64 << 10, 4 << 10,
          mirror);
      long root = ns.rootId();
      long vm = ns.mkdir(root, "vm", 0, 0, new SetAttr(0750, null, null, null, SetAttr.DONT_CHANGE,
          SetAttr.DONT_CHANGE));
      long durable = ns.create(vm, "durable.txt", 0, 0, SetAttr.NONE, true);
      write(ns, durable, 0, bytes(1, 10_000), Durability.DURABLE);
      write(ns, durable, 3_000, bytes(2, 500), Durability.DURABLE); // a range inside
      long committed = ns.create(vm, "committed.txt", 0, 0, SetAttr.NONE, true);
      write(ns, committed, 0, bytes(3, 5_000), Durability.BUFFERED);
      write(ns, committed, 5_000, bytes(4, 7_000), Durability.BUFFERED);
      ns.commit(committed);
      long truncated = ns.create(root, "truncated.txt", 0, 0, SetAttr.NONE, true);
      write(ns, truncated, 0, bytes(5, 20_000), Durability.DURABLE);
      ns.setattr(truncated, new SetAttr(null, null, null, 7_777L, SetAttr.DONT_CHANGE, SetAttr.DONT_CHANGE));
      long grown = ns.create(root, "grown.txt", 0, 0, SetAttr.NONE, true);
      write(ns, grown, 0, bytes(6, 100), Durability.DURABLE);
      ns.setattr(grown, new SetAttr(0600, null, null, 50_000L, SetAttr.DONT_CHANGE, SetAttr.DONT_CHANGE));
      long appended = ns.create(root, "appended.log", 0, 0, SetAttr.NONE, true);
      for (int i = 0; i < 40; i++) { // past the 16-entry chain: rewritten whole along the way
        write(ns, appended, i * 1000L, bytes(100 + i, 1000), Durability.DURABLE);
      }
      long moved = ns.create(root, "moved.txt", 0, 0, SetAttr.NONE, true);
      write(ns, moved, 0, bytes(7, 3000), Durability.DURABLE);
      ns.rename(root, "moved.txt", vm, "renamed.txt");
      long gone = ns.create(root, "gone.txt", 0, 0, SetAttr.NONE, true);
      write(ns, gone, 0, bytes(8, 3000), Durability.DURABLE);
      ns.remove(root, "gone.txt");
      ns.mkdir(root, "empty", 0, 0, SetAttr.NONE);
      ns.mkdir(root, "removed-dir", 0, 0, SetAttr.NONE);
      ns.rmdir(root, "removed-dir");
      ns.symlink(vm, "link", "../truncated.txt", 0, 0, SetAttr.NONE);
      for (int i = 0; i < 30; i++) {
        long f = ns.create(root, "many-" + i, 0, 0, SetAttr.NONE, true);
        write(ns, f, 0, bytes(200 + i, 100 + i), Durability.DURABLE);
      }
      // a small file that grows past the 64 KiB threshold into a vDisk
      long big = ns.create(root, "big.bin", 0, 0, SetAttr.NONE, true);
      write(ns, big, 0, bytes(9, 40_000), Durability.DURABLE);
      write(ns, big, 40_000, bytes(10, 60_000), Durability.DURABLE);
      assertTrue(ns.getattr(big).vdisk());
      long disk = ns.create(root, "disk.raw", 0, 0, SetAttr.NONE, true);
      write(ns, disk, 0, bytes(11, 8192), Durability.DURABLE);
      // never committed: may be missing after the restore
      long unstable = ns.create(root, "unstable.txt", 0, 0, SetAttr.NONE, true);
      write(ns, unstable, 0, bytes(12, 4096), Durability.BUFFERED);

      TreeMap<String, String> expected = tree(ns);
      assertTrue(objects(store, "b.").size() >= 1);
      mirror.awaitCollected(); // what the collection of older bases left must be enough
      // no close: as after a crash; nothing local is copied
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace restored = LocalNamespace.open("default", dir.resolve("b"), catalog, PATTERNS, 64 << 10)) {
        assertEquals(ns.namespaceId(), restored.namespaceId());
        TreeMap<String, String> got = tree(restored);
        String u = "/unstable.txt";
        assertTrue(got.containsKey(u), "the created file is there, its uncommitted data may not be");
        expected.remove(u);
        got.remove(u);
        assertEquals(expected, got);
        assertArrayEquals(bytes(3, 5_000), java.util.Arrays.copyOf(read(restored, committed), 5_000));
        assertEquals("../truncated.txt", restored.readlink(restored.lookup(vm, "link")));
        assertEquals(7_777, restored.getattr(truncated).size());
        assertArrayEquals(java.util.Arrays.copyOf(bytes(5, 20_000), 7_777), read(restored, truncated));
      }
      ns.close();
    }
  }

  @Test
  void aStaleOwnerChangesNothingTheNewEpochRestoresAndStopsAcknowledgingWithoutItsLease() throws Exception {
    try (ObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"))) {
      AtomicBoolean lease1 = new AtomicBoolean(true);
      LocalNamespace one = LocalNamespace.open("default", dir.resolve("one"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 1, lease1::get));
      assertEquals(List.of("b.0000000000000001.0000000000000000"), objects(store, "b."), "open puts a base");
      long f = one.create(one.rootId(), "shared.txt", 0, 0, SetAttr.NONE, true);
      write(one, f, 0, bytes(1, 5000), Durability.DURABLE);

      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("two"));
      LocalNamespace two = LocalNamespace.open("default", dir.resolve("two"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 2, () -> true));
      assertTrue(objects(store, "b.").contains("b.0000000000000002.0000000000000000"), "open puts a base");
      two.create(two.rootId(), "by-two", 0, 0, SetAttr.NONE, true);
      write(two, f, 0, bytes(2, 300), Durability.DURABLE);
      TreeMap<String, String> epoch2 = tree(two);

      // the old owner, paused past its lease and unaware of it, goes on: what it puts is its epoch's
      one.create(one.rootId(), "stale", 0, 0, SetAttr.NONE, true);
      write(one, f, 0, bytes(3, 9000), Durability.DURABLE);
      one.remove(one.rootId(), "shared.txt");
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("three"));
      try (LocalNamespace three = LocalNamespace.open("default", dir.resolve("three"), JournalTest.NONE, List.of())) {
        assertEquals(epoch2, tree(three));
      }

      // once its lease says so, it acknowledges nothing
      lease1.set(false);
      NfsException e = assertThrows(NfsException.class, () -> one.create(one.rootId(), "late", 0, 0, SetAttr.NONE,
          true));
      assertTrue(e instanceof NamespaceUnavailableException, e.toString());
      assertEquals(Status.JUKEBOX, e.status());
      long g = one.lookup(one.rootId(), "stale");
      NfsException w = assertThrows(NfsException.class, () -> write(one, g, 0, bytes(4, 100), Durability.DURABLE));
      assertEquals(Status.JUKEBOX, w.status());
      assertEquals(Status.JUKEBOX, assertThrows(NfsException.class, () -> one.commit(g)).status());

      // and it cannot start again under its old epoch
      IOException refused = assertThrows(IOException.class, () -> LocalNamespace.open("default", dir.resolve("four"),
          JournalTest.NONE, List.of(), 0, new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true)));
      assertTrue(refused.getMessage().contains("epoch 2"), refused.getMessage());

      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("five"));
      try (LocalNamespace five = LocalNamespace.open("default", dir.resolve("five"), JournalTest.NONE, List.of())) {
        assertEquals(epoch2, tree(five));
      }
      two.close();
      one.close();
    }
  }

  @Test
  void aCorruptObjectFailsTheRestoreNamingIt() throws Exception {
    try (ObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"))) {
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true));
      long f = ns.create(ns.rootId(), "f", 0, 0, SetAttr.NONE, true);
      write(ns, f, 0, bytes(1, 4000), Durability.DURABLE); // carried inline in a segment
      long big = ns.create(ns.rootId(), "big", 0, 0, SetAttr.NONE, true);
      write(ns, big, 0, bytes(2, 300_000), Durability.DURABLE); // a data object
      ns.mkdir(ns.rootId(), "d", 0, 0, SetAttr.NONE);
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("ok")); // intact: fine

      List<String> segments = objects(store, "s.");
      assertTrue(segments.size() >= 3, segments.toString());
      int at = NamespaceMirror.SEGMENT_HEADER_BYTES + NamespaceMirror.RECORD_HEADER_BYTES + 4; // a payload byte
      for (String segment : segments) {
        flipByte(store, segment, at);
        IOException e = assertThrows(IOException.class, () -> NamespaceMirror.restore(SharedObjects.over(store), "default",
            dir.resolve("bad")));
        assertTrue(e.getMessage().contains(segment) && e.getMessage().contains("CRC"), e.getMessage());
        flipByte(store, segment, at);
      }
      String segment = segments.get(1);
      flipByte(store, segment, 20); // in the header
      IOException h = assertThrows(IOException.class, () -> NamespaceMirror.restore(SharedObjects.over(store), "default",
          dir.resolve("bad")));
      assertTrue(h.getMessage().contains(segment), h.getMessage());
      flipByte(store, segment, 20);

      List<String> data = objects(store, "d.");
      assertEquals(1, data.size(), data.toString());
      flipByte(store, data.get(0), NamespaceMirror.DATA_HEADER_BYTES + NamespaceMirror.RECORD_HEADER_BYTES + 20);
      IOException d = assertThrows(IOException.class, () -> NamespaceMirror.restore(SharedObjects.over(store), "default",
          dir.resolve("bad2")));
      assertTrue(d.getMessage().contains(data.get(0)), d.getMessage());
      ns.close();
    }
  }

  /**
   * A missing segment ends the log: the restore keeps what precedes it and ignores what follows
   * (never acknowledged: a change waits for every segment before its own), even a corrupt one.
   */
  @Test
  void aMissingSegmentEndsTheLog() throws Exception {
    try (ObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"))) {
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true));
      ns.create(ns.rootId(), "first", 0, 0, SetAttr.NONE, true);
      TreeMap<String, String> afterFirst = tree(ns);
      ns.create(ns.rootId(), "second", 0, 0, SetAttr.NONE, true);
      ns.create(ns.rootId(), "third", 0, 0, SetAttr.NONE, true);
      List<String> segments = objects(store, "s.");
      assertEquals(3, segments.size(), segments.toString());
      store.delete("nsm-default", segments.get(1));
      flipByte(store, segments.get(2), NamespaceMirror.SEGMENT_HEADER_BYTES + NamespaceMirror.RECORD_HEADER_BYTES + 4);
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertEquals(afterFirst, tree(b));
      }
      ns.close();
    }
  }

  private void flipByte(ObjectStore store, String name, int at) throws IOException {
    Path p;
    try (Stream<Path> s = Files.walk(dir.resolve("backend"))) {
      p = s.filter(x -> x.getFileName().toString().equals(name)).findFirst().orElseThrow();
    }
    byte[] b = Files.readAllBytes(p);
    assertTrue(b.length > at, name + " is " + b.length + " bytes");
    b[at] ^= 0x5a;
    Files.write(p, b);
    assertArrayEquals(b, store.get("nsm-default", name));
  }

  /**
   * Puts of log segments fail while {@code failSegments} is set, every put while {@code failAll}
   * is; a segment put waits for {@code gate} while it is set; everything else passes through.
   */
  static final class FlakyStore implements ObjectStore {
    final ObjectStore inner;
    volatile boolean failSegments;
    volatile boolean failAll;
    volatile CountDownLatch gate;
    final java.util.concurrent.atomic.AtomicInteger failedPuts = new java.util.concurrent.atomic.AtomicInteger();
    /** The largest object put so far (bytes). */
    final java.util.concurrent.atomic.AtomicInteger largestPut = new java.util.concurrent.atomic.AtomicInteger();

    FlakyStore(ObjectStore inner) {
      this.inner = inner;
    }

    @Override
    public void createNamespace(String namespace) throws IOException {
      inner.createNamespace(namespace);
    }

    @Override
    public void deleteNamespace(String namespace) throws IOException {
      inner.deleteNamespace(namespace);
    }

    @Override
    public boolean namespaceExists(String namespace) throws IOException {
      return inner.namespaceExists(namespace);
    }

    @Override
    public List<String> listNamespaces() throws IOException {
      return inner.listNamespaces();
    }

    @Override
    public void put(String namespace, String name, Path source) throws IOException {
      inner.put(namespace, name, source);
    }

    @Override
    public void put(String namespace, String name, byte[] data) throws IOException {
      if (failAll || (failSegments && name.startsWith("s."))) {
        failedPuts.incrementAndGet();
        throw new IOException("injected: the backend refuses " + name);
      }
      CountDownLatch g = gate;
      if (g != null && name.startsWith("s.")) {
        try {
          if (!g.await(60, TimeUnit.SECONDS)) {
            throw new IOException("test gate not opened in 60 s");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
      }
      largestPut.accumulateAndGet(data.length, Math::max);
      inner.put(namespace, name, data);
    }

    @Override
    public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
      inner.read(namespace, name, offset, dst);
    }

    @Override
    public byte[] get(String namespace, String name) throws IOException {
      return inner.get(namespace, name);
    }

    @Override
    public long size(String namespace, String name) throws IOException {
      return inner.size(namespace, name);
    }

    @Override
    public boolean exists(String namespace, String name) throws IOException {
      return inner.exists(namespace, name);
    }

    @Override
    public void delete(String namespace, String name) throws IOException {
      inner.delete(namespace, name);
    }

    @Override
    public List<String> list(String namespace, String prefix) throws IOException {
      return inner.list(namespace, prefix);
    }

    @Override
    public void close() throws IOException {
      inner.close();
    }
  }

  /**
   * The backend refuses log segments for a while: the change taken then answers JUKEBOX (outcome
   * unknown) and stays queued, later ones are refused before they are applied; a compaction's base
   * takes the failed segment over (the bytes of the small write it carried included), and once the
   * backend is back a restore equals the owner's state.
   */
  @Test
  void failedUploadsAreRetriedOrTakenOverByTheNextBase() throws Exception {
    try (FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0, 2 << 10,
          mirror);
      long f = ns.create(ns.rootId(), "f", 0, 0, SetAttr.NONE, true);
      store.failSegments = true;
      NfsException e = assertThrows(NfsException.class, () -> write(ns, f, 0, bytes(1, 4000), Durability.DURABLE));
      assertEquals(Status.JUKEBOX, e.status());
      assertTrue(e.getMessage().contains("injected"), e.getMessage());
      assertTrue(mirror.degraded());
      NfsException refused = assertThrows(NfsException.class, () -> ns.create(ns.rootId(), "refused", 0, 0,
          SetAttr.NONE, true));
      assertEquals(Status.JUKEBOX, refused.status());
      assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> ns.lookup(ns.rootId(), "refused")).status());
      String baseBefore = objects(store, "b.").get(objects(store, "b.").size() - 1);
      ns.compactNow(); // the next put is a base holding everything, the failed segment's write included
      awaitTaking(mirror);
      List<String> bases = objects(store, "b.");
      assertTrue(bases.get(bases.size() - 1).compareTo(baseBefore) > 0, bases + " after " + baseBefore);
      store.failSegments = false;
      write(ns, f, 4000, bytes(2, 1000), Durability.DURABLE);
      ns.mkdir(ns.rootId(), "after", 0, 0, SetAttr.NONE);
      mirror.awaitCollected();
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertEquals(tree(ns), tree(b));
        byte[] want = new byte[5000];
        System.arraycopy(bytes(1, 4000), 0, want, 0, 4000);
        System.arraycopy(bytes(2, 1000), 0, want, 4000, 1000);
        assertArrayEquals(want, read(b, f));
      }
      ns.close();
    }
  }

  /** Waits (at most 30 s) until the mirror takes changes again (its failed put landed). */
  static void awaitTaking(NamespaceMirror mirror) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (mirror.degraded()) {
      assertTrue(System.nanoTime() < deadline, "the mirror still refuses changes after 30 s");
      Thread.sleep(20);
    }
  }

  /**
   * A backend that refuses every put: the change taken when it failed answers JUKEBOX (not IO) and
   * stays queued; thousands of later changes (creates, DURABLE writes, SETATTRs, MKDIRs) are each
   * refused before they are applied, and the backlog stays one change of a few hundred bytes; the
   * retrier keeps trying; once the backend heals, the queued change lands, changes flow again, and a
   * restore holds every acknowledged change (and the one taken before the failure, never
   * acknowledged, which may survive), none of the refused ones.
   */
  @Test
  void aDeadBackendKeepsTheBacklogBoundedAndChangesFlowOnceItHeals() throws Exception {
    try (FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0, mirror);
      long root = ns.rootId();
      java.util.Set<String> names = new java.util.TreeSet<>(List.of("acked-0"));
      long f = ns.create(root, "acked-0", 0, 0, SetAttr.NONE, true);
      write(ns, f, 0, bytes(1, 3000), Durability.DURABLE);
      assertEquals(0, mirror.backlogChanges());

      store.failAll = true;
      NfsException first = assertThrows(NfsException.class, () -> ns.create(root, "taken", 0, 0, SetAttr.NONE, true));
      assertEquals(Status.JUKEBOX, first.status(), first.toString());
      assertTrue(first.getMessage().contains("injected"), first.getMessage());
      names.add("taken"); // applied here and queued: it lands once the backend heals
      assertEquals(1, mirror.backlogChanges());
      long backlogBytes = mirror.backlogBytes();
      assertTrue(backlogBytes > 0 && backlogBytes < 4096, backlogBytes + " bytes");
      for (int i = 0; i < 4000; i++) {
        int k = i;
        NfsException e = assertThrows(NfsException.class, () -> {
          switch (k % 4) {
            case 0 -> ns.create(root, "refused-" + k, 0, 0, SetAttr.NONE, true);
            case 1 -> write(ns, f, 3000, bytes(k, 100_000), Durability.DURABLE);
            case 2 -> ns.setattr(f, new SetAttr(0600, null, null, null, SetAttr.DONT_CHANGE, SetAttr.DONT_CHANGE));
            default -> ns.mkdir(root, "refused-dir-" + k, 0, 0, SetAttr.NONE);
          }
        });
        assertEquals(Status.JUKEBOX, e.status(), e.toString());
        assertEquals(1, mirror.backlogChanges());
        assertEquals(backlogBytes, mirror.backlogBytes());
      }
      assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> ns.lookup(root, "refused-0")).status());
      assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> ns.lookup(root, "refused-dir-3")).status());
      assertEquals(3000, ns.getattr(f).size());
      assertEquals(0644, ns.getattr(f).mode());
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (store.failedPuts.get() < 3) {
        assertTrue(System.nanoTime() < deadline, "the failed segment is put again in the background");
        Thread.sleep(20);
      }
      assertTrue(mirror.degraded());

      store.failAll = false;
      awaitTaking(mirror);
      long g = ns.create(root, "acked-1", 0, 0, SetAttr.NONE, true);
      names.add("acked-1");
      write(ns, g, 0, bytes(2, 300_000), Durability.DURABLE); // data objects
      ns.mkdir(root, "acked-dir", 0, 0, SetAttr.NONE);
      names.add("acked-dir");
      assertEquals(0, mirror.backlogChanges());
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertEquals(tree(ns), tree(b));
        java.util.Set<String> got = new java.util.TreeSet<>();
        for (Namespace.Entry x : b.readdir(b.rootId(), 0, 1000)) {
          got.add(x.name());
        }
        got.remove(".");
        got.remove("..");
        assertEquals(names, got);
        assertArrayEquals(bytes(1, 3000), read(b, f));
        assertArrayEquals(bytes(2, 300_000), read(b, g));
      }
      ns.close();
    }
  }

  /**
   * A backend that hangs: changes queue behind the put under way up to the backlog's bounds (in
   * changes, then in bytes), past them a change is refused at once with JUKEBOX and not applied;
   * once the put returns, every change taken is acknowledged and a restore holds exactly those.
   */
  @Test
  void aSlowBackendsBacklogIsBoundedInChangesAndBytes() throws Exception {
    try (FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0, mirror);
      long root = ns.rootId();
      long[] files = new long[8];
      for (int i = 0; i < files.length; i++) {
        files[i] = ns.create(root, "file-" + i, 0, 0, SetAttr.NONE, true);
      }
      ExecutorService pool = Executors.newCachedThreadPool();
      try {
        // in changes: at most 4 waiting (the one being put included)
        mirror.limits(64 << 20, 4);
        store.gate = new CountDownLatch(1);
        List<Future<Long>> taken = new ArrayList<>();
        int refused = 0;
        for (int i = 0; i < 12; i++) {
          int k = i;
          int before = mirror.backlogChanges();
          Future<Long> r = pool.submit(() -> ns.create(root, "c-" + k, 0, 0, SetAttr.NONE, true));
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (!r.isDone() && mirror.backlogChanges() == before) {
            assertTrue(System.nanoTime() < deadline, "create " + k + " neither queued nor refused");
            Thread.sleep(5);
          }
          if (r.isDone()) {
            java.util.concurrent.ExecutionException x = assertThrows(java.util.concurrent.ExecutionException.class,
                r::get);
            assertEquals(Status.JUKEBOX, ((NfsException) x.getCause()).status(), x.getCause().toString());
            assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> ns.lookup(root, "c-" + k)).status());
            refused++;
          } else {
            taken.add(r);
          }
          assertTrue(mirror.backlogChanges() <= 4, mirror.backlogChanges() + " changes wait");
        }
        assertEquals(4, taken.size());
        assertEquals(8, refused);
        store.gate.countDown();
        for (Future<Long> r : taken) {
          r.get(60, TimeUnit.SECONDS);
        }
        assertEquals(0, mirror.backlogChanges());

        // in bytes: DURABLE writes of 100 000 bytes (carried inline), at most 250 000 bytes waiting
        mirror.limits(250_000, 1000);
        store.gate = new CountDownLatch(1);
        List<Future<?>> written = new ArrayList<>();
        refused = 0;
        for (int i = 0; i < files.length; i++) {
          int k = i;
          long before = mirror.backlogBytes();
          Future<?> r = pool.submit(() -> {
            write(ns, files[k], 0, bytes(10 + k, 100_000), Durability.DURABLE);
            return null;
          });
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (!r.isDone() && mirror.backlogBytes() == before) {
            assertTrue(System.nanoTime() < deadline, "write " + k + " neither queued nor refused");
            Thread.sleep(5);
          }
          if (r.isDone()) {
            java.util.concurrent.ExecutionException x = assertThrows(java.util.concurrent.ExecutionException.class,
                r::get);
            assertEquals(Status.JUKEBOX, ((NfsException) x.getCause()).status(), x.getCause().toString());
            assertEquals(0, ns.getattr(files[k]).size(), "a refused write is not applied");
            refused++;
          } else {
            written.add(r);
          }
          assertTrue(mirror.backlogBytes() < 250_000 + 110_000, mirror.backlogBytes() + " bytes wait");
        }
        assertEquals(3, written.size());
        assertEquals(5, refused);
        store.gate.countDown();
        for (Future<?> r : written) {
          r.get(60, TimeUnit.SECONDS);
        }
      } finally {
        store.gate = null;
        pool.shutdownNow();
      }
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertEquals(tree(ns), tree(b));
        for (int k = 0; k < 4; k++) {
          b.lookup(b.rootId(), "c-" + k);
        }
        for (int k = 0; k < files.length; k++) {
          assertArrayEquals(k < 3 ? bytes(10 + k, 100_000) : new byte[0], read(b, files[k]), "file-" + k);
        }
      }
      ns.close();
    }
  }

  /**
   * A failing backend that heals while a change waits: the change is acknowledged once the retrier
   * puts its segment (same name, same bytes), never answered IO; a restore on a second namespace
   * holds it. The same for a DURABLE write of a small file.
   */
  @Test
  void aChangeWaitingOnAFailedPutIsAcknowledgedOnceTheBackendHeals() throws Exception {
    try (FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0, mirror);
      long root = ns.rootId();
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        store.failSegments = true;
        Future<?> heal = pool.submit(() -> {
          while (store.failedPuts.get() < 2) { // the put and one retry failed
            Thread.sleep(5);
          }
          store.failSegments = false;
          return null;
        });
        long f = ns.create(root, "created-while-failing", 0, 0, SetAttr.NONE, true);
        heal.get(30, TimeUnit.SECONDS);
        assertFalse(mirror.degraded());
        int failed = store.failedPuts.get();
        store.failSegments = true;
        heal = pool.submit(() -> {
          while (store.failedPuts.get() < failed + 2) {
            Thread.sleep(5);
          }
          store.failSegments = false;
          return null;
        });
        write(ns, f, 0, bytes(7, 5000), Durability.DURABLE);
        heal.get(30, TimeUnit.SECONDS);
        NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
        try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
          assertEquals(tree(ns), tree(b));
          assertArrayEquals(bytes(7, 5000), read(b, b.lookup(b.rootId(), "created-while-failing")));
        }
      } finally {
        pool.shutdownNow();
      }
      ns.close();
    }
  }

  /**
   * A vDisk file while a put fails: a write inside the file goes on (its bytes are the vDisk's, not
   * the mirror's), a write that grows it is refused before anything is written (its new size would
   * be a change) and the file keeps its size; once the backend heals, it grows, and a restore
   * holds the new size.
   */
  @Test
  void aVdiskFilesWritesGoOnWhileAPutFailsButDoNotGrowIt() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      EngineCatalog catalog = new EngineCatalog(engine);
      NamespaceMirror mirror = new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true);
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), catalog, PATTERNS, 0, mirror);
      long root = ns.rootId();
      long disk = ns.create(root, "disk.raw", 0, 0, SetAttr.NONE, true);
      write(ns, disk, 0, bytes(1, 8192), Durability.DURABLE);
      assertTrue(ns.getattr(disk).vdisk());

      store.failAll = true;
      assertEquals(Status.JUKEBOX, assertThrows(NfsException.class, () -> ns.mkdir(root, "taken", 0, 0,
          SetAttr.NONE)).status());
      assertTrue(mirror.degraded());
      write(ns, disk, 4096, bytes(2, 4096), Durability.DURABLE); // inside: no change to the namespace
      NfsException grow = assertThrows(NfsException.class, () -> write(ns, disk, 8192, bytes(3, 4096),
          Durability.DURABLE));
      assertEquals(Status.JUKEBOX, grow.status(), grow.toString());
      NfsException buffered = assertThrows(NfsException.class, () -> write(ns, disk, 8192, bytes(3, 4096),
          Durability.BUFFERED));
      assertEquals(Status.JUKEBOX, buffered.status(), buffered.toString());
      assertEquals(8192, ns.getattr(disk).size());
      assertEquals(1, mirror.backlogChanges());

      store.failAll = false;
      awaitTaking(mirror);
      write(ns, disk, 8192, bytes(3, 4096), Durability.DURABLE);
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), catalog, PATTERNS, 0)) {
        assertEquals(12_288, b.getattr(disk).size());
        byte[] want = new byte[12_288];
        System.arraycopy(bytes(1, 8192), 0, want, 0, 8192);
        System.arraycopy(bytes(2, 4096), 0, want, 4096, 4096);
        System.arraycopy(bytes(3, 4096), 0, want, 8192, 4096);
        assertArrayEquals(want, read(b, disk));
        b.lookup(root, "taken"); // taken before the failure, landed since
      }
      ns.close();
    }
  }

  /**
   * A small file of 10 MiB written DURABLE, then overwritten inside (its chain is as long as the
   * file: the whole file goes again): each upload reads and puts at most
   * {@link NamespaceMirror#DATA_CHUNK_BYTES} at once, never the whole file; restores (after the
   * writes, and after a takeover whose base copies the file) hold its bytes.
   */
  @Test
  void aLargeSmallFileIsUploadedAChunkAtATime() throws Exception {
    try (FlakyStore store = new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("backend")))) {
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true));
      int size = 10 << 20;
      byte[] want = bytes(1, size);
      long f = ns.create(ns.rootId(), "big.bin", 0, 0, SetAttr.NONE, true);
      write(ns, f, 0, want, Durability.DURABLE);
      byte[] inside = bytes(2, 300_000);
      write(ns, f, 5_000_000, inside, Durability.DURABLE); // chain bytes + range > size: the whole file again
      System.arraycopy(inside, 0, want, 5_000_000, inside.length);
      int limit = (4 << 20) + 256; // NamespaceMirror.DATA_CHUNK_BYTES and a header
      assertTrue(store.largestPut.get() <= limit, "largest put " + store.largestPut.get() + " > " + limit);
      assertTrue(objects(store, "d.").size() >= 6, objects(store, "d.").toString()); // 3 chunks, twice
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertArrayEquals(want, read(b, f));
      }
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("c"));
      LocalNamespace c = LocalNamespace.open("default", dir.resolve("c"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 2, () -> true)); // its base copies the file, in chunks
      c.close();
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("d"));
      try (LocalNamespace d = LocalNamespace.open("default", dir.resolve("d"), JournalTest.NONE, List.of())) {
        assertArrayEquals(want, read(d, f));
      }
      ns.close();
    }
  }

  @Test
  void concurrentCreatesShareSegments() throws Exception {
    try (ObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"))) {
      LocalNamespace ns = LocalNamespace.open("default", dir.resolve("a"), JournalTest.NONE, List.of(), 0,
          new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true));
      int threads = 8;
      int each = 40;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int tt = t;
        done.add(pool.submit(() -> {
          go.await();
          for (int i = 0; i < each; i++) {
            ns.create(ns.rootId(), "t" + tt + "-" + i, 0, 0, SetAttr.NONE, true);
          }
          return null;
        }));
      }
      go.countDown();
      for (Future<?> f : done) {
        f.get(120, TimeUnit.SECONDS);
      }
      pool.shutdown();
      int creates = threads * each;
      int segments = objects(store, "s.").size();
      assertTrue(segments <= creates / 2, segments + " segments for " + creates + " creates");
      NamespaceMirror.restore(SharedObjects.over(store), "default", dir.resolve("b"));
      try (LocalNamespace b = LocalNamespace.open("default", dir.resolve("b"), JournalTest.NONE, List.of())) {
        assertEquals(tree(ns), tree(b));
        assertEquals(creates, tree(b).size());
      }
      ns.close();
    }
  }
}
