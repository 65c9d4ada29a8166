package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * Seeded histories of namespace operations (mkdir, create of small and vDisk files, writes,
 * truncates, renames, removes) with restarts, checked against a map of path to content after
 * every restart (half of them without closing, as after a crash). A failure prints the seed; {@code -Dsim.seed=N} replays it.
 */
class NamespaceModelTest {
  @TempDir
  Path dir;

  /** Model: path -> content (null for a directory). */
  final TreeMap<String, byte[]> model = new TreeMap<>();

  @Test
  void randomHistoriesMatchTheModelAcrossRestarts() throws Exception {
    long seed = FuzzTest.seed();
    Random rnd = new Random(seed);
    try (Engine engine = TestEngines.start(dir.resolve("engine"))) {
      EngineCatalog catalog = new EngineCatalog(engine);
      model.put("", null);
      for (int round = 0; round < 6; round++) {
        LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), catalog,
            NfsConfig.DEFAULT_VDISK_PATTERNS, 64 << 10, 4 << 10); // compacts often
        check(ns, seed);
        for (int i = 0; i < 60; i++) {
          step(ns, rnd, seed);
        }
        check(ns, seed);
        if (rnd.nextBoolean()) {
          ns.close();
        } // else: abandoned, as a crash would (every step above was acknowledged as durable)
      }
    }
  }

  private void step(LocalNamespace ns, Random rnd, long seed) throws Exception {
    List<String> dirs = new ArrayList<>();
    List<String> files = new ArrayList<>();
    model.forEach((p, c) -> (c == null ? dirs : files).add(p));
    String parent = dirs.get(rnd.nextInt(dirs.size()));
    String name = "n" + rnd.nextInt(12) + (rnd.nextInt(3) == 0 ? ".raw" : ".txt");
    String path = parent + "/" + name;
    int op = rnd.nextInt(8);
    try {
      switch (op) {
        case 0 -> {
          String d = parent + "/" + name.replace('.', '_');
          if (!model.containsKey(d)) {
            ns.mkdir(resolve(ns, parent), name.replace('.', '_'), 0, 0, SetAttr.NONE);
            model.put(d, null);
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
            ns.write(resolve(ns, f), off, ByteBuffer.wrap(data), Durability.DURABLE);
            byte[] next = Arrays.copyOf(c, Math.max(c.length, off + data.length));
            System.arraycopy(data, 0, next, off, data.length);
            model.put(f, next);
          }
        }
        case 4 -> {
          if (!files.isEmpty()) {
            String f = files.get(rnd.nextInt(files.size()));
            int size = rnd.nextInt(model.get(f).length + 9000);
            ns.setattr(resolve(ns, f), new SetAttr(null, null, null, (long) size, SetAttr.DONT_CHANGE,
                SetAttr.DONT_CHANGE));
            model.put(f, Arrays.copyOf(model.get(f), size));
          }
        }
        case 5 -> {
          if (!files.isEmpty()) {
            String f = files.get(rnd.nextInt(files.size()));
            ns.remove(resolve(ns, parentOf(f)), nameOf(f));
            model.remove(f);
          }
        }
        case 6 -> {
          String d = dirs.get(rnd.nextInt(dirs.size()));
          if (!d.isEmpty() && model.subMap(d + "/", d + "0").isEmpty()) {
            ns.rmdir(resolve(ns, parentOf(d)), nameOf(d));
            model.remove(d);
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

  private void check(LocalNamespace ns, long seed) throws Exception {
    int entries = 0;
    for (var e : model.entrySet()) {
      long id = resolve(ns, e.getKey());
      Attr a = ns.getattr(id);
      if (e.getValue() == null) {
        assertEquals(Attr.DIR, a.type(), "seed " + seed + ": " + e.getKey());
        entries += ns.readdir(id, 0, 10_000).size() - 2;
        continue;
      }
      assertEquals(e.getValue().length, a.size(), "seed " + seed + ": size of " + e.getKey());
      ByteBuffer b = ByteBuffer.allocate(e.getValue().length);
      ns.read(id, 0, b);
      assertArrayEquals(e.getValue(), b.array(), "seed " + seed + ": content of " + e.getKey());
    }
    assertEquals(model.size() - 1, entries, "seed " + seed + ": entries");
    assertTrue(ns.getattr(ns.rootId()).type() == Attr.DIR);
  }

  private static long resolve(LocalNamespace ns, String path) throws NfsException {
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
}
