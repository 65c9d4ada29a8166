package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Three {@code vsa serve} processes on 127.0.0.1 forming one cluster: nodes n1, n2, n3 in fault
 * domains fd1, fd2, fd3, every port free and chosen here, one shared local backend directory,
 * each node its own data directory; the configuration names one vDisk {@value #VDISK} (DTL mode
 * sync), which the cluster creates once and gives one owner. The fixture asks the nodes' management
 * APIs who owns it ({@code GET /api/v1/cluster/vdisks}), kills ({@code kill -9}), pauses
 * ({@code SIGSTOP}) and resumes ({@code SIGCONT}) nodes, and keeps every node's log: written to
 * {@code target/cluster-logs/<label>/} at close, and the last lines of each in {@link #report}.
 * Every wait is bounded.
 */
final class ClusterProcesses implements AutoCloseable {
  static final String VDISK = "demo";
  static final String IQN = "iqn.2026-11.org.vsa:vdisk:" + VDISK;
  static final String RUNNING = "vsa running: ";
  static final long VDISK_BYTES = 64L << 20;
  static final int BLOCK_BYTES = 512;
  private static final String PASSWORD = "failover-test-secret";
  /** Three JVMs starting at once on a small loaded machine take longer than one (Serve.START_TIMEOUT). */
  static final Duration START_TIMEOUT = Duration.ofSeconds(180);
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Cluster timing: heartbeat, lease and margin in milliseconds. */
  record Timing(int heartbeatMillis, int leaseMillis, int marginMillis) {
    /** Short, to keep tests quick: lease 6 x heartbeat, margin lease/6. */
    static final Timing SHORT = new Timing(500, 3000, 500);
    /** The configuration's defaults. */
    static final Timing DEFAULT = new Timing(1000, 6000, 1000);
  }

  /** One node: its name, directories and ports, and its process while it runs. */
  final class Node {
    final String name;
    final Path dir;
    final int clusterPort;
    final int iscsiPort;
    final int nfsPort;
    final int mountPort;
    final int dtlPort;
    final int volumePort;
    final int namespacePort;
    Serve serve;
    boolean paused;
    boolean killed;

    Node(String name, Path dir) throws IOException {
      this.name = name;
      this.dir = dir;
      this.clusterPort = freePort();
      this.iscsiPort = freePort();
      this.nfsPort = freePort();
      this.mountPort = freePort();
      this.dtlPort = freePort();
      this.volumePort = freePort();
      this.namespacePort = freePort();
    }

    /** host:port of its iSCSI portal. */
    String portal() {
      return "127.0.0.1:" + iscsiPort;
    }

    /** A libnfs URL of a path under the export {@code /default} on this node. */
    String nfsUrl(String path) {
      return "nfs://127.0.0.1/default/" + path + "?nfsport=" + nfsPort + "&mountport=" + mountPort + "&version=3";
    }

    Path dataDir() {
      return dir.resolve("data");
    }

    boolean up() {
      return serve != null && serve.process().isAlive() && !paused && !killed;
    }

    /** The management API's base URL, from {@code <dataDir>/management.url}. */
    String apiBase() throws IOException {
      Path f = dataDir().resolve(Appliance.MANAGEMENT_URL_FILE);
      return Files.readString(f, StandardCharsets.UTF_8).strip() + "/api/v1";
    }

    /** GET of an API path; the parsed body, or a failed assertion with the status and body. */
    JsonNode get(String path) throws IOException, InterruptedException {
      HttpResponse<String> r = call("GET", path);
      assertTrue(r.statusCode() == 200, "GET " + path + " on " + name + ": " + r.statusCode() + " " + r.body());
      return JSON.readTree(r.body());
    }

    HttpResponse<String> call(String method, String path) throws IOException, InterruptedException {
      return call(method, path, null);
    }

    /** A call with a JSON body (null: none); waits at most 90 s (a cluster deletion waits up to 60 s). */
    HttpResponse<String> call(String method, String path, String json) throws IOException, InterruptedException {
      HttpRequest.Builder req = HttpRequest.newBuilder(URI.create(apiBase() + path))
          .timeout(Duration.ofSeconds(json == null && !method.equals("DELETE") ? 10 : 90))
          .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(("admin:" + PASSWORD)
              .getBytes(StandardCharsets.UTF_8)));
      if (json == null) {
        req.method(method, HttpRequest.BodyPublishers.noBody());
      } else {
        req.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(json));
      }
      return http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** This node's view of {@value #VDISK}: its entry in GET /cluster/vdisks, empty when it lists none. */
    Optional<JsonNode> vdiskView() throws IOException, InterruptedException {
      return vdiskView(VDISK);
    }

    /** This node's view of a vDisk: its entry in GET /cluster/vdisks, empty when it lists none. */
    Optional<JsonNode> vdiskView(String vdisk) throws IOException, InterruptedException {
      for (JsonNode v : get("/cluster/vdisks").path("vdisks")) {
        if (vdisk.equals(v.path("name").asText())) {
          return Optional.of(v);
        }
      }
      return Optional.empty();
    }

    /** This node's view of the vPool's namespace in {@code GET /cluster/vdisks}; empty when it lists none. */
    Optional<JsonNode> namespaceView() throws IOException, InterruptedException {
      for (JsonNode v : get("/cluster/vdisks").path("namespaces")) {
        if ("default".equals(v.path("vpool").asText())) {
          return Optional.of(v);
        }
      }
      return Optional.empty();
    }

    @Override
    public String toString() {
      return name + " (iSCSI " + iscsiPort + ", NFS " + nfsPort + ")";
    }
  }

  private final String label;
  private final Path work;
  private final Timing timing;
  private final List<Node> nodes = new ArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private ClusterProcesses(String label, Path work, Timing timing) {
    this.label = label;
    this.work = work;
    this.timing = timing;
  }

  /**
   * Starts three nodes (in parallel) and waits until each logs that it runs. {@code label} names
   * the directory of the kept logs (the test's name).
   */
  static ClusterProcesses start(String label, Path work, Timing timing) throws Exception {
    ClusterProcesses c = new ClusterProcesses(label, work, timing);
    try {
      for (int i = 1; i <= 3; i++) {
        c.nodes.add(c.new Node("n" + i, work.resolve("n" + i)));
      }
      for (Node n : c.nodes) {
        c.launch(n);
      }
      for (Node n : c.nodes) {
        try {
          n.serve.awaitStdout(l -> l.contains(RUNNING), START_TIMEOUT);
        } catch (AssertionError e) {
          throw new AssertionError(n.name + " did not start\n" + c.report(), e);
        }
      }
      return c;
    } catch (Exception | AssertionError e) {
      c.close();
      throw e;
    }
  }

  private void launch(Node n) throws IOException {
    Files.createDirectories(n.dir);
    Path cfg = n.dir.resolve("vsa.yaml");
    Files.writeString(cfg, config(n), StandardCharsets.UTF_8);
    n.serve = Serve.start(n.dir, "serve", "--config", cfg.toString());
    n.paused = false;
    n.killed = false;
  }

  /** Starts a killed node again on the same data directory and ports; waits until it runs. */
  void restart(Node n) throws Exception {
    assertTrue(!n.serve.process().isAlive(), n.name + " still runs");
    keepLog(n, "-before-restart");
    launch(n);
    n.serve.awaitStdout(l -> l.contains(RUNNING), START_TIMEOUT);
  }

  String config(Node n) {
    String members = nodes.stream().map(x -> "127.0.0.1:" + x.clusterPort).collect(Collectors.joining(", "));
    return String.join("\n",
        "node: {name: " + n.name + ", dataDir: " + n.dataDir() + "}",
        "management: {port: 0, password: " + PASSWORD + "}",
        "backend: {type: local, dir: " + work.resolve("backend") + "}",
        "writeBuffer: {capacity: 256MiB}",
        "readCache: {capacity: 16MiB}",
        "dtl: {enabled: true, port: " + n.dtlPort + "}",
        "iscsi: {port: " + n.iscsiPort + "}",
        "nfs: {port: " + n.nfsPort + ", mountPort: " + n.mountPort + ", portmap: none}",
        "vpools: [{name: default, scoSize: 4MiB}]",
        "vdisks: [{name: " + VDISK + ", vpool: default, size: " + (VDISK_BYTES >> 20) + "MiB, blockSize: " + BLOCK_BYTES
            + ", dtlMode: sync}]",
        "snapshots: {enabled: false}",
        "scrub: {enabled: false}",
        "cluster: {enabled: true, name: fo" + nodes.get(0).clusterPort + ", port: " + n.clusterPort + ", volumePort: "
            + n.volumePort + ", namespacePort: " + n.namespacePort + ", members: ["
            + members + "], faultDomain: fd" + n.name.substring(1) + ", heartbeatMillis: " + timing.heartbeatMillis()
            + ", leaseMillis: " + timing.leaseMillis() + ", leaseMarginMillis: " + timing.marginMillis() + "}",
        "");
  }

  Timing timing() {
    return timing;
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  Node node(String name) {
    return nodes.stream().filter(n -> n.name.equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no node " + name + " in the cluster"));
  }

  /** Nodes that run and are not paused. */
  List<Node> up() {
    return nodes.stream().filter(Node::up).toList();
  }

  List<String> portals(List<Node> of) {
    return of.stream().map(Node::portal).toList();
  }

  /**
   * Waits until a node that is up names an owner of {@value #VDISK} that {@code accept}s, and
   * that owner is up; returns it. {@code ask} restricts which nodes are asked (all that are up when
   * null). Fails at the timeout with every node's view and log; also as soon as a node reports
   * that an automatic takeover was refused (the reason is the failure's message).
   */
  Node awaitOwner(Predicate<Node> accept, Duration timeout, String what) throws Exception {
    return awaitOwner(Node::vdiskView, VDISK, accept, timeout, what);
  }

  /** As {@link #awaitOwner}, for another vDisk. */
  Node awaitOwnerOf(String vdisk, Predicate<Node> accept, Duration timeout, String what) throws Exception {
    return awaitOwner(n -> n.vdiskView(vdisk), "vDisk " + vdisk, accept, timeout, what);
  }

  /** As {@link #awaitOwner}, for the node serving the NFS namespace of vPool {@code default}. */
  Node awaitNamespaceOwner(Predicate<Node> accept, Duration timeout, String what) throws Exception {
    return awaitOwner(Node::namespaceView, "the namespace of vPool default", accept, timeout, what);
  }

  @FunctionalInterface
  interface View {
    Optional<JsonNode> of(Node n) throws IOException, InterruptedException;
  }

  private Node awaitOwner(View view, String subject, Predicate<Node> accept, Duration timeout, String what)
      throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "";
    while (true) {
      for (Node asked : up()) {
        Optional<JsonNode> v;
        try {
          v = view.of(asked);
        } catch (IOException | AssertionError e) {
          last = asked.name + ": " + e.getMessage();
          continue;
        }
        if (v.isEmpty()) {
          last = asked.name + " lists no " + subject;
          continue;
        }
        JsonNode refused = v.get().path("refused");
        if (!refused.isMissingNode() && !refused.isNull()) {
          fail("waiting for " + what + ": " + asked.name + " reports the takeover of " + subject + " refused: "
              + refused.asText() + "\n" + report());
        }
        JsonNode owner = v.get().path("owner");
        last = asked.name + " says " + v.get();
        if (owner.isTextual()) {
          Node o = node(owner.asText());
          if (o.up() && accept.test(o)) {
            return o;
          }
        }
      }
      if (System.nanoTime() > deadline) {
        fail("no " + what + " within " + timeout + " (last answer: " + last + ")\n" + report());
      }
      Thread.sleep(100);
    }
  }

  /**
   * Waits until the owner has published, in a heartbeat stored in the backend, that the vDisk's DTL
   * is in sync ({@code dtlPublished} of {@code GET /cluster/vdisks}): another node takes the vDisk
   * over on its own only when the last published state was in sync (a kill before that is refused,
   * rightly: the taker cannot know the DTL caught up).
   */
  void awaitDtlInSync(Node owner, Duration timeout) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    String state = null;
    while (true) {
      HttpResponse<String> r = owner.call("GET", "/cluster/vdisks");
      if (r.statusCode() == 200) {
        state = null;
        for (JsonNode v : JSON.readTree(r.body()).path("vdisks")) {
          if (VDISK.equals(v.path("name").asText())) {
            state = v.path("dtlPublished").asText(null);
          }
        }
        if ("ok-sync".equals(state)) {
          return;
        }
      } else {
        state = r.statusCode() + " " + r.body();
      }
      if (System.nanoTime() > deadline) {
        fail(VDISK + "'s DTL not published in sync by its owner " + owner.name + " within " + timeout + " (last: "
            + state + ")\n" + report());
      }
      Thread.sleep(100);
    }
  }

  /** kill -9: returns once the process is gone. */
  void kill(Node n) throws InterruptedException {
    n.serve.killNine();
    n.killed = true;
  }

  /**
   * SIGTERM, as {@code systemctl stop} sends it: returns the exit status once the process has
   * handed its vDisks over and exited (bounded by {@code timeout}).
   */
  int terminate(Node n, Duration timeout) throws Exception {
    n.serve.signal("TERM");
    int status = n.serve.awaitExit(timeout);
    n.killed = true;
    return status;
  }

  /** SIGSTOP: the process stays, frozen (its sockets accept, nothing answers). */
  void pause(Node n) throws Exception {
    n.serve.signal("STOP");
    awaitProcState(n, "T", true);
    n.paused = true;
  }

  /** SIGCONT. */
  void resume(Node n) throws Exception {
    n.serve.signal("CONT");
    awaitProcState(n, "T", false);
    n.paused = false;
  }

  /** Waits (bounded) until /proc says the process is, or is no longer, in the given state. */
  private static void awaitProcState(Node n, String state, boolean in) throws Exception {
    Path status = Path.of("/proc", Long.toString(n.serve.process().pid()), "stat");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      String stat = Files.readString(status);
      // pid (comm) STATE ...: the state follows the last ')'
      String s = stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (s.equals(state) == in) {
        return;
      }
      assertTrue(System.nanoTime() < deadline, n.name + " not " + (in ? "" : "out of ") + "state " + state
          + " within 10 s: " + stat);
      Thread.sleep(10);
    }
  }

  /** The last lines of every node's stdout and stderr (the whole logs are kept under target/ at close). */
  String report() {
    StringBuilder b = new StringBuilder();
    for (Node n : nodes) {
      if (n.serve == null) {
        continue;
      }
      // Hazelcast's periodic health lines and member tables would crowd out the appliance's own
      List<String> out = n.serve.stdout().stream().filter(l -> !l.isBlank() && !l.contains("HealthMonitor")
          && !l.startsWith("\t") && !l.startsWith("Members {") && !l.equals("]")).toList();
      List<String> err = n.serve.stderr();
      String state = n.killed ? "killed" : n.paused ? "paused" : n.serve.process().isAlive() ? "running" : "exited";
      b.append("\n=== ").append(n).append(", ").append(state).append(": last 40 of ").append(out.size())
          .append(" stdout lines (Hazelcast's health and member lines left out)\n")
          .append(String.join("\n", out.subList(Math.max(0, out.size() - 40), out.size())));
      if (!err.isEmpty()) {
        b.append("\n--- stderr (last 20)\n").append(String.join("\n", err.subList(Math.max(0, err.size() - 20),
            err.size())));
      }
    }
    b.append("\n(whole logs: ").append(logDir().toAbsolutePath()).append(")");
    return b.toString();
  }

  private Path logDir() {
    return Path.of("target", "cluster-logs", label);
  }

  private void keepLog(Node n, String suffix) {
    try {
      Files.createDirectories(logDir());
      List<String> all = new ArrayList<>(n.serve.stdout());
      all.add("--- stderr");
      all.addAll(n.serve.stderr());
      Files.write(logDir().resolve(n.name + suffix + ".log"), all, StandardCharsets.UTF_8);
    } catch (IOException e) {
      System.err.println("could not keep " + n.name + "'s log: " + e);
    }
  }

  /** Kills every process still running (SIGCONT first where paused: a frozen process takes SIGKILL anyway). */
  @Override
  public void close() {
    Set<Node> done = new HashSet<>();
    for (Node n : nodes) {
      if (n.serve != null && done.add(n)) {
        n.serve.close();
        try {
          n.serve.awaitExit(Serve.STOP_TIMEOUT);
        } catch (AssertionError | InterruptedException e) {
          // keep what was read
        }
        keepLog(n, "");
      }
    }
  }

  /** A free port for a node (see {@link FreePorts}). */
  static int freePort() throws IOException {
    return FreePorts.next();
  }
}
