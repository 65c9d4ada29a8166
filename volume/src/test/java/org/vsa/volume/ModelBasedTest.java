package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Long seeded random sequences of writes (mixed sizes and alignments), reads, unmaps, flushes,
 * clean restarts and crashes right after a flush, checked against a byte-array model. A failure
 * prints the seed; {@code -Dsim.seed=N} replays it exactly.
 *
 * <p>Runs on the local directory backend; subclasses run the same histories on other backends
 * by overriding {@link #backend}.
 */
class ModelBasedTest {
  @TempDir Path dir;

  private static final long SIZE = 48 * MIB;
  private static final int OPS = 4000;

  @Test
  void randomHistoriesMatchTheModel() throws Exception {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      run(Long.parseLong(fixed), dir.resolve("replay"));
      return;
    }
    long base = new Random().nextLong();
    for (int i = 0; i < 3; i++) {
      run(base + i, dir.resolve("run" + i));
    }
  }

  @Test
  void snapshotCloneRollbackScrubHistoriesMatchTheModel() throws Exception {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      new SnapshotModel(Long.parseLong(fixed), dir.resolve("snap-replay")).run();
      return;
    }
    long base = new Random().nextLong();
    for (int i = 0; i < 2; i++) {
      new SnapshotModel(base + i, dir.resolve("snap" + i)).run();
    }
  }

  /**
   * The same histories on dedupe-enabled vDisks writing repeated content (a few distinct 4 KiB
   * blocks, over and over, across vDisks), with waits for the backend so that writes share
   * stored copies, and new vDisks created and deleted: scrub, delete, rollback, restart and crash
   * must keep every vDisk, snapshot and clone equal to the model.
   */
  @Test
  void dedupeHistoriesMatchTheModel() throws Exception {
    String fixed = System.getProperty("sim.seed");
    if (fixed != null && !fixed.isBlank() && !fixed.startsWith("$")) {
      new SnapshotModel(Long.parseLong(fixed), dir.resolve("dedupe-replay"), true).run();
      return;
    }
    long base = new Random().nextLong();
    int histories = getClass() == ModelBasedTest.class ? 2 : 1; // one on the slower backends of the subclasses
    for (int i = 0; i < histories; i++) {
      new SnapshotModel(base + i, dir.resolve("dedupe" + i), true).run();
    }
  }

  /**
   * vDisks, their snapshots and clones as byte arrays; every engine operation is applied to both
   * and refusals are predicted by the model (a snapshot with clones cannot be deleted, a
   * rollback past one is refused). After every structural operation the affected vDisks are
   * read whole and compared; at the end every snapshot is cloned and compared too.
   */
  private final class SnapshotModel {
    private final long VSIZE = 8 * MIB;
    private final int SNAP_OPS = 700;
    private final long seed;
    private final Path runDir;
    private final Random rnd;
    private final Map<String, byte[]> disks = new TreeMap<>();
    private final Map<String, LinkedHashMap<String, byte[]>> snaps = new TreeMap<>();
    /** clone name -> {parent, snapshot} */
    private final Map<String, String[]> parents = new TreeMap<>();
    private Engine e;
    private int op;
    private final boolean dedupe;
    private boolean sawShare;
    private int flattens;
    private final byte[][] blocks = new byte[6][];

    SnapshotModel(long seed, Path runDir) {
      this(seed, runDir, false);
    }

    SnapshotModel(long seed, Path runDir, boolean dedupe) {
      this.dedupe = dedupe;
      for (int i = 0; i < blocks.length; i++) {
        blocks[i] = TestEngines.pattern(seed * 31 + i, 4096);
      }
      this.seed = seed;
      this.runDir = runDir;
      this.rnd = new Random(seed);
    }

    void run() throws Exception {
      e = start(runDir);
      try {
        createDisk("m");
        if (dedupe) {
          createDisk("n");
        }
        for (op = 0; op < SNAP_OPS; op++) {
          step();
        }
        System.out.println("seed " + seed + ": " + flattens + " clones flattened");
        e.close();
        e = start(runDir);
        for (String d : disks.keySet()) {
          check(d, "final");
        }
        int k = 0;
        for (Map.Entry<String, LinkedHashMap<String, byte[]>> ds : snaps.entrySet()) {
          for (Map.Entry<String, byte[]> s : ds.getValue().entrySet()) {
            String name = "final" + k++;
            Volume c = e.cloneVolume(ds.getKey(), s.getKey(), name);
            compare(c, s.getValue(), "clone of snapshot " + ds.getKey() + "@" + s.getKey());
          }
        }
        if (dedupe && !sawShare) {
          fail("seed " + seed + ": no write shared a stored cluster; the history did not exercise dedupe");
        }
      } catch (Exception | AssertionError ex) {
        throw new AssertionError("seed " + seed + " failed at op " + op + "; replay with -Dsim.seed=" + seed, ex);
      } finally {
        e.close();
      }
    }

    private void createDisk(String name) throws Exception {
      VolumeSpec spec = TestEngines.spec(name, VSIZE);
      e.create(spec, VolumeSettings.defaults(spec).withDedupe(dedupe));
      disks.put(name, new byte[(int) VSIZE]);
      snaps.put(name, new LinkedHashMap<>());
    }

    private void step() throws Exception {
      List<String> names = new ArrayList<>(disks.keySet());
      String d = names.get(rnd.nextInt(names.size()));
      Volume v = e.volume(d).orElseThrow();
      byte[] model = disks.get(d);
      if (dedupe) {
        int extra = rnd.nextInt(100);
        if (extra < 5) {
          DedupeTest.awaitBackend(v); // its clusters enter the index: later writes share them
          return;
        } else if (extra < 7 && disks.size() < 5) {
          createDisk("d" + op);
          return;
        } else if (extra < 50) {
          int clusters = 1 + rnd.nextInt(16);
          long off = 4096L * rnd.nextInt((int) (VSIZE / 4096) - clusters + 1);
          byte[] data = new byte[clusters * 4096];
          for (int c = 0; c < clusters; c++) {
            System.arraycopy(blocks[rnd.nextInt(blocks.length)], 0, data, c * 4096, 4096);
          }
          v.write(off, ByteBuffer.wrap(data), rnd.nextInt(10) == 0 ? Durability.DURABLE : Durability.BUFFERED);
          System.arraycopy(data, 0, model, (int) off, data.length);
          sawShare |= e.stats(d).getOrDefault("dedupeShared", 0L) > 0;
          return;
        }
      }
      int kind = rnd.nextInt(100);
      if (kind < 45) {
        int len = Math.min(length(rnd), 64 * 1024);
        long off = 512L * rnd.nextInt((int) ((VSIZE - len) / 512) + 1);
        byte[] data = new byte[len];
        rnd.nextBytes(data);
        v.write(off, ByteBuffer.wrap(data), rnd.nextInt(10) == 0 ? Durability.DURABLE : Durability.BUFFERED);
        System.arraycopy(data, 0, model, (int) off, len);
      } else if (kind < 65) {
        int len = Math.min(length(rnd), 64 * 1024);
        long off = 512L * rnd.nextInt((int) ((VSIZE - len) / 512) + 1);
        ByteBuffer got = ByteBuffer.allocate(len);
        v.read(off, got);
        if (!Arrays.equals(got.array(), 0, len, model, (int) off, (int) off + len)) {
          fail(String.format("seed %d op %d: read of %s [%d, +%d) differs from the model", seed, op, d, off, len));
        }
      } else if (kind < 70) {
        int len = 4096 * (1 + rnd.nextInt(64));
        long off = 4096L * rnd.nextInt((int) ((VSIZE - len) / 4096) + 1);
        v.unmap(off, len);
        Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
      } else if (kind < 75) {
        v.flush();
      } else if (kind < 83) {
        String s = "s" + op;
        e.createSnapshot(d, s);
        snaps.get(d).put(s, model.clone());
      } else if (kind < 86) {
        rollback(d);
      } else if (kind < 90) {
        deleteSnapshot(d);
      } else if (kind < 92) {
        cloneOne(d);
      } else if (kind < 93) {
        flatten(d);
      } else if (kind < 94) {
        deleteDisk(d);
      } else if (kind < 97) {
        ScrubReport r = e.scrub(d, ScrubOptions.defaults().withRate(0));
        if (r.deferred() != null) {
          fail("scrub deferred its deletions with nothing else running: " + r.deferred());
        }
        check(d, "after a scrub");
      } else if (kind < 99) {
        e.close();
        e = start(runDir);
        check(d, "after a restart");
      } else {
        for (String x : disks.keySet()) {
          e.volume(x).orElseThrow().flush();
        }
        e.crash();
        e = start(runDir);
        check(d, "after a crash");
      }
    }

    private void rollback(String d) throws Exception {
      List<String> ss = new ArrayList<>(snaps.get(d).keySet());
      if (ss.isEmpty()) {
        return;
      }
      String s = ss.get(rnd.nextInt(ss.size()));
      List<String> later = ss.subList(ss.indexOf(s) + 1, ss.size());
      boolean refused = later.stream().anyMatch(x -> hasClones(d, x));
      try {
        e.rollback(d, s);
        if (refused) {
          fail("rollback of " + d + " past a snapshot with clones was allowed");
        }
      } catch (IllegalStateException ex) {
        if (!refused) {
          throw ex;
        }
        return;
      }
      disks.put(d, snaps.get(d).get(s).clone());
      for (String x : new ArrayList<>(later)) {
        snaps.get(d).remove(x);
      }
      check(d, "after a rollback to " + s);
    }

    private void deleteSnapshot(String d) throws Exception {
      List<String> ss = new ArrayList<>(snaps.get(d).keySet());
      if (ss.isEmpty()) {
        return;
      }
      String s = ss.get(rnd.nextInt(ss.size()));
      boolean refused = hasClones(d, s);
      try {
        e.deleteSnapshot(d, s);
        if (refused) {
          fail("snapshot " + d + "@" + s + " with clones was deleted");
        }
        snaps.get(d).remove(s);
      } catch (IllegalStateException ex) {
        if (!refused) {
          throw ex;
        }
      }
    }

    private void cloneOne(String d) throws Exception {
      List<String> ss = new ArrayList<>(snaps.get(d).keySet());
      if (ss.isEmpty() || disks.size() >= 5) {
        return;
      }
      String s = ss.get(rnd.nextInt(ss.size()));
      String name = "c" + op;
      e.cloneVolume(d, s, name);
      disks.put(name, snaps.get(d).get(s).clone());
      snaps.put(name, new LinkedHashMap<>());
      parents.put(name, new String[] {d, s});
      check(name, "after cloning");
    }

    /** Flattens a clone: refused while it has snapshots; afterwards it holds no snapshot of its parent. */
    private void flatten(String d) throws Exception {
      boolean refused = parents.containsKey(d) && !snaps.get(d).isEmpty();
      try {
        FlattenReport r = e.flatten(d, 0);
        if (refused) {
          fail("flatten of " + d + ", which has snapshots, was allowed");
        }
        if (!parents.containsKey(d) && r.clustersCopied() != 0) {
          fail("flatten of " + d + ", which is no clone, copied " + r.clustersCopied() + " clusters");
        }
      } catch (IllegalStateException ex) {
        if (!refused) {
          throw ex;
        }
        return;
      }
      if (parents.remove(d) != null) {
        flattens++;
      }
      if (e.volume(d).orElseThrow().cloneSource().isPresent()) {
        fail("flattened " + d + " still has a parent");
      }
      check(d, "after a flatten");
    }

    private void deleteDisk(String d) throws Exception {
      if (d.equals("m")) {
        return;
      }
      boolean refused = parents.values().stream().anyMatch(p -> p[0].equals(d));
      try {
        e.delete(d);
        if (refused) {
          fail("vDisk " + d + " with clones was deleted");
        }
      } catch (IllegalStateException ex) {
        if (!refused) {
          throw ex;
        }
        return;
      }
      disks.remove(d);
      snaps.remove(d);
      parents.remove(d);
    }

    private boolean hasClones(String d, String s) {
      return parents.values().stream().anyMatch(p -> p[0].equals(d) && p[1].equals(s));
    }

    private void check(String d, String when) throws Exception {
      compare(e.volume(d).orElseThrow(), disks.get(d), d + " " + when);
    }

    private void compare(Volume v, byte[] want, String what) throws Exception {
      ByteBuffer got = ByteBuffer.allocate(want.length);
      v.read(0, got);
      if (!Arrays.equals(got.array(), want)) {
        int i = Arrays.mismatch(got.array(), want);
        fail(String.format("seed %d op %d: %s differs from the model at byte %d (replay with -Dsim.seed=%d)",
            seed, op, what, i, seed));
      }
    }
  }

  private void run(long seed, Path runDir) throws Exception {
    Random rnd = new Random(seed);
    byte[] model = new byte[(int) SIZE];
    Engine e = start(runDir);
    Volume v = e.create(TestEngines.spec("m", SIZE));
    int op = 0;
    try {
      for (op = 0; op < OPS; op++) {
        int kind = rnd.nextInt(100);
        if (kind < 55) {
          int len = length(rnd);
          long off = offset(rnd, len);
          byte[] data = new byte[len];
          rnd.nextBytes(data);
          v.write(off, ByteBuffer.wrap(data), rnd.nextInt(10) == 0 ? Durability.DURABLE : Durability.BUFFERED);
          System.arraycopy(data, 0, model, (int) off, len);
        } else if (kind < 85) {
          int len = length(rnd);
          long off = offset(rnd, len);
          ByteBuffer got = ByteBuffer.allocate(len);
          v.read(off, got);
          if (!Arrays.equals(got.array(), 0, len, model, (int) off, (int) off + len)) {
            fail(String.format("seed %d op %d: read [%d, +%d) differs from the model (replay with -Dsim.seed=%d)",
                seed, op, off, len, seed));
          }
        } else if (kind < 92) {
          int len = length(rnd) * (rnd.nextInt(4) == 0 ? 16 : 1);
          long off = offset(rnd, Math.min(len, (int) SIZE));
          len = (int) Math.min(len, SIZE - off);
          v.unmap(off, len);
          Arrays.fill(model, (int) off, (int) off + len, (byte) 0);
        } else if (kind < 99) {
          v.flush();
        } else if (rnd.nextBoolean()) {
          e.close();
          e = start(runDir);
          v = e.volume("m").orElseThrow();
        } else {
          // a crash right after a flush loses nothing
          v.flush();
          e.crash();
          e = start(runDir);
          v = e.volume("m").orElseThrow();
        }
      }
      // everything, once more, after a last restart
      e.close();
      e = start(runDir);
      v = e.volume("m").orElseThrow();
      for (long off = 0; off < SIZE; off += 4 * MIB) {
        ByteBuffer got = ByteBuffer.allocate((int) (4 * MIB));
        v.read(off, got);
        if (!Arrays.equals(got.array(), 0, (int) (4 * MIB), model, (int) off, (int) (off + 4 * MIB))) {
          fail(String.format("seed %d: final read at %d differs from the model (replay with -Dsim.seed=%d)", seed, off, seed));
        }
      }
      assertEquals(SIZE, v.sizeBytes());
    } catch (Exception | AssertionError ex) {
      throw new AssertionError("seed " + seed + " failed at op " + op + "; replay with -Dsim.seed=" + seed, ex);
    } finally {
      e.close();
    }
  }

  /** A metadata page cache of a few pages, so that pages are evicted and reloaded all the time. */
  private Engine start(Path runDir) throws java.io.IOException {
    return Engine.start(TestEngines.config(runDir, backend(runDir)).withMetadataCache(64 * 1024));
  }

  /** A new backend over the run's data: called at every (re)start, since the engine closes it. */
  protected org.vsa.backends.ObjectStore backend(Path runDir) throws java.io.IOException {
    return TestEngines.localBackend(runDir);
  }

  /** 512 B .. 256 KiB, biased towards small, always whole 512-byte sectors. */
  private static int length(Random rnd) {
    int r = rnd.nextInt(10);
    if (r < 4) {
      return 512 * (1 + rnd.nextInt(8));
    }
    if (r < 8) {
      return 4096 * (1 + rnd.nextInt(16));
    }
    return 512 * (1 + rnd.nextInt(512));
  }

  private static long offset(Random rnd, int len) {
    long sectors = (SIZE - len) / 512;
    // a hot region half of the time, so that history overwrites itself
    long span = rnd.nextBoolean() ? Math.min(sectors, 4096) : sectors;
    return 512 * (long) rnd.nextInt((int) span + 1);
  }
}
