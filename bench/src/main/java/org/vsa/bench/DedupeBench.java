package org.vsa.bench;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSettings;
import org.vsa.volume.VolumeSpec;

/**
 * Write IOPS with dedupe off and on (see bench/README.md): 4 KiB random writes from several
 * threads into a fresh vDisk for a fixed time, three ways: dedupe off; dedupe on with data never
 * seen before (every write pays a SHA-256 and an index miss, and stores its data); dedupe on with
 * data another vDisk already stored (every write is a hit: a TLog record, no data).
 *
 * <p>Options: {@code --seconds=10}, {@code --threads=4}, {@code --durable} (every write FUA),
 * {@code --dir=./dedupe-bench} (deleted at the end unless {@code --keep}).
 */
public final class DedupeBench {
  private static final long SIZE = 4L << 30;
  private static final int BLOCKS = 4096;

  public static void main(String[] args) throws Exception {
    int seconds = 10;
    int threads = 4;
    boolean durable = false;
    Path dir = Path.of("dedupe-bench");
    boolean keep = false;
    for (String a : args) {
      if (a.startsWith("--seconds=")) {
        seconds = Integer.parseInt(a.substring(10));
      } else if (a.startsWith("--threads=")) {
        threads = Integer.parseInt(a.substring(10));
      } else if (a.equals("--durable")) {
        durable = true;
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
    Durability d = durable ? Durability.DURABLE : Durability.BUFFERED;
    EngineConfig cfg = EngineConfig.underDataDir(dir.resolve("vsa"), new LocalDirectoryObjectStore(dir.resolve("backend")));
    byte[][] blocks = new byte[BLOCKS][4096];
    Random r = new Random(5);
    for (byte[] b : blocks) {
      r.nextBytes(b);
    }
    System.out.printf("4 KiB random %s writes, %d threads, %d s each%n%n", durable ? "durable (FUA)" : "buffered",
        threads, seconds);
    System.out.println("| vDisk | IOPS | MB/s | writes shared |");
    System.out.println("|---|---:|---:|---:|");
    try (Engine e = Engine.start(cfg)) {
      // the source of the duplicates: every block stored once, in the backend
      Volume src = create(e, "source", true);
      for (int i = 0; i < BLOCKS; i++) {
        src.write(4096L * i, ByteBuffer.wrap(blocks[i]), Durability.BUFFERED);
      }
      e.flushAll();
      e.createSnapshot("source", "sealed");
      awaitUploads(e);
      run(e, create(e, "dedupe-off", false), blocks, false, threads, seconds, d);
      run(e, create(e, "dedupe-on-unique", true), blocks, false, threads, seconds, d);
      run(e, create(e, "dedupe-on-duplicate", true), blocks, true, threads, seconds, d);
    } finally {
      if (!keep) {
        try (var w = Files.walk(dir)) {
          w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  private static Volume create(Engine e, String name, boolean dedupe) throws Exception {
    VolumeSpec spec = new VolumeSpec(name, "default", SIZE, 4096, VolumeSpec.SCO_SIZE_DEFAULT, CachePolicy.ON_READ);
    return e.create(spec, VolumeSettings.defaults(spec).withDedupe(dedupe));
  }

  /** Writes for {@code seconds}: known blocks ({@code duplicates}) or blocks stamped unique. */
  private static void run(Engine e, Volume v, byte[][] blocks, boolean duplicates, int threads, int seconds,
      Durability d) throws Exception {
    LongAdder ops = new LongAdder();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    Thread[] ts = new Thread[threads];
    long[] errors = new long[1];
    for (int t = 0; t < threads; t++) {
      int thread = t;
      ts[t] = new Thread(() -> {
        Random r = new Random(thread * 7919L);
        byte[] buf = new byte[4096];
        long n = 0;
        try {
          while (System.nanoTime() < end) {
            for (int k = 0; k < 64; k++) {
              byte[] b = blocks[r.nextInt(blocks.length)];
              ByteBuffer data;
              if (duplicates) {
                data = ByteBuffer.wrap(b);
              } else {
                System.arraycopy(b, 0, buf, 0, 4096);
                ByteBuffer.wrap(buf).putLong(0, ((long) thread << 48) | n++);
                data = ByteBuffer.wrap(buf);
              }
              v.write(4096L * r.nextInt((int) (SIZE / 4096)), data, d);
            }
            ops.add(64);
          }
        } catch (Exception ex) {
          synchronized (errors) {
            errors[0]++;
          }
          ex.printStackTrace();
        }
      });
    }
    long t0 = System.nanoTime();
    for (Thread t : ts) {
      t.start();
    }
    for (Thread t : ts) {
      t.join();
    }
    double s = (System.nanoTime() - t0) / 1e9;
    e.flushAll();
    long shared = e.stats(v.name()).getOrDefault("dedupeShared", 0L);
    System.out.printf("| %s | %,.0f | %.0f | %,d of %,d |%n", v.name(), ops.sum() / s, ops.sum() * 4096 / 1e6 / s,
        shared, ops.sum());
    if (errors[0] > 0) {
      throw new IllegalStateException(errors[0] + " writer threads failed");
    }
  }

  private static void awaitUploads(Engine e) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
    while (e.scosAwaitingUpload() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    Thread.sleep(200); // the index takes the last SCO's clusters once its upload returned
  }
}
