package org.vsa.backends.s3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.NoSuchObjectException;

/** The S3 store against a real S3 server (s3proxy on 127.0.0.1). */
class S3ObjectStoreTest {
  @TempDir static Path dir;
  static S3ProxyServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = S3ProxyServer.start(dir.resolve("blobs"), "vsa");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  private static byte[] random(long seed, int len) {
    byte[] b = new byte[len];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void putGetRangedReadDeleteList() throws Exception {
    try (S3ObjectStore s = S3ObjectStore.open(server.settings("vsa").withPrefix("basic"))) {
      s.createNamespace("vdisk-a");
      assertTrue(s.namespaceExists("vdisk-a"));
      assertFalse(s.namespaceExists("vdisk-b"));
      byte[] data = random(1, 300_000);
      s.put("vdisk-a", "sco_00000001", data);
      Path file = dir.resolve("tlog");
      byte[] tlog = random(2, 5000);
      Files.write(file, tlog);
      s.put("vdisk-a", "tlog_00000001", file);
      s.put("vdisk-a", "volume", new byte[0]);

      assertArrayEquals(data, s.get("vdisk-a", "sco_00000001"));
      assertArrayEquals(tlog, s.get("vdisk-a", "tlog_00000001"));
      assertArrayEquals(new byte[0], s.get("vdisk-a", "volume"));
      assertEquals(300_000, s.size("vdisk-a", "sco_00000001"));
      assertTrue(s.exists("vdisk-a", "sco_00000001"));
      assertFalse(s.exists("vdisk-a", "sco_00000002"));

      // ranged reads: 4 KiB in the middle, the last byte, into a direct buffer at a position
      ByteBuffer b = ByteBuffer.allocate(4096);
      s.read("vdisk-a", "sco_00000001", 8192, b);
      assertArrayEquals(Arrays.copyOfRange(data, 8192, 8192 + 4096), b.array());
      ByteBuffer d = ByteBuffer.allocateDirect(10);
      d.position(9);
      s.read("vdisk-a", "sco_00000001", 299_999, d);
      assertEquals(data[299_999], d.get(9));
      // past the end: EOF, not short data
      assertThrows(EOFException.class, () -> s.read("vdisk-a", "sco_00000001", 299_000, ByteBuffer.allocate(4096)));
      assertThrows(EOFException.class, () -> s.read("vdisk-a", "sco_00000001", 400_000, ByteBuffer.allocate(10)));

      // replace
      byte[] data2 = random(3, 1000);
      s.put("vdisk-a", "sco_00000001", data2);
      assertArrayEquals(data2, s.get("vdisk-a", "sco_00000001"));

      assertEquals(List.of("sco_00000001", "tlog_00000001", "volume"), s.list("vdisk-a", ""));
      assertEquals(List.of("sco_00000001"), s.list("vdisk-a", "sco_"));
      assertTrue(s.listNamespaces().contains("vdisk-a"));

      s.delete("vdisk-a", "sco_00000001");
      s.delete("vdisk-a", "sco_00000001"); // no error when missing
      assertThrows(NoSuchObjectException.class, () -> s.get("vdisk-a", "sco_00000001"));
      assertThrows(NoSuchObjectException.class, () -> s.read("vdisk-a", "sco_00000001", 0, ByteBuffer.allocate(1)));
      assertThrows(NoSuchObjectException.class, () -> s.size("vdisk-a", "sco_00000001"));

      s.deleteNamespace("vdisk-a");
      assertFalse(s.namespaceExists("vdisk-a"));
      assertThrows(NoSuchObjectException.class, () -> s.list("vdisk-a", ""));
      assertThrows(NoSuchObjectException.class, () -> s.put("vdisk-a", "x", new byte[1]));
      assertThrows(NoSuchObjectException.class, () -> s.get("vdisk-a", "tlog_00000001"));
      assertThrows(IllegalArgumentException.class, () -> s.put("vdisk-a", "a/b", new byte[1]));
    }
  }

  @Test
  void largeObjectsGoInPartsAndReadBackWhole() throws Exception {
    try (S3ObjectStore s = S3ObjectStore.open(server.settings("vsa").withPrefix("multipart"))) {
      s.createNamespace("ns");
      int size = (int) (2 * S3Settings.PART_SIZE_MIN + 12345); // three parts, the last short
      byte[] data = random(4, size);
      Path file = dir.resolve("big");
      Files.write(file, data);
      s.put("ns", "from-file", file);
      s.put("ns", "from-bytes", data);
      for (String name : List.of("from-file", "from-bytes")) {
        assertEquals(size, s.size("ns", name));
        assertArrayEquals(data, s.get("ns", name));
        ByteBuffer b = ByteBuffer.allocate(8192);
        long off = S3Settings.PART_SIZE_MIN - 4096; // across a part boundary
        s.read("ns", name, off, b);
        assertArrayEquals(Arrays.copyOfRange(data, (int) off, (int) off + 8192), b.array());
      }
      // no multipart upload left behind
      assertEquals(List.of("from-bytes", "from-file"), s.list("ns", ""));
    }
  }

  @Test
  void wrongCredentialsStopTheStartWithAClearError() {
    IOException e = assertThrows(IOException.class,
        () -> S3ObjectStore.open(server.settings("vsa").withCredentials(S3ProxyServer.ACCESS_KEY, "wrong-secret-000000")));
    assertTrue(e.getMessage().contains("access denied"), e.getMessage());
    assertFalse(e.getMessage().contains("wrong-secret"), "the secret must never be shown: " + e.getMessage());
    IOException f = assertThrows(IOException.class,
        () -> S3ObjectStore.open(server.settings("vsa").withCredentials("nobody", "wrong-secret-000000")));
    assertTrue(f.getMessage().contains("access denied"), f.getMessage());
  }

  @Test
  void missingBucketStopsTheStartWithAClearError() {
    IOException e = assertThrows(IOException.class, () -> S3ObjectStore.open(server.settings("no-such-bucket")));
    assertTrue(e.getMessage().contains("bucket 'no-such-bucket' does not exist"), e.getMessage());
  }

  @Test
  void deadEndpointFailsWithinTheRetryBound() throws Exception {
    int port;
    try (ServerSocket ss = new ServerSocket(0)) {
      port = ss.getLocalPort();
    }
    S3Settings dead = S3Settings.of(URI.create("http://127.0.0.1:" + port), "us-east-1", "vsa", true, "a", "b")
        .withRetries(3, Duration.ofSeconds(20));
    long t0 = System.nanoTime();
    IOException e = assertThrows(IOException.class, () -> S3ObjectStore.open(dead));
    assertTrue(e.getMessage().contains("cannot reach"), e.getMessage());
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(60).toNanos(), "retries are bounded");
  }

  @Test
  void namespacesAreIsolatedByPrefix() throws Exception {
    try (S3ObjectStore a = S3ObjectStore.open(server.settings("vsa").withPrefix("node-a/"));
        S3ObjectStore b = S3ObjectStore.open(server.settings("vsa").withPrefix("node-b/"))) {
      a.createNamespace("ns");
      a.put("ns", "x", new byte[] {1});
      assertFalse(b.namespaceExists("ns"));
      assertEquals(List.of("ns"), a.listNamespaces());
    }
  }

  @Test
  void fragmentBackendOverThreeBucketsReadsWithOneBucketGone() throws Exception {
    server.createBucket("frag-a");
    server.createBucket("frag-b");
    server.createBucket("frag-c");
    java.util.List<org.vsa.backends.fragment.FlakyStore.Switch> sw = new java.util.ArrayList<>();
    java.util.List<org.vsa.backends.fragment.FragmentObjectStore.Disk> disks = new java.util.ArrayList<>();
    for (String b : List.of("frag-a", "frag-b", "frag-c")) {
      org.vsa.backends.fragment.FlakyStore.Switch s = new org.vsa.backends.fragment.FlakyStore.Switch();
      sw.add(s);
      disks.add(new org.vsa.backends.fragment.FragmentObjectStore.Disk(b,
          new org.vsa.backends.fragment.FlakyStore(S3ObjectStore.open(server.settings(b)), s)));
    }
    org.vsa.backends.fragment.Preset preset = new org.vsa.backends.fragment.Preset("s3",
        List.of(new org.vsa.backends.fragment.Policy(2, 1, 3, 1)), 64 * 1024,
        org.vsa.backends.fragment.Compression.LZ4, false);
    try (org.vsa.backends.fragment.FragmentObjectStore f =
        new org.vsa.backends.fragment.FragmentObjectStore(preset, disks, null)) {
      f.createNamespace("vdisk-s3");
      byte[] data = random(9, 1_000_000);
      f.put("vdisk-s3", "sco_1", data);
      sw.get(1).down = true;
      assertArrayEquals(data, f.get("vdisk-s3", "sco_1"));
      ByteBuffer b = ByteBuffer.allocate(4096);
      f.read("vdisk-s3", "sco_1", 500_000, b);
      assertArrayEquals(Arrays.copyOfRange(data, 500_000, 504_096), b.array());
    }
  }

  /**
   * s3proxy 2.6.0 (the server of these tests) ignores If-None-Match on PUT: a conditional PUT of an
   * existing key overwrites it. The store finds that out by its probe and refuses atomic creates
   * rather than let every racer win; nothing is written.
   */
  @Test
  void putIfAbsentRefusedWhereTheServiceIgnoresConditionalPuts() throws Exception {
    try (S3ObjectStore s = S3ObjectStore.open(server.settings("vsa").withPrefix("create"))) {
      s.createNamespace("cluster");
      UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
          () -> s.putIfAbsent("cluster", "claim.000000000001", new byte[] {1, 2, 3}));
      assertTrue(e.getMessage().contains("ignores If-None-Match"), e.getMessage());
      assertThrows(UnsupportedOperationException.class, () -> s.putIfAbsent("cluster", "claim.000000000002", new byte[1]));
      assertFalse(s.exists("cluster", "claim.000000000001"));
      assertEquals(List.of(), s.list("cluster", ""));
      assertThrows(NoSuchObjectException.class, () -> s.putIfAbsent("nowhere", "x", new byte[1]));
    }
  }
}
