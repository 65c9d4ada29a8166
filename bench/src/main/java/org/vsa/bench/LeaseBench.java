package org.vsa.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.OwnershipLease;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * What the ownership lease check costs a write: two vDisks of one engine, one without a lease
 * (single node: the check is one volatile read) and one under a renewable lease (a volatile read
 * and a {@code System.nanoTime()} per acknowledgement), written in alternating rounds of 4 KiB
 * BUFFERED random writes by one thread (no fsync in the loop: the cheapest write there is, where
 * the check weighs most). Prints the median ns per write of each over the rounds.
 *
 * <p>{@code bench/java-bench.sh LeaseBench [--rounds=N] [--writes=N] [--dir=D]} (default: 8
 * rounds of 100000 writes per vDisk in the temp directory; each round writes 400 MiB per vDisk,
 * which the backend keeps: about 6.4 GiB in all, deleted at the end).
 */
public final class LeaseBench {
  public static void main(String[] args) throws Exception {
    int rounds = 8;
    int writes = 100_000;
    Path base = Path.of(System.getProperty("java.io.tmpdir"));
    for (String a : args) {
      if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(a.substring(9));
      } else if (a.startsWith("--writes=")) {
        writes = Integer.parseInt(a.substring(9));
      } else if (a.startsWith("--dir=")) {
        base = Path.of(a.substring(6));
      } else {
        throw new IllegalArgumentException("unknown option " + a);
      }
    }
    Path dir = Files.createTempDirectory(base, "lease-bench");
    OwnershipLease.Renewable lease = OwnershipLease.renewable(1, System.nanoTime() + 3_600_000_000_000L);
    long span = 1L << 30;
    EngineConfig cfg = EngineConfig.underDataDir(dir, new LocalDirectoryObjectStore(dir.resolve("backend")))
        .withWriteBufferCapacity(4L << 30).withReadCacheCapacity(16L << 20).withMetadataCache(64L << 20);
    try (Engine e = Engine.start(cfg, null, () -> "bench", n -> n.equals("leased") ? lease : OwnershipLease.ALWAYS)) {
      Volume plain = e.create(new VolumeSpec("plain", "default", span, 4096, 64L << 20, CachePolicy.NONE));
      Volume leased = e.create(new VolumeSpec("leased", "default", span, 4096, 64L << 20, CachePolicy.NONE));
      List<Double> p = new ArrayList<>();
      List<Double> l = new ArrayList<>();
      ByteBuffer data = ByteBuffer.allocateDirect(4096);
      run(plain, data, writes / 4, 1); // warm-up
      run(leased, data, writes / 4, 2);
      for (int r = 0; r < rounds; r++) {
        boolean plainFirst = r % 2 == 0;
        double a = run(plainFirst ? plain : leased, data, writes, 10 + r);
        double b = run(plainFirst ? leased : plain, data, writes, 100 + r);
        (plainFirst ? p : l).add(a);
        (plainFirst ? l : p).add(b);
        e.flushAll();
      }
      // the check alone, as the engine makes it per acknowledgement: a clock read and a volatile read
      long held = 0;
      long c0 = System.nanoTime();
      for (int i = 0; i < 20_000_000; i++) {
        held += lease.held(System.nanoTime()) ? 1 : 0;
      }
      double checkNs = (double) (System.nanoTime() - c0) / 20_000_000;
      System.out.printf(Locale.ROOT, "the lease check alone: %.1f ns (%d held)%n", checkNs, held);
      System.out.printf(Locale.ROOT, "4 KiB BUFFERED random writes, 1 thread, %d rounds of %d: median ns/write"
          + " without lease %.0f, with lease %.0f (%+.1f %%); rounds: %s / %s%n", rounds, writes, median(p), median(l),
          100 * (median(l) - median(p)) / median(p), fmt(p), fmt(l));
    } finally {
      try (var w = Files.walk(dir)) {
        w.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  private static double run(Volume v, ByteBuffer data, int writes, long seed) throws Exception {
    SplittableRandom r = new SplittableRandom(seed);
    long clusters = v.sizeBytes() / 4096;
    long t0 = System.nanoTime();
    for (int i = 0; i < writes; i++) {
      v.write(r.nextLong(clusters) * 4096, data.clear(), Durability.BUFFERED);
    }
    return (double) (System.nanoTime() - t0) / writes;
  }

  private static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  private static String fmt(List<Double> xs) {
    StringBuilder b = new StringBuilder();
    for (double x : xs) {
      b.append(b.length() == 0 ? "" : " ").append(String.format(Locale.ROOT, "%.0f", x));
    }
    return b.toString();
  }
}
