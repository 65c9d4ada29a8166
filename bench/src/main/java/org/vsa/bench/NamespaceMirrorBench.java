package org.vsa.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.nfs.LocalNamespace;
import org.vsa.nfs.NamespaceMirror;
import org.vsa.nfs.SetAttr;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.volume.Durability;
import org.vsa.volume.SharedObjects;

/**
 * What writing a namespace through to the backend costs: creates (each followed by nothing) and
 * 4 KiB DURABLE writes to small files, per second, by 1 and by 8 threads, on a namespace without a
 * mirror and on one mirrored to a local-directory backend on the same disk, in alternating rounds.
 * Prints the median of each over the rounds.
 *
 * <p>{@code bench/java-bench.sh NamespaceMirrorBench [--rounds=N] [--ops=N] [--dir=D]} (default: 3
 * rounds of 2000 operations per case, in the temp directory, deleted at the end).
 */
public final class NamespaceMirrorBench {
  private static final VolumeCatalog NO_VDISKS = VolumeCatalog.NONE;

  public static void main(String[] args) throws Exception {
    int rounds = 3;
    int ops = 2000;
    Path base = Path.of(System.getProperty("java.io.tmpdir"));
    for (String a : args) {
      if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(a.substring(9));
      } else if (a.startsWith("--ops=")) {
        ops = Integer.parseInt(a.substring(6));
      } else if (a.startsWith("--dir=")) {
        base = Path.of(a.substring(6));
      } else {
        throw new IllegalArgumentException("unknown option " + a);
      }
    }
    Path dir = Files.createTempDirectory(base, "nsmirror-bench");
    try {
      String[] cases = {"create x1", "create x8", "write4k x1", "write4k x8"};
      List<List<Double>> plain = new ArrayList<>();
      List<List<Double>> mirrored = new ArrayList<>();
      for (int c = 0; c < cases.length; c++) {
        plain.add(new ArrayList<>());
        mirrored.add(new ArrayList<>());
      }
      for (int r = 0; r < rounds; r++) {
        for (int m = 0; m < 2; m++) {
          boolean withMirror = (r + m) % 2 == 1;
          Path d = dir.resolve("r" + r + (withMirror ? "-mirror" : "-plain"));
          try (LocalDirectoryObjectStore store = new LocalDirectoryObjectStore(d.resolve("backend"))) {
            NamespaceMirror mirror = withMirror ? new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true) : null;
            try (LocalNamespace ns = LocalNamespace.open("default", d.resolve("ns"), NO_VDISKS, List.of(), 0,
                mirror)) {
              for (int c = 0; c < cases.length; c++) {
                double perSec = run(ns, c, ops, cases[c].endsWith("x8") ? 8 : 1);
                (withMirror ? mirrored : plain).get(c).add(perSec);
              }
            }
          }
        }
      }
      System.out.printf(Locale.ROOT, "%-12s %14s %14s%n", "ops/s", "no mirror", "mirror");
      for (int c = 0; c < cases.length; c++) {
        System.out.printf(Locale.ROOT, "%-12s %14.0f %14.0f%n", cases[c], median(plain.get(c)),
            median(mirrored.get(c)));
      }
    } finally {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static double run(LocalNamespace ns, int kind, int ops, int threads) throws Exception {
    long dirId = ns.mkdir(ns.rootId(), "case" + kind, 0, 0, SetAttr.NONE);
    long[] files = new long[threads];
    for (int t = 0; t < threads; t++) {
      files[t] = ns.create(dirId, "w" + t, 0, 0, SetAttr.NONE, true);
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    long t0 = System.nanoTime();
    List<Future<?>> done = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int tt = t;
      done.add(pool.submit(() -> {
        ByteBuffer b = ByteBuffer.allocate(4096);
        for (int i = tt; i < ops; i += threads) {
          if (kind < 2) {
            ns.create(dirId, "f" + i, 0, 0, SetAttr.NONE, true);
          } else {
            ns.write(files[tt], (long) (i / threads) * 4096, b.clear(), Durability.DURABLE);
          }
        }
        return null;
      }));
    }
    for (Future<?> f : done) {
      f.get();
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    pool.shutdown();
    return ops / secs;
  }

  private static double median(List<Double> v) {
    List<Double> s = new ArrayList<>(v);
    s.sort(null);
    return s.get(s.size() / 2);
  }
}
