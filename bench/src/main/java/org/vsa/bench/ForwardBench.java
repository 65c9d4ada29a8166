package org.vsa.bench;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.remote.PeerClient;
import org.vsa.volume.remote.RemoteVolume;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * Forwarded I/O (RemoteVolume over 127.0.0.1 to a RemoteVolumeServer in front of the engine, both
 * in this process) against the same vDisk used directly: 64 KiB sequential write and read, 4 KiB
 * random write (buffered, durable) and read, {@code --threads} threads for {@code --seconds} each.
 * Prints a Markdown table. Options: {@code --seconds=N --threads=N --span=MiB --dir=PATH}.
 * Run with {@code bench/java-bench.sh ForwardBench}; see bench/README-forward.md.
 */
public final class ForwardBench {
  private ForwardBench() {}

  interface Op {
    void run(BlockVolume v, SplittableRandom r, ByteBuffer buf, long[] cursor) throws Exception;
  }

  record Workload(String name, int bytes, Op op) {}

  public static void main(String[] args) throws Exception {
    int seconds = 10;
    int threads = 4;
    long spanMib = 1024;
    Path dir = Path.of("forward-bench-data");
    for (String a : args) {
      String v = a.substring(a.indexOf('=') + 1);
      if (a.startsWith("--seconds=")) {
        seconds = Integer.parseInt(v);
      } else if (a.startsWith("--threads=")) {
        threads = Integer.parseInt(v);
      } else if (a.startsWith("--span=")) {
        spanMib = Long.parseLong(v);
      } else if (a.startsWith("--dir=")) {
        dir = Path.of(v);
      } else {
        System.err.println("usage: ForwardBench [--seconds=N] [--threads=N] [--span=MiB] [--dir=PATH]");
        System.exit(2);
      }
    }
    long span = spanMib << 20;
    Files.createDirectories(dir);
    EngineConfig cfg = EngineConfig.underDataDir(dir, new LocalDirectoryObjectStore(dir.resolve("backend")));
    try (Engine engine = Engine.start(cfg)) {
      Volume local = engine.volume("fwd-bench").isPresent() ? engine.volume("fwd-bench").get()
          : engine.create(new VolumeSpec("fwd-bench", "default", span, 512, 64L << 20, CachePolicy.ON_READ));
      ByteBuffer fill = ByteBuffer.allocateDirect(1 << 20);
      new SplittableRandom(1).ints(1 << 18).forEach(fill::putInt);
      for (long at = 0; at < span; at += 1 << 20) {
        local.write(at, fill.clear(), Durability.BUFFERED);
      }
      local.flush();
      try (RemoteVolumeServer server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
          n -> engine.handle(n).map(x -> x));
          PeerClient client = new PeerClient(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()),
              PeerClient.Config.defaults())) {
        RemoteVolume remote = client.open("fwd-bench");
        long region = span / threads;
        List<Workload> ws = List.of(
            new Workload("64k seq write (buffered)", 65536, (v, r, b, c) -> {
              v.write(c[0] + c[1], b.clear(), Durability.BUFFERED);
              c[1] = (c[1] + 65536) % region;
            }),
            new Workload("64k seq read", 65536, (v, r, b, c) -> {
              v.read(c[0] + c[1], b.clear());
              c[1] = (c[1] + 65536) % region;
            }),
            new Workload("4k random write (buffered)", 4096, (v, r, b, c) ->
                v.write(4096 * r.nextLong(span / 4096), b.clear(), Durability.BUFFERED)),
            new Workload("4k random write (durable)", 4096, (v, r, b, c) ->
                v.write(4096 * r.nextLong(span / 4096), b.clear(), Durability.DURABLE)),
            new Workload("4k random read", 4096, (v, r, b, c) -> v.read(4096 * r.nextLong(span / 4096), b.clear())));
        System.out.printf(Locale.ROOT, "ForwardBench: %d threads x %d s, vDisk span %d MiB, %s%n%n", threads, seconds,
            spanMib, dir.toAbsolutePath());
        System.out.println("| workload | direct MiB/s | direct IOPS | forwarded MiB/s | forwarded IOPS | forwarded / direct |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        for (Workload w : ws) {
          double d = run(local, w, threads, seconds, region);
          double f = run(remote, w, threads, seconds, region);
          System.out.printf(Locale.ROOT, "| %s | %.1f | %.0f | %.1f | %.0f | %.2f |%n", w.name(),
              d * w.bytes() / (1 << 20), d, f * w.bytes() / (1 << 20), f, f / d);
        }
      }
    }
  }

  /** Operations per second of {@code threads} threads running {@code w} for {@code seconds}, then a flush. */
  static double run(BlockVolume v, Workload w, int threads, int seconds, long region) throws Exception {
    AtomicLong ops = new AtomicLong();
    List<Thread> ts = new ArrayList<>();
    List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    long t0 = System.nanoTime();
    long end = t0 + seconds * 1_000_000_000L;
    for (int t = 0; t < threads; t++) {
      long base = t * region;
      int seed = t;
      Thread th = new Thread(() -> {
        SplittableRandom r = new SplittableRandom(seed * 7919L + w.name().hashCode());
        ByteBuffer b = ByteBuffer.allocateDirect(w.bytes());
        long[] cursor = {base, 0};
        try {
          while (System.nanoTime() < end) {
            w.op().run(v, r, b, cursor);
            ops.incrementAndGet();
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      });
      ts.add(th);
      th.start();
    }
    for (Thread th : ts) {
      th.join();
    }
    v.flush();
    if (!errors.isEmpty()) {
      throw new IllegalStateException("workload " + w.name() + " failed: " + errors.get(0), errors.get(0));
    }
    return ops.get() / ((System.nanoTime() - t0) / 1e9);
  }
}
