package org.vsa.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import org.vsa.backends.fragment.Compression;
import org.vsa.backends.fragment.EncryptionKey;
import org.vsa.backends.fragment.FragmentObjectStore;
import org.vsa.backends.fragment.Policy;
import org.vsa.backends.fragment.Preset;

/**
 * The fragment backend's CPU cost and partial-read gain, over in-memory stores (so that the
 * figures are the coding, compression and encryption, not a disk):
 *
 * <ol>
 *   <li>encode (put) and decode (get) MB/s per preset, and decode with one data store lost
 *       (Reed-Solomon reconstruction);
 *   <li>bytes fetched from the stores by a 4 KiB cache-miss read, per fragment size, against the
 *       SCO size;
 *   <li>compression ratio and MB/s of lz4 and zstd on compressible and on random data.
 * </ol>
 *
 * Options: {@code --sco=MiB} (default 64), {@code --rounds=N} (default 3; the best round is
 * reported). Results go to stdout as Markdown.
 */
public final class BackendBench {
  private static final double MB = 1_000_000.0;

  /** A thread-safe in-memory store: the benchmark measures the fragment layer, not a disk. */
  public static final class MemoryStore implements ObjectStore {
    final Map<String, Map<String, byte[]>> namespaces = new ConcurrentHashMap<>();

    private Map<String, byte[]> ns(String namespace) throws NoSuchObjectException {
      Map<String, byte[]> m = namespaces.get(namespace);
      if (m == null) {
        throw new NoSuchObjectException(namespace);
      }
      return m;
    }

    private byte[] obj(String namespace, String name) throws NoSuchObjectException {
      byte[] b = ns(namespace).get(name);
      if (b == null) {
        throw new NoSuchObjectException(namespace, name);
      }
      return b;
    }

    @Override
    public void createNamespace(String namespace) {
      namespaces.putIfAbsent(namespace, new ConcurrentHashMap<>());
    }

    @Override
    public void deleteNamespace(String namespace) {
      namespaces.remove(namespace);
    }

    @Override
    public boolean namespaceExists(String namespace) {
      return namespaces.containsKey(namespace);
    }

    @Override
    public List<String> listNamespaces() {
      return new ArrayList<>(new TreeSet<>(namespaces.keySet()));
    }

    @Override
    public void put(String namespace, String name, Path source) throws IOException {
      put(namespace, name, java.nio.file.Files.readAllBytes(source));
    }

    @Override
    public void put(String namespace, String name, byte[] data) throws IOException {
      ns(namespace).put(name, data.clone());
    }

    @Override
    public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
      byte[] b = obj(namespace, name);
      if (offset + dst.remaining() > b.length) {
        throw new java.io.EOFException(name);
      }
      dst.put(b, (int) offset, dst.remaining());
    }

    @Override
    public byte[] get(String namespace, String name) throws IOException {
      return obj(namespace, name).clone();
    }

    @Override
    public long size(String namespace, String name) throws IOException {
      return obj(namespace, name).length;
    }

    @Override
    public boolean exists(String namespace, String name) throws IOException {
      return ns(namespace).containsKey(name);
    }

    @Override
    public void delete(String namespace, String name) throws IOException {
      ns(namespace).remove(name);
    }

    @Override
    public List<String> list(String namespace, String prefix) throws IOException {
      List<String> out = new ArrayList<>();
      for (String n : ns(namespace).keySet()) {
        if (n.startsWith(prefix)) {
          out.add(n);
        }
      }
      out.sort(null);
      return out;
    }

    @Override
    public void close() {}

    long bytes() {
      long total = 0;
      for (Map<String, byte[]> m : namespaces.values()) {
        for (byte[] b : m.values()) {
          total += b.length;
        }
      }
      return total;
    }
  }

  public static void main(String[] args) throws Exception {
    int scoMiB = 64;
    int rounds = 3;
    for (String a : args) {
      if (a.startsWith("--sco=")) {
        scoMiB = Integer.parseInt(a.substring(6));
      } else if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(a.substring(9));
      } else {
        throw new IllegalArgumentException("unknown option " + a + "; known: --sco=MiB --rounds=N");
      }
    }
    int sco = scoMiB << 20;
    byte[] random = new byte[sco];
    new Random(1).nextBytes(random);
    byte[] compressible = compressible(sco);
    System.out.printf("# Backend bench: %d MiB SCO, best of %d rounds, %d cores, %s, load average %.1f at start%n%n",
        scoMiB, rounds, Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name") + " "
            + System.getProperty("java.version"), loadAverage());

    // Warm-up, not reported: the JIT compiles the coding loops before the first measured round, as it has
    // long done in an appliance that has been running.
    byte[] warm = Arrays.copyOf(random, Math.min(random.length, 16 << 20));
    for (int i = 0; i < 3; i++) {
      Policy p = new Policy(4, 2, 6, 1);
      codec(new Preset("warm-up", List.of(p), 1 << 20, Compression.NONE, false), 6, warm, 1, null);
    }

    System.out.println("## Encode and decode per preset (random data, no compression)\n");
    System.out.println("MB/s are wall-clock, best (worst) of the rounds; MB per CPU-s is the best round's bytes over the"
        + " CPU time the whole JVM used meanwhile (all threads, GC included): it depends less on what else the machine"
        + " runs.\n");
    System.out.println("| policy (k,m) | stores | stored / raw | encode MB/s | encode MB per CPU-s | decode MB/s"
        + " | decode, one data store lost, MB/s | degraded MB per CPU-s |");
    System.out.println("|---|---|---|---|---|---|---|---|");
    int[][] policies = {{1, 2}, {2, 1}, {4, 2}, {8, 3}, {5, 4}};
    for (int[] km : policies) {
      Policy p = new Policy(km[0], km[1], km[0] + km[1], 1);
      Preset preset = new Preset("bench", List.of(p), 1 << 20, Compression.NONE, false);
      double[] r = codec(preset, p.fragments(), random, rounds, null);
      System.out.printf("| (%d,%d) | %d | %.2f | %.0f (%.0f) | %.0f | %.0f | %.0f (%.0f) | %.0f |%n", km[0], km[1],
          p.fragments(), r[3], r[0], r[4], r[6], r[1], r[2], r[5], r[7]);
    }
    byte[] keyBytes = new byte[32];
    new Random(2).nextBytes(keyBytes);
    EncryptionKey key = new EncryptionKey(keyBytes);
    Policy p42 = new Policy(4, 2, 6, 1);
    double[] enc = codec(new Preset("bench", List.of(p42), 1 << 20, Compression.NONE, true), 6, random, rounds, key);
    System.out.printf("| (4,2) + AES-256-GCM | 6 | %.2f | %.0f (%.0f) | %.0f | %.0f | %.0f (%.0f) | %.0f |%n%n", enc[3],
        enc[0], enc[4], enc[6], enc[1], enc[2], enc[5], enc[7]);

    System.out.println("## A 4 KiB cache-miss read: bytes fetched from the stores\n");
    System.out.println("| backend | fragment size | bytes fetched per 4 KiB read | SCO size | fetched / SCO |");
    System.out.println("|---|---|---|---|---|");
    System.out.printf("| local directory or S3 (ranged read / ranged GET) | - | 4096 | %d | %.6f |%n", sco, 4096.0 / sco);
    for (int fragKiB : new int[] {16, 64, 256, 1024}) {
      Policy p = new Policy(4, 2, 6, 1);
      Preset preset = new Preset("bench", List.of(p), fragKiB << 10, Compression.NONE, false);
      long perRead = partialRead(preset, 6, random);
      System.out.printf("| fragment (4,2) | %d KiB | %d | %d | %.6f |%n", fragKiB, perRead, sco, (double) perRead / sco);
    }
    System.out.println("\nWithout partial reads a cache miss would fetch the whole SCO (" + sco + " bytes).\n");

    System.out.println("## Compression per fragment (256 KiB fragments, (4,2))\n");
    System.out.println("| data | compression | stored / raw (incl. parity) | encode MB/s | decode MB/s |");
    System.out.println("|---|---|---|---|---|");
    for (String kind : List.of("compressible", "random")) {
      byte[] data = kind.equals("random") ? random : compressible;
      for (Compression c : Compression.values()) {
        Preset preset = new Preset("bench", List.of(p42), 256 << 10, c, false);
        double[] r = codec(preset, 6, data, rounds, null);
        System.out.printf("| %s | %s | %.3f | %.0f | %.0f |%n", kind, c.name().toLowerCase(java.util.Locale.ROOT), r[3],
            r[0], r[1]);
      }
    }
    System.out.printf("%nLoad average at the end: %.1f%n", loadAverage());
  }

  private static double loadAverage() {
    return java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  /** CPU time of the whole JVM so far, in ns. */
  private static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
        .getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /**
   * {encode MB/s, decode MB/s, degraded decode MB/s, stored/raw}, the best of the rounds, then the worst encode and
   * degraded MB/s, then the best encode and degraded MB per CPU-second.
   */
  private static double[] codec(Preset preset, int stores, byte[] data, int rounds, EncryptionKey key) throws IOException {
    double bestEnc = 0;
    double bestDec = 0;
    double bestDeg = 0;
    double worstEnc = Double.MAX_VALUE;
    double worstDeg = Double.MAX_VALUE;
    double encPerCpu = 0;
    double degPerCpu = 0;
    double ratio = 0;
    for (int round = 0; round < rounds; round++) {
      List<MemoryStore> mem = new ArrayList<>();
      List<FragmentObjectStore.Disk> disks = new ArrayList<>();
      for (int i = 0; i < stores; i++) {
        MemoryStore m = new MemoryStore();
        mem.add(m);
        disks.add(new FragmentObjectStore.Disk("s" + i, m));
      }
      FragmentObjectStore s = new FragmentObjectStore(preset, disks, key);
      s.createNamespace("ns");
      long c0 = cpuNanos();
      long t0 = System.nanoTime();
      s.put("ns", "sco", data);
      long t1 = System.nanoTime();
      long c1 = cpuNanos();
      byte[] back = s.get("ns", "sco");
      long t2 = System.nanoTime();
      if (!Arrays.equals(back, data)) {
        throw new AssertionError("read back differs");
      }
      long stored = 0;
      for (MemoryStore m : mem) {
        stored += m.bytes();
      }
      // lose the store holding data column 0: every stripe is rebuilt
      for (MemoryStore m : mem) {
        for (Map<String, byte[]> ns : m.namespaces.values()) {
          ns.keySet().removeIf(n -> n.startsWith("sco.vf") && n.endsWith(".0"));
        }
      }
      FragmentObjectStore fresh = new FragmentObjectStore(preset, disks, key);
      long c3 = cpuNanos();
      long t3 = System.nanoTime();
      byte[] degraded = fresh.get("ns", "sco");
      long t4 = System.nanoTime();
      long c4 = cpuNanos();
      if (preset.policies().get(0).m() > 0 && !Arrays.equals(degraded, data)) {
        throw new AssertionError("degraded read differs");
      }
      bestEnc = Math.max(bestEnc, data.length / MB / ((t1 - t0) / 1e9));
      bestDec = Math.max(bestDec, data.length / MB / ((t2 - t1) / 1e9));
      bestDeg = Math.max(bestDeg, data.length / MB / ((t4 - t3) / 1e9));
      worstEnc = Math.min(worstEnc, data.length / MB / ((t1 - t0) / 1e9));
      worstDeg = Math.min(worstDeg, data.length / MB / ((t4 - t3) / 1e9));
      encPerCpu = Math.max(encPerCpu, data.length / MB / (Math.max(1, c1 - c0) / 1e9));
      degPerCpu = Math.max(degPerCpu, data.length / MB / (Math.max(1, c4 - c3) / 1e9));
      ratio = (double) stored / data.length;
      s.close();
      fresh.close();
    }
    return new double[] {bestEnc, bestDec, bestDeg, ratio, worstEnc, worstDeg, encPerCpu, degPerCpu};
  }

  /** Mean stored bytes fetched per 4 KiB read at random 4 KiB-aligned offsets, manifest cached. */
  private static long partialRead(Preset preset, int stores, byte[] data) throws IOException {
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    for (int i = 0; i < stores; i++) {
      disks.add(new FragmentObjectStore.Disk("s" + i, new MemoryStore()));
    }
    FragmentObjectStore s = new FragmentObjectStore(preset, disks, null);
    s.createNamespace("ns");
    s.put("ns", "sco", data);
    FragmentObjectStore fresh = new FragmentObjectStore(preset, disks, null);
    fresh.size("ns", "sco");
    Random rnd = new Random(3);
    int reads = 200;
    long before = fresh.bytesFetched();
    for (int i = 0; i < reads; i++) {
      long off = 4096L * rnd.nextInt(data.length / 4096);
      ByteBuffer b = ByteBuffer.allocate(4096);
      fresh.read("ns", "sco", off, b);
      if (!Arrays.equals(b.array(), 0, 4096, data, (int) off, (int) off + 4096)) {
        throw new AssertionError("partial read differs at " + off);
      }
    }
    return (fresh.bytesFetched() - before) / reads;
  }

  /**
   * Data that compresses like a VM disk's: a quarter zero blocks, half text-like blocks (words
   * from a small vocabulary), a quarter random blocks.
   */
  static byte[] compressible(int size) {
    byte[] out = new byte[size];
    Random r = new Random(4);
    String[] words = ("the quick brown fox jumps over lazy dog storage volume cluster write read backend "
        + "fragment policy repair verify metadata page checkpoint").split(" ");
    for (int block = 0; block < size / 4096; block++) {
      int at = block * 4096;
      int kind = r.nextInt(4);
      if (kind == 0) {
        continue;
      }
      if (kind == 3) {
        byte[] b = new byte[4096];
        r.nextBytes(b);
        System.arraycopy(b, 0, out, at, 4096);
        continue;
      }
      int p = at;
      while (p < at + 4096) {
        byte[] w = (words[r.nextInt(words.length)] + " ").getBytes(StandardCharsets.US_ASCII);
        int n = Math.min(w.length, at + 4096 - p);
        System.arraycopy(w, 0, out, p, n);
        p += n;
      }
    }
    return out;
  }
}
