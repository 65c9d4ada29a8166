package org.vsa.appliance.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The management verbs of {@code vsa}: each is one call (or a few) to the running appliance's
 * management API. Human tables by default, the API's JSON with {@code --json}.
 */
final class ManageCommands {
  private ManageCommands() {}

  /** Options every management verb takes. */
  static final class Common {
    @Option(names = "--url", paramLabel = "URL",
        description = "the appliance's management API, e.g. http://127.0.0.1:8080 (default: VSA_URL, else the "
            + "management.url in the data directory, else http://127.0.0.1:8080)")
    String url;

    @Option(names = "--data-dir", paramLabel = "DIR",
        description = "the appliance's data directory, for its URL and admin credential; default: ./vsa-data, "
            + "else /var/lib/vsa (the package's) when an appliance runs there")
    Path dataDir;

    @Option(names = "--user", paramLabel = "NAME", description = "default: VSA_USER, else the credential file's, else admin")
    String user;

    @Option(names = "--password", paramLabel = "PW", description = "default: VSA_PASSWORD, else the credential file's")
    String password;

    @Option(names = "--json", description = "print the API's JSON instead of a table")
    boolean json;
  }

  /** The shared run logic: a verb's body, with failures turned into one stderr line and an exit status. */
  abstract static class Verb implements Callable<Integer> {
    @Mixin
    Common common = new Common();
    final Cli.Environment env;

    Verb(Cli.Environment env) {
      this.env = env;
    }

    abstract void run(ApiClient api) throws ApiClient.Failure;

    /** ./vsa-data (the embedded default's), else the package's /var/lib/vsa when an appliance runs there. */
    private Path defaultDataDir() {
      Path local = env.workingDir().resolve("vsa-data");
      Path packaged = Path.of("/var/lib/vsa");
      if (!java.nio.file.Files.exists(local.resolve(org.vsa.appliance.Appliance.MANAGEMENT_URL_FILE))
          && java.nio.file.Files.exists(packaged.resolve(org.vsa.appliance.Appliance.MANAGEMENT_URL_FILE))) {
        return packaged;
      }
      return local;
    }

    @Override
    public Integer call() {
      try {
        Path dir = common.dataDir != null ? env.workingDir().resolve(common.dataDir) : defaultDataDir();
        run(ApiClient.of(common.url, common.user, common.password, dir));
        env.out().flush();
        return Cli.EXIT_OK;
      } catch (ApiClient.Failure f) {
        env.err().println("vsa: " + Cli.oneLine(f.getMessage()));
        return f.exitCode;
      }
    }

    void print(JsonNode n, String... columns) {
      if (common.json) {
        env.out().println(n == null ? "" : n.toPrettyString());
        return;
      }
      List<JsonNode> rows = new ArrayList<>();
      if (n != null && n.isArray()) {
        n.forEach(rows::add);
      } else if (n != null) {
        rows.add(n);
      }
      env.out().print(table(rows, columns));
    }

    void done(String message) {
      if (!common.json) {
        env.out().println(message);
      }
    }
  }

  /** A table: one header line of the column names in upper case, then one line per row. */
  static String table(List<JsonNode> rows, String... columns) {
    List<String[]> cells = new ArrayList<>();
    String[] head = new String[columns.length];
    for (int i = 0; i < columns.length; i++) {
      head[i] = columns[i].toUpperCase(java.util.Locale.ROOT);
    }
    cells.add(head);
    for (JsonNode r : rows) {
      String[] line = new String[columns.length];
      for (int i = 0; i < columns.length; i++) {
        line[i] = cell(r.get(columns[i]));
      }
      cells.add(line);
    }
    int[] width = new int[columns.length];
    for (String[] line : cells) {
      for (int i = 0; i < line.length; i++) {
        width[i] = Math.max(width[i], line[i].length());
      }
    }
    StringBuilder sb = new StringBuilder();
    for (String[] line : cells) {
      for (int i = 0; i < line.length; i++) {
        sb.append(i == line.length - 1 ? line[i] : String.format("%-" + width[i] + "s  ", line[i]));
      }
      sb.append(System.lineSeparator());
    }
    return sb.toString();
  }

  private static String cell(JsonNode n) {
    if (n == null || n.isNull()) {
      return "-";
    }
    if (n.isArray()) {
      List<String> parts = new ArrayList<>();
      n.forEach(e -> parts.add(e.isObject() && e.has("lun") ? e.get("target").asText() + "/" + e.get("lun").asText()
          : cell(e)));
      return parts.isEmpty() ? "-" : String.join(",", parts);
    }
    if (n.isObject()) {
      if (n.has("vdisk") && n.has("snapshot")) {
        return n.get("vdisk").asText() + "@" + n.get("snapshot").asText();
      }
      List<String> parts = new ArrayList<>();
      n.fields().forEachRemaining(e -> parts.add(e.getKey() + "=" + cell(e.getValue())));
      return String.join(" ", parts);
    }
    return n.asText();
  }

  static String seg(String s) {
    return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static final String[] VDISK_COLUMNS = {"name", "state", "size", "vpool", "template", "parent", "iscsi", "nfs"};

  // ---------------------------------------------------------------- vdisk

  /** A group of verbs: on its own it names them. */
  abstract static class Group implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "missing subcommand; one of: " + String.join(", ", spec.subcommands().keySet()));
    }
  }

  private static final String EXIT_TEXT = "%nExit status: 0 success, 1 server error or API unreachable, "
      + "2 usage error or input refused, 3 not found, 4 conflict (name taken, in use, has clones), 5 authentication failed.";

  @Command(name = "vdisk", mixinStandardHelpOptions = true,
      description = "vDisks: list, show, create, resize, set, delete, open",
      footer = EXIT_TEXT)
  static final class Vdisk extends Group {}

  @Command(name = "list", mixinStandardHelpOptions = true, description = "every vDisk")
  static final class VdiskList extends Verb {
    VdiskList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode all = api.get("/vdisks");
      print(all, VDISK_COLUMNS);
      if (!common.json && all != null) {
        // the reasons are too long for the table: one line each below it
        for (JsonNode v : all) {
          if ("offline".equals(v.path("state").asText())) {
            env.out().println("offline " + v.path("name").asText() + ": " + v.path("reason").asText());
          }
        }
      }
    }
  }

  @Command(name = "open", mixinStandardHelpOptions = true,
      description = "bring an offline vDisk online once its cause is fixed (its DTL is back, or open-without-dtl was"
          + " created); its LUN and NFS file serve again. Exit 4 with the reason if it stays offline")
  static final class VdiskOpen extends Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    VdiskOpen(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.call("POST", "/vdisks/" + seg(name) + "/open", null);
      if (common.json) {
        print(n);
        return;
      }
      done("vDisk " + name + " is online");
    }
  }

  @Command(name = "show", mixinStandardHelpOptions = true, description = "one vDisk with its settings")
  static final class VdiskShow extends Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    VdiskShow(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      JsonNode n = api.get("/vdisks/" + seg(name));
      if (common.json) {
        print(n);
        return;
      }
      StringBuilder sb = new StringBuilder();
      n.fields().forEachRemaining(e -> sb.append(String.format("%-14s %s%n", e.getKey(), cell(e.getValue()))));
      env.out().print(sb);
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "a thin vDisk, exported as the next iSCSI LUN and as NAME.raw over NFS")
  static final class VdiskCreate extends Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    @Option(names = "--size", required = true, paramLabel = "SIZE", description = "e.g. 10GiB")
    String size;

    @Option(names = "--vpool", paramLabel = "P")
    String vpool;

    @Option(names = "--sco-size", paramLabel = "SIZE")
    String scoSize;

    @Option(names = "--block-size", paramLabel = "N", description = "512 (default) or 4096")
    Integer blockSize;

    @Option(names = "--dtl", paramLabel = "MODE", description = "none, async, sync")
    String dtl;

    @Option(names = "--cache-policy", paramLabel = "P", description = "on-read, on-write, none")
    String cachePolicy;

    @Option(names = "--read-cache-quota", paramLabel = "SIZE", description = "0 (none) or [16MiB, 16TiB]")
    String quota;

    @Option(names = "--dedupe", description = "store identical 4 KiB clusters once in the vPool")
    boolean dedupe;

    @Option(names = "--no-export", description = "do not map it as an iSCSI LUN")
    boolean noExport;

    VdiskCreate(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      b.put("name", name);
      b.put("size", size);
      putIf(b, "vpool", vpool);
      putIf(b, "scoSize", scoSize);
      putIf(b, "blockSize", blockSize);
      putIf(b, "dtlMode", dtl);
      putIf(b, "cachePolicy", cachePolicy);
      putIf(b, "readCacheQuota", quota);
      if (dedupe) {
        b.put("dedupe", true);
      }
      if (noExport) {
        b.put("export", false);
      }
      print(api.call("POST", "/vdisks", b), VDISK_COLUMNS);
    }
  }

  static void putIf(Map<String, Object> m, String k, Object v) {
    if (v != null) {
      m.put(k, v);
    }
  }

  @Command(name = "resize", mixinStandardHelpOptions = true, description = "grow (thin, instant) or shrink a vDisk")
  static final class VdiskResize extends Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    @Option(names = "--size", required = true, paramLabel = "SIZE")
    String size;

    VdiskResize(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.call("PATCH", "/vdisks/" + seg(name), Map.of("size", size)), VDISK_COLUMNS);
    }
  }

  @Command(name = "set", mixinStandardHelpOptions = true,
      description = "change settings: dtlMode=none|async|sync cachePolicy=on-read|on-write|none readCacheQuota=SIZE dedupe=true|false")
  static final class VdiskSet extends Verb {
    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "KEY=VALUE")
    List<String> changes;

    VdiskSet(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      for (String c : changes) {
        int eq = c.indexOf('=');
        if (eq <= 0) {
          throw new ApiClient.Failure(Cli.EXIT_USAGE, "'" + c + "' is not KEY=VALUE");
        }
        String k = c.substring(0, eq);
        String v = c.substring(eq + 1);
        b.put(k, k.equals("dedupe") && (v.equals("true") || v.equals("false")) ? (Object) Boolean.valueOf(v) : v);
      }
      print(api.call("PATCH", "/vdisks/" + seg(name) + "/settings", b), "dtlMode", "cachePolicy", "readCacheQuotaBytes",
          "dedupe");
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true, description = "delete a vDisk (refused while clones of it exist)")
  static final class VdiskDelete extends Verb {
    @Parameters(paramLabel = "NAME")
    String name;

    VdiskDelete(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      com.fasterxml.jackson.databind.JsonNode r = api.call("DELETE", "/vdisks/" + seg(name), null);
      if (r != null && "deleting".equals(r.path("state").asText())) {
        done("vDisk " + name + ": deletion under way (no node serves it any more; it finishes by itself)");
      } else {
        done("vDisk " + name + " deleted");
      }
    }
  }

  // ---------------------------------------------------------------- snapshot

  @Command(name = "snapshot", mixinStandardHelpOptions = true, description = "snapshots: list, create, delete, rollback",
      footer = EXIT_TEXT)
  static final class Snapshot extends Group {}

  private static final String[] SNAPSHOT_COLUMNS = {"name", "created", "sizeBytes", "pinnedBytes", "scheduled", "clones"};

  @Command(name = "list", mixinStandardHelpOptions = true, description = "a vDisk's snapshots, oldest first, with the bytes each alone pins")
  static final class SnapshotList extends Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    SnapshotList(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.get("/vdisks/" + seg(vdisk) + "/snapshots"), SNAPSHOT_COLUMNS);
    }
  }

  @Command(name = "create", mixinStandardHelpOptions = true, description = "take a snapshot (instant, zero-copy)")
  static final class SnapshotCreate extends Verb {
    @Parameters(index = "0", paramLabel = "VDISK")
    String vdisk;

    @Parameters(index = "1", paramLabel = "SNAPSHOT")
    String snapshot;

    SnapshotCreate(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.call("POST", "/vdisks/" + seg(vdisk) + "/snapshots", Map.of("name", snapshot)), SNAPSHOT_COLUMNS);
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true, description = "delete a snapshot (refused while clones hold it)")
  static final class SnapshotDelete extends Verb {
    @Parameters(index = "0", paramLabel = "VDISK")
    String vdisk;

    @Parameters(index = "1", paramLabel = "SNAPSHOT")
    String snapshot;

    SnapshotDelete(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      api.call("DELETE", "/vdisks/" + seg(vdisk) + "/snapshots/" + seg(snapshot), null);
      done("snapshot " + snapshot + " of vDisk " + vdisk + " deleted");
    }
  }

  @Command(name = "rollback", mixinStandardHelpOptions = true, description = "roll a vDisk back to a snapshot (refused while in use)")
  static final class SnapshotRollback extends Verb {
    @Parameters(index = "0", paramLabel = "VDISK")
    String vdisk;

    @Parameters(index = "1", paramLabel = "SNAPSHOT")
    String snapshot;

    SnapshotRollback(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      api.call("POST", "/vdisks/" + seg(vdisk) + "/snapshots/" + seg(snapshot) + "/rollback", null);
      done("vDisk " + vdisk + " rolled back to snapshot " + snapshot);
    }
  }

  // ---------------------------------------------------------------- clone, template

  @Command(name = "clone", mixinStandardHelpOptions = true, description = "clones: create, flatten", footer = EXIT_TEXT)
  static final class Clone extends Group {}

  @Command(name = "create", mixinStandardHelpOptions = true,
      description = "a new vDisk from a snapshot (of a template: its snapshot 'template'), exported like a new vDisk")
  static final class CloneCreate extends Verb {
    @Parameters(index = "0", paramLabel = "VDISK")
    String vdisk;

    @Parameters(index = "1", paramLabel = "SNAPSHOT")
    String snapshot;

    @Parameters(index = "2", paramLabel = "NEW_VDISK")
    String name;

    @Option(names = "--no-export", description = "do not map it as an iSCSI LUN")
    boolean noExport;

    CloneCreate(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      b.put("name", name);
      b.put("snapshot", snapshot);
      if (noExport) {
        b.put("export", false);
      }
      print(api.call("POST", "/vdisks/" + seg(vdisk) + "/clones", b), VDISK_COLUMNS);
    }
  }

  @Command(name = "flatten", mixinStandardHelpOptions = true,
      description = "copy what a clone shares with its parent into its own storage, so that the parent's snapshot is free")
  static final class CloneFlatten extends Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    @Option(names = "--rate", paramLabel = "SIZE", description = "bytes per second, e.g. 64MiB; default: unlimited")
    String rate;

    @Option(names = "--no-wait", description = "return once it started")
    boolean noWait;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "86400", description = "how long to wait (default: a day)")
    long timeoutSeconds;

    CloneFlatten(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      Map<String, Object> b = new LinkedHashMap<>();
      putIf(b, "rate", rate);
      JsonNode n = api.call("POST", "/vdisks/" + seg(vdisk) + "/flatten", b);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
      while (!noWait && n.path("state").asText().equals("running")) {
        if (System.nanoTime() > deadline) {
          throw new ApiClient.Failure(Cli.EXIT_FAILURE, "the flatten of " + vdisk + " still runs after " + timeoutSeconds
              + " s; see 'vsa vdisk show " + vdisk + "'");
        }
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ApiClient.Failure(Cli.EXIT_FAILURE, "interrupted");
        }
        n = api.get("/vdisks/" + seg(vdisk) + "/flatten");
      }
      if (n.path("state").asText().equals("failed")) {
        throw new ApiClient.Failure(Cli.EXIT_FAILURE, "flatten of " + vdisk + " failed: " + n.path("error").asText());
      }
      if (common.json) {
        print(n);
      } else if (noWait) {
        done("flatten of vDisk " + vdisk + " started");
      } else {
        JsonNode r = n.path("report");
        done("vDisk " + vdisk + " flattened: " + r.path("clustersCopied").asLong() + " clusters copied in "
            + r.path("millis").asLong() + " ms; it no longer depends on " + cell(r.path("detached")));
      }
    }
  }

  @Command(name = "template", mixinStandardHelpOptions = true, description = "templates: set", footer = EXIT_TEXT)
  static final class Template extends Group {}

  @Command(name = "set", mixinStandardHelpOptions = true,
      description = "make a vDisk a template: read-only, cloned from its snapshot 'template' (refused while in use)")
  static final class TemplateSet extends Verb {
    @Parameters(paramLabel = "VDISK")
    String vdisk;

    TemplateSet(Cli.Environment env) {
      super(env);
    }

    @Override
    void run(ApiClient api) throws ApiClient.Failure {
      print(api.call("POST", "/vdisks/" + seg(vdisk) + "/template", null), VDISK_COLUMNS);
    }
  }

  /** Adds the management verbs to the command tree. */
  static void register(picocli.CommandLine cl, Cli.Environment env) {
    picocli.CommandLine vdisk = new picocli.CommandLine(new Vdisk());
    vdisk.addSubcommand("list", new VdiskList(env));
    vdisk.addSubcommand("show", new VdiskShow(env));
    vdisk.addSubcommand("create", new VdiskCreate(env));
    vdisk.addSubcommand("resize", new VdiskResize(env));
    vdisk.addSubcommand("set", new VdiskSet(env));
    vdisk.addSubcommand("delete", new VdiskDelete(env));
    vdisk.addSubcommand("open", new VdiskOpen(env));
    cl.addSubcommand("vdisk", vdisk);
    picocli.CommandLine snapshot = new picocli.CommandLine(new Snapshot());
    snapshot.addSubcommand("list", new SnapshotList(env));
    snapshot.addSubcommand("create", new SnapshotCreate(env));
    snapshot.addSubcommand("delete", new SnapshotDelete(env));
    snapshot.addSubcommand("rollback", new SnapshotRollback(env));
    cl.addSubcommand("snapshot", snapshot);
    picocli.CommandLine clone = new picocli.CommandLine(new Clone());
    clone.addSubcommand("create", new CloneCreate(env));
    clone.addSubcommand("flatten", new CloneFlatten(env));
    cl.addSubcommand("clone", clone);
    picocli.CommandLine template = new picocli.CommandLine(new Template());
    template.addSubcommand("set", new TemplateSet(env));
    cl.addSubcommand("template", template);
  }
}
