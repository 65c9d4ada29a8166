package org.vsa.backends.fragment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.NoSuchObjectException;

class FragmentObjectStoreTest {
  @TempDir Path dir;

  private static final String NS = "vdisk-1";

  private final List<FlakyStore.Switch> flaky = new ArrayList<>();
  private final List<Path> roots = new ArrayList<>();

  private FragmentObjectStore open(Preset preset, int stores, EncryptionKey key) throws IOException {
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    boolean fresh = flaky.isEmpty();
    for (int i = 0; i < stores; i++) {
      Path root = dir.resolve("disk" + i);
      if (fresh) {
        roots.add(root);
        flaky.add(new FlakyStore.Switch());
      }
      // A fresh directory store each time: no read channel cached from before a file was deleted.
      disks.add(new FragmentObjectStore.Disk("disk" + i, new FlakyStore(new LocalDirectoryObjectStore(root), flaky.get(i))));
    }
    return new FragmentObjectStore(preset, disks, key, Duration.ofMillis(1));
  }

  private static Preset preset(Compression c, boolean encrypted, int fragmentSize, Policy... policies) {
    return new Preset("test", List.of(policies), fragmentSize, c, encrypted);
  }

  private static EncryptionKey key(long seed) {
    byte[] b = new byte[32];
    new Random(seed).nextBytes(b);
    return new EncryptionKey(b);
  }

  /** Half random, half runs of repeated bytes, so that compression has something to do. */
  private static byte[] data(long seed, int len) {
    Random r = new Random(seed);
    byte[] b = new byte[len];
    r.nextBytes(b);
    for (int i = 0; i + 8192 <= len; i += 16384) {
      Arrays.fill(b, i, i + 8192, (byte) (i >> 14));
    }
    return b;
  }

  static Stream<Arguments> matrix() {
    return Stream.of(
        Arguments.of(new Policy(2, 1, 2, 1), 3, Compression.NONE, false),
        Arguments.of(new Policy(4, 2, 5, 1), 6, Compression.LZ4, false),
        Arguments.of(new Policy(3, 3, 4, 2), 3, Compression.ZSTD, true),
        Arguments.of(new Policy(1, 2, 1, 1), 4, Compression.NONE, true),
        Arguments.of(new Policy(5, 3, 6, 1), 8, Compression.ZSTD, false));
  }

  @ParameterizedTest(name = "{0} over {1} stores, {2}, encrypted {3}")
  @MethodSource("matrix")
  void losingUpToMFragmentsReadsRightAndRepairRestores_MPlusOneIsUnavailable(Policy p, int stores, Compression c,
      boolean encrypted) throws Exception {
    long seed = new Random().nextLong();
    Random rnd = new Random(seed);
    String ctx = " (seed " + seed + ", " + p + ")";
    EncryptionKey key = encrypted ? key(1) : null;
    FragmentObjectStore s = open(preset(c, encrypted, 16 * 1024, p), stores, key);
    s.createNamespace(NS);
    int[] sizes = {0, 1, 4095, 16 * 1024 * p.k(), 16 * 1024 * p.k() + 1, 300_000, 1 << 20};
    List<byte[]> objects = new ArrayList<>();
    for (int i = 0; i < sizes.length; i++) {
      byte[] d = data(seed + i, sizes[i]);
      objects.add(d);
      s.put(NS, "obj_" + i, d);
    }
    for (int i = 0; i < sizes.length; i++) {
      assertArrayEquals(objects.get(i), s.get(NS, "obj_" + i), "obj_" + i + ctx);
      assertEquals(sizes[i], s.size(NS, "obj_" + i));
    }
    for (int round = 0; round < 6; round++) {
      int i = 2 + rnd.nextInt(sizes.length - 2);
      String name = "obj_" + i;
      byte[] d = objects.get(i);
      int lose = 1 + rnd.nextInt(Math.max(1, p.m()));
      lose = Math.min(lose, p.m());
      List<Path> columns = columnFiles(name);
      Collections.shuffle(columns, rnd);
      for (int j = 0; j < lose; j++) {
        damage(columns.get(j), rnd);
      }
      FragmentObjectStore fresh = open(preset(c, encrypted, 16 * 1024, p), stores, key); // no cached manifests
      assertArrayEquals(d, fresh.get(NS, name), name + " after losing " + lose + ctx);
      for (int r = 0; r < 20; r++) {
        int len = 1 + rnd.nextInt(Math.min(d.length, 9000));
        int off = rnd.nextInt(d.length - len + 1);
        ByteBuffer b = ByteBuffer.allocate(len);
        fresh.read(NS, name, off, b);
        assertArrayEquals(Arrays.copyOfRange(d, off, off + len), b.array(), "range " + off + "+" + len + ctx);
      }
      RepairReport rep = fresh.repair(true);
      assertTrue(p.m() == 0 || rep.fragmentsRepaired() > 0, rep + ctx);
      assertEquals(0, rep.objectsUnrecoverable(), rep + ctx);
      RepairReport after = fresh.repair(true);
      assertEquals(0, after.fragmentsMissing() + after.fragmentsCorrupt(), "after repair: " + after + ctx);
      for (Path col : columnFiles(name)) {
        assertTrue(Files.size(col) > 0);
      }
      assertArrayEquals(d, open(preset(c, encrypted, 16 * 1024, p), stores, key).get(NS, name), ctx);
    }
    // m+1 columns gone: a clear error, never bytes
    String name = "obj_" + (sizes.length - 1);
    List<Path> columns = columnFiles(name);
    Collections.shuffle(columns, rnd);
    // data fragment 0 and m others: a read of the first bytes needs a lost fragment and k intact
    columns.sort((a, b) -> Boolean.compare(!a.toString().endsWith(".0"), !b.toString().endsWith(".0")));
    for (int j = 0; j <= p.m(); j++) {
      Files.delete(columns.get(j));
    }
    FragmentObjectStore fresh = open(preset(c, encrypted, 16 * 1024, p), stores, key);
    ByteBuffer b = ByteBuffer.allocate(4096);
    DataUnavailableException e = assertThrows(DataUnavailableException.class, () -> fresh.read(NS, name, 0, b));
    assertTrue(e.getMessage().startsWith("data unavailable"), e.getMessage());
    assertThrows(DataUnavailableException.class, () -> fresh.get(NS, name));
    RepairReport rep = fresh.repair(false);
    assertEquals(1, rep.objectsUnrecoverable(), rep + ctx);
    // the others are still fine
    for (int i = 0; i < sizes.length - 1; i++) {
      assertArrayEquals(objects.get(i), fresh.get(NS, "obj_" + i), "obj_" + i + ctx);
    }
  }

  /** The column objects of {@code name}, one per fragment index. */
  private List<Path> columnFiles(String name) throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path root : roots) {
      Path ns = root.resolve(NS);
      if (!Files.isDirectory(ns)) {
        continue;
      }
      try (Stream<Path> files = Files.list(ns)) {
        files.filter(f -> f.getFileName().toString().startsWith(name + FragmentObjectStore.COLUMN_MARK)).forEach(out::add);
      }
    }
    Collections.sort(out);
    return out;
  }

  /** Deletes, truncates, or flips one byte of a column object. */
  private static void damage(Path column, Random rnd) throws IOException {
    long size = Files.size(column);
    switch (rnd.nextInt(3)) {
      case 0 -> Files.delete(column);
      case 1 -> {
        try (RandomAccessFile f = new RandomAccessFile(column.toFile(), "rw")) {
          f.setLength(size / 2);
        }
      }
      default -> {
        try (RandomAccessFile f = new RandomAccessFile(column.toFile(), "rw")) {
          long at = (long) (rnd.nextDouble() * size);
          f.seek(at);
          int v = f.read();
          f.seek(at);
          f.write(v ^ (1 + rnd.nextInt(255)));
        }
      }
    }
  }

  @Test
  void aFourKiBReadFetchesOneFragmentNotTheObject() throws Exception {
    FragmentObjectStore s = open(preset(Compression.NONE, false, 64 * 1024, new Policy(4, 2, 5, 1)), 6, null);
    s.createNamespace(NS);
    byte[] d = data(5, 4 << 20);
    s.put(NS, "sco_1", d);
    FragmentObjectStore fresh = open(preset(Compression.NONE, false, 64 * 1024, new Policy(4, 2, 5, 1)), 6, null);
    fresh.size(NS, "sco_1"); // the manifest is cached from here on
    long before = fresh.bytesFetched();
    ByteBuffer b = ByteBuffer.allocate(4096);
    fresh.read(NS, "sco_1", 3_000_000 & ~4095, b);
    assertArrayEquals(Arrays.copyOfRange(d, 3_000_000 & ~4095, (3_000_000 & ~4095) + 4096), b.array());
    assertEquals(1, fresh.fragmentsFetched());
    assertEquals(64 * 1024 + FragmentCodec.HEADER_BYTES, fresh.bytesFetched() - before);
  }

  @Test
  void fewerStoresUpFallsBackToTheNextPolicyAndRepairRewritesUnderTheBest() throws Exception {
    Preset preset = preset(Compression.LZ4, false, 16 * 1024, new Policy(4, 2, 6, 1), new Policy(2, 1, 3, 1));
    FragmentObjectStore s = open(preset, 6, null);
    s.createNamespace(NS);
    flaky.get(0).down = true;
    flaky.get(3).down = true;
    byte[] d = data(9, 200_000);
    s.put(NS, "sco_1", d); // 4 up: (4,2) needs 6, falls back to (2,1)
    assertArrayEquals(d, s.get(NS, "sco_1"));
    assertEquals(3, columnFiles("sco_1").size());
    flaky.get(1).down = true; // one of (2,1)'s stores may be lost too... or not hold any: reads still right
    assertArrayEquals(d, open(preset, 6, null).get(NS, "sco_1"));
    flaky.get(1).down = false;
    flaky.get(0).down = false;
    flaky.get(3).down = false;
    RepairReport rep = s.repair(false);
    assertEquals(1, rep.objectsRewritten(), rep.toString());
    assertEquals(6, columnFiles("sco_1").size(), "rewritten as (4,2): six columns, the old three removed");
    assertArrayEquals(d, open(preset, 6, null).get(NS, "sco_1"));
    // every store has the manifest
    for (Path root : roots) {
      assertTrue(Files.exists(root.resolve(NS).resolve("sco_1" + FragmentObjectStore.MANIFEST_SUFFIX)), root.toString());
    }
  }

  @Test
  void noPolicyFitsMeansTheWriteFailsClearly() throws Exception {
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, new Policy(2, 1, 3, 1)), 3, null);
    s.createNamespace(NS);
    flaky.get(2).down = true;
    IOException e = assertThrows(IOException.class, () -> s.put(NS, "sco_1", new byte[1000]));
    assertTrue(e.getMessage().contains("2 of 3 stores up") && e.getMessage().contains("3 needed"), e.getMessage());
    assertThrows(NoSuchObjectException.class, () -> s.get(NS, "sco_1"));
  }

  @Test
  void writeCountsAsDoneWithCFragmentsAndRepairAddsTheRest() throws Exception {
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, new Policy(2, 2, 3, 1)), 4, null);
    s.createNamespace(NS);
    flaky.get(1).putsFail = true;
    byte[] d = data(11, 100_000);
    s.put(NS, "sco_1", d);
    assertEquals(3, columnFiles("sco_1").size());
    flaky.get(2).putsFail = true;
    IOException e = assertThrows(IOException.class, () -> s.put(NS, "sco_2", d));
    assertTrue(e.getMessage().contains("fragments stored"), e.getMessage());
    assertFalse(s.exists(NS, "sco_2"), "a failed write leaves nothing behind");
    flaky.get(1).putsFail = false;
    flaky.get(2).putsFail = false;
    RepairReport rep = s.repair(false);
    assertEquals(4, rep.fragmentsRepaired(), "one column of four stripes: " + rep);
    assertEquals(4, rep.fragmentsMissing(), rep.toString());
    assertEquals(4, columnFiles("sco_1").size());
    assertArrayEquals(d, open(preset(Compression.NONE, false, 16 * 1024, new Policy(2, 2, 3, 1)), 4, null).get(NS, "sco_1"));
  }

  @Test
  void aStoreThatComesBackIsReintegrated() throws Exception {
    Policy p = new Policy(2, 1, 2, 1);
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, p), 4, null);
    s.createNamespace(NS);
    flaky.get(2).down = true;
    byte[] d = data(13, 70_000);
    s.put(NS, "a", d); // stores 0, 1, 3
    flaky.get(2).down = false;
    flaky.get(3).down = true; // now one of a's stores is gone
    assertArrayEquals(d, open(preset(Compression.NONE, false, 16 * 1024, p), 4, null).get(NS, "a"));
    RepairReport rep = s.repair(false);
    assertTrue(rep.fragmentsRepaired() >= 1, rep.toString()); // rebuilt onto store 2, which came back
    assertTrue(rep.manifestsRepaired() >= 1, rep.toString());
    flaky.get(0).down = true; // and still one more may go
    assertArrayEquals(d, open(preset(Compression.NONE, false, 16 * 1024, p), 4, null).get(NS, "a"));
  }

  @Test
  void replaceAndDeleteAndList() throws Exception {
    FragmentObjectStore s = open(preset(Compression.ZSTD, true, 16 * 1024, new Policy(2, 1, 2, 1)), 3, key(3));
    s.createNamespace(NS);
    assertTrue(s.namespaceExists(NS));
    s.put(NS, "volume", data(1, 100));
    s.put(NS, "volume", data(2, 50_000));
    assertArrayEquals(data(2, 50_000), s.get(NS, "volume"));
    assertEquals(3, columnFiles("volume").size(), "the old version's columns are gone");
    Path f = dir.resolve("src");
    Files.write(f, data(3, 5000));
    s.put(NS, "tlog_1", f);
    assertEquals(List.of("tlog_1", "volume"), s.list(NS, ""));
    assertEquals(List.of("tlog_1"), s.list(NS, "tlog"));
    assertThrows(EOFException.class, () -> s.read(NS, "tlog_1", 4000, ByteBuffer.allocate(2000)));
    s.delete(NS, "tlog_1");
    assertFalse(s.exists(NS, "tlog_1"));
    assertTrue(columnFiles("tlog_1").isEmpty());
    assertThrows(NoSuchObjectException.class, () -> s.get(NS, "tlog_1"));
    s.deleteNamespace(NS);
    assertFalse(s.namespaceExists(NS));
    assertThrows(NoSuchObjectException.class, () -> s.put(NS, "x", new byte[1]));
    assertThrows(NoSuchObjectException.class, () -> s.list(NS, ""));
  }

  /**
   * A replace removes the old version's fragments once the new one is stored; a read that began on the old
   * manifest then finds them gone and must read the new version whole, never fail (as on a plain store).
   */
  @Test
  void aReadRacingAReplaceReturnsTheNewVersion() throws Exception {
    FragmentObjectStore s = open(preset(Compression.LZ4, false, 16 * 1024, new Policy(2, 1, 2, 1)), 3, null);
    s.createNamespace(NS);
    s.put(NS, "tlog_2", data(1, 100_000));
    assertArrayEquals(data(1, 100_000), s.get(NS, "tlog_2")); // its manifest is now cached
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeRead = () -> {
        for (FlakyStore.Switch other : flaky) {
          other.beforeRead = null;
        }
        s.put(NS, "tlog_2", data(2, 120_000));
      };
    }
    assertArrayEquals(data(2, 120_000), s.get(NS, "tlog_2"), "get racing a replace");
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeRead = () -> {
        for (FlakyStore.Switch other : flaky) {
          other.beforeRead = null;
        }
        s.put(NS, "tlog_2", data(3, 120_000));
      };
    }
    ByteBuffer b = ByteBuffer.allocate(40_000);
    s.read(NS, "tlog_2", 50_000, b);
    assertArrayEquals(Arrays.copyOfRange(data(3, 120_000), 50_000, 90_000), b.array(), "ranged read racing a replace");
    assertEquals(0, s.degradedReads(), "a replace is not a degraded read");
  }

  /**
   * An interrupt of the writing thread (an engine closing a vDisk interrupts its uploads) arrives
   * while the manifests are being written: the put still ends whole, the interrupt is kept for
   * the caller, and no store is taken for down.
   */
  @Test
  void anInterruptedPutEndsWholeAndKeepsTheInterrupt() throws Exception {
    Policy p = new Policy(4, 2, 5, 1);
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, p), 6, null);
    s.createNamespace(NS);
    s.put(NS, "tlog_14", data(1, 70_000));
    Thread caller = Thread.currentThread();
    flaky.get(3).beforePut = name -> {
      if (name.endsWith(".vm")) {
        flaky.get(3).beforePut = null;
        caller.interrupt();
      }
    };
    s.put(NS, "tlog_14", data(2, 90_000));
    assertTrue(Thread.interrupted(), "the caller's interrupt is kept (and cleared here)");
    assertEquals(List.of(), s.storesDown());
    assertArrayEquals(data(2, 90_000), s.get(NS, "tlog_14"));
    assertArrayEquals(data(2, 90_000), open(preset(Compression.NONE, false, 16 * 1024, p), 6, null).get(NS, "tlog_14"),
        "a fresh process reads the new version");
  }

  /**
   * Manifest puts that land but report failure (an fsync of the directory failing after the
   * rename) leave too few stores known good: the put fails, and the object stays the previous
   * version everywhere, never a manifest pointing at withdrawn fragments.
   */
  @Test
  void aReplaceThatFailsAfterItsManifestsLandedLeavesThePreviousVersion() throws Exception {
    Policy p = new Policy(4, 2, 5, 1);
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, p), 6, null);
    s.createNamespace(NS);
    s.put(NS, "tlog_14", data(1, 70_000));
    FragmentObjectStore writer = open(preset(Compression.NONE, false, 16 * 1024, p), 6, null); // knows no manifest yet
    for (int i = 3; i < 6; i++) {
      FlakyStore.Switch sw = flaky.get(i);
      sw.afterPut = name -> {
        if (name.endsWith(".vm")) {
          sw.afterPut = null;
          throw new IOException("fsync of the directory failed (test)");
        }
      };
    }
    assertThrows(IOException.class, () -> writer.put(NS, "tlog_14", data(2, 90_000)));
    assertArrayEquals(data(1, 70_000), writer.get(NS, "tlog_14"));
    assertArrayEquals(data(1, 70_000), open(preset(Compression.NONE, false, 16 * 1024, p), 6, null).get(NS, "tlog_14"),
        "a fresh process reads the previous version");
  }

  /**
   * A gate that opens only when {@code parties} calls are inside it at the same time: calls made one
   * after the other never open it and fail after the bound (the test then fails on a real outcome,
   * the put's error), calls made in parallel all pass.
   */
  private static FlakyStore.NameHook together(java.util.concurrent.CountDownLatch gate,
      java.util.function.Predicate<String> which) {
    return name -> {
      if (!which.test(name)) {
        return;
      }
      gate.countDown();
      try {
        if (!gate.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
          throw new IOException("store calls were not made in parallel (test)");
        }
      } catch (InterruptedException e) {
        throw new java.io.InterruptedIOException();
      }
    };
  }

  /** A put sends its fragment columns to their six stores at once, then its manifests at once. */
  @Test
  void aPutSendsItsFragmentsAndManifestsToTheStoresInParallel() throws Exception {
    Preset preset = preset(Compression.NONE, false, 16 * 1024, new Policy(4, 2, 6, 1));
    FragmentObjectStore s = open(preset, 6, null);
    s.createNamespace(NS);
    java.util.concurrent.CountDownLatch columns = new java.util.concurrent.CountDownLatch(6);
    java.util.concurrent.CountDownLatch manifests = new java.util.concurrent.CountDownLatch(6);
    for (FlakyStore.Switch sw : flaky) {
      FlakyStore.NameHook c = together(columns, n -> n.contains(FragmentObjectStore.COLUMN_MARK));
      FlakyStore.NameHook m = together(manifests, n -> n.endsWith(FragmentObjectStore.MANIFEST_SUFFIX));
      sw.beforePut = name -> {
        c.run(name);
        m.run(name);
      };
    }
    byte[] d = data(21, 300_000);
    s.put(NS, "sco_7", d);
    assertEquals(0, columns.getCount());
    assertEquals(0, manifests.getCount());
    assertEquals(List.of(), s.storesDown());
    assertArrayEquals(d, open(preset, 6, null).get(NS, "sco_7"));
  }

  /** A process that has not got an object's manifest cached reads it from every store at once. */
  @Test
  void aManifestIsReadFromEveryStoreInParallel() throws Exception {
    Preset preset = preset(Compression.NONE, false, 16 * 1024, new Policy(2, 2, 4, 1));
    FragmentObjectStore s = open(preset, 5, null);
    s.createNamespace(NS);
    byte[] d = data(22, 50_000);
    s.put(NS, "tlog_3", d);
    java.util.concurrent.CountDownLatch gets = new java.util.concurrent.CountDownLatch(5);
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeGet = together(gets, n -> n.endsWith(FragmentObjectStore.MANIFEST_SUFFIX));
    }
    FragmentObjectStore fresh = open(preset, 5, null);
    assertArrayEquals(d, fresh.get(NS, "tlog_3"));
    assertEquals(0, gets.getCount());
    // and a put of a new object (no manifest anywhere) asks every store at once too
    java.util.concurrent.CountDownLatch none = new java.util.concurrent.CountDownLatch(5);
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeGet = together(none, n -> n.endsWith(FragmentObjectStore.MANIFEST_SUFFIX));
    }
    fresh.put(NS, "tlog_4", d);
    assertEquals(0, none.getCount());
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeGet = null;
    }
    assertArrayEquals(d, open(preset, 5, null).get(NS, "tlog_4"));
  }

  /** A read that spans several fragments fetches them from their stores at once, not one after the other. */
  @Test
  void aReadOfSeveralFragmentsFetchesThemInParallel() throws Exception {
    Preset preset = preset(Compression.NONE, false, 16 * 1024, new Policy(2, 1, 3, 1));
    FragmentObjectStore s = open(preset, 3, null);
    s.createNamespace(NS);
    byte[] d = data(25, 200_000);
    s.put(NS, "sco_12", d);
    java.util.concurrent.CountDownLatch reads = new java.util.concurrent.CountDownLatch(5);
    for (FlakyStore.Switch sw : flaky) {
      sw.beforeEachRead = together(reads, n -> n.contains(FragmentObjectStore.COLUMN_MARK));
    }
    FragmentObjectStore fresh = open(preset, 3, null);
    fresh.size(NS, "sco_12");
    ByteBuffer b = ByteBuffer.allocate(5 * 16 * 1024 - 100); // five data fragments, the first from byte 50
    fresh.read(NS, "sco_12", 16 * 1024 * 2 + 50, b);
    assertEquals(0, reads.getCount());
    assertEquals(5, fresh.fragmentsFetched());
    assertEquals(0, fresh.degradedReads());
    assertArrayEquals(Arrays.copyOfRange(d, 16 * 1024 * 2 + 50, 16 * 1024 * 7 - 50), b.array());
  }

  /**
   * A delete made while a store is down: the object must not come back with that store (reads, exists
   * and list say it is gone), and repair removes its manifest and columns there, then the delete
   * records. An object written again under the same name afterwards is read normally.
   */
  @Test
  void aDeleteMissedByAStoreIsReplayedWhenItReturns() throws Exception {
    Policy p = new Policy(2, 1, 2, 2);
    Preset preset = preset(Compression.NONE, false, 16 * 1024, p);
    FragmentObjectStore s = open(preset, 3, null);
    s.createNamespace(NS);
    byte[] d = data(23, 80_000);
    s.put(NS, "sco_9", d);
    s.put(NS, "sco_10", d);
    flaky.get(1).down = true;
    s.delete(NS, "sco_9");
    s.delete(NS, "sco_10");
    flaky.get(1).down = false;
    Path stale = roots.get(1).resolve(NS).resolve("sco_9" + FragmentObjectStore.MANIFEST_SUFFIX);
    assertTrue(Files.exists(stale), "the store that was down still has the object");
    FragmentObjectStore fresh = open(preset, 3, null);
    assertThrows(NoSuchObjectException.class, () -> fresh.get(NS, "sco_9"));
    assertFalse(fresh.exists(NS, "sco_9"));
    assertEquals(List.of(), fresh.list(NS, ""));
    fresh.put(NS, "sco_10", data(24, 30_000)); // written again after its delete
    assertEquals(List.of("sco_10"), fresh.list(NS, ""));

    RepairReport rep = fresh.repair(false);
    assertEquals(1, rep.deletesReplayed(), rep.toString());
    assertFalse(Files.exists(stale), "the missed delete was replayed");
    assertTrue(columnFiles("sco_9").isEmpty(), "no column of the deleted object is left: " + columnFiles("sco_9"));
    assertEquals(0, rep.objectsUnrecoverable(), rep.toString());
    assertEquals(3, columnFiles("sco_10").size(), "only the new version's columns: " + columnFiles("sco_10"));
    fresh.repair(false); // the new sco_10 is on every store now: its old delete record goes
    for (Path root : roots) {
      try (Stream<Path> files = Files.list(root.resolve(NS))) {
        assertEquals(List.of(), files.map(f -> f.getFileName().toString())
            .filter(n -> n.endsWith(FragmentObjectStore.TOMBSTONE_SUFFIX)).toList(), "delete records left on " + root);
      }
    }
    assertArrayEquals(data(24, 30_000), open(preset, 3, null).get(NS, "sco_10"));
    assertEquals(List.of("sco_10"), open(preset, 3, null).list(NS, ""));
  }

  /**
   * A large object is encoded on several threads, a range of stripes each, with compression shrinking
   * some fragments and not others (the gaps are closed afterwards): every byte reads back, whole, ranged,
   * and degraded, from a fresh process; the stored fragments are as small as compressed.
   */
  @Test
  void aLargeObjectEncodedOnSeveralThreadsReadsBackExactly() throws Exception {
    for (boolean encrypted : new boolean[] {false, true}) {
      flaky.clear();
      roots.clear();
      Preset preset = preset(Compression.LZ4, encrypted, 64 * 1024, new Policy(3, 2, 5, 1));
      EncryptionKey k = encrypted ? key(9) : null;
      FragmentObjectStore s = open(preset, 5, k);
      String ns = encrypted ? "vdisk-enc" : NS;
      s.createNamespace(ns);
      byte[] d = data(31, FragmentObjectStore.ENCODE_PARALLEL_MIN_BYTES + 2 * 1024 * 1024 + 4321);
      s.put(ns, "sco_big", d);
      FragmentObjectStore fresh = open(preset, 5, k);
      assertArrayEquals(d, fresh.get(ns, "sco_big"));
      ByteBuffer b = ByteBuffer.allocate(300_000);
      fresh.read(ns, "sco_big", 5_000_001, b);
      assertArrayEquals(Arrays.copyOfRange(d, 5_000_001, 5_300_001), b.array());
      flaky.get(0).down = true;
      flaky.get(3).down = true;
      assertArrayEquals(d, open(preset, 5, k).get(ns, "sco_big"), "degraded, two stores down");
      flaky.get(0).down = false;
      flaky.get(3).down = false;
      long stored = 0;
      for (Path root : roots) {
        try (Stream<Path> files = Files.list(root.resolve(ns))) {
          for (Path f : files.filter(f -> f.getFileName().toString().contains(FragmentObjectStore.COLUMN_MARK)).toList()) {
            stored += Files.size(f);
          }
        }
      }
      assertTrue(stored < d.length * 5L / 3 * 9 / 10, "half the data is runs: compressed columns, " + stored + " bytes");
    }
  }

  @Test
  void aDeleteRecordIsChecked() throws Exception {
    long v = 1234567890123L;
    assertEquals(v, Tombstone.decode(Tombstone.encode(v), "x"));
    for (int i = 0; i < Tombstone.BYTES; i++) {
      byte[] b = Tombstone.encode(v);
      b[i] ^= 0x10;
      int at = i;
      assertThrows(IOException.class, () -> Tombstone.decode(b, "x"), "flipped byte " + at);
    }
    assertThrows(IOException.class, () -> Tombstone.decode(new byte[5], "x"));
  }

  @Test
  void wrongOrMissingKeyIsAClearErrorAndReturnsNoData() throws Exception {
    Preset enc = preset(Compression.LZ4, true, 16 * 1024, new Policy(2, 1, 2, 1));
    FragmentObjectStore s = open(enc, 3, key(1));
    s.createNamespace(NS);
    s.put(NS, "sco_1", data(4, 100_000));
    FragmentObjectStore wrong = open(enc, 3, key(2));
    ByteBuffer b = ByteBuffer.allocate(4096);
    FragmentObjectStore.EncryptionKeyException e =
        assertThrows(FragmentObjectStore.EncryptionKeyException.class, () -> wrong.read(NS, "sco_1", 0, b));
    assertTrue(e.getMessage().contains("another key"), e.getMessage());
    assertEquals(0, b.position(), "no bytes returned");
    assertEquals(0, wrong.fragmentsFetched());
    Preset plain = preset(Compression.LZ4, false, 16 * 1024, new Policy(2, 1, 2, 1));
    FragmentObjectStore none = open(plain, 3, null);
    e = assertThrows(FragmentObjectStore.EncryptionKeyException.class, () -> none.get(NS, "sco_1"));
    assertTrue(e.getMessage().contains("no encryption key"), e.getMessage());
    IllegalArgumentException noKey = assertThrows(IllegalArgumentException.class, () -> open(enc, 3, null));
    assertTrue(noKey.getMessage().contains("no encryption key"), noKey.getMessage());
    // The fragments on disk do not hold the plain bytes.
    byte[] d = data(4, 100_000);
    for (Path col : columnFiles("sco_1")) {
      byte[] stored = Files.readAllBytes(col);
      assertFalse(indexOf(stored, Arrays.copyOfRange(d, 10_000, 10_032)) >= 0, "plain text found in " + col);
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  @Test
  void keyFiles() throws Exception {
    Path raw = dir.resolve("raw.key");
    byte[] k = new byte[32];
    new Random(5).nextBytes(k);
    Files.write(raw, k);
    Path hex = dir.resolve("hex.key");
    Files.writeString(hex, java.util.HexFormat.of().formatHex(k) + "\n");
    assertEquals(EncryptionKey.load(raw).fingerprint(), EncryptionKey.load(hex).fingerprint());
    assertFalse(EncryptionKey.load(raw).toString().contains(java.util.HexFormat.of().formatHex(k)));
    Path shortKey = dir.resolve("short.key");
    Files.write(shortKey, new byte[16]);
    IOException e = assertThrows(IOException.class, () -> EncryptionKey.load(shortKey));
    assertTrue(e.getMessage().contains("32 raw bytes or 64 hexadecimal"), e.getMessage());
    e = assertThrows(IOException.class, () -> EncryptionKey.load(dir.resolve("none.key")));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void compressionShrinksCompressibleFragmentsAndLeavesRandomOnes() throws Exception {
    for (Compression c : List.of(Compression.LZ4, Compression.ZSTD)) {
      byte[] zeros = new byte[65536];
      byte[] enc = FragmentCodec.encode(zeros, 0, zeros.length, 7, 0, 0, c, null);
      assertTrue(enc.length < 2000, c + ": " + enc.length);
      assertArrayEquals(zeros, FragmentCodec.decode(enc, 7, 0, 0, zeros.length, null));
      byte[] rnd = data(8, 4096);
      new Random(8).nextBytes(rnd);
      byte[] enc2 = FragmentCodec.encode(rnd, 0, rnd.length, 7, 0, 0, c, null);
      assertEquals(rnd.length + FragmentCodec.HEADER_BYTES, enc2.length, "random data stored as it is");
      assertArrayEquals(rnd, FragmentCodec.decode(enc2, 7, 0, 0, rnd.length, null));
    }
  }

  @Test
  void backgroundMaintenanceRepairsWithoutBeingAsked() throws Exception {
    Policy p = new Policy(2, 1, 2, 1);
    FragmentObjectStore s = open(preset(Compression.NONE, false, 16 * 1024, p), 3, null);
    s.createNamespace(NS);
    byte[] d = data(21, 50_000);
    s.put(NS, "sco_1", d);
    Files.delete(columnFiles("sco_1").get(0));
    s.startMaintenance(Duration.ofMillis(20), Duration.ofMillis(50));
    try {
      // Bounded wait for a real outcome: the deleted column is back.
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (columnFiles("sco_1").size() < 3 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      assertEquals(3, columnFiles("sco_1").size());
    } finally {
      s.close();
    }
    assertArrayEquals(d, open(preset(Compression.NONE, false, 16 * 1024, p), 3, null).get(NS, "sco_1"));
  }
}
