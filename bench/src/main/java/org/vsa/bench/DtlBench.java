package org.vsa.bench;

import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.dtl.ClientConfig;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlEvents;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;
import org.vsa.dtl.DtlTrace;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * DTL modes none, async and sync side by side: one engine and one DTL server in this process,
 * talking over loopback (127.0.0.1), each on its own directory of the same disk. For each mode,
 * iodepth 1 and 32 (client threads), 4 KiB random writes, BUFFERED and DURABLE (FUA), for
 * {@code --seconds} each: IOPS, p50, p99. Prints a Markdown table. See bench/README.md.
 */
public final class DtlBench {
  public static void main(String[] args) throws Exception {
    int seconds = 5;
    Path dir = Path.of("dtl-bench-data");
    long span = 1L << 30;
    boolean stages = false;
    for (String a : args) {
      if (a.equals("--stages")) {
        stages = true;
      } else if (a.startsWith("--seconds=")) {
        seconds = Integer.parseInt(a.substring(10));
      } else if (a.startsWith("--dir=")) {
        dir = Path.of(a.substring(6));
      } else {
        throw new IllegalArgumentException("unknown option " + a + " (--seconds=N, --dir=PATH, --stages)");
      }
    }
    if (Files.exists(dir)) {
      throw new IllegalArgumentException(dir + " exists; give a new --dir");
    }
    Files.createDirectories(dir);
    try (DtlServer server = DtlServer.start(dir.resolve("dtl-server"), "127.0.0.1", 0, 64L << 30);
        DtlConnector c = new DtlConnector(dir.resolve("dtl-client"), ClientConfig.defaults(),
            name -> Optional.of(new InetSocketAddress("127.0.0.1", server.port())), DtlEvents.NONE);
        Engine e = Engine.start(EngineConfig.underDataDir(dir.resolve("engine"),
            new LocalDirectoryObjectStore(dir.resolve("engine").resolve("backend"))), c)) {
      List<String> rows = new ArrayList<>();
      List<String> stageRows = new ArrayList<>();
      StageSink sink = stages ? new StageSink() : null;
      DtlTrace.install(sink);
      for (DtlMode mode : DtlMode.values()) {
        String name = "bench-" + mode.configName();
        Volume v = e.create(new VolumeSpec(name, "default", span, 4096, VolumeSpec.SCO_SIZE_DEFAULT, CachePolicy.NONE, mode));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (mode != DtlMode.NONE && e.dtlState(name).orElseThrow() != DtlState.OK_SYNC && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
        for (Durability d : Durability.values()) {
          for (int depth : new int[] {1, 32}) {
            run(v, depth, d, 1, span); // warm-up
            if (sink != null) {
              sink.clear();
            }
            long[] heldBefore = heldBack(e, name);
            double[] r = run(v, depth, d, seconds, span);
            long[] heldAfter = heldBack(e, name);
            if (sink != null && mode != DtlMode.NONE && depth == 1) {
              stageRows.addAll(sink.rows(mode.configName() + " " + (d == Durability.DURABLE ? "FUA" : "buffered")));
            }
            rows.add(String.format(Locale.ROOT, "| %s | %s | %d | %.0f | %.0f | %.0f | %s | %d, %d ms |", mode.configName(),
                d == Durability.DURABLE ? "FUA" : "buffered", depth, r[0], r[1], r[2], e.dtlState(name).orElseThrow(),
                heldAfter[0] - heldBefore[0], heldAfter[1] - heldBefore[1]));
            System.err.println(rows.get(rows.size() - 1));
          }
        }
      }
      System.out.println("| DTL mode | write | iodepth | IOPS | p50 µs | p99 µs | DTL state after | writes held back by the DTL, their wait |");
      System.out.println("|---|---|---|---|---|---|---|---|");
      rows.forEach(System.out::println);
      if (!stageRows.isEmpty()) {
        System.out.println();
        System.out.println("Stages of the DTL path at iodepth 1 (µs between consecutive points, entries that passed all):");
        System.out.println();
        System.out.println("| mode, write | from -> to | entries | p50 µs | p90 µs | p99 µs | max µs |");
        System.out.println("|---|---|---|---|---|---|---|");
        stageRows.forEach(System.out::println);
      }
    } finally {
      deleteTree(dir);
    }
  }

  /** {writes held back, ms waited} by the DTL's back-pressure so far. */
  static long[] heldBack(Engine e, String name) {
    var m = e.stats(name);
    return new long[] {m.getOrDefault("dtlHeldBackWrites", 0L), m.getOrDefault("dtlHeldBackMillis", 0L)};
  }

  /** Per-seq timestamps of the DTL stages (one vDisk at a time). */
  static final class StageSink implements DtlTrace.Sink {
    private static final int N = DtlTrace.Stage.values().length;
    private final ConcurrentHashMap<Long, long[]> bySeq = new ConcurrentHashMap<>();

    @Override
    public void mark(DtlTrace.Stage stage, long seq, long nanos) {
      if (bySeq.size() < 2_000_000) {
        bySeq.computeIfAbsent(seq, k -> new long[N])[stage.ordinal()] = nanos;
      }
    }

    void clear() {
      bySeq.clear();
    }

    List<String> rows(String label) {
      List<long[]> full = new ArrayList<>();
      for (long[] t : bySeq.values()) {
        if (Arrays.stream(t).allMatch(x -> x != 0)) {
          full.add(t);
        }
      }
      List<String> out = new ArrayList<>();
      DtlTrace.Stage[] st = DtlTrace.Stage.values();
      for (int i = 0; i <= N - 1; i++) {
        int from = i == N - 1 ? 0 : i;
        int to = i == N - 1 ? N - 1 : i + 1;
        long[] d = full.stream().mapToLong(t -> t[to] - t[from]).sorted().toArray();
        if (d.length == 0) {
          continue;
        }
        out.add(String.format(Locale.ROOT, "| %s | %s -> %s | %d | %.0f | %.0f | %.0f | %.0f |", label,
            st[from].name().toLowerCase(Locale.ROOT), st[to].name().toLowerCase(Locale.ROOT), d.length,
            d[d.length / 2] / 1000.0, d[(int) (d.length * 0.9)] / 1000.0,
            d[Math.min(d.length - 1, (int) (d.length * 0.99))] / 1000.0, d[d.length - 1] / 1000.0));
      }
      return out;
    }
  }

  /** {IOPS, p50 µs, p99 µs} of 4 KiB random writes from {@code depth} threads. */
  static double[] run(Volume v, int depth, Durability d, int seconds, long span) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    long[][] lat = new long[depth][];
    AtomicLong ops = new AtomicLong();
    Thread[] ts = new Thread[depth];
    for (int t = 0; t < depth; t++) {
      int id = t;
      ts[t] = new Thread(() -> {
        SplittableRandom rnd = new SplittableRandom(id * 7919L + System.nanoTime());
        long[] l = new long[1 << 20];
        int n = 0;
        ByteBuffer buf = ByteBuffer.allocate(4096);
        try {
          while (System.nanoTime() < end) {
            rnd.nextBytes(buf.array());
            buf.clear();
            long off = rnd.nextLong(span / 4096) * 4096;
            long t0 = System.nanoTime();
            v.write(off, buf, d);
            if (n < l.length) {
              l[n++] = System.nanoTime() - t0;
            }
          }
        } catch (Exception ex) {
          throw new RuntimeException(ex);
        }
        lat[id] = Arrays.copyOf(l, n);
        ops.addAndGet(n);
      });
      ts[t].start();
    }
    for (Thread t : ts) {
      t.join();
    }
    long[] all = Arrays.stream(lat).flatMapToLong(Arrays::stream).sorted().toArray();
    double p50 = all.length == 0 ? 0 : all[(int) (all.length * 0.50)] / 1000.0;
    double p99 = all.length == 0 ? 0 : all[Math.min(all.length - 1, (int) (all.length * 0.99))] / 1000.0;
    return new double[] {ops.get() / (double) seconds, p50, p99};
  }

  static void deleteTree(Path dir) throws java.io.IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
