package org.vsa.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.vsa.bench.ServeCluster.Node;
import org.vsa.bench.ServeCluster.Timing;

/**
 * NFS through a cluster's non-owner node against its owner, with real processes: three {@code vsa
 * serve} processes of the shaded jar on 127.0.0.1 ({@link ServeCluster}: shared local backend,
 * default timing); once a node serves the NFS namespace of vPool {@code default} and every node
 * answers {@code nfs-ls}, for each of {that owner, a node that forwards the namespace to it}:
 * <ul>
 *   <li>{@code nfs-cp} of a {@code --mib} file of random bytes in (a new {@code .raw} name each
 *       copy: a vDisk-backed file) and out again, {@code sync} before each copy; every download is
 *       compared with the source byte for byte (a difference fails the bench);</li>
 *   <li>a metadata workload: a new directory (vsa-nfs-mkdir, not timed), {@code sync}, then
 *       {@code --files} small files of 4 KiB each made with {@code nfs-cp} (namespace calls and
 *       small files' data, forwarded by a non-owner), then {@code nfs-ls} of the directory, which
 *       must list every file; files/s over the creates and the listing.</li>
 * </ul>
 * A warm-up round not counted, then {@code --rounds} rounds, the order of owner and non-owner
 * alternating per round; one line per measurement, then the medians and non-owner/owner.
 *
 * <p>{@code bench/run-cluster-nfs-bench.sh [--mib=256] [--files=200] [--rounds=3] [--dir=D]}; the
 * script builds vsa.jar and vsa-nfs-mkdir and passes {@code --jar} and {@code --mkdir}. Needs
 * libnfs-utils (nfs-cp, nfs-ls). Node logs stay in {@code <dir>/nN/serve.log}.
 */
public final class ClusterNfsBench {
  private static final String PASSWORD = "cluster-nfs-bench-secret";
  private static final Pattern NAMESPACES = Pattern.compile("\"namespaces\"\\s*:\\s*\\[([^\\]]*)\\]");
  private static final Pattern DEFAULT_POOL = Pattern.compile("\"vpool\"\\s*:\\s*\"default\"");
  private static final Pattern OWNER = Pattern.compile("\"owner\"\\s*:\\s*(null|\"([^\"]+)\")");
  private static final Pattern REFUSED = Pattern.compile("\"refused\"\\s*:\\s*\"([^\"]*)\"");

  private final ServeCluster cluster;
  private final Path mkdir;
  private final int mib;
  private final int files;
  private final Path src;
  private final Path back;
  private final Path small;

  private ClusterNfsBench(ServeCluster cluster, Path mkdir, int mib, int files, Path work) {
    this.cluster = cluster;
    this.mkdir = mkdir;
    this.mib = mib;
    this.files = files;
    this.src = work.resolve("src.bin");
    this.back = work.resolve("back.bin");
    this.small = work.resolve("small.bin");
  }

  /** One round's numbers on one node. */
  record Measure(double inMibS, double outMibS, double filesS) {}

  public static void main(String[] args) throws Exception {
    int mib = 256;
    int files = 200;
    int rounds = 3;
    Path jar = Path.of("appliance/target/vsa.jar");
    Path mkdir = Path.of("bench/target/vsa-nfs-mkdir");
    Path dir = Path.of("cluster-nfs-bench");
    for (String a : args) {
      String v = a.substring(a.indexOf('=') + 1);
      if (a.startsWith("--mib=")) {
        mib = Integer.parseInt(v);
      } else if (a.startsWith("--files=")) {
        files = Integer.parseInt(v);
      } else if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(v);
      } else if (a.startsWith("--jar=")) {
        jar = Path.of(v);
      } else if (a.startsWith("--mkdir=")) {
        mkdir = Path.of(v);
      } else if (a.startsWith("--dir=")) {
        dir = Path.of(v);
      } else {
        System.err.println("usage: ClusterNfsBench [--mib=256] [--files=200] [--rounds=3] [--dir=PATH] [--jar=vsa.jar]"
            + " [--mkdir=vsa-nfs-mkdir]");
        System.exit(2);
      }
    }
    if (mib < 1 || files < 1 || rounds < 1) {
      throw new IllegalArgumentException("--mib, --files and --rounds must be at least 1");
    }
    for (Path p : List.of(jar, mkdir)) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException(p + " is missing (bench/run-cluster-nfs-bench.sh builds it)");
      }
    }
    ServeCluster.deleteTree(dir);
    Files.createDirectories(dir);
    Path work = Files.createTempDirectory(Path.of("/dev/shm"), "cluster-nfs-bench");
    ServeCluster cluster = new ServeCluster(jar, dir, 3, PASSWORD, Timing.DEFAULT, String.join("\n",
        "writeBuffer: {capacity: 1GiB}",
        "readCache: {capacity: 64MiB}",
        "vpools: [{name: default}]",
        "vdisks: []",
        "snapshots: {enabled: false}",
        "scrub: {enabled: false}"));
    // also on Ctrl-C or SIGTERM: no serve process and no source file in /dev/shm outlives the bench
    Thread hook = new Thread(() -> {
      cluster.close();
      try {
        ServeCluster.deleteTree(work);
      } catch (IOException e) {
        System.err.println("could not delete " + work + ": " + e);
      }
    }, "cluster-nfs-bench-stop");
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      new ClusterNfsBench(cluster, mkdir.toAbsolutePath(), mib, files, work).run(rounds);
    } finally {
      cluster.close();
      ServeCluster.deleteTree(work);
      Runtime.getRuntime().removeShutdownHook(hook);
    }
  }

  private void run(int rounds) throws Exception {
    writeSources();
    long t0 = System.nanoTime();
    cluster.startAll();
    Node owner = awaitNamespaceOwner(Duration.ofSeconds(180));
    Node other = cluster.nodes().stream().filter(n -> n != owner).findFirst().orElseThrow();
    for (Node n : cluster.nodes()) {
      awaitNfs(n, Duration.ofSeconds(120));
    }
    System.out.printf(Locale.ROOT, "cluster up in %.1f s; namespace of vPool default served by %s, non-owner: %s;"
        + " %d MiB per copy, %d files of 4 KiB per metadata run%n", (System.nanoTime() - t0) / 1e9, owner.name,
        other.name, mib, files);
    Map<String, Node> roles = new LinkedHashMap<>();
    roles.put("owner", owner);
    roles.put("non-owner", other);
    Map<String, List<Measure>> counted = new LinkedHashMap<>();
    for (int r = 0; r <= rounds; r++) { // round 0: warm-up, not counted
      List<String> order = (r & 1) == 0 ? List.of("owner", "non-owner") : List.of("non-owner", "owner");
      for (String role : order) {
        Measure m = measure(roles.get(role), role, r);
        if (r > 0) {
          counted.computeIfAbsent(role, k -> new ArrayList<>()).add(m);
        }
      }
    }
    String ownerName = owner.name;
    Node still = awaitNamespaceOwner(Duration.ofSeconds(5));
    if (still != owner) {
      System.out.printf("note: the namespace moved from %s to %s during the run%n", ownerName, still.name);
    }
    System.out.println();
    Map<String, double[]> med = new LinkedHashMap<>();
    for (var e : counted.entrySet()) {
      List<Measure> ms = e.getValue();
      double[] m = {
          ForwardNfsBench.median(ms.stream().map(Measure::inMibS).toList()),
          ForwardNfsBench.median(ms.stream().map(Measure::outMibS).toList()),
          ForwardNfsBench.median(ms.stream().map(Measure::filesS).toList())};
      med.put(e.getKey(), m);
      System.out.printf(Locale.ROOT, "median %-9s (%s) of %d rounds: in %.0f MiB/s, out %.0f MiB/s, metadata %.1f files/s%n",
          e.getKey(), roles.get(e.getKey()).name, ms.size(), m[0], m[1], m[2]);
    }
    double[] o = med.get("owner");
    double[] n = med.get("non-owner");
    System.out.printf(Locale.ROOT, "non-owner/owner: in %.2f, out %.2f, metadata %.2f%n", n[0] / o[0], n[1] / o[1],
        n[2] / o[2]);
  }

  private Measure measure(Node node, String role, int round) throws Exception {
    String tag = "r" + round + "-" + node.name;
    String url = node.nfsUrl("big-" + tag + ".raw");
    ForwardNfsBench.run("sync");
    double tIn = ForwardNfsBench.run("nfs-cp", src.toString(), url);
    Files.deleteIfExists(back); // nfs-cp does not overwrite a local file
    ForwardNfsBench.run("sync");
    double tOut = ForwardNfsBench.run("nfs-cp", url, back.toString());
    long at = Files.mismatch(src, back);
    if (at != -1) {
      throw new IllegalStateException(role + " " + node.name + " round " + round + ": the copy out of " + url
          + " differs from the source at byte " + at + " (" + Files.size(back) + " of " + Files.size(src)
          + " bytes read back)");
    }
    Files.delete(back);

    String dir = "meta-" + tag;
    Out made = exec(mkdir.toString(), node.nfsUrl(dir));
    if (made.exit != 0) {
      throw new IllegalStateException("vsa-nfs-mkdir " + dir + " on " + node.name + ": exit " + made.exit + " " + made.text);
    }
    ForwardNfsBench.run("sync");
    long m0 = System.nanoTime();
    for (int i = 0; i < files; i++) {
      ForwardNfsBench.run("nfs-cp", small.toString(), node.nfsUrl(dir + "/" + name(i)));
    }
    double tCreate = (System.nanoTime() - m0) / 1e9;
    long l0 = System.nanoTime();
    Out ls = exec("nfs-ls", node.nfsUrl(dir));
    double tLs = (System.nanoTime() - l0) / 1e9;
    if (ls.exit != 0) {
      throw new IllegalStateException("nfs-ls " + dir + " on " + node.name + ": exit " + ls.exit + " " + ls.text);
    }
    for (int i = 0; i < files; i++) {
      if (!Pattern.compile("(?m)\\b" + name(i) + "$").matcher(ls.text).find()) {
        throw new IllegalStateException("nfs-ls " + dir + " on " + node.name + " does not list " + name(i) + ":\n"
            + ls.text.lines().limit(20).reduce("", (a, b) -> a + b + "\n"));
      }
    }
    double filesS = files / (tCreate + tLs);
    System.out.printf(Locale.ROOT, "round %d%s %-9s %s: in %.2f s (%.0f MiB/s), out %.2f s (%.0f MiB/s); %d files"
        + " made in %.2f s, listed in %.3f s: %.1f files/s%n", round, round == 0 ? " (warm-up)" : "", role, node.name,
        tIn, mib / tIn, tOut, mib / tOut, files, tCreate, tLs, filesS);
    return new Measure(mib / tIn, mib / tOut, filesS);
  }

  private static String name(int i) {
    return String.format(Locale.ROOT, "f%05d", i);
  }

  private void writeSources() throws IOException {
    Random rnd = new Random();
    byte[] block = new byte[1 << 20];
    try (var out = Files.newOutputStream(src)) {
      for (int i = 0; i < mib; i++) {
        rnd.nextBytes(block);
        out.write(block);
      }
    }
    byte[] s = new byte[4096];
    rnd.nextBytes(s);
    Files.write(small, s);
  }

  /** The node that a live node names as serving vPool default's namespace, once that node is alive. */
  private Node awaitNamespaceOwner(Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      for (Node asked : cluster.nodes()) {
        if (!asked.alive()) {
          continue;
        }
        try {
          String all = asked.get("/cluster/vdisks");
          last = asked.name + ": " + all.replaceAll("\\s+", " ");
          Matcher ns = NAMESPACES.matcher(all);
          if (!ns.find()) {
            continue;
          }
          for (String entry : ns.group(1).split("\\}")) { // the entries are flat objects
            if (!DEFAULT_POOL.matcher(entry).find()) {
              continue;
            }
            Matcher refused = REFUSED.matcher(entry);
            if (refused.find()) {
              throw new IllegalStateException("namespace takeover refused: " + refused.group(1));
            }
            Matcher m = OWNER.matcher(entry);
            if (m.find() && m.group(2) != null) {
              Node o = cluster.node(m.group(2));
              if (o.alive()) {
                return o;
              }
            }
          }
        } catch (IOException e) {
          last = asked.name + ": " + e;
        }
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("no node serves the namespace of vPool default within " + timeout + " (last: "
        + last + "); logs in " + cluster.dir());
  }

  /** Until {@code nfs-ls} of the export's root succeeds on the node (a forwarding node learns the owner). */
  private static void awaitNfs(Node n, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    Out last;
    do {
      last = exec("nfs-ls", n.nfsUrl(""));
      if (last.exit == 0) {
        return;
      }
      Thread.sleep(200);
    } while (System.nanoTime() < deadline);
    throw new IllegalStateException("nfs-ls on " + n.name + " failed for " + timeout + ": exit " + last.exit + " "
        + last.text);
  }

  record Out(int exit, String text) {}

  /** Runs a command with its stdout and stderr captured (bounded: 120 s). */
  private static Out exec(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    Thread reader = new Thread(() -> {
      try (InputStream in = p.getInputStream()) {
        in.transferTo(buf);
      } catch (IOException e) {
        // the process went away
      }
    });
    reader.setDaemon(true);
    reader.start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + ": no end in 120 s");
    }
    reader.join(5000);
    synchronized (buf) {
      return new Out(p.exitValue(), buf.toString(StandardCharsets.UTF_8));
    }
  }
}
