package org.vsa.bench;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
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
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * {@code vsa serve} processes of the shaded jar on 127.0.0.1 forming one cluster (the benches'
 * share of what the appliance's {@code ClusterProcesses} test fixture does): nodes n1, n2, ... in
 * fault domains fd1, fd2, ..., every port free and chosen here, one shared local backend directory
 * {@code <dir>/backend}, each node its own home {@code <dir>/nN} with its configuration, data
 * directory and {@code serve.log} (stdout and stderr, appended across restarts). The configuration
 * lines every node shares besides the cluster's own (vPools, vDisks, buffer sizes) are the
 * caller's. {@link #close} kills every process still running.
 */
final class ServeCluster implements AutoCloseable {
  /** Cluster timing in milliseconds. */
  record Timing(String name, int heartbeat, int lease, int margin) {
    /** The configuration's defaults. */
    static final Timing DEFAULT = new Timing("default", 1000, 6000, 1000);
    static final Timing SHORT = new Timing("short", 500, 3000, 500);
  }

  private static final Duration START_TIMEOUT = Duration.ofSeconds(180);

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final Path jar;
  private final Path dir;
  private final String password;
  private final Timing timing;
  private final String shared;
  private final List<Node> nodes = new ArrayList<>();

  /**
   * {@code count} nodes (not started) under {@code dir}; {@code sharedYaml}: configuration lines
   * every node gets besides node, management, backend, dtl, iscsi, nfs and cluster.
   */
  ServeCluster(Path jar, Path dir, int count, String password, Timing timing, String sharedYaml) throws IOException {
    this.jar = jar.toAbsolutePath();
    this.dir = dir.toAbsolutePath();
    this.password = password;
    this.timing = timing;
    this.shared = sharedYaml;
    for (int i = 1; i <= count; i++) {
      nodes.add(new Node("n" + i, this.dir.resolve("n" + i)));
    }
  }

  List<Node> nodes() {
    return List.copyOf(nodes);
  }

  Timing timing() {
    return timing;
  }

  Path dir() {
    return dir;
  }

  /** Starts every node, then waits (bounded) until each runs. */
  void startAll() throws Exception {
    for (Node n : nodes) {
      n.start();
    }
    for (Node n : nodes) {
      n.awaitRunning();
    }
  }

  Node node(String name) {
    return nodes.stream().filter(n -> n.name.equals(name)).findFirst()
        .orElseThrow(() -> new IllegalStateException("unknown node " + name));
  }

  @Override
  public void close() {
    for (Node n : nodes) {
      n.kill();
    }
  }

  /** One appliance process. */
  final class Node {
    final String name;
    final Path home;
    final int clusterPort = freePort();
    final int iscsiPort = freePort();
    final int nfsPort = freePort();
    final int mountPort = freePort();
    final int dtlPort = freePort();
    final int volumePort = freePort();
    final int namespacePort = freePort();
    Process process;

    Node(String name, Path home) throws IOException {
      this.name = name;
      this.home = home;
      Files.createDirectories(home);
    }

    String portal() {
      return "127.0.0.1:" + iscsiPort;
    }

    /** A libnfs URL of a path under the export {@code /default} on this node. */
    String nfsUrl(String path) {
      return "nfs://127.0.0.1/default/" + path + "?nfsport=" + nfsPort + "&mountport=" + mountPort + "&version=3";
    }

    boolean alive() {
      return process != null && process.isAlive();
    }

    void start() throws IOException {
      String members = nodes.stream().map(x -> "127.0.0.1:" + x.clusterPort).collect(Collectors.joining(", "));
      Path cfg = home.resolve("vsa.yaml");
      Files.writeString(cfg, String.join("\n",
          "node: {name: " + name + ", dataDir: " + home.resolve("data") + "}",
          "management: {port: 0, password: " + password + "}",
          "backend: {type: local, dir: " + dir.resolve("backend") + "}",
          "dtl: {enabled: true, port: " + dtlPort + "}",
          "iscsi: {port: " + iscsiPort + "}",
          "nfs: {port: " + nfsPort + ", mountPort: " + mountPort + ", portmap: none}",
          shared.strip(),
          "cluster: {enabled: true, name: bench" + nodes.get(0).clusterPort + ", port: " + clusterPort + ", volumePort: "
              + volumePort + ", namespacePort: " + namespacePort + ", members: [" + members + "], faultDomain: fd"
              + name.substring(1) + ", heartbeatMillis: " + timing.heartbeat() + ", leaseMillis: " + timing.lease()
              + ", leaseMarginMillis: " + timing.margin() + "}",
          ""), StandardCharsets.UTF_8);
      Path log = home.resolve("serve.log");
      Files.deleteIfExists(home.resolve("data").resolve("management.url"));
      process = new ProcessBuilder("java", "-Xmx512m", "-jar", jar.toString(), "serve", "--config", cfg.toString())
          .directory(home.toFile()).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    /** Until the node wrote its management URL (it runs); fails at once if it exited. */
    void awaitRunning() throws Exception {
      long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
      Path url = home.resolve("data").resolve("management.url");
      while (!Files.exists(url)) {
        if (!process.isAlive()) {
          throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see " + home.resolve("serve.log"));
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(name + " did not start within " + START_TIMEOUT.toSeconds() + " s; see "
              + home.resolve("serve.log"));
        }
        Thread.sleep(100);
      }
    }

    /** GET of a management API path ({@code /api/v1} + path); the body, or an IOException unless 200. */
    String get(String path) throws IOException, InterruptedException {
      String base = Files.readString(home.resolve("data").resolve("management.url"), StandardCharsets.UTF_8).strip();
      HttpRequest req = HttpRequest.newBuilder(URI.create(base + "/api/v1" + path)).timeout(Duration.ofSeconds(5))
          .header("Authorization", "Basic " + Base64.getEncoder().encodeToString(("admin:" + password)
              .getBytes(StandardCharsets.UTF_8))).GET().build();
      HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("GET " + path + ": " + r.statusCode() + " " + r.body());
      }
      return r.body();
    }

    /** SIGKILL; returns once the process is gone (bounded). */
    void kill() {
      if (process != null && process.isAlive()) {
        process.destroyForcibly();
        try {
          process.waitFor(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Ports this JVM handed out already: the kernel may offer a just-closed one again. */
  private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

  /**
   * A free port not handed out before in this JVM, below the kernel's ephemeral range when there is
   * room (a node binds its ports seconds after they are picked; meanwhile a port of that range may
   * be taken as the local port of an outgoing connection). Gives up after 1000 tries.
   */
  static int freePort() {
    int low = ephemeralLow();
    for (int i = 0; i < 1000; i++) {
      int port = low > 12_000 ? 10_000 + ThreadLocalRandom.current().nextInt(low - 10_000) : 0;
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(port)); // the nodes listen on every address
        if (HANDED_OUT.add(s.getLocalPort())) {
          return s.getLocalPort();
        }
      } catch (IOException taken) {
        // in use: another one
      }
    }
    throw new IllegalStateException("no free port that was not handed out already");
  }

  private static int ephemeralLow() {
    try {
      return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim()
          .split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32768;
    }
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var walk = Files.walk(p)) {
      for (Path x : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }
}
