package org.vsa.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.vsa.bench.ServeCluster.Node;
import org.vsa.bench.ServeCluster.Timing;

/**
 * How long a failover takes, seen by an iSCSI client: three {@code vsa serve} processes (the
 * shaded jar) on 127.0.0.1 with one shared local backend and one vDisk {@code demo} (DTL mode sync);
 * vsa-iscsi-load writes to it with FUA, lightly (a pause between writes), through all three
 * portals; the bench kills the owner with SIGKILL and measures, from the kill, (1) the first write
 * acknowledged by another node (the tool stamps each line with the wall clock) and (2) when a live
 * node's {@code GET /api/v1/cluster/vdisks} names a new owner. Then it starts the killed node
 * again, waits until the vDisk's DTL is in sync on its owner, and kills that owner: {@code
 * --failovers} times per timing. Prints each failover and the median and max per timing.
 *
 * <p>{@code bench/run-failover-bench.sh [--failovers=10] [--timing=default,short] [--dir=D] [--iqn=IQN]};
 * the script builds vsa.jar and the load tool and passes {@code --jar} and {@code --tool}. {@code
 * --iqn}: the target the load writes to, LUN 0 (default: demo's own target). Timings:
 * {@code default} heartbeat 1000 ms, lease 6000, margin 1000 (the configuration's defaults);
 * {@code short} 500, 3000, 500.
 */
public final class FailoverBench {
  private static final String PASSWORD = "failover-bench-secret";
  private static String iqn = "iqn.2026-11.org.vsa:vdisk:demo";
  private static final Pattern DEMO = Pattern.compile("\"name\"\\s*:\\s*\"demo\"");
  private static final Pattern OWNER = Pattern.compile("\"owner\"\\s*:\\s*(null|\"([^\"]+)\")");
  private static final Pattern REFUSED = Pattern.compile("\"refused\"\\s*:\\s*\"([^\"]*)\"");
  private static final Pattern DTL_PUBLISHED = Pattern.compile("\"dtlPublished\"\\s*:\\s*\"([^\"]+)\"");
  private static final Pattern ACK = Pattern.compile("@(\\d+) ack (\\d+)");
  private static final Pattern LOGIN = Pattern.compile("@(\\d+) login (\\S+) at (\\S+)");

  record Result(long ackMillis, long ownerMillis) {}

  private final Path tool;
  private final Path dir;
  private final Timing timing;
  private final ServeCluster cluster;
  private final List<Node> nodes;

  private FailoverBench(Path jar, Path tool, Path dir, Timing timing) throws IOException {
    this.tool = tool;
    this.dir = dir;
    this.timing = timing;
    this.cluster = new ServeCluster(jar, dir, 3, PASSWORD, timing, String.join("\n",
        "writeBuffer: {capacity: 512MiB}",
        "readCache: {capacity: 16MiB}",
        "vpools: [{name: default, scoSize: 8MiB}]",
        "vdisks: [{name: demo, vpool: default, size: 1GiB, blockSize: 512, dtlMode: sync}]",
        "snapshots: {enabled: false}",
        "scrub: {enabled: false}"));
    this.nodes = cluster.nodes();
  }

  public static void main(String[] args) throws Exception {
    int failovers = 10;
    List<String> timings = List.of("default", "short");
    Path jar = Path.of("appliance/target/vsa.jar");
    Path tool = Path.of("bench/target/vsa-iscsi-load");
    Path base = Path.of("failover-bench");
    for (String a : args) {
      if (a.startsWith("--failovers=")) {
        failovers = Integer.parseInt(a.substring(12));
      } else if (a.startsWith("--timing=")) {
        timings = List.of(a.substring(9).split(","));
      } else if (a.startsWith("--jar=")) {
        jar = Path.of(a.substring(6));
      } else if (a.startsWith("--tool=")) {
        tool = Path.of(a.substring(7));
      } else if (a.startsWith("--dir=")) {
        base = Path.of(a.substring(6));
      } else if (a.startsWith("--iqn=")) {
        iqn = a.substring(6);
      } else {
        throw new IllegalArgumentException("unknown option " + a);
      }
    }
    for (Path p : List.of(jar, tool)) {
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException(p + " is missing (bench/run-failover-bench.sh builds it)");
      }
    }
    List<String> summary = new ArrayList<>();
    for (String t : timings) {
      Timing timing = switch (t) {
        case "default" -> Timing.DEFAULT;
        case "short" -> Timing.SHORT;
        default -> throw new IllegalArgumentException("--timing: default or short, not " + t);
      };
      Path d = base.resolve(t);
      ServeCluster.deleteTree(d);
      Files.createDirectories(d);
      FailoverBench bench = new FailoverBench(jar.toAbsolutePath(), tool.toAbsolutePath(), d.toAbsolutePath(), timing);
      List<Result> results;
      try {
        results = bench.run(failovers);
      } finally {
        bench.stopAll();
      }
      summary.add(summarize(timing, results, failovers));
    }
    System.out.println();
    summary.forEach(System.out::println);
  }

  static String summarize(Timing t, List<Result> r, int asked) {
    if (r.isEmpty()) {
      return String.format(Locale.ROOT, "timing %s (heartbeat %d, lease %d, margin %d ms): no failover completed",
          t.name(), t.heartbeat(), t.lease(), t.margin());
    }
    List<Long> ack = r.stream().map(Result::ackMillis).sorted().toList();
    List<Long> own = r.stream().map(Result::ownerMillis).sorted().toList();
    return String.format(Locale.ROOT, "timing %s (heartbeat %d, lease %d, margin %d ms), %d of %d failovers: kill to"
        + " first acknowledged write median %d ms, max %d ms; kill to new owner in the API median %d ms, max %d ms",
        t.name(), t.heartbeat(), t.lease(), t.margin(), r.size(), asked, median(ack), ack.get(ack.size() - 1),
        median(own), own.get(own.size() - 1));
  }

  static long median(List<Long> sorted) {
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

  private List<Result> run(int failovers) throws Exception {
    cluster.startAll();
    List<Result> results = new ArrayList<>();
    for (int round = 1; round <= failovers; round++) {
      Node owner = awaitOwner(null, Duration.ofSeconds(120));
      awaitDtlInSync(owner, Duration.ofSeconds(120));
      Load load = new Load(nodes);
      try {
        load.awaitAcks(50, Duration.ofSeconds(60));
        long kill = System.currentTimeMillis();
        long killNanos = System.nanoTime();
        owner.kill();
        Node next = awaitOwner(owner, Duration.ofSeconds(120));
        long ownerMillis = (System.nanoTime() - killNanos) / 1_000_000;
        long ack = load.firstAckAfter(kill, owner.portal(), Duration.ofSeconds(120)) - kill;
        System.out.printf(Locale.ROOT, "[%s] failover %d: killed %s; %s acknowledged a write after %d ms, owner in the"
            + " API after %d ms%n", timing.name(), round, owner.name, next.name, ack, ownerMillis);
        results.add(new Result(ack, ownerMillis));
      } catch (IllegalStateException e) {
        System.out.printf("[%s] failover %d: %s; stopping this timing (logs in %s)%n", timing.name(), round,
            e.getMessage(), dir);
        break;
      } finally {
        load.stop();
      }
      owner.start();
      owner.awaitRunning();
    }
    return results;
  }

  /** The owner a live node names (not {@code not}), once it is alive. */
  private Node awaitOwner(Node not, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (System.nanoTime() < deadline) {
      for (Node asked : nodes) {
        if (!asked.alive()) {
          continue;
        }
        try {
          String all = asked.get("/cluster/vdisks");
          last = asked.name + ": " + all.replaceAll("\\s+", " ");
          Matcher demo = DEMO.matcher(all);
          if (!demo.find()) {
            continue;
          }
          // demo's entry: from its name to the end of its object (the entries are flat)
          int end = all.indexOf('}', demo.end());
          String body = all.substring(all.lastIndexOf('{', demo.start()), end < 0 ? all.length() : end);
          Matcher r = REFUSED.matcher(body);
          if (r.find()) {
            throw new IllegalStateException("takeover refused: " + r.group(1));
          }
          Matcher m = OWNER.matcher(body);
          if (m.find() && m.group(2) != null) {
            Node o = node(m.group(2));
            if (o != not && o.alive()) {
              return o;
            }
          }
        } catch (IOException e) {
          last = asked.name + ": " + e;
        }
      }
      Thread.sleep(50);
    }
    throw new IllegalStateException("no owner of demo within " + timeout + " (last: " + last + ")");
  }

  /** Until the owner published in a heartbeat that demo's DTL is in sync: only then may a takeover count on it. */
  private void awaitDtlInSync(Node owner, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String state = null;
    while (System.nanoTime() < deadline) {
      try {
        Matcher m = DTL_PUBLISHED.matcher(owner.get("/cluster/vdisks"));
        state = m.find() ? m.group(1) : null;
        if ("ok-sync".equals(state)) {
          return;
        }
      } catch (IOException e) {
        state = e.toString();
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("demo's DTL not published in sync by " + owner.name + " within " + timeout + ": "
        + state);
  }

  private Node node(String name) {
    return cluster.node(name);
  }

  private void stopAll() {
    cluster.close();
  }

  /** vsa-iscsi-load writing with FUA through every portal, 2 ms between writes; its lines as they come. */
  private final class Load {
    final Process process;
    final List<String> lines = Collections.synchronizedList(new ArrayList<>());
    final Thread reader;

    Load(List<Node> through) throws IOException {
      List<String> cmd = new ArrayList<>(List.of(tool.toString(), "-t", "-i", "2000", "write", iqn, "0", "0",
          "262144", "8", "600"));
      through.forEach(n -> cmd.add(n.portal()));
      process = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD)
          .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
      reader = new Thread(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String l = r.readLine(); l != null; l = r.readLine()) {
            lines.add(l);
          }
        } catch (IOException e) {
          lines.add("reader: " + e);
        }
      });
      reader.setDaemon(true);
      reader.start();
    }

    void awaitAcks(int n, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (snapshot().stream().filter(l -> ACK.matcher(l).matches()).count() < n) {
        if (System.nanoTime() > deadline || !process.isAlive()) {
          throw new IllegalStateException("fewer than " + n + " acknowledged writes before the kill: " + tail());
        }
        Thread.sleep(20);
      }
    }

    /** The wall-clock time of the first ack after {@code after} on a session not served by {@code deadPortal}. */
    long firstAckAfter(long after, String deadPortal, Duration timeout) throws InterruptedException {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (System.nanoTime() < deadline) {
        String servedBy = null;
        for (String l : snapshot()) {
          Matcher login = LOGIN.matcher(l);
          if (login.matches()) {
            String at = login.group(3);
            servedBy = at.contains(",") ? at.substring(0, at.indexOf(',')) : at;
            continue;
          }
          Matcher ack = ACK.matcher(l);
          if (ack.matches() && Long.parseLong(ack.group(1)) > after && !deadPortal.equals(servedBy)) {
            return Long.parseLong(ack.group(1));
          }
        }
        if (!process.isAlive()) {
          break;
        }
        Thread.sleep(20);
      }
      throw new IllegalStateException("no write acknowledged by another node within " + timeout + ": " + tail());
    }

    List<String> snapshot() {
      synchronized (lines) {
        return List.copyOf(lines);
      }
    }

    String tail() {
      List<String> l = snapshot();
      return String.join(" | ", l.subList(Math.max(0, l.size() - 8), l.size()));
    }

    void stop() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
