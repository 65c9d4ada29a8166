package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.nfs.remote.NamespaceServer;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.remote.Wire;

/**
 * A namespace forwarded to its owner over TCP on 127.0.0.1 ({@link RemoteNamespace} to a
 * {@link NamespaceServer}) behaves as the owner's local one: same ids, same bytes, same statuses;
 * hostile frames are refused without harming other clients; a dead owner gives a retryable error,
 * then the client reconnects.
 */
class RemoteNamespaceTest {
  private static final int MAGIC = 0x564e5346; // NsWire.MAGIC
  private static final RemoteNamespace.Config FAST =
      new RemoteNamespace.Config(Duration.ofMillis(500), Duration.ofSeconds(20), 16);

  @TempDir
  Path dir;

  private static NamespaceServer serve(String vpool, Namespace ns, int port) throws Exception {
    return NamespaceServer.start(NamespaceServer.Config.defaults().withPort(port),
        v -> v.equals(vpool) ? Optional.of(ns) : Optional.empty());
  }

  private static InetSocketAddress at(NamespaceServer s) {
    return new InetSocketAddress("127.0.0.1", s.localAddress().getPort());
  }

  // ---------------------------------------------------------------- model under several threads

  @Test
  void randomOperationsFromSeveralThreadsMatchTheModelAndTheOwnersNamespace() throws Exception {
    long seed = FuzzTest.seed();
    try (Engine engine = TestEngines.start(dir.resolve("engine"))) {
      LocalNamespace local = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
          NfsConfig.DEFAULT_VDISK_PATTERNS);
      try (NamespaceServer server = serve("default", local, 0);
          RemoteNamespace remote = RemoteNamespace.open(at(server), "default", FAST)) {
        assertEquals(local.namespaceId(), remote.namespaceId());
        assertEquals(local.rootId(), remote.rootId());
        int threads = 4;
        List<TreeMap<String, byte[]>> models = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
          List<Future<?>> done = new ArrayList<>();
          for (int t = 0; t < threads; t++) {
            TreeMap<String, byte[]> model = new TreeMap<>();
            models.add(model);
            String top = "/t" + t;
            remote.mkdir(remote.rootId(), top.substring(1), 0, 0, SetAttr.NONE);
            model.put(top, null);
            Random rnd = new Random(seed + t);
            done.add(pool.submit(() -> {
              for (int i = 0; i < 120; i++) {
                step(remote, model, top, rnd, seed);
              }
              return null;
            }));
          }
          for (Future<?> f : done) {
            f.get(5, TimeUnit.MINUTES);
          }
        } finally {
          pool.shutdownNow();
        }
        TreeMap<String, byte[]> all = new TreeMap<>();
        models.forEach(all::putAll);
        for (var e : all.entrySet()) {
          long id = resolve(remote, e.getKey());
          assertEquals(resolve(local, e.getKey()), id, "seed " + seed + ": file id of " + e.getKey());
          Attr ra = remote.getattr(id);
          Attr la = local.getattr(id);
          assertEquals(la.type(), ra.type());
          assertEquals(la.size(), ra.size());
          assertEquals(la.fileId(), ra.fileId());
          if (e.getValue() == null) {
            assertEquals(Attr.DIR, ra.type(), "seed " + seed + ": " + e.getKey());
            assertEquals(names(local, id), names(remote, id), "seed " + seed + ": listing of " + e.getKey());
            continue;
          }
          assertEquals(e.getValue().length, ra.size(), "seed " + seed + ": size of " + e.getKey());
          assertArrayEquals(e.getValue(), content(remote, id, e.getValue().length), "seed " + seed + ": " + e.getKey());
          assertArrayEquals(e.getValue(), content(local, id, e.getValue().length), "seed " + seed + ": " + e.getKey());
        }
        // nothing else in the tree than what the models hold
        List<String> top = names(remote, remote.rootId());
        assertEquals(List.of(".", "..", "t0", "t1", "t2", "t3"), top.stream().sorted().toList());
        long[] cap = remote.capacity();
        assertEquals(local.capacity()[0], cap[0], "capacity forwarded");
        assertTrue(cap[0] > 0);
      } finally {
        local.close();
      }
    }
  }

  /** One random operation inside {@code top}, applied to the remote namespace and to the model. */
  private static void step(Namespace ns, TreeMap<String, byte[]> model, String top, Random rnd, long seed)
      throws Exception {
    List<String> dirs = new ArrayList<>();
    List<String> files = new ArrayList<>();
    model.forEach((p, c) -> (c == null ? dirs : files).add(p));
    String parent = dirs.get(rnd.nextInt(dirs.size()));
    String name = "n" + rnd.nextInt(10) + (rnd.nextInt(6) == 0 ? ".raw" : ".txt");
    String path = parent + "/" + name;
    int op = rnd.nextInt(9);
    try {
      switch (op) {
        case 0 -> {
          String d = parent + "/" + name.replace('.', '_');
          if (!model.containsKey(d)) {
            ns.mkdir(resolve(ns, parent), name.replace('.', '_'), 0, 0, SetAttr.NONE);
            model.put(d, null);
          } else {
            NfsException e = assertThrows(NfsException.class,
                () -> ns.mkdir(resolve(ns, parent), name.replace('.', '_'), 0, 0, SetAttr.NONE));
            assertEquals(Status.EXIST, e.status(), "seed " + seed);
          }
        }
        case 1 -> {
          if (!model.containsKey(path)) {
            ns.create(resolve(ns, parent), name, 0, 0, SetAttr.NONE, true);
            model.put(path, new byte[0]);
          }
        }
        case 2, 3 -> {
          if (!files.isEmpty()) {
            String f = files.get(rnd.nextInt(files.size()));
            byte[] c = model.get(f);
            int off = rnd.nextInt(c.length + 5000);
            byte[] data = new byte[1 + rnd.nextInt(op == 3 ? 70_000 : 3000)];
            rnd.nextBytes(data);
            long id = resolve(ns, f);
            Namespace.Written w = ns.write(id, off, ByteBuffer.wrap(data),
                rnd.nextBoolean() ? Durability.DURABLE : Durability.BUFFERED);
            assertEquals(data.length, w.count());
            if (rnd.nextBoolean()) {
              ns.commit(id);
            }
            byte[] next = Arrays.copyOf(c, Math.max(c.length, off + data.length));
            System.arraycopy(data, 0, next, off, data.length);
            model.put(f, next);
          }
        }
        case 4 -> {
          if (!files.isEmpty()) {
            String f = files.get(rnd.nextInt(files.size()));
            int size = rnd.nextInt(model.get(f).length + 9000);
            Attr a = ns.setattr(resolve(ns, f), new SetAttr(null, null, null, (long) size, SetAttr.DONT_CHANGE,
                SetAttr.DONT_CHANGE));
            assertEquals(size, a.size());
            model.put(f, Arrays.copyOf(model.get(f), size));
          }
        }
        case 5 -> {
          if (!files.isEmpty()) {
            String f = files.get(rnd.nextInt(files.size()));
            ns.remove(resolve(ns, parentOf(f)), nameOf(f));
            model.remove(f);
            NfsException e = assertThrows(NfsException.class, () -> ns.lookup(resolve(ns, parentOf(f)), nameOf(f)));
            assertEquals(Status.NOENT, e.status(), "seed " + seed);
          }
        }
        case 6 -> {
          String d = dirs.get(rnd.nextInt(dirs.size()));
          if (!d.equals(top)) {
            if (model.subMap(d + "/", d + "0").isEmpty()) {
              ns.rmdir(resolve(ns, parentOf(d)), nameOf(d));
              model.remove(d);
            } else {
              NfsException e = assertThrows(NfsException.class, () -> ns.rmdir(resolve(ns, parentOf(d)), nameOf(d)));
              assertEquals(Status.NOTEMPTY, e.status(), "seed " + seed);
            }
          }
        }
        case 7 -> {
          String link = parent + "/l" + rnd.nextInt(4);
          if (!model.containsKey(link)) {
            long id = ns.symlink(resolve(ns, parent), nameOf(link), "target" + link, 0, 0, SetAttr.NONE);
            assertEquals("target" + link, ns.readlink(id));
            assertEquals(Attr.LNK, ns.getattr(id).type());
            ns.remove(resolve(ns, parent), nameOf(link));
          }
        }
        default -> {
          if (!files.isEmpty() && !model.containsKey(path)) {
            String f = files.get(rnd.nextInt(files.size()));
            ns.rename(resolve(ns, parentOf(f)), nameOf(f), resolve(ns, parent), name);
            model.put(path, model.remove(f));
          }
        }
      }
    } catch (NfsException e) {
      throw new AssertionError("seed " + seed + ": op " + op + " on " + path + ": " + e.status(), e);
    }
  }

  private static byte[] content(Namespace ns, long id, int length) throws NfsException {
    ByteBuffer b = ByteBuffer.allocate(length + 100);
    Namespace.Read r = ns.read(id, 0, b);
    assertEquals(length, r.count());
    return Arrays.copyOf(b.array(), r.count());
  }

  /** A whole listing, a few entries per READDIR so that cookies are used. */
  private static List<String> names(Namespace ns, long dirId) throws NfsException {
    List<String> out = new ArrayList<>();
    long cookie = 0;
    for (int i = 0; i < 10_000; i++) {
      List<Namespace.Entry> es = ns.readdir(dirId, cookie, 3);
      for (Namespace.Entry e : es) {
        out.add(e.name());
        cookie = e.cookie();
      }
      if (es.isEmpty() || !ns.hasMoreAfter(dirId, cookie)) {
        return out;
      }
    }
    throw new AssertionError("a listing that does not end");
  }

  private static long resolve(Namespace ns, String path) throws NfsException {
    long id = ns.rootId();
    for (String part : path.split("/")) {
      if (!part.isEmpty()) {
        id = ns.lookup(id, part);
      }
    }
    return id;
  }

  private static String parentOf(String p) {
    return p.substring(0, p.lastIndexOf('/'));
  }

  private static String nameOf(String p) {
    return p.substring(p.lastIndexOf('/') + 1);
  }

  // ---------------------------------------------------------------- statuses and durability

  /** Every nfsstat3 the owner's namespace throws reaches the caller unchanged, with its message. */
  @Test
  void everyStatusIsPassedThrough() throws Exception {
    AtomicReference<Integer> failWith = new AtomicReference<>();
    List<String> calls = new ArrayList<>();
    Namespace owner = (Namespace) Proxy.newProxyInstance(Namespace.class.getClassLoader(),
        new Class<?>[] {Namespace.class}, (p, m, args) -> {
          switch (m.getName()) {
            case "namespaceId": return 0x1234_5678_9abcL;
            case "rootId": return 7L;
            case "writeEpoch": return 0L;
            case "capacity": return new long[] {100, 50};
            default: break;
          }
          synchronized (calls) {
            calls.add(m.getName() + (args != null && args.length == 4 && args[3] instanceof Durability d ? ":" + d : ""));
          }
          Integer st = failWith.get();
          if (st != null) {
            throw new NfsException(st, "status " + st + " from the owner");
          }
          return switch (m.getName()) {
            case "write" -> new Namespace.Written(((ByteBuffer) args[2]).remaining(), args[3] == Durability.DURABLE,
                attr(), Namespace.Settle.NONE);
            case "commit" -> null;
            case "getattr" -> attr();
            default -> throw new NfsException(Status.NOTSUPP, "not in this test");
          };
        });
    try (NamespaceServer server = serve("p", owner, 0);
        RemoteNamespace remote = RemoteNamespace.open(at(server), "p", FAST)) {
      assertEquals(0x1234_5678_9abcL, remote.namespaceId());
      assertEquals(7L, remote.rootId());
      assertEquals(attr(), remote.getattr(9));
      // durability passed through, both ways
      assertTrue(remote.write(9, 0, ByteBuffer.wrap(new byte[10]), Durability.DURABLE).durable());
      assertFalse(remote.write(9, 0, ByteBuffer.wrap(new byte[10]), Durability.BUFFERED).durable());
      remote.commit(9);
      assertEquals(List.of("getattr", "write:DURABLE", "write:BUFFERED", "commit"), calls);
      int n = 0;
      for (Field f : Status.class.getFields()) {
        if (f.getType() != int.class || !Modifier.isStatic(f.getModifiers()) || f.getInt(null) == Status.OK) {
          continue;
        }
        int st = f.getInt(null);
        failWith.set(st);
        for (NsCall c : List.<NsCall>of(r -> r.getattr(1), r -> r.lookup(1, "x"), r -> r.mkdir(1, "d", 0, 0,
            SetAttr.NONE), r -> r.remove(1, "x"), r -> r.rename(1, "a", 2, "b"), r -> r.readdir(1, 0, 10),
            r -> r.read(1, 0, ByteBuffer.allocate(10)), r -> r.write(1, 0, ByteBuffer.allocate(10),
            Durability.DURABLE), r -> r.commit(1), r -> r.readlink(1), r -> r.createExclusive(1, "e", 0, 0, 5))) {
          NfsException e = assertThrows(NfsException.class, () -> c.run(remote), f.getName());
          assertEquals(st, e.status(), f.getName());
          assertEquals("status " + st + " from the owner", e.getMessage());
          assertFalse(e instanceof NamespaceUnavailableException, f.getName());
          n++;
        }
      }
      assertTrue(n > 200, "statuses tried: " + n);
      assertArrayEquals(new long[] {100, 50}, remote.capacity());
    }
  }

  @FunctionalInterface
  interface NsCall {
    void run(Namespace ns) throws Exception;
  }

  private static Attr attr() {
    return new Attr(Attr.REG, 0644, 1, 5, 6, 1234, 4096, 9, 1, 2, 3, false);
  }

  /** A real namespace's errors: the same status through the owner's server as locally. */
  @Test
  void aRemoteNoentIsALocalNoent() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        LocalNamespace local = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
            NfsConfig.DEFAULT_VDISK_PATTERNS);
        NamespaceServer server = serve("default", local, 0);
        RemoteNamespace remote = RemoteNamespace.open(at(server), "default", FAST)) {
      long d = remote.mkdir(remote.rootId(), "d", 0, 0, SetAttr.NONE);
      remote.create(d, "f", 0, 0, SetAttr.NONE, true);
      for (NsCall c : List.<NsCall>of(r -> r.lookup(r.rootId(), "missing"), r -> r.mkdir(r.rootId(), "d", 0, 0,
          SetAttr.NONE), r -> r.rmdir(r.rootId(), "d"), r -> r.getattr(987_654_321L), r -> r.create(d, "f", 0, 0,
          SetAttr.NONE, true), r -> r.rmdir(d, "f"), r -> r.lookup(r.lookup(d, "f"), "x"))) {
        NfsException l = assertThrows(NfsException.class, () -> c.run(local));
        NfsException r = assertThrows(NfsException.class, () -> c.run(remote));
        assertEquals(l.status(), r.status(), l.getMessage());
      }
      assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> remote.lookup(remote.rootId(), "missing"))
          .status());
    }
  }

  // ---------------------------------------------------------------- hostile frames

  @Test
  void badFramesAreRefusedWithoutHarmingOtherClients() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        LocalNamespace local = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
            NfsConfig.DEFAULT_VDISK_PATTERNS);
        NamespaceServer server = serve("default", local, 0);
        RemoteNamespace remote = RemoteNamespace.open(at(server), "default", FAST)) {
      long f = remote.create(remote.rootId(), "f", 0, 0, SetAttr.NONE, true);
      byte[] hello = frame(MAGIC, 1, 1, withId(name("default"), 0), true);
      int port = server.localAddress().getPort();
      // a client that sends half a frame (a length it never fills) and stays: others go on
      try (Socket lying = new Socket("127.0.0.1", server.localAddress().getPort())) {
        byte[] h = frame(MAGIC, 1, 5, new byte[1000], true);
        lying.getOutputStream().write(h, 0, 40);
        lying.getOutputStream().flush();
        // bad magic, bad CRC, a length past the bound, a wrong version: closed, nothing answered
        assertClosed(port, frame(0x12345678, 1, 1, name("default"), true));
        assertClosed(port, frame(MAGIC, 1, 1, name("default"), false));
        byte[] big = frame(MAGIC, 1, 1, name("default"), true);
        ByteBuffer.wrap(big).putInt(16, Wire.MAX_PAYLOAD_BYTES + 1);
        assertClosed(port, big);
        byte[] v2 = Arrays.copyOf(hello, hello.length);
        v2[4] = 2;
        assertClosed(port, v2);
        assertClosed(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        // well framed but meaningless: an error reply on a connection that stays usable
        try (Socket s = new Socket("127.0.0.1", server.localAddress().getPort())) {
          s.setSoTimeout(10_000);
          assertEquals(3, statusOf(s, frame(MAGIC, 99, 11, withId(name("default"), 0), true)), "unknown type");
          byte[] truncated = Arrays.copyOf(name("default"), 5);
          assertEquals(3, statusOf(s, frame(MAGIC, 2, 12, truncated, true)), "truncated payload");
          byte[] getattr = ByteBuffer.allocate(name("default").length + 16).put(name("default"))
              .putLong(local.namespaceId()).putLong(f).array();
          assertEquals(0, statusOf(s, frame(MAGIC, 2, 13, getattr, true)), "a good GETATTR after them");
          byte[] elsewhere = ByteBuffer.allocate(name("default").length + 16).put(name("default"))
              .putLong(local.namespaceId() ^ 1).putLong(f).array();
          assertEquals(5, statusOf(s, frame(MAGIC, 2, 15, elsewhere, true)), "another namespace id: WRONG_NAMESPACE");
          assertEquals(2, statusOf(s, frame(MAGIC, 1, 14, name("other"), true)), "another vPool: NOT_OWNER");
        }
        assertEquals(Attr.REG, remote.getattr(f).type());
        remote.write(f, 0, ByteBuffer.wrap("still here".getBytes(StandardCharsets.UTF_8)), Durability.DURABLE);
        assertArrayEquals("still here".getBytes(StandardCharsets.UTF_8), content(remote, f, 10));
      }
    }
  }

  /** The reply's status byte to one request on {@code s}. */
  private static int statusOf(Socket s, byte[] request) throws Exception {
    s.getOutputStream().write(request);
    s.getOutputStream().flush();
    DataInputStream in = new DataInputStream(s.getInputStream());
    byte[] h = new byte[Wire.HEADER_BYTES];
    in.readFully(h);
    ByteBuffer hb = ByteBuffer.wrap(h);
    assertEquals(MAGIC, hb.getInt(0));
    assertEquals(ByteBuffer.wrap(request).getLong(8), hb.getLong(8), "the reply carries the request's id");
    int len = hb.getInt(16);
    assertTrue(len > 0 && len < 4096);
    byte[] p = new byte[len];
    in.readFully(p);
    return p[0];
  }

  /** Sends {@code bytes} on a new connection: the server closes it without answering. */
  private static void assertClosed(int port, byte[] bytes) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(bytes);
      out.flush();
      InputStream in = s.getInputStream();
      try {
        assertEquals(-1, in.read(), "an answer to a bad frame");
      } catch (SocketTimeoutException e) {
        fail("the server kept a connection that sent a bad frame");
      } catch (java.net.SocketException e) {
        // reset: closed too
      }
    }
  }

  private static byte[] withId(byte[] name, long namespaceId) {
    return ByteBuffer.allocate(name.length + 8).put(name).putLong(namespaceId).array();
  }

  private static byte[] name(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(2 + b.length).putShort((short) b.length).put(b).array();
  }

  private static byte[] frame(int magic, int type, long id, byte[] payload, boolean goodCrc) {
    ByteBuf h = Unpooled.buffer(Wire.HEADER_BYTES);
    h.writeInt(magic);
    h.writeByte(1);
    h.writeByte(type);
    h.writeShort(0);
    h.writeLong(id);
    h.writeInt(payload.length);
    int crc = Wire.crc(h, Unpooled.wrappedBuffer(payload));
    h.writeInt(goodCrc ? crc : crc ^ 1);
    byte[] out = new byte[Wire.HEADER_BYTES + payload.length];
    h.readBytes(out, 0, Wire.HEADER_BYTES);
    System.arraycopy(payload, 0, out, Wire.HEADER_BYTES, payload.length);
    return out;
  }

  // ---------------------------------------------------------------- owner down, owner back

  @Test
  void aDeadOwnerIsRetryableThenTheClientReconnects() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        LocalNamespace local = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
            NfsConfig.DEFAULT_VDISK_PATTERNS)) {
      NamespaceServer server = serve("default", local, 0);
      int port = server.localAddress().getPort();
      try (RemoteNamespace remote = RemoteNamespace.open(at(server), "default", FAST)) {
        long f = remote.create(remote.rootId(), "f", 0, 0, SetAttr.NONE, true);
        remote.write(f, 0, ByteBuffer.wrap(new byte[] {1, 2, 3}), Durability.DURABLE);
        long epoch = remote.writeEpoch();
        server.close();
        NamespaceUnavailableException down = assertThrows(NamespaceUnavailableException.class, () -> remote.getattr(f));
        assertEquals(Status.JUKEBOX, down.status());
        assertFalse(down.notOwner());
        // again, now that the connection is known lost: still retryable, at once
        assertEquals(Status.JUKEBOX, assertThrows(NfsException.class, () -> remote.lookup(remote.rootId(), "f"))
            .status());
        // a server on the same port that does not own the namespace: retryable, nothing done
        server = NamespaceServer.start(NamespaceServer.Config.defaults().withPort(port), v -> Optional.empty());
        NamespaceUnavailableException moved = awaitUnavailable(remote, f);
        assertTrue(moved.notOwner(), moved.getMessage());
        assertEquals(Status.JUKEBOX, moved.status());
        server.close();
        // a server there with another namespace under the same vPool name: refused, retryable
        try (Engine other = TestEngines.start(dir.resolve("other-engine"));
            LocalNamespace recreated = LocalNamespace.open("default", dir.resolve("other-ns"), new EngineCatalog(other),
                NfsConfig.DEFAULT_VDISK_PATTERNS)) {
          server = serve("default", recreated, port);
          NamespaceUnavailableException wrong = awaitUnavailable(remote, f);
          assertTrue(wrong.getMessage().contains("another namespace"), wrong.getMessage());
          server.close();
        }
        // the owner back: the client reconnects by itself
        server = serve("default", local, port);
        Attr a = null;
        for (int i = 0; i < 100 && a == null; i++) {
          try {
            a = remote.getattr(f);
          } catch (NamespaceUnavailableException e) {
            Thread.sleep(100); // the client tries to connect at most once per connect timeout
          }
        }
        assertTrue(a != null, "reconnected");
        assertEquals(3, a.size());
        assertArrayEquals(new byte[] {1, 2, 3}, content(remote, f, 3));
        assertTrue(remote.writeEpoch() > epoch, "a new server incarnation changes the write epoch");
      } finally {
        server.close();
      }
    }
  }

  /** An owner that takes requests and never answers (a paused process): a retryable error within the timeout. */
  @Test
  void aSilentOwnerIsRetryableAfterTheRequestTimeout() throws Exception {
    try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 4, java.net.InetAddress.getLoopbackAddress())) {
      Thread t = new Thread(() -> {
        List<Socket> held = new ArrayList<>();
        try {
          while (true) {
            Socket s = silent.accept();
            held.add(s); // kept open, never read: the peer is there but does not answer
          }
        } catch (java.io.IOException e) {
          held.forEach(x -> {
            try {
              x.close();
            } catch (java.io.IOException ignored) {
              // closing
            }
          });
        }
      });
      t.setDaemon(true);
      t.start();
      RemoteNamespace.Config quick = new RemoteNamespace.Config(Duration.ofMillis(500), Duration.ofSeconds(1), 4);
      NamespaceUnavailableException e = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30),
          () -> assertThrows(NamespaceUnavailableException.class, () -> RemoteNamespace.open(
              new InetSocketAddress("127.0.0.1", silent.getLocalPort()), "default", quick)));
      assertEquals(Status.JUKEBOX, e.status());
      assertFalse(e.notOwner());
      assertTrue(e.getMessage().contains("no answer"), e.getMessage());
    }
  }

  private static NamespaceUnavailableException awaitUnavailable(RemoteNamespace remote, long f) throws Exception {
    NamespaceUnavailableException last = null;
    for (int i = 0; i < 100; i++) {
      try {
        remote.getattr(f);
        fail("a server that does not own the namespace answered");
      } catch (NamespaceUnavailableException e) {
        if (e.notOwner()) {
          return e;
        }
        last = e;
        Thread.sleep(100);
      }
    }
    throw new AssertionError("never reached the new server", last);
  }
}
