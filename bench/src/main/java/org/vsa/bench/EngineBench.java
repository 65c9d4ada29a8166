package org.vsa.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * The vDisk engine against a plain file on the same disk, in one process and one run.
 *
 * <p>Default mode: a vDisk and a plain file of {@code --span} bytes, both pre-written once, then
 * for each workload {@code --threads} client threads for {@code --seconds}: 4 KiB random write
 * (buffered, and durable = FUA vs write+fdatasync), 4 KiB random read, 1 MiB sequential write
 * (one flush at the end, inside the time) and 1 MiB sequential read. Prints a Markdown table.
 *
 * <p>{@code --ram}: heap cost of written data: a vDisk written end to end, heap measured after
 * full GCs, then again on a fresh engine opened on the same data directory (cold metadata cache).
 *
 * <p>Run with {@code bench/run-engine-bench.sh}; see bench/README.md.
 */
public final class EngineBench {
  static final long KIB = 1024;
  static final long MIB = 1024 * KIB;
  static final long GIB = 1024 * MIB;
  static final String MARKER = ".engine-bench";
  static final String VDISK = "bench";

  private static final PrintStream out = System.out;

  // ------------------------------------------------------------------ options

  record Options(int seconds, int threads, long span, Path dir, boolean keep, boolean ram, long ramSize,
      long minFree, long latencySamples, List<String> only, boolean stacks, CachePolicy cachePolicy) {

    static Options parse(String[] args) {
      Map<String, String> m = new LinkedHashMap<>();
      for (String a : args) {
        if (a.equals("-h") || a.equals("--help")) {
          usage(0);
        }
        if (!a.startsWith("--")) {
          System.err.println("unexpected argument '" + a + "'");
          usage(2);
        }
        int eq = a.indexOf('=');
        String key = eq < 0 ? a.substring(2) : a.substring(2, eq);
        String value = eq < 0 ? "true" : a.substring(eq + 1);
        m.put(key, value);
      }
      try {
        int seconds = Integer.parseInt(m.getOrDefault("seconds", "10"));
        int threads = Integer.parseInt(m.getOrDefault("threads", "4"));
        long span = parseSize(m.getOrDefault("span", "4GiB"));
        Path dir = Path.of(m.getOrDefault("dir", "bench-data"));
        boolean keep = Boolean.parseBoolean(m.getOrDefault("keep", "false"));
        boolean ram = Boolean.parseBoolean(m.getOrDefault("ram", "false"));
        long ramSize = parseSize(m.getOrDefault("ram-size", "16GiB"));
        long minFree = parseSize(m.getOrDefault("min-free", "4GiB"));
        long samples = parseSize(m.getOrDefault("latency-samples", "1000000"));
        List<String> only = List.of(m.getOrDefault("only", String.join(",", WORKLOAD_NAMES)).split(","));
        for (String w : only) {
          if (!WORKLOAD_NAMES.contains(w)) {
            throw new IllegalArgumentException("--only takes a comma-separated subset of " + WORKLOAD_NAMES);
          }
        }
        for (String k : m.keySet()) {
          if (!List.of("seconds", "threads", "span", "dir", "keep", "ram", "ram-size", "min-free", "latency-samples",
              "only", "stacks", "cache-policy").contains(k)) {
            throw new IllegalArgumentException("unknown option --" + k);
          }
        }
        if (seconds < 1 || threads < 1 || threads > 256) {
          throw new IllegalArgumentException("--seconds must be >= 1 and --threads in [1, 256]");
        }
        if (span < (long) threads * MIB || span % MIB != 0) {
          throw new IllegalArgumentException("--span must be a multiple of 1 MiB and at least 1 MiB per thread");
        }
        if (ramSize < MIB || ramSize % MIB != 0) {
          throw new IllegalArgumentException("--ram-size must be a positive multiple of 1 MiB");
        }
        boolean stacks = Boolean.parseBoolean(m.getOrDefault("stacks", "false"));
        CachePolicy policy = CachePolicy.parse(m.getOrDefault("cache-policy", "on-read"));
        return new Options(seconds, threads, span, dir, keep, ram, ramSize, minFree, samples, only, stacks, policy);
      } catch (IllegalArgumentException e) {
        System.err.println(e.getMessage());
        usage(2);
        return null;
      }
    }

    static void usage(int code) {
      System.err.println("""
          usage: EngineBench [--seconds=10] [--threads=4] [--span=4GiB] [--dir=bench-data] [--keep]
                             [--min-free=4GiB] [--latency-samples=1000000]
                             [--only=randwrite,syncwrite,randread,seqwrite,seqread]  (pre-fill always runs)
                             [--stacks]  (sample the vsa threads' stacks every 10 ms, print the top ones)
                             [--cache-policy=on-read|on-write|none]  (the vDisk's read-cache policy)
                 EngineBench --ram [--ram-size=16GiB] [--dir=bench-data] [--keep]
            sizes take B, KiB, MiB, GiB, TiB (or K, M, G, T) suffixes; the directory is deleted at the end
            unless --keep; a directory that exists must be empty or an earlier bench directory.""");
      System.exit(code);
    }
  }

  static long parseSize(String s) {
    String t = s.trim().toUpperCase(Locale.ROOT);
    long mult = 1;
    String[][] units = {{"TIB", "T"}, {"GIB", "G"}, {"MIB", "M"}, {"KIB", "K"}};
    long[] mults = {1L << 40, 1L << 30, 1L << 20, 1L << 10};
    outer:
    for (int i = 0; i < units.length; i++) {
      for (String u : units[i]) {
        if (t.endsWith(u)) {
          mult = mults[i];
          t = t.substring(0, t.length() - u.length());
          break outer;
        }
      }
    }
    if (mult == 1 && t.endsWith("B")) {
      t = t.substring(0, t.length() - 1);
    }
    try {
      return Math.multiplyExact(Long.parseLong(t.trim()), mult);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("not a size: '" + s + "'");
    }
  }

  // ------------------------------------------------------------------ targets

  /** What a workload drives: the vDisk or the plain file. */
  interface Target {
    void write(long offset, ByteBuffer src, boolean durable) throws IOException;

    void read(long offset, ByteBuffer dst) throws IOException;

    void flush() throws IOException;
  }

  static final class VsaTarget implements Target {
    final Volume v;

    VsaTarget(Volume v) {
      this.v = v;
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean durable) throws IOException {
      v.write(offset, src, durable ? Durability.DURABLE : Durability.BUFFERED);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      v.read(offset, dst);
    }

    @Override
    public void flush() throws IOException {
      v.flush();
    }
  }

  /** Positional I/O on one FileChannel shared by all threads (pwrite/pread, fdatasync). */
  static final class PlainTarget implements Target {
    final FileChannel ch;

    PlainTarget(FileChannel ch) {
      this.ch = ch;
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean durable) throws IOException {
      long pos = offset;
      while (src.hasRemaining()) {
        pos += ch.write(src, pos);
      }
      if (durable) {
        ch.force(false);
      }
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      long pos = offset;
      while (dst.hasRemaining()) {
        int n = ch.read(dst, pos);
        if (n < 0) {
          throw new IOException("plain file ends at " + pos);
        }
        pos += n;
      }
    }

    @Override
    public void flush() throws IOException {
      ch.force(false);
    }
  }

  // ------------------------------------------------------------------ workloads

  /**
   * @param once each thread covers its region exactly once instead of running for the duration
   */
  record Workload(String key, String label, int ioBytes, boolean random, boolean write, boolean durable, boolean flushAtEnd,
      boolean once) {
    boolean throughput() {
      return ioBytes >= MIB;
    }
  }

  static final Workload PREFILL = new Workload("prefill", "pre-fill: 1 MiB sequential write of the whole span once, + flush",
      (int) MIB, false, true, false, true, true);
  static final Workload RAND_WRITE_BUFFERED = new Workload("randwrite", "4 KiB random write, buffered (no flush)",
      4096, true, true, false, false, false);
  static final Workload RAND_WRITE_DURABLE = new Workload("syncwrite", "4 KiB random write, durable (FUA / write+fdatasync)",
      4096, true, true, true, false, false);
  static final Workload RAND_READ = new Workload("randread", "4 KiB random read", 4096, true, false, false, false, false);
  static final Workload SEQ_WRITE = new Workload("seqwrite", "1 MiB sequential write, buffered, + one flush at the end",
      (int) MIB, false, true, false, true, false);
  static final Workload SEQ_READ = new Workload("seqread", "1 MiB sequential read", (int) MIB, false, false, false, false, false);

  static final List<String> WORKLOAD_NAMES = List.of("randwrite", "syncwrite", "randread", "seqwrite", "seqread");

  /** Algorithm R over per-op nanos; one per thread. */
  static final class Reservoir {
    final long[] a;
    long seen;
    int n;
    final SplittableRandom rnd;

    Reservoir(int capacity, long seed) {
      a = new long[Math.max(1, capacity)];
      rnd = new SplittableRandom(seed);
    }

    void add(long v) {
      if (n < a.length) {
        a[n++] = v;
      } else {
        long j = rnd.nextLong(seen + 1);
        if (j < a.length) {
          a[(int) j] = v;
        }
      }
      seen++;
    }
  }

  /**
   * @param cpuNanos CPU time of the whole process (every thread: clients, committer, uploaders, GC) over the run
   */
  record Result(long ops, long bytes, long elapsedNanos, long flushNanos, long p50Nanos, long p99Nanos,
      boolean stoppedEarly, long cpuNanos) {
    double cpuMicrosPerOp() {
      return cpuNanos / 1e3 / Math.max(1, ops);
    }

    double opsPerSec() {
      return ops * 1e9 / elapsedNanos;
    }

    double mbPerSec() {
      return bytes * 1e3 / elapsedNanos; // 10^6 bytes per second
    }
  }

  static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[(int) Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))];
  }

  /** Set when free space falls below --min-free: every workload stops at once. */
  static volatile boolean lowSpace;

  static Result run(Target target, Workload w, Options o) throws Exception {
    int threads = o.threads();
    long deadlineNanosFromStart = TimeUnit.SECONDS.toNanos(o.seconds());
    long regionBase = (o.span() / threads) / w.ioBytes() * w.ioBytes();
    CountDownLatch go = new CountDownLatch(1);
    AtomicLong startNanos = new AtomicLong();
    AtomicReference<Throwable> error = new AtomicReference<>();
    long[] ops = new long[threads];
    Reservoir[] reservoirs = new Reservoir[threads];
    Thread[] ts = new Thread[threads];
    for (int t = 0; t < threads; t++) {
      final int ti = t;
      final long regionStart = regionBase * t;
      final long regionLen = t == threads - 1 ? (o.span() - regionStart) / w.ioBytes() * w.ioBytes() : regionBase;
      reservoirs[t] = new Reservoir((int) Math.min(Integer.MAX_VALUE - 8, o.latencySamples() / threads), 17L * t + 1);
      ts[t] = new Thread(() -> {
        try {
          SplittableRandom rnd = new SplittableRandom(0x5eedL * (ti + 1) ^ System.nanoTime());
          ByteBuffer buf = ByteBuffer.allocateDirect(w.ioBytes());
          byte[] junk = new byte[w.ioBytes()];
          for (int i = 0; i < junk.length; i += 8) {
            long r = rnd.nextLong();
            for (int k = 0; k < 8; k++) {
              junk[i + k] = (byte) (r >>> (8 * k));
            }
          }
          buf.put(junk).clear();
          Reservoir res = reservoirs[ti];
          long clusters = o.span() / w.ioBytes();
          long cursor = 0;
          long n = 0;
          go.await();
          long deadline = startNanos.get() + deadlineNanosFromStart;
          while (true) {
            long off;
            if (w.random()) {
              off = rnd.nextLong(clusters) * w.ioBytes();
            } else {
              if (w.once() && cursor >= regionLen) {
                break;
              }
              off = regionStart + cursor;
              cursor += w.ioBytes();
              if (!w.once() && cursor >= regionLen) {
                cursor = 0;
              }
            }
            buf.clear();
            if (w.write()) {
              buf.putLong(0, n ^ rnd.nextLong()); // every write carries new bytes
            }
            long t0 = System.nanoTime();
            if (w.write()) {
              target.write(off, buf, w.durable());
            } else {
              target.read(off, buf);
            }
            long t1 = System.nanoTime();
            res.add(t1 - t0);
            n++;
            if ((!w.once() && t1 >= deadline) || lowSpace) {
              break;
            }
          }
          ops[ti] = n;
        } catch (Throwable e) {
          error.compareAndSet(null, e);
        }
      }, (target instanceof VsaTarget ? "vsa-" : "plain-") + w.key() + "-" + t); // names for profiles
      ts[t].start();
    }
    long cpu0 = processCpuNanos();
    long t0 = System.nanoTime();
    startNanos.set(t0);
    go.countDown();
    for (Thread t : ts) {
      t.join();
    }
    long flushNanos = 0;
    if (w.flushAtEnd() && error.get() == null) {
      long f0 = System.nanoTime();
      target.flush();
      flushNanos = System.nanoTime() - f0;
    }
    long elapsed = System.nanoTime() - t0;
    long cpu = processCpuNanos() - cpu0;
    if (error.get() != null) {
      throw new IllegalStateException("workload '" + w.label() + "' failed", error.get());
    }
    long total = Arrays.stream(ops).sum();
    int samples = 0;
    for (Reservoir r : reservoirs) {
      samples += r.n;
    }
    long[] all = new long[samples];
    int at = 0;
    for (Reservoir r : reservoirs) {
      System.arraycopy(r.a, 0, all, at, r.n);
      at += r.n;
    }
    Arrays.sort(all);
    return new Result(total, total * w.ioBytes(), elapsed, flushNanos, percentile(all, 0.50), percentile(all, 0.99),
        lowSpace, cpu);
  }

  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  // ------------------------------------------------------------------ default mode

  /** Watches free space (stops workloads below --min-free) and the write buffer's peak. */
  static final class Monitor implements AutoCloseable {
    final Thread thread;
    volatile boolean stop;
    volatile Engine engine;
    final AtomicLong wbPeak = new AtomicLong();

    Monitor(FileStore store, long minFree) {
      thread = new Thread(() -> {
        while (!stop) {
          try {
            if (store.getUsableSpace() < minFree && !lowSpace) {
              lowSpace = true;
              System.err.printf("free space below %s: stopping the workloads%n", gib(minFree));
            }
            Engine e = engine;
            if (e != null) {
              wbPeak.accumulateAndGet(e.writeBuffer().usedBytes(), Math::max);
            }
            Thread.sleep(100);
          } catch (IOException | InterruptedException ignored) {
            return;
          }
        }
      }, "bench-monitor");
      thread.setDaemon(true);
      thread.start();
    }

    @Override
    public void close() {
      stop = true;
      thread.interrupt();
    }
  }

  /**
   * A poor man's wall-clock profiler: every 10 ms, the stacks of the vDisk client threads of one
   * workload and of the engine's own threads (committer, uploaders, checkpointer), top frames
   * aggregated. Safepoint-biased like jstack; good enough to see where threads wait.
   */
  static final class StackSampler implements AutoCloseable {
    static final int DEPTH = 4;
    final String clientPrefix;
    final Map<String, Map<String, Integer>> byGroup = new java.util.TreeMap<>();
    final Map<String, Integer> samplesByGroup = new java.util.TreeMap<>();
    final Thread thread;
    volatile boolean stop;

    StackSampler(String clientPrefix) {
      this.clientPrefix = clientPrefix;
      thread = new Thread(() -> {
        while (!stop) {
          for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            String name = e.getKey().getName();
            String group = name.startsWith(clientPrefix) ? "client threads"
                : name.startsWith("commit-") ? "group committer"
                : name.startsWith("upload-") ? "uploaders"
                : name.startsWith("checkpoint") ? "checkpointer" : null;
            StackTraceElement[] st = e.getValue();
            if (group == null || st.length == 0) {
              continue;
            }
            // the top frame, then the innermost engine frames (who called into the JDK)
            StringBuilder key = new StringBuilder(e.getKey().getState().toString()).append(": ");
            key.append(frame(st[0]));
            int shown = 0;
            for (int i = 1; i < st.length && shown < DEPTH; i++) {
              String c = st[i].getClassName();
              if (c.startsWith("org.vsa.") && !c.startsWith("org.vsa.bench.")) {
                key.append(shown == 0 && i > 1 ? " < ... < " : " < ").append(frame(st[i]));
                shown++;
              } else if (shown > 0) {
                break;
              }
            }
            synchronized (this) {
              byGroup.computeIfAbsent(group, g -> new java.util.HashMap<>()).merge(key.toString(), 1, Integer::sum);
              samplesByGroup.merge(group, 1, Integer::sum);
            }
          }
          try {
            Thread.sleep(10);
          } catch (InterruptedException ex) {
            return;
          }
        }
      }, "bench-stack-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    static String frame(StackTraceElement f) {
      String c = f.getClassName();
      int dot = c.lastIndexOf('.');
      return (dot < 0 ? c : c.substring(dot + 1)) + '.' + f.getMethodName() + ':' + f.getLineNumber();
    }

    @Override
    public void close() throws InterruptedException {
      stop = true;
      thread.join();
    }

    synchronized void print(String title) {
      out.printf("%n#### stacks: %s%n%n```%n", title);
      for (Map.Entry<String, Map<String, Integer>> g : byGroup.entrySet()) {
        int total = samplesByGroup.get(g.getKey());
        out.printf("%s (%,d thread samples):%n", g.getKey(), total);
        g.getValue().entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(10)
            .forEach(e -> out.printf("  %5.1f%%  %s%n", 100.0 * e.getValue() / total, e.getKey()));
      }
      out.println("```");
    }
  }

  record Row(Workload w, Result vsa, Result plain, String notes) {}

  static void defaultMode(Options o, Path dir) throws Exception {
    FileStore store = Files.getFileStore(dir);
    long need = 3 * o.span() + 16 * GIB;
    if (store.getUsableSpace() < need) {
      throw new IllegalStateException(String.format(
          "%s has %s free; this run needs about %s (plain file + vDisk in write buffer and backend + what the"
              + " workloads write, which the log-structured vDisk keeps until it is deleted). Use a smaller --span"
              + " or another --dir.", dir, gib(store.getUsableSpace()), gib(need)));
    }
    printHeader(o, dir, store);
    Path plainPath = dir.resolve("plain.img");
    Path data = dir.resolve("vsa");
    EngineConfig cfg = EngineConfig.underDataDir(data, new LocalDirectoryObjectStore(dir.resolve("vsa-backend")));
    out.printf("engine config: write buffer %s, read cache %s, metadata cache %s, group commit %d us / %s,"
            + " %d upload threads; vDisk: 4 KiB blocks, 64 MiB SCOs, cache policy %s%n",
        gib(cfg.writeBufferCapacityBytes()), gib(cfg.readCacheCapacityBytes()), gib(cfg.metadataCacheBytes()),
        cfg.groupCommitMaxWaitMicros(), gib(cfg.groupCommitMaxBytes()), cfg.uploadThreads(), o.cachePolicy().configName());
    out.println();
    List<Row> rows = new ArrayList<>();
    Map<String, StackSampler> samplers = new LinkedHashMap<>();
    try (Monitor mon = new Monitor(store, o.minFree());
        FileChannel ch = FileChannel.open(plainPath, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
            StandardOpenOption.WRITE);
        Engine engine = Engine.start(cfg)) {
      mon.engine = engine;
      Volume vol = engine.create(new VolumeSpec(VDISK, "default", o.span(), 4096, 64L << 20, o.cachePolicy()));
      VsaTarget vsa = new VsaTarget(vol);
      PlainTarget plain = new PlainTarget(ch);

      Workload[] order = {PREFILL, RAND_WRITE_BUFFERED, RAND_WRITE_DURABLE, RAND_READ, SEQ_WRITE, SEQ_READ};
      for (int i = 0; i < order.length; i++) {
        Workload w = order[i];
        if (lowSpace) {
          break;
        }
        if (i > 0 && !o.only().contains(w.key())) {
          continue;
        }
        progress("%s ...", w.label());
        // plain first, made durable untimed, so that its dirty pages do not land in the vDisk's run
        Result p = run(plain, w, o);
        plain.flush();
        if (!w.write()) {
          // reads: let sealed SCOs reach the backend first, as they would a few seconds after writing
          drainUploads(engine, 120);
        }
        Map<String, Long> s0 = engine.stats(VDISK);
        long throttled0 = engine.writeBuffer().throttledCount();
        long held0 = engine.writeBuffer().heldCount();
        mon.wbPeak.set(engine.writeBuffer().usedBytes());
        StackSampler sampler = o.stacks() ? new StackSampler("vsa-" + w.key() + "-") : null;
        Result v;
        try {
          v = run(vsa, w, o);
        } finally {
          if (sampler != null) {
            sampler.close();
            samplers.put(w.label(), sampler);
          }
        }
        long flush0 = System.nanoTime();
        vsa.flush();
        long extraFlushNanos = System.nanoTime() - flush0;
        Map<String, Long> s1 = engine.stats(VDISK);
        long throttled = engine.writeBuffer().throttledCount() - throttled0;
        long held = engine.writeBuffer().heldCount() - held0;
        long wbPeak = mon.wbPeak.get();
        double drained = w.write() ? drainUploads(engine, 120) : 0;
        StringBuilder notes = new StringBuilder();
        if (w.write()) {
          long commits = d(s0, s1, "commits");
          notes.append(String.format("%,d group commits", commits));
          if (commits > 0) {
            notes.append(String.format(" (%.1f writes/commit; triggers: queue-empty %d, bytes %d, wait-time %d)",
                (double) v.ops() / commits, d(s0, s1, "commitTriggerQueueEmpty"), d(s0, s1, "commitTriggerBytes"),
                d(s0, s1, "commitTriggerWaitTime")));
          }
          notes.append(String.format("; write buffer peak %s", gib(wbPeak)));
          if (throttled > 0 || held > 0) {
            notes.append(String.format(", %,d writes slowed, %,d held", throttled, held));
          }
          notes.append(String.format("; uploads drained %.1f s after", drained));
          if (w.flushAtEnd()) {
            notes.append(String.format("; final flush vsa %.0f ms, plain %.0f ms", v.flushNanos() / 1e6,
                p.flushNanos() / 1e6));
          } else if (!w.durable()) {
            notes.append(String.format("; untimed flush after: %.0f ms", extraFlushNanos / 1e6));
          }
        } else {
          long local = d(s0, s1, "readsLocal");
          long cache = d(s0, s1, "readsCache");
          long backend = d(s0, s1, "readsBackend");
          long all = Math.max(1, local + cache + backend);
          notes.append(String.format("vsa clusters read from: write buffer %.1f%%, read cache %.1f%%, backend %.1f%%"
                  + " (%,d clusters)", 100.0 * local / all, 100.0 * cache / all, 100.0 * backend / all,
              local + cache + backend));
        }
        if (v.stoppedEarly() || p.stoppedEarly()) {
          notes.append("; STOPPED EARLY (free space)");
        }
        rows.add(new Row(w, v, p, notes.toString()));
        progress("  vsa %s, plain %s", figure(w, v), figure(w, p));
      }
      out.println();
      printTable(rows, o);
      out.println();
      Map<String, Long> st = engine.stats(VDISK);
      out.println("vDisk counters at the end: " + st);
      out.printf("write buffer: %s used, %,d admits slowed, %,d held in total%n",
          gib(engine.writeBuffer().usedBytes()), engine.writeBuffer().throttledCount(),
          engine.writeBuffer().heldCount());
      out.printf("disk space (logical file sizes): plain file %s; vsa: backend %s, write buffer %s, metadata %s"
              + " (the log-structured vDisk keeps every overwritten cluster in the backend; nothing reclaims it yet)%n",
          gib(treeBytes(plainPath)), gib(treeBytes(dir.resolve("vsa-backend"))), gib(treeBytes(cfg.writeBufferDir())),
          gib(treeBytes(cfg.metadataDir())));
      samplers.forEach((label, smp) -> smp.print("vsa, " + label));
    }
  }

  static long d(Map<String, Long> a, Map<String, Long> b, String k) {
    return b.getOrDefault(k, 0L) - a.getOrDefault(k, 0L);
  }

  /** Waits (at most timeoutSec) until no sealed SCO waits for the backend; returns seconds waited. */
  static double drainUploads(Engine e, int timeoutSec) throws InterruptedException {
    long t0 = System.nanoTime();
    long deadline = t0 + TimeUnit.SECONDS.toNanos(timeoutSec);
    while (e.scosAwaitingUpload() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    if (e.scosAwaitingUpload() > 0) {
      System.err.printf("uploads not drained after %d s (%d SCOs waiting)%n", timeoutSec, e.scosAwaitingUpload());
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  static String figure(Workload w, Result r) {
    return w.throughput() ? String.format("%,.0f MB/s", r.mbPerSec()) : String.format("%,.0f IOPS", r.opsPerSec());
  }

  static String micros(long nanos) {
    double us = nanos / 1e3;
    return us >= 100 ? String.format("%,.0f us", us) : String.format("%.1f us", us);
  }

  static void printTable(List<Row> rows, Options o) {
    out.printf("Both sides run through the same OS page cache (buffered I/O, no O_DIRECT), on the same file system;"
        + " %d client threads, %d s per workload, offsets over %s.%n", o.threads(), o.seconds(), gib(o.span()));
    out.println("MB/s = 10^6 bytes/s. Latency = per-operation wall time seen by the client thread (one reservoir"
        + " sample of " + o.latencySamples() / o.threads() + " per thread, merged).");
    out.println();
    out.println("CPU/op = CPU time of the whole process (all threads, incl. committer, uploaders, GC) during the run"
        + " / operations; " + Runtime.getRuntime().availableProcessors() + " CPUs available.");
    out.println();
    out.println("| Workload | vsa | plain file | vsa / plain | vsa p50 | vsa p99 | plain p50 | plain p99 "
        + "| CPU/op vsa | CPU/op plain | notes |");
    out.println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (Row r : rows) {
      double ratio = r.w().throughput() ? r.vsa().mbPerSec() / r.plain().mbPerSec()
          : r.vsa().opsPerSec() / r.plain().opsPerSec();
      out.printf("| %s | %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |%n", r.w().label(), figure(r.w(), r.vsa()),
          figure(r.w(), r.plain()), ratio, micros(r.vsa().p50Nanos()), micros(r.vsa().p99Nanos()),
          micros(r.plain().p50Nanos()), micros(r.plain().p99Nanos()),
          micros((long) (r.vsa().cpuMicrosPerOp() * 1e3)), micros((long) (r.plain().cpuMicrosPerOp() * 1e3)),
          r.notes());
    }
  }

  static void printHeader(Options o, Path dir, FileStore store) throws IOException {
    out.printf("# %s, %s%n%n", o.ram() ? "vsa engine heap per written data (--ram)" : "vsa engine vs plain file",
        ZonedDateTime.now().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm z")));
    long ram = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
        .getTotalMemorySize();
    out.printf("machine: %d CPUs, %s RAM; %s %s, max heap %s%n", Runtime.getRuntime().availableProcessors(),
        gib(ram), System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
        gib(Runtime.getRuntime().maxMemory()));
    out.printf("directory: %s on %s (%s), %s free of %s%n", dir, store.name(), store.type(),
        gib(store.getUsableSpace()), gib(store.getTotalSpace()));
    if (!o.ram()) {
      out.printf("run: %d threads x %d s per workload, span %s%n", o.threads(), o.seconds(), gib(o.span()));
      if (o.span() * 2 > ram) {
        out.println("note: the span is more than half the RAM: reads may come from the device rather than the page cache");
      }
    }
  }

  // ------------------------------------------------------------------ --ram mode

  static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(150);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }

  /**
   * Each phase runs in a method of its own and returns only numbers: a local variable of a frame
   * that is still running keeps its object reachable (the interpreter does not track liveness), so
   * an engine closed in the same frame would still count in the next heap measurement.
   */
  static void ramMode(Options o, Path dir) throws Exception {
    FileStore store = Files.getFileStore(dir);
    long need = 2 * o.ramSize() + 4 * GIB;
    if (store.getUsableSpace() < need) {
      throw new IllegalStateException(String.format(
          "%s has %s free; --ram with %s needs about %s (write buffer + backend copy). Use --ram-size or --dir.",
          dir, gib(store.getUsableSpace()), gib(o.ramSize()), gib(need)));
    }
    printHeader(o, dir, store);
    Path data = dir.resolve("vsa");
    Path backendRoot = dir.resolve("vsa-backend");
    long wbCapacity = Math.max(20 * GIB, o.ramSize() + 4 * GIB);
    EngineConfig shown = ramConfig(data, backendRoot, wbCapacity);
    shown.backend().close();
    out.printf("engine config: write buffer %s, read cache %s, metadata cache %s; vDisk %s, 4 KiB blocks, 64 MiB SCOs%n",
        gib(shown.writeBufferCapacityBytes()), gib(shown.readCacheCapacityBytes()), gib(shown.metadataCacheBytes()),
        gib(o.ramSize()));
    long clusters = o.ramSize() / 4096;
    double gibWritten = (double) o.ramSize() / GIB;

    long[] w = ramWritePhase(o, data, backendRoot, wbCapacity); // {before engine, engine started, after writing}
    long afterClose = heapAfterGc();
    long fixed = ramFixedCost(dir.resolve("empty-engine"), wbCapacity, afterClose);
    long beforeRestart = heapAfterGc();
    long[] c = ramColdPhase(o, data, backendRoot, wbCapacity); // {after open, after touching every page}

    out.println();
    out.printf("heap used after full GCs: before the engine %s, engine started %s, after writing %s, after close %s;"
            + " empty engine %s; restart: before %s, after open %s, after touching every page %s%n",
        mib(w[0]), mib(w[1]), mib(w[2]), mib(afterClose), mib(afterClose + fixed), mib(beforeRestart), mib(c[0]),
        mib(c[1]));
    out.printf("writing took %.1f s (%,.0f MB/s incl. flush); restart (Engine.start on the written data dir) took %d ms%n",
        w[3] / 1e9, o.ramSize() * 1e3 / w[3], c[2] / 1_000_000);
    out.println();
    out.printf("| Heap measure (%s written, %,d clusters of 4 KiB) | heap bytes | per written GiB | per written cluster |%n",
        gib(o.ramSize()), clusters);
    out.println("|---|---:|---:|---:|");
    ramRow("engine with no vDisk (fixed: read cache index and slots, pools); not per-cluster", fixed, 0, 0);
    ramRow("warm: after writing + flush + GC, vs before creating the vDisk (metadata pages cached)", w[2] - w[1],
        gibWritten, clusters);
    ramRow("cold: fresh engine on the same data dir, after open vs before open (raw)", c[0] - beforeRestart,
        gibWritten, clusters);
    ramRow("cold, minus the empty engine's fixed cost = the vDisk's resident cost", c[0] - beforeRestart - fixed,
        gibWritten, clusters);
    ramRow("after the restart, one 4 KiB read in every 2 MiB metadata page, minus fixed", c[1] - beforeRestart - fixed,
        gibWritten, clusters);
    out.println();
    out.println("Promise: at most 16 bytes per written cluster with a cold metadata page cache. The metadata page cache"
        + " is bounded by its configured bytes for all vDisks together, so the warm figure stops growing once it is full.");
  }

  static EngineConfig ramConfig(Path data, Path backendRoot, long wbCapacity) throws IOException {
    // the engine closes its backend: every start needs a fresh one
    return EngineConfig.underDataDir(data, new LocalDirectoryObjectStore(backendRoot)).withWriteBufferCapacity(wbCapacity);
  }

  /** Returns {heap before the engine, after it started, after writing; nanos writing took}. */
  static long[] ramWritePhase(Options o, Path data, Path backendRoot, long wbCapacity) throws Exception {
    long h0 = heapAfterGc();
    try (Engine e = Engine.start(ramConfig(data, backendRoot, wbCapacity))) {
      long h1 = heapAfterGc();
      Volume v = e.create(new VolumeSpec(VDISK, "default", o.ramSize(), 4096, 64L << 20, CachePolicy.ON_READ));
      ByteBuffer buf = ByteBuffer.allocateDirect((int) MIB);
      SplittableRandom rnd = new SplittableRandom(42);
      while (buf.hasRemaining()) {
        buf.putLong(rnd.nextLong());
      }
      progress("writing %s end to end (1 MiB buffered writes, one thread) ...", gib(o.ramSize()));
      long t0 = System.nanoTime();
      long lastReport = t0;
      for (long off = 0; off < o.ramSize(); off += MIB) {
        buf.clear();
        buf.putLong(0, off);
        v.write(off, buf, Durability.BUFFERED);
        if (System.nanoTime() - lastReport > TimeUnit.SECONDS.toNanos(10)) {
          lastReport = System.nanoTime();
          progress("  %s written, write buffer %s", gib(off + MIB), gib(e.writeBuffer().usedBytes()));
        }
      }
      v.flush();
      long writeNanos = System.nanoTime() - t0;
      progress("  written in %.1f s; waiting for uploads ...", writeNanos / 1e9);
      drainUploads(e, 300);
      long h2 = heapAfterGc();
      out.printf("vDisk counters after writing: %s%n", e.stats(VDISK));
      return new long[] {h0, h1, h2, writeNanos};
    }
  }

  /** Heap an engine with no vDisk holds, measured now that every class is loaded. */
  static long ramFixedCost(Path empty, long wbCapacity, long before) throws Exception {
    try (Engine e = Engine.start(ramConfig(empty.resolve("vsa"), empty.resolve("backend"), wbCapacity))) {
      return heapAfterGc() - before;
    }
  }

  /** Returns {heap after open, after touching every metadata page, nanos the open took}. */
  static long[] ramColdPhase(Options o, Path data, Path backendRoot, long wbCapacity) throws Exception {
    long t0 = System.nanoTime();
    try (Engine e = Engine.start(ramConfig(data, backendRoot, wbCapacity))) {
      long openNanos = System.nanoTime() - t0;
      long h5 = heapAfterGc();
      out.printf("vDisk counters after restart (before any read): %s%n", e.stats(VDISK));
      // one cluster of every 2 MiB metadata page: the page cache fills again, up to its bound
      Volume v = e.volume(VDISK).orElseThrow();
      ByteBuffer b = ByteBuffer.allocateDirect(4096);
      for (long off = 0; off < o.ramSize(); off += 2 * MIB) {
        b.clear();
        v.read(off, b);
      }
      long h6 = heapAfterGc();
      return new long[] {h5, h6, openNanos};
    }
  }

  static void ramRow(String label, long bytes, double gibWritten, long clusters) {
    if (clusters == 0) {
      out.printf("| %s | %,d | - | - |%n", label, bytes);
    } else {
      out.printf("| %s | %,d | %,.0f B (%s) | %.2f B |%n", label, bytes, bytes / gibWritten, mib((long) (bytes / gibWritten)),
          (double) bytes / clusters);
    }
  }

  // ------------------------------------------------------------------ main

  static String gib(long bytes) {
    if (Math.abs(bytes) >= GIB) {
      return String.format("%.2f GiB", (double) bytes / GIB);
    }
    return mib(bytes);
  }

  static String mib(long bytes) {
    return String.format("%.1f MiB", (double) bytes / MIB);
  }

  static void progress(String fmt, Object... args) {
    System.err.printf("[%tT] %s%n", System.currentTimeMillis(), String.format(fmt, args));
  }

  static void prepareDir(Path dir) throws IOException {
    if (Files.exists(dir)) {
      boolean ours = Files.exists(dir.resolve(MARKER));
      boolean empty;
      try (var s = Files.list(dir)) {
        empty = s.findAny().isEmpty();
      }
      if (!ours && !empty) {
        throw new IllegalStateException(dir + " exists, is not empty and is not a bench directory (no " + MARKER
            + "); pass another --dir");
      }
      deleteTree(dir);
    }
    Files.createDirectories(dir);
    Files.writeString(dir.resolve(MARKER), "created by org.vsa.bench.EngineBench; deleted at the end unless --keep\n");
  }

  static long treeBytes(Path p) throws IOException {
    if (!Files.exists(p)) {
      return 0;
    }
    try (var walk = Files.walk(p)) {
      return walk.filter(Files::isRegularFile).mapToLong(f -> {
        try {
          return Files.size(f);
        } catch (IOException e) {
          return 0; // deleted meanwhile (an upload trimming the write buffer)
        }
      }).sum();
    }
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    Path dir = o.dir().toAbsolutePath().normalize();
    try {
      prepareDir(dir);
    } catch (IllegalStateException | IOException e) {
      System.err.println(e.getMessage());
      System.exit(2);
    }
    int code = 0;
    try {
      if (o.ram()) {
        ramMode(o, dir);
      } else {
        defaultMode(o, dir);
      }
    } catch (Exception e) {
      e.printStackTrace();
      code = 1;
    } finally {
      if (o.keep()) {
        System.err.println("kept " + dir);
      } else {
        progress("deleting %s", dir);
        deleteTree(dir);
      }
    }
    System.exit(code);
  }
}
