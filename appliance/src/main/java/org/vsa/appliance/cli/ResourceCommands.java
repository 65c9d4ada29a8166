package org.vsa.appliance.cli;

import static org.vsa.appliance.cli.ManageCommands.seg;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The verbs over what the node has besides vDisks: vPools, backends, iSCSI (targets, export,
 * CHAP), NFS exports, nodes, DTL state, events and the one-screen status. Same options, tables,
 * {@code --json} and exit statuses as the vDisk verbs ({@link ManageCommands}).
 */
final class ResourceCommands {
  private ResourceCommands() {}

  static final String EXIT_TEXT = "%nExit status: 0 success, 1 server error or API unreachable, "
      + "2 usage error or input refused, 3 not found, 4 conflict (in use, taken, offline), 5 authentication failed.";

  // ---------------------------------------------------------------- vpool

  @Command(name = "vpool", mixinStandardHelpOptions = true, description = "vPools: list, show", footer = EXIT_TEXT)
  static final class Vpool extends ManageCommands.Group {}

  @Command(name = "list", mixinStandardHelpOptions = true, description = "every vPool with its vDisk count and provisioned size")
  static final class VpoolList extends ManageCommands.Verb {
    VpoolList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/vpools"), "name", "backend", "vdiskCount", "offlineCount", "provisioned", "scoSizeBytes",
          "cachePolicy", "nfsExport");
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "one vPool: its vDisks, backend, usage")
  static final class VpoolShow extends ManageCommands.Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    VpoolShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/vpools/" + seg(name));
      if (common.json) {
        print(n);
        return;
      }
      keyValuesTo(env.out(), n, "vdisks");
      env.out().println();
      env.out().print(ManageCommands.table(list(n.path("vdisks")), "name", "state", "sizeBytes"));
    }
  }

  // ---------------------------------------------------------------- backend

  @Command(name = "backend", mixinStandardHelpOptions = true, description = "backends: list, presets, preset",
      footer = EXIT_TEXT)
  static final class Backend extends ManageCommands.Group {}

  @Command(name = "presets", mixinStandardHelpOptions = true,
      description = "the fragment backend's presets: policies, fragment size, compression, encryption, which is active")
  static final class Presets extends ManageCommands.Verb {
    Presets(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/presets");
      if (common.json) {
        print(n);
        return;
      }
      List<JsonNode> rows = new ArrayList<>();
      for (JsonNode p : n) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", p.path("name").asText());
        r.put("active", p.path("active").asBoolean() ? "yes" : "");
        List<String> policies = new ArrayList<>();
        for (JsonNode x : p.path("policies")) {
          policies.add("k" + x.path("k").asInt() + "m" + x.path("m").asInt() + "c" + x.path("c").asInt() + "x"
              + x.path("x").asInt());
        }
        r.put("policies", String.join(" ", policies));
        r.put("fragmentSize", org.vsa.appliance.config.Sizes.format(p.path("fragmentSizeBytes").asLong()));
        r.put("compression", p.path("compression").asText());
        r.put("encrypted", p.path("encrypted").asBoolean() ? "yes" : "no");
        rows.add(ApiClient.JSON.valueToTree(r));
      }
      env.out().print(ManageCommands.table(rows, "name", "active", "policies", "fragmentSize", "compression",
          "encrypted"));
    }
  }

  @Command(name = "preset", mixinStandardHelpOptions = true, description = "one preset of the fragment backend")
  static final class PresetShow extends ManageCommands.Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    PresetShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/presets/" + seg(name));
      if (common.json) {
        print(n);
        return;
      }
      keyValuesTo(env.out(), n);
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "the object backend: kind, stores, erasure-coding preset, upload health (keys masked)")
  static final class BackendList extends ManageCommands.Verb {
    BackendList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/backends");
      if (common.json) {
        print(n);
        return;
      }
      List<JsonNode> rows = new ArrayList<>();
      for (JsonNode b : n) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", b.path("name").asText());
        r.put("kind", b.path("kind").asText());
        r.put("where", where(b));
        JsonNode p = b.path("preset");
        List<String> policies = new ArrayList<>();
        p.path("policies").forEach(x -> policies.add(x.path("k").asInt() + "+" + x.path("m").asInt()));
        r.put("preset", p.isMissingNode() || p.isNull() ? "-" : p.path("name").asText() + " (" + String.join(", ", policies)
            + ")");
        List<String> stores = new ArrayList<>();
        b.path("stores").forEach(s -> stores.add(s.path("name").asText() + "=" + where(s)));
        r.put("stores", stores.isEmpty() ? "-" : String.join(" ", stores));
        r.put("health", b.path("health").asText());
        r.put("awaitingUpload", b.path("scosAwaitingUpload").asLong());
        rows.add(ApiClient.JSON.valueToTree(r));
      }
      env.out().print(ManageCommands.table(rows, "name", "kind", "where", "preset", "stores", "health", "awaitingUpload"));
    }

    private static String where(JsonNode b) {
      if (b.hasNonNull("dir")) {
        return b.get("dir").asText();
      }
      JsonNode s = b.path("s3");
      return s.isObject() ? "s3://" + s.path("bucket").asText() + "/" + s.path("prefix").asText("") : "-";
    }
  }

  // ---------------------------------------------------------------- iscsi

  @Command(name = "iscsi", mixinStandardHelpOptions = true, description = "iSCSI: targets, export, unexport, chap",
      footer = EXIT_TEXT)
  static final class Iscsi extends ManageCommands.Group {}

  @Command(name = "targets", mixinStandardHelpOptions = true, description = "the targets: portals, LUNs, sessions, CHAP")
  static final class IscsiTargets extends ManageCommands.Verb {
    IscsiTargets(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/iscsi/targets");
      if (common.json) {
        print(n);
        return;
      }
      List<JsonNode> rows = new ArrayList<>();
      for (JsonNode t : n) {
        List<String> luns = new ArrayList<>();
        t.path("luns").forEach(l -> luns.add(l.path("lun").asInt() + "=" + l.path("vdisk").asText()));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("iqn", t.path("iqn").asText());
        r.put("portals", t.path("portals"));
        r.put("luns", luns.isEmpty() ? "-" : String.join(" ", luns));
        r.put("sessions", t.path("sessions").size());
        r.put("chap", t.path("chap").asBoolean() ? (t.path("mutualChap").asBoolean() ? "mutual" : "yes") : "no");
        rows.add(ApiClient.JSON.valueToTree(r));
      }
      env.out().print(ManageCommands.table(rows, "iqn", "portals", "luns", "sessions", "chap"));
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true,
      description = "export a vDisk as an iSCSI LUN (the next free LUN of the first target unless given); kept across restarts")
  static final class IscsiExport extends ManageCommands.Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    @Option(names = "--target", paramLabel = "IQN")
    String target;

    @Option(names = "--lun", paramLabel = "N")
    Integer lun;

    IscsiExport(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      b.put("iscsi", true);
      if (target != null) {
        b.put("target", target);
      }
      if (lun != null) {
        b.put("lun", lun);
      }
      print(api.call("POST", "/vdisks/" + seg(vdisk) + "/export", b), "vdisk", "target", "lun");
    }
  }

  @Command(name = "unexport", mixinStandardHelpOptions = true,
      description = "take back a vDisk's iSCSI LUNs made through the API (refused while initiators are logged in)")
  static final class IscsiUnexport extends ManageCommands.Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    IscsiUnexport(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      api.call("DELETE", "/vdisks/" + seg(vdisk) + "/export", null);
      done("vDisk " + vdisk + " is no iSCSI LUN any more");
    }
  }

  @Command(name = "chap", mixinStandardHelpOptions = true, description = "CHAP of the targets: show, set, off", footer = EXIT_TEXT)
  static final class Chap extends ManageCommands.Group {}

  private static final String[] CHAP_COLUMNS = {"target", "chap", "mutualChap", "source"};

  @Command(name = "show", mixinStandardHelpOptions = true, description = "whether CHAP is set per target (never the secrets)")
  static final class ChapShow extends ManageCommands.Verb {
    ChapShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/iscsi/chap"), CHAP_COLUMNS);
    }
  }

  @Command(name = "set", mixinStandardHelpOptions = true,
      description = "require CHAP on a target for logins from now on; kept in the data directory across restarts")
  static final class ChapSet extends ManageCommands.Verb {
    @Option(names = "--target", paramLabel = "IQN", description = "default: the first target")
    String target;

    @Option(names = "--chap-user", paramLabel = "NAME", required = true, description = "the initiator's CHAP name")
    String chapUser;

    @Option(names = "--secret-file", paramLabel = "FILE", required = true,
        description = "a file whose first line is the secret (12 to 255 characters; many initiators take at most 16)")
    Path secretFile;

    @Option(names = "--mutual-user", paramLabel = "NAME", description = "mutual CHAP: the target's name")
    String mutualUser;

    @Option(names = "--mutual-secret-file", paramLabel = "FILE", description = "mutual CHAP: the target's secret")
    Path mutualSecretFile;

    ChapSet(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      if (target != null) {
        b.put("target", target);
      }
      b.put("user", chapUser);
      b.put("secret", firstLine(secretFile));
      if (mutualUser != null || mutualSecretFile != null) {
        if (mutualUser == null || mutualSecretFile == null) {
          throw new ApiClient.Failure(Cli.EXIT_USAGE, "mutual CHAP needs both --mutual-user and --mutual-secret-file");
        }
        b.put("mutualUser", mutualUser);
        b.put("mutualSecret", firstLine(mutualSecretFile));
      }
      print(api.call("PUT", "/iscsi/chap", b), CHAP_COLUMNS);
    }

    private Path resolve(Path p) {
      return env.workingDir().resolve(p);
    }

    private String firstLine(Path p) throws ApiClient.Failure {
      try {
        List<String> lines = Files.readAllLines(resolve(p), StandardCharsets.UTF_8);
        if (lines.isEmpty()) {
          throw new ApiClient.Failure(Cli.EXIT_USAGE, p + " is empty");
        }
        return lines.get(0).strip();
      } catch (IOException e) {
        throw new ApiClient.Failure(Cli.EXIT_USAGE, "cannot read " + p + ": " + e.getMessage());
      }
    }
  }

  @Command(name = "off", mixinStandardHelpOptions = true, description = "turn CHAP off on a target (any initiator may log in)")
  static final class ChapOff extends ManageCommands.Verb {
    @Option(names = "--target", paramLabel = "IQN", description = "default: the first target")
    String target;

    ChapOff(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      api.call("DELETE", "/iscsi/chap" + (target == null ? "" : "?target=" + seg(target)), null);
      done("CHAP is off on " + (target == null ? "the first target" : target));
    }
  }

  // ---------------------------------------------------------------- nfs, node, dtl

  @Command(name = "nfs", mixinStandardHelpOptions = true, description = "NFS: exports", footer = EXIT_TEXT)
  static final class Nfs extends ManageCommands.Group {}

  @Command(name = "exports", mixinStandardHelpOptions = true, description = "the NFS exports and their client rules")
  static final class NfsExports extends ManageCommands.Verb {
    NfsExports(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/nfs/exports");
      if (common.json) {
        print(n);
        return;
      }
      List<JsonNode> rows = new ArrayList<>();
      for (JsonNode e : n) {
        for (JsonNode c : e.path("clients")) {
          Map<String, Object> r = new LinkedHashMap<>();
          r.put("path", e.path("path").asText());
          r.put("vpool", e.path("vpool").asText());
          r.put("client", c.path("host").asText());
          r.put("access", c.path("access").asText());
          r.put("squash", c.path("squash").asText());
          rows.add(ApiClient.JSON.valueToTree(r));
        }
      }
      env.out().print(ManageCommands.table(rows, "path", "vpool", "client", "access", "squash"));
    }
  }

  @Command(name = "export", mixinStandardHelpOptions = true, description = "create or replace the NFS export at PATH,"
      + " served at once and kept across restarts; each --client is HOST(OPTIONS) as in exports(5): HOST an IP, a CIDR,"
      + " a host name or *, OPTIONS among rw, ro, root_squash, no_root_squash, all_squash, anonuid=N, anongid=N")
  static final class NfsExport extends ManageCommands.Verb {
    @Parameters(paramLabel = "PATH")
    String path;

    @Option(names = "--vpool", paramLabel = "VPOOL", required = true)
    String vpool;

    @Option(names = "--client", paramLabel = "HOST(OPTIONS)", required = true)
    List<String> clients;

    NfsExport(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      List<Map<String, Object>> rules = new ArrayList<>();
      for (String c : clients) {
        rules.add(rule(c));
      }
      JsonNode n = api.call("PUT", "/nfs/exports", Map.of("vpool", vpool, "path", path, "clients", rules));
      if (common.json) {
        print(n);
        return;
      }
      env.out().println("NFS export " + n.path("path").asText() + " (vPool " + n.path("vpool").asText() + ") set: "
          + n.path("clients").size() + " client rule(s)");
    }

    static Map<String, Object> rule(String spec) throws ApiClient.Failure {
      int open = spec.indexOf('(');
      String host = open < 0 ? spec : spec.substring(0, open);
      Map<String, Object> r = new LinkedHashMap<>();
      r.put("host", host);
      if (open >= 0) {
        if (!spec.endsWith(")")) {
          throw new ApiClient.Failure(Cli.EXIT_USAGE, "--client " + spec + ": HOST(OPTIONS) must end with )");
        }
        for (String o : spec.substring(open + 1, spec.length() - 1).split(",")) {
          String opt = o.trim();
          if (opt.equals("rw") || opt.equals("ro")) {
            r.put("access", opt);
          } else if (opt.equals("root_squash") || opt.equals("no_root_squash") || opt.equals("all_squash")) {
            r.put("squash", opt);
          } else if (opt.matches("anon[ug]id=[0-9]{1,10}")) {
            r.put(opt.startsWith("anonuid") ? "anonUid" : "anonGid", Long.parseLong(opt.substring(8)));
          } else if (!opt.isEmpty()) {
            throw new ApiClient.Failure(Cli.EXIT_USAGE, "--client " + spec + ": unknown option " + opt
                + " (rw, ro, root_squash, no_root_squash, all_squash, anonuid=N, anongid=N)");
          }
        }
      }
      return r;
    }
  }

  @Command(name = "unexport", mixinStandardHelpOptions = true, description = "stop exporting PATH (its clients'"
      + " handles go stale); kept across restarts")
  static final class NfsUnexport extends ManageCommands.Verb {
    @Parameters(paramLabel = "PATH")
    String path;

    NfsUnexport(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      api.call("DELETE", "/nfs/exports?path=" + java.net.URLEncoder.encode(path, StandardCharsets.UTF_8), null);
      if (!common.json) {
        env.out().println("NFS export " + path + " removed");
      }
    }
  }

  @Command(name = "node", mixinStandardHelpOptions = true, description = "nodes: list, show, add", footer = EXIT_TEXT)
  static final class Node extends ManageCommands.Group {}

  @Command(name = "add", mixinStandardHelpOptions = true, description = "record a new node's member address"
      + " (host:port, its cluster.port) in the shared backend: a node started there with cluster.enabled joins")
  static final class NodeAdd extends ManageCommands.Verb {
    @Parameters(paramLabel = "HOST:PORT")
    String address;

    NodeAdd(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.call("POST", "/nodes", java.util.Map.of("address", address));
      if (common.json) {
        print(n);
        return;
      }
      env.out().println("node " + n.path("address").asText() + " recorded (" + n.path("state").asText() + ")");
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true, description = "the nodes")
  static final class NodeList extends ManageCommands.Verb {
    NodeList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/nodes"), "name", "state", "self", "memberAddress", "faultDomain", "vdiskCount", "endpoints");
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "one node")
  static final class NodeShow extends ManageCommands.Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    NodeShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/nodes/" + seg(name));
      if (common.json) {
        print(n);
        return;
      }
      keyValuesTo(env.out(), n);
    }
  }

  @Command(name = "cluster", mixinStandardHelpOptions = true, description = "the cluster's vDisks: who serves each;"
      + " forcing a refused takeover", footer = EXIT_TEXT)
  static final class Cluster extends ManageCommands.Group {}

  @Command(name = "vdisks", mixinStandardHelpOptions = true, description = "every vDisk of the cluster: the node serving"
      + " it now (none while a takeover is under way), its epoch and DTL node (on its owner), why it has no DTL node,"
      + " and why an automatic takeover was refused")
  static final class ClusterVdisks extends ManageCommands.Verb {
    ClusterVdisks(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/cluster/vdisks").path("vdisks"), "name", "owner", "epoch", "dtlNode", "noDtl", "refused");
    }
  }

  @Command(name = "namespaces", mixinStandardHelpOptions = true, description = "every vPool's NFS namespace: the node"
      + " serving it now (the other nodes forward their clients' namespace calls there) and its epoch")
  static final class ClusterNamespaceList extends ManageCommands.Verb {
    ClusterNamespaceList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/cluster/vdisks").path("namespaces"), "vpool", "owner", "epoch", "refused");
    }
  }

  @Command(name = "force", mixinStandardHelpOptions = true, description = "take a vDisk over although its DTL was not"
      + " in sync: the writes its DTL lacks are LOST (use when its owner will not come back)")
  static final class ClusterForce extends ManageCommands.Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    ClusterForce(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.call("POST", "/cluster/vdisks/" + seg(vdisk) + "/force", java.util.Map.of());
      if (common.json) {
        print(n);
        return;
      }
      env.out().println("takeover of vDisk " + vdisk + " forced");
    }
  }

  @Command(name = "dtl", mixinStandardHelpOptions = true, description = "DTL: show", footer = EXIT_TEXT)
  static final class Dtl extends ManageCommands.Group {}

  @Command(name = "show", mixinStandardHelpOptions = true, description = "a vDisk's DTL: mode, peer, state (ok-sync, "
      + "ok-standalone, catching-up, degraded) and why")
  static final class DtlShow extends ManageCommands.Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    DtlShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/vdisks/" + seg(vdisk) + "/dtl"), "vdisk", "mode", "peer", "state", "reason");
    }
  }

  // ---------------------------------------------------------------- events, status

  @Command(name = "events", mixinStandardHelpOptions = true,
      description = "recent events (the appliance keeps the last 1000 in memory)", footer = EXIT_TEXT)
  static final class Events extends ManageCommands.Verb {
    @Option(names = "--since", paramLabel = "ID", defaultValue = "0", description = "only events after this id")
    long since;

    @Option(names = "--follow", description = "keep printing new events (once a second) until --timeout")
    boolean follow;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "600",
        description = "with --follow: stop after this long (default 600)")
    long timeoutSeconds;

    Events(Cli.Environment env) {
      super(env);
    }

    private static final String[] COLUMNS = {"id", "time", "severity", "kind", "subject", "message"};

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      if (since < 0 || timeoutSeconds < 0) {
        throw new ApiClient.Failure(Cli.EXIT_USAGE, "--since and --timeout must not be negative");
      }
      JsonNode n = api.get("/events?since=" + since);
      if (!follow) {
        if (common.json) {
          print(n);
        } else {
          env.out().print(ManageCommands.table(list(n.path("events")), COLUMNS));
        }
        return;
      }
      // following: one line per event (a JSON object per line with --json), no header
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      long last = since;
      while (true) {
        for (JsonNode e : n.path("events")) {
          env.out().println(common.json ? e.toString() : line(e));
          last = Math.max(last, e.path("id").asLong());
        }
        env.out().flush();
        if (System.nanoTime() >= deadline) {
          return;
        }
        try {
          Thread.sleep(Math.min(1000, Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        n = api.get("/events?since=" + last);
      }
    }

    private static String line(JsonNode e) {
      return e.path("id").asText() + "  " + e.path("time").asText() + "  " + e.path("severity").asText() + "  "
          + e.path("kind").asText() + "  " + e.path("subject").asText() + "  " + e.path("message").asText();
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true,
      description = "this node in one screen: vPools, vDisks, write buffer, backend health, DTL states", footer = EXIT_TEXT)
  static final class Status extends ManageCommands.Verb {
    Status(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/status");
      if (common.json) {
        print(n);
        return;
      }
      JsonNode node = n.path("node");
      JsonNode v = n.path("vdisks");
      JsonNode wb = n.path("writeBuffer");
      JsonNode be = n.path("backend");
      StringBuilder sb = new StringBuilder();
      sb.append(String.format("%-13s %s (%s, vsa %s)%n", "node", node.path("name").asText(), node.path("state").asText(),
          node.path("version").asText()));
      sb.append(String.format("%-13s %d (%d online, %d offline)%n", "vdisks", v.path("total").asInt(),
          v.path("online").asInt(), v.path("offline").asInt()));
      sb.append(String.format("%-13s %s of %s (%d%%)%s%n", "write buffer",
          human(wb.path("usedBytes").asLong()), human(wb.path("capacityBytes").asLong()), wb.path("usedPercent").asLong(),
          wb.path("holding").asBoolean() ? ", throttling writers" : ""));
      sb.append(String.format("%-13s %s, %s, %d SCOs awaiting upload, %d failed uploads%n", "backend",
          be.path("kind").asText(), be.path("health").asText(), be.path("scosAwaitingUpload").asLong(),
          be.path("uploadFailures").asLong()));
      List<String> dtl = new ArrayList<>();
      n.path("dtl").fields().forEachRemaining(e -> dtl.add(e.getKey() + " " + e.getValue().asInt()));
      sb.append(String.format("%-13s %s%n", "dtl", dtl.isEmpty() ? "-" : String.join(", ", dtl)));
      long lastEvent = n.path("lastEventId").asLong();
      sb.append(String.format("%-13s %s%n%n", "events", lastEvent == 0 ? "none yet"
          : lastEvent + " so far (vsa events)"));
      env.out().print(sb);
      env.out().print(ManageCommands.table(list(n.path("vpools")), "name", "backend", "vdiskCount", "offlineCount",
          "provisioned"));
    }
  }

  // ---------------------------------------------------------------- helpers

  /** A size for people: whole in its unit when exact (256MiB), else one decimal (11.8MiB). */
  static String human(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    double v = bytes;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return v == Math.rint(v) ? String.format("%d%s", (long) v, units[u]) : String.format("%.1f%s", v, units[u]);
  }

  static List<JsonNode> list(JsonNode array) {
    List<JsonNode> rows = new ArrayList<>();
    array.forEach(rows::add);
    return rows;
  }

  /** Prints an object as "key value" lines, leaving out {@code skip}. */
  private static void keyValuesTo(java.io.PrintWriter out, JsonNode n, String... skip) {
    List<String> s = List.of(skip);
    n.fields().forEachRemaining(e -> {
      if (!s.contains(e.getKey())) {
        out.printf("%-20s %s%n", e.getKey(), e.getValue().isValueNode() ? e.getValue().asText() : e.getValue().toString());
      }
    });
  }

  /** Adds the verbs to the command tree. */
  static void register(CommandLine cl, Cli.Environment env) {
    CommandLine vpool = new CommandLine(new Vpool());
    vpool.addSubcommand("list", new VpoolList(env));
    vpool.addSubcommand("show", new VpoolShow(env));
    cl.addSubcommand("vpool", vpool);
    CommandLine backend = new CommandLine(new Backend());
    backend.addSubcommand("list", new BackendList(env));
    backend.addSubcommand("presets", new Presets(env));
    backend.addSubcommand("preset", new PresetShow(env));
    cl.addSubcommand("backend", backend);
    CommandLine iscsi = new CommandLine(new Iscsi());
    iscsi.addSubcommand("targets", new IscsiTargets(env));
    iscsi.addSubcommand("export", new IscsiExport(env));
    iscsi.addSubcommand("unexport", new IscsiUnexport(env));
    CommandLine chap = new CommandLine(new Chap());
    chap.addSubcommand("show", new ChapShow(env));
    chap.addSubcommand("set", new ChapSet(env));
    chap.addSubcommand("off", new ChapOff(env));
    iscsi.addSubcommand("chap", chap);
    cl.addSubcommand("iscsi", iscsi);
    CommandLine nfs = new CommandLine(new Nfs());
    nfs.addSubcommand("exports", new NfsExports(env));
    nfs.addSubcommand("export", new NfsExport(env));
    nfs.addSubcommand("unexport", new NfsUnexport(env));
    cl.addSubcommand("nfs", nfs);
    CommandLine node = new CommandLine(new Node());
    node.addSubcommand("list", new NodeList(env));
    node.addSubcommand("show", new NodeShow(env));
    node.addSubcommand("add", new NodeAdd(env));
    cl.addSubcommand("node", node);
    CommandLine cluster = new CommandLine(new Cluster());
    cluster.addSubcommand("vdisks", new ClusterVdisks(env));
    cluster.addSubcommand("namespaces", new ClusterNamespaceList(env));
    cluster.addSubcommand("force", new ClusterForce(env));
    cl.addSubcommand("cluster", cluster);
    CommandLine dtl = new CommandLine(new Dtl());
    dtl.addSubcommand("show", new DtlShow(env));
    cl.addSubcommand("dtl", dtl);
    cl.addSubcommand("events", new Events(env));
    cl.addSubcommand("status", new Status(env));
  }
}
