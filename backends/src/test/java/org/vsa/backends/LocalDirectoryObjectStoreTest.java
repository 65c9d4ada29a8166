package org.vsa.backends;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LocalDirectoryObjectStoreTest {
  private static final String NS = "vdisk-1";
  private static final long FUTURE_TIMEOUT_SECONDS = 60;

  @TempDir Path tmp;
  Path root;
  LocalDirectoryObjectStore store;

  @BeforeEach
  void open() throws IOException {
    root = tmp.resolve("store");
    store = new LocalDirectoryObjectStore(root);
    store.createNamespace(NS);
  }

  @AfterEach
  void close() {
    store.close();
  }

  /** Content that tells which object and which offset a byte came from. */
  static byte byteAt(long seed, long offset) {
    long z = seed * 0x9E3779B97F4A7C15L + offset;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return (byte) (z ^ (z >>> 31));
  }

  static byte[] content(long seed, int sizeBytes) {
    byte[] b = new byte[sizeBytes];
    for (int i = 0; i < sizeBytes; i++) {
      b[i] = byteAt(seed, i);
    }
    return b;
  }

  static byte[] range(byte[] b, int offset, int length) {
    byte[] r = new byte[length];
    System.arraycopy(b, offset, r, 0, length);
    return r;
  }

  byte[] read(String name, long offset, int length) throws IOException {
    ByteBuffer dst = ByteBuffer.allocate(length);
    store.read(NS, name, offset, dst);
    assertEquals(length, dst.position(), "read fills dst exactly");
    return dst.array();
  }

  @Test
  void roundTripBytes() throws IOException {
    byte[] data = content(1, 10_000);
    store.put(NS, "sco_00000001", data);
    assertArrayEquals(data, store.get(NS, "sco_00000001"));
    assertEquals(10_000, store.size(NS, "sco_00000001"));
    assertTrue(store.exists(NS, "sco_00000001"));
    assertEquals(List.of("sco_00000001"), store.list(NS, ""));
  }

  /** On the same file system a sealed file is linked, not copied: one inode, two names. */
  /** The page-cache hint works here (not silently off) and costs no byte; an unknown object is no error. */
  @Test
  void droppingAnObjectFromThePageCacheKeepsItsBytes() throws IOException {
    assertTrue(PageCache.available(), "posix_fadvise through JNA on this Linux machine");
    byte[] data = content(3, 200_000);
    store.put(NS, "sco_00000003", data);
    store.dropCached(NS, "sco_00000003");
    store.dropCached(NS, "sco_00000099");
    ByteBuffer b = ByteBuffer.allocate(data.length);
    store.read(NS, "sco_00000003", 0, b);
    assertArrayEquals(data, b.array());
  }

  @Test
  void aSealedFileIsLinkedAndOutlivesItsSource() throws IOException {
    byte[] data = content(7, 300_000);
    Path source = Files.write(tmp.resolve("sco_7.sealed"), data);
    store.putSealed(NS, "sco_7", source);
    assertEquals(2, Files.getAttribute(source, "unix:nlink"), "the store took the file by a hard link");
    assertEquals(Files.getAttribute(source, "unix:ino"), Files.getAttribute(root.resolve(NS).resolve("sco_7"), "unix:ino"));
    Files.delete(source); // the write buffer lets it go
    assertArrayEquals(data, store.get(NS, "sco_7"));
    assertArrayEquals(range(data, 4096, 8192), read("sco_7", 4096, 8192));
    // a replace by a plain put is a new inode, as before
    store.put(NS, "sco_7", content(8, 100));
    assertArrayEquals(content(8, 100), store.get(NS, "sco_7"));
    assertEquals(List.of("sco_7"), store.list(NS, ""), "no temp file left behind");
  }

  @Test
  void roundTripFromPathKeepsSource() throws IOException {
    byte[] data = content(2, 300_000);
    Path source = Files.write(tmp.resolve("sealed.sco"), data);
    store.put(NS, "sco_2", source);
    assertArrayEquals(data, store.get(NS, "sco_2"));
    assertArrayEquals(data, Files.readAllBytes(source), "the source stays");
  }

  @Test
  void emptyObject() throws IOException {
    store.put(NS, "empty", new byte[0]);
    assertEquals(0, store.get(NS, "empty").length);
    assertEquals(0, store.size(NS, "empty"));
    store.read(NS, "empty", 0, ByteBuffer.allocate(0));
    assertThrows(EOFException.class, () -> read("empty", 0, 1));
  }

  @Test
  void rangedReadsAtOffsetsIncludingLastByte() throws IOException {
    byte[] data = content(3, 3 * 4096 + 17);
    store.put(NS, "sco", data);
    for (int offset : new int[] {0, 1, 4095, 4096, 8192, data.length - 4096}) {
      assertArrayEquals(range(data, offset, 4096), read("sco", offset, 4096), "offset " + offset);
    }
    assertArrayEquals(range(data, data.length - 1, 1), read("sco", data.length - 1, 1), "last byte");
    assertArrayEquals(data, read("sco", 0, data.length), "whole object");

    // dst's position and limit are honoured: fills [position, limit) only.
    ByteBuffer dst = ByteBuffer.allocate(100).position(10).limit(30);
    store.read(NS, "sco", 500, dst);
    assertEquals(30, dst.position());
    assertArrayEquals(range(data, 500, 20), range(dst.array(), 10, 20));
  }

  @Test
  void readPastEndIsEof() throws IOException {
    store.put(NS, "sco", content(4, 1000));
    EOFException e = assertThrows(EOFException.class, () -> read("sco", 990, 11));
    assertTrue(e.getMessage().contains("sco") && e.getMessage().contains(NS), e.getMessage());
    assertThrows(EOFException.class, () -> read("sco", 1000, 1));
    assertThrows(EOFException.class, () -> read("sco", 5000, 1));
    assertThrows(IllegalArgumentException.class, () -> read("sco", -1, 1));
  }

  @Test
  void missingObjectAndNamespace() throws IOException {
    NoSuchObjectException e = assertThrows(NoSuchObjectException.class, () -> read("nope", 0, 1));
    assertTrue(e.getMessage().contains("nope") && e.getMessage().contains(NS), e.getMessage());
    assertThrows(NoSuchObjectException.class, () -> store.get(NS, "nope"));
    assertThrows(NoSuchObjectException.class, () -> store.size(NS, "nope"));
    assertFalse(store.exists(NS, "nope"));
    store.delete(NS, "nope"); // no error

    assertFalse(store.namespaceExists("other"));
    e = assertThrows(NoSuchObjectException.class, () -> store.read("other", "x", 0, ByteBuffer.allocate(1)));
    assertTrue(e.getMessage().contains("namespace 'other'"), e.getMessage());
    assertThrows(NoSuchObjectException.class, () -> store.get("other", "x"));
    assertThrows(NoSuchObjectException.class, () -> store.put("other", "x", new byte[1]));
    assertThrows(NoSuchObjectException.class, () -> store.list("other", ""));
    assertFalse(store.exists("other", "x"));
    store.delete("other", "x"); // no error
    store.deleteNamespace("other"); // no error
    assertEquals(List.of(NS), store.listNamespaces(), "a failed put creates no namespace");
  }

  @Test
  void putFromMissingSourceNamesTheObject() {
    IOException e = assertThrows(IOException.class, () -> store.put(NS, "sco", tmp.resolve("absent")));
    assertFalse(e instanceof NoSuchObjectException, "a missing source is not a missing object");
    assertTrue(e.getMessage().contains("'sco'") && e.getMessage().contains(NS), e.getMessage());
  }

  @Test
  void namespaces() throws IOException {
    store.createNamespace("b");
    store.createNamespace("a");
    store.createNamespace("a"); // idempotent
    assertEquals(List.of("a", "b", NS), store.listNamespaces());
    store.put("a", "x", content(5, 100));
    read0("a", "x"); // caches a channel on a/x
    store.deleteNamespace("a");
    assertFalse(store.namespaceExists("a"));
    assertFalse(Files.exists(root.resolve("a")));
    assertThrows(NoSuchObjectException.class, () -> store.read("a", "x", 0, ByteBuffer.allocate(1)));
    assertEquals(List.of("b", NS), store.listNamespaces());
  }

  private void read0(String namespace, String name) throws IOException {
    store.read(namespace, name, 0, ByteBuffer.allocate(1));
  }

  @Test
  void replaceIsAtomicForConcurrentReaders() throws Exception {
    int sizeBytes = 256 * 1024;
    int versions = 200;
    store.put(NS, "tlog", filled(0, sizeBytes));
    AtomicBoolean writerDone = new AtomicBoolean();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<?> writer = pool.submit(() -> {
        try {
          for (int v = 1; v <= versions; v++) {
            store.put(NS, "tlog", filled(v, sizeBytes));
          }
        } finally {
          writerDone.set(true);
        }
        return null;
      });
      Future<Integer> reader = pool.submit(() -> {
        int reads = 0;
        int lastVersion = 0;
        // Bounded: stops with the writer, or after at most this many reads.
        for (int i = 0; i < 100_000 && !writerDone.get(); i++) {
          ByteBuffer dst = ByteBuffer.allocate(sizeBytes);
          store.read(NS, "tlog", 0, dst);
          int v = uniformVersion(dst.array());
          assertTrue(v >= lastVersion, "versions never go back: " + v + " after " + lastVersion);
          lastVersion = v;
          uniformVersion(store.get(NS, "tlog"));
          reads++;
        }
        return reads;
      });
      writer.get(FUTURE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      assertTrue(reader.get(FUTURE_TIMEOUT_SECONDS, TimeUnit.SECONDS) > 0);
    } finally {
      pool.shutdownNow();
    }
    assertEquals(versions, uniformVersion(store.get(NS, "tlog")));
    assertEquals(List.of("tlog"), store.list(NS, ""), "no temp file visible or left");
    try (var files = Files.list(root.resolve(NS))) {
      assertEquals(1, files.count());
    }
  }

  private static byte[] filled(int version, int sizeBytes) {
    byte[] b = new byte[sizeBytes];
    java.util.Arrays.fill(b, (byte) version);
    return b;
  }

  /** The version every byte carries; fails on a mix of versions. */
  private static int uniformVersion(byte[] b) {
    for (byte x : b) {
      if (x != b[0]) {
        fail("read a mix of versions " + (b[0] & 0xff) + " and " + (x & 0xff));
      }
    }
    return b[0] & 0xff;
  }

  @Test
  void listIgnoresTempFilesAndFiltersByPrefix() throws IOException {
    store.put(NS, "tlog_2", new byte[1]);
    store.put(NS, "sco_2", new byte[1]);
    store.put(NS, "sco_1", new byte[1]);
    Files.write(root.resolve(NS).resolve(".tmp-123.tmp"), new byte[1]);
    assertEquals(List.of("sco_1", "sco_2", "tlog_2"), store.list(NS, ""));
    assertEquals(List.of("sco_1", "sco_2"), store.list(NS, "sco_"));
    assertEquals(List.of(), store.list(NS, ".tmp-"));
    assertEquals(List.of(), store.list(NS, "zzz"));
  }

  @Test
  void leftoverTempFilesAreRemovedAtStart() throws IOException {
    store.put(NS, "sco_1", content(6, 100));
    Path leftover = Files.write(root.resolve(NS).resolve(".tmp-crashed.tmp"), new byte[10]);
    Files.setLastModifiedTime(leftover, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()
        - LocalDirectoryObjectStore.TEMP_LEFTOVER_AGE_MILLIS - 60_000));
    // a young temp file may be another appliance's put in flight on a shared directory: kept
    Path inFlight = Files.write(root.resolve(NS).resolve(".tmp-in-flight.tmp"), new byte[10]);
    store.close();
    store = new LocalDirectoryObjectStore(root);
    assertFalse(Files.exists(leftover));
    assertTrue(Files.exists(inFlight), "a temp file younger than the leftover age is left alone");
    Files.delete(inFlight);
    assertArrayEquals(content(6, 100), store.get(NS, "sco_1"));
    assertEquals(List.of("sco_1"), store.list(NS, ""));
  }

  static Stream<String> invalidNames() {
    return Stream.of("", ".", "..", ".tmp-x", "a/b", "../x", "a b", "\u00e9", "a\u0000b", "sco*", "n".repeat(201));
  }

  @ParameterizedTest
  @MethodSource("invalidNames")
  void invalidNamesAreRejected(String bad) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> store.put(NS, bad, new byte[1]));
    assertTrue(e.getMessage().startsWith("object name must match"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> store.createNamespace(bad));
    assertTrue(e.getMessage().startsWith("namespace must match"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> store.read(NS, bad, 0, ByteBuffer.allocate(1)));
    assertThrows(IllegalArgumentException.class, () -> store.delete(NS, bad));
  }

  @Test
  void longestValidNameIsAccepted() throws IOException {
    String name = "n".repeat(200);
    store.put(NS, name, new byte[] {7});
    assertArrayEquals(new byte[] {7}, store.get(NS, name));
    assertThrows(IllegalArgumentException.class, () -> store.get(NS, null));
  }

  @Test
  void concurrentRangedReadsWhileDeletingGiveDataOrNoSuchObject() throws Exception {
    store.close();
    store = new LocalDirectoryObjectStore(root, 3); // fewer channels than objects: evictions race too
    int objects = 8;
    int sizeBytes = 16 * 4096;
    for (int i = 0; i < objects; i++) {
      store.put(NS, "sco_" + i, content(i, sizeBytes));
    }
    int readers = 6;
    int readsPerReader = 3000;
    AtomicLong hits = new AtomicLong();
    AtomicLong missing = new AtomicLong();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(readers + 1);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int r = 0; r < readers; r++) {
        long seed = r;
        futures.add(pool.submit(() -> {
          SplittableRandom random = new SplittableRandom(seed);
          start.await();
          for (int i = 0; i < readsPerReader; i++) {
            int object = random.nextInt(objects);
            int offset = random.nextInt(16) * 4096;
            ByteBuffer dst = ByteBuffer.allocate(4096);
            try {
              store.read(NS, "sco_" + object, offset, dst);
            } catch (NoSuchObjectException e) {
              missing.incrementAndGet();
              continue;
            }
            for (int j = 0; j < 4096; j++) {
              if (dst.get(j) != byteAt(object, offset + j)) {
                fail("garbage in sco_" + object + " at byte " + (offset + j));
              }
            }
            hits.incrementAndGet();
          }
          return null;
        }));
      }
      futures.add(pool.submit(() -> {
        start.await();
        for (int round = 0; round < 300; round++) {
          int object = round % objects;
          store.delete(NS, "sco_" + object);
          if (round % 3 != 0) { // some objects come back (same content), others stay deleted
            store.put(NS, "sco_" + object, content(object, sizeBytes));
          }
        }
        return null;
      }));
      start.countDown();
      for (Future<?> f : futures) {
        f.get(FUTURE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals((long) readers * readsPerReader, hits.get() + missing.get());
    assertTrue(hits.get() > 0);
    assertTrue(store.openChannels() <= 3);
  }

  @Test
  void interruptedReaderGetsInterruptedIoAndOthersStillRead() throws IOException {
    byte[] data = content(7, 8192);
    store.put(NS, "sco", data);
    read("sco", 0, 1); // the channel is cached
    Thread.currentThread().interrupt();
    try {
      assertThrows(InterruptedIOException.class, () -> read("sco", 0, 4096));
    } finally {
      assertTrue(Thread.interrupted(), "the interrupt status stays set");
    }
    assertEquals(1, store.openChannels(), "the shared channel was not closed by the interrupted reader");
    assertArrayEquals(range(data, 4096, 4096), read("sco", 4096, 4096));
  }

  @Test
  void deleteMakesObjectUnreadableEvenWithCachedChannel() throws IOException {
    store.put(NS, "sco", content(8, 4096));
    read("sco", 0, 4096);
    assertEquals(1, store.openChannels());
    store.delete(NS, "sco");
    assertEquals(0, store.openChannels());
    assertThrows(NoSuchObjectException.class, () -> read("sco", 0, 1));
  }

  @Test
  void replaceIsSeenByTheNextRead() throws IOException {
    store.put(NS, "sco", content(9, 4096));
    read("sco", 0, 4096);
    store.put(NS, "sco", content(10, 4096));
    assertArrayEquals(content(10, 4096), read("sco", 0, 4096));
  }

  @Test
  void closeClosesChannelsAndRefusesFurtherUse() throws IOException {
    store.put(NS, "sco", content(11, 4096));
    read("sco", 0, 4096);
    store.close();
    assertEquals(0, store.openChannels());
    assertThrows(IllegalStateException.class, () -> read("sco", 0, 1));
  }

  @Test
  void forwardingStoreDelegatesEveryCall() throws IOException {
    AtomicInteger calls = new AtomicInteger();
    ObjectStore forwarding = new ForwardingObjectStore() {
      @Override
      protected ObjectStore delegate() {
        calls.incrementAndGet();
        return store;
      }
    };
    forwarding.createNamespace("fw");
    forwarding.put("fw", "a", new byte[] {1, 2, 3});
    forwarding.put("fw", "b", Files.write(tmp.resolve("src"), new byte[] {4}));
    ByteBuffer dst = ByteBuffer.allocate(2);
    forwarding.read("fw", "a", 1, dst);
    assertArrayEquals(new byte[] {2, 3}, dst.array());
    assertArrayEquals(new byte[] {4}, forwarding.get("fw", "b"));
    assertEquals(3, forwarding.size("fw", "a"));
    assertTrue(forwarding.exists("fw", "a"));
    assertTrue(forwarding.namespaceExists("fw"));
    assertEquals(List.of("a", "b"), forwarding.list("fw", ""));
    assertEquals(List.of("fw", NS), forwarding.listNamespaces());
    forwarding.delete("fw", "a");
    forwarding.deleteNamespace("fw");
    forwarding.close();
    assertEquals(13, calls.get(), "one delegate() per call");
    assertThrows(IllegalStateException.class, () -> store.listNamespaces());
  }
}
