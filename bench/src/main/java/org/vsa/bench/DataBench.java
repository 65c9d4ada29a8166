package org.vsa.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.ScrubOptions;
import org.vsa.volume.ScrubReport;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * Data management figures (see bench/README.md): snapshot and clone time of thin vDisks of
 * different nominal sizes with the same data written (they must not grow with the size), and
 * scrub throughput after a random overwrite of part of the data; flatten throughput of a clone.
 *
 * <p>Options: {@code --written=4GiB}, {@code --sizes=10GiB,100GiB}, {@code --overwrite-percent=60},
 * {@code --dir=./data-bench} (deleted at the end unless {@code --keep}).
 */
public final class DataBench {
  private static final long MIB = 1L << 20;

  public static void main(String[] args) throws Exception {
    long written = 4L << 30;
    String[] sizes = {"10GiB", "100GiB"};
    int overwritePercent = 60;
    Path dir = Path.of("data-bench");
    boolean keep = false;
    for (String a : args) {
      if (a.startsWith("--written=")) {
        written = bytes(a.substring(10));
      } else if (a.startsWith("--sizes=")) {
        sizes = a.substring(8).split(",");
      } else if (a.startsWith("--overwrite-percent=")) {
        overwritePercent = Integer.parseInt(a.substring(20));
      } else if (a.startsWith("--dir=")) {
        dir = Path.of(a.substring(6));
      } else if (a.equals("--keep")) {
        keep = true;
      } else {
        System.err.println("unknown option " + a);
        System.exit(2);
      }
    }
    if (Files.exists(dir)) {
      System.err.println(dir + " exists; remove it or give --dir");
      System.exit(2);
    }
    System.out.println("| vDisk size | written | snapshot ms | clone ms | clone first read of 1 MiB ms |");
    System.out.println("|---|---|---|---|---|");
    EngineConfig cfg = EngineConfig.underDataDir(dir.resolve("vsa"), new LocalDirectoryObjectStore(dir.resolve("backend")));
    try (Engine e = Engine.start(cfg)) {
      for (String s : sizes) {
        long size = bytes(s);
        String name = "thin-" + s;
        Volume v = e.create(new VolumeSpec(name, "default", size, 4096, VolumeSpec.SCO_SIZE_DEFAULT, CachePolicy.ON_READ));
        fill(v, written, size);
        e.flushAll();
        long t0 = System.nanoTime();
        e.createSnapshot(name, "snap");
        long snapNs = System.nanoTime() - t0;
        awaitUploads(e);
        t0 = System.nanoTime();
        Volume c = e.cloneVolume(name, "snap", name + "-clone");
        long cloneNs = System.nanoTime() - t0;
        t0 = System.nanoTime();
        c.read(0, ByteBuffer.allocate((int) MIB));
        long readNs = System.nanoTime() - t0;
        System.out.printf("| %s | %s | %.1f | %.1f | %.1f |%n", s, fmt(written), snapNs / 1e6, cloneNs / 1e6, readNs / 1e6);
      }
      // scrub: overwrite part of the first vDisk at random clusters, then scrub without a rate limit
      String name = "thin-" + sizes[0];
      Volume v = e.volume(name).orElseThrow();
      // flatten: the clone copies every cluster it inherits, unlimited rate, then drops its lineage
      progress("flattening %s-clone", name);
      long f0 = System.nanoTime();
      org.vsa.volume.FlattenReport fr = e.flatten(name + "-clone", 0);
      double fs = (System.nanoTime() - f0) / 1e9;
      System.out.println();
      System.out.println("| flatten | seconds | clusters copied | MB/s (copied and uploaded) |");
      System.out.println("|---|---|---|---|");
      System.out.printf("| clone of %s with %s written | %.1f | %d | %.0f |%n", sizes[0], fmt(written), fs,
          fr.clustersCopied(), fr.clustersCopied() * 4096 / 1e6 / fs);
      e.delete(name + "-clone");
      e.deleteSnapshot(name, "snap");
      Random r = new Random(7);
      byte[] cluster = new byte[4096];
      long stride = Math.max(1, bytes(sizes[0]) / written);
      progress("overwriting %d%% of the %s written at random 4 KiB clusters", overwritePercent, fmt(written));
      for (long i = 0; i < written / MIB; i++) {
        for (int k = 0; k < MIB / 4096; k++) {
          if (r.nextInt(100) < overwritePercent) {
            r.nextBytes(cluster);
            v.write(i * stride * MIB + k * 4096L, ByteBuffer.wrap(cluster), Durability.BUFFERED);
          }
        }
      }
      e.flushAll();
      e.createSnapshot(name, "seal"); // seals the open SCO
      awaitUploads(e);
      e.deleteSnapshot(name, "seal");
      progress("scrubbing");
      long t0 = System.nanoTime();
      ScrubReport rep = e.scrub(name, ScrubOptions.defaults().withRate(0));
      double s = (System.nanoTime() - t0) / 1e9;
      System.out.println();
      System.out.println("| scrub | seconds | SCOs examined | SCOs rewritten | clusters moved | rewrite MB/s | reclaimed | reclaimed MB/s |");
      System.out.println("|---|---|---|---|---|---|---|---|");
      System.out.printf("| %d%% overwritten of %s | %.1f | %d | %d | %d | %.0f | %s | %.0f |%n", overwritePercent,
          fmt(written), s, rep.scosExamined(), rep.scosRewritten(), rep.clustersMoved(),
          rep.clustersMoved() * 4096 / 1e6 / s, fmt(rep.bytesReclaimed()), rep.bytesReclaimed() / 1e6 / s);
    } finally {
      if (!keep) {
        try (var w = Files.walk(dir)) {
          w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  /** Writes {@code written} bytes spread over the vDisk in 1 MiB writes (every size/written-th MiB). */
  private static void fill(Volume v, long written, long size) throws Exception {
    byte[] chunk = new byte[(int) MIB];
    Random r = new Random(1);
    long chunks = written / MIB;
    long stride = Math.max(1, size / written);
    progress("%s: writing %s", v.name(), fmt(written));
    for (long i = 0; i < chunks; i++) {
      r.nextBytes(chunk);
      v.write(i * stride * MIB, ByteBuffer.wrap(chunk), Durability.BUFFERED);
    }
  }

  private static void awaitUploads(Engine e) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
    while (e.scosAwaitingUpload() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
  }

  private static long bytes(String s) {
    String[][] units = {{"TiB", "40"}, {"GiB", "30"}, {"MiB", "20"}, {"KiB", "10"}};
    for (String[] u : units) {
      if (s.endsWith(u[0])) {
        return Long.parseLong(s.substring(0, s.length() - 3)) << Integer.parseInt(u[1]);
      }
    }
    return Long.parseLong(s);
  }

  private static String fmt(long b) {
    return b >= (1L << 30) ? String.format("%.1f GiB", b / (double) (1L << 30)) : String.format("%d MiB", b >> 20);
  }

  private static void progress(String f, Object... a) {
    System.err.printf("[%tT] %s%n", System.currentTimeMillis(), String.format(f, a));
  }
}
