package org.vsa.appliance.config;

import static org.vsa.appliance.config.Sizes.GiB;
import static org.vsa.appliance.config.Sizes.KiB;
import static org.vsa.appliance.config.Sizes.MiB;
import static org.vsa.appliance.config.Sizes.TiB;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.nfs.ClientRule;
import org.vsa.nfs.Export;
import org.vsa.nfs.NfsConfig;
import org.vsa.nfs.Squash;
import org.vsa.appliance.config.ApplianceConfig.Backend;
import org.vsa.appliance.config.ApplianceConfig.BackendType;
import org.vsa.appliance.config.ApplianceConfig.GroupCommit;
import org.vsa.appliance.config.ApplianceConfig.Iscsi;
import org.vsa.appliance.config.ApplianceConfig.Nfs;
import org.vsa.appliance.config.ApplianceConfig.Metadata;
import org.vsa.appliance.config.ApplianceConfig.Node;
import org.vsa.appliance.config.ApplianceConfig.ReadCache;
import org.vsa.appliance.config.ApplianceConfig.Upload;
import org.vsa.appliance.config.ApplianceConfig.Vdisk;
import org.vsa.appliance.config.ApplianceConfig.Vpool;
import org.vsa.appliance.config.ApplianceConfig.WriteBuffer;
import org.vsa.appliance.config.Section.Range;
import org.vsa.volume.CachePolicy;
import org.vsa.dtl.DtlMode;
import org.vsa.volume.VolumeSpec;

/**
 * Reads the YAML configuration (a file, or the embedded default of {@code vsa serve} without
 * {@code --config}), applies the command line's {@link ConfigOverrides} and checks every value.
 *
 * <p>Relative paths in the file and on the command line are resolved against the working
 * directory given to the constructor (the process's, in {@code vsa serve}), not against the
 * file's directory. Directories default to places under {@code node.dataDir}.
 */
public final class ConfigLoader {

  /** The embedded default: one vDisk {@code demo}; every other key at its default. */
  static final String DEFAULT_CONFIG_RESOURCE = "default-config.yaml";
  static final long MAX_FILE_BYTES = 1L << 20;

  private static final Pattern NAME = Pattern.compile(VolumeSpec.NAME_PATTERN);
  private static final String NAME_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit";

  static final Range WRITE_BUFFER_CAPACITY = Range.sizes(64 * MiB, 64 * TiB);
  static final Range READ_CACHE_CAPACITY = Range.sizes(16 * MiB, 16 * TiB).orZeroToDisable();
  static final Range METADATA_CACHE_SIZE = Range.sizes(MiB, 64 * GiB);
  static final Range GROUP_COMMIT_MAX_WAIT_MICROS = Range.integers(0, 100_000);
  static final Range GROUP_COMMIT_MAX_BYTES = Range.sizes(4 * KiB, GiB);
  static final Range UPLOAD_THREADS = Range.integers(1, 64);
  static final Range SCO_SIZE = Range.sizes(VolumeSpec.SCO_SIZE_MIN, VolumeSpec.SCO_SIZE_MAX).multipleOf(4 * KiB);
  static final Range VDISK_SIZE = Range.sizes(MiB, 64 * TiB).multipleOf(4 * KiB);

  private static final YAMLMapper YAML = YAMLMapper.builder()
      .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .build();

  private final Path workingDir;

  /** @param workingDir what relative paths are resolved against */
  public ConfigLoader(Path workingDir) {
    this.workingDir = workingDir.toAbsolutePath().normalize();
  }

  /** Resolves relative paths against the process's working directory. */
  public static ConfigLoader inWorkingDirectory() {
    return new ConfigLoader(Path.of("").toAbsolutePath());
  }

  /** The embedded default of {@code vsa serve} without {@code --config}. */
  public ApplianceConfig loadDefault(ConfigOverrides overrides) throws ConfigException {
    try (InputStream in = ConfigLoader.class.getResourceAsStream(DEFAULT_CONFIG_RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("resource " + DEFAULT_CONFIG_RESOURCE + " missing from the build");
      }
      return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), "the embedded default config", overrides);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Reads a config file. */
  public ApplianceConfig load(Path file, ConfigOverrides overrides) throws ConfigException {
    Path abs = workingDir.resolve(file).normalize();
    if (!Files.exists(abs)) {
      throw ConfigException.ofFile("config file " + abs + " does not exist");
    }
    if (!Files.isRegularFile(abs)) {
      throw ConfigException.ofFile("config file " + abs + " is not a regular file");
    }
    byte[] bytes;
    try {
      if (Files.size(abs) > MAX_FILE_BYTES) {
        throw ConfigException.ofFile("config file " + abs + " is larger than " + Sizes.format(MAX_FILE_BYTES));
      }
      bytes = Files.readAllBytes(abs);
    } catch (NoSuchFileException e) {
      throw ConfigException.ofFile("config file " + abs + " does not exist");
    } catch (IOException e) {
      throw ConfigException.ofFile("cannot read config file " + abs + ": " + e);
    }
    String text;
    try {
      text = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes))
          .toString();
    } catch (CharacterCodingException e) {
      throw ConfigException.ofFile("config file " + abs + " is not UTF-8 text");
    }
    return parse(text, abs.toString(), overrides);
  }

  /**
   * Reads YAML text.
   *
   * @param source names the text in error messages (a file name)
   */
  public ApplianceConfig parse(String yaml, String source, ConfigOverrides overrides) throws ConfigException {
    JsonNode tree;
    try {
      tree = YAML.readTree(yaml);
    } catch (JsonProcessingException e) {
      throw ConfigException.ofFile(source + ": " + describeSyntaxError(e));
    } catch (RuntimeException e) {
      // The YAML parser's own exceptions should all arrive as JsonProcessingException; this
      // keeps the error one line should one not.
      throw ConfigException.ofFile(source + ": YAML error: " + e.getMessage());
    }
    ObjectNode root;
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      root = JsonNodeFactory.instance.objectNode();
    } else if (tree.isObject()) {
      root = (ObjectNode) tree;
    } else {
      throw ConfigException.ofFile(source + ": the top level must be a map of sections (node:, writeBuffer:, ...), not "
          + (tree.isArray() ? "a list" : "the value " + Section.render(tree)));
    }
    overrides.applyTo(root);
    return read(Section.root(root, overrides));
  }

  private ApplianceConfig read(Section root) throws ConfigException {
    Section n = root.section("node");
    Path dataDir = n.path("dataDir", Path.of("vsa-data"), workingDir);
    Node node = new Node(
        n.name("name", defaultNodeName(), NAME, NAME_RULE),
        dataDir,
        n.ipLiteral("bindAddress", "127.0.0.1"));
    n.done();

    Section w = root.section("writeBuffer");
    WriteBuffer writeBuffer = new WriteBuffer(
        w.path("dir", dataDir.resolve("writebuffer"), workingDir),
        w.size("capacity", 8 * GiB, WRITE_BUFFER_CAPACITY));
    w.done();

    Section r = root.section("readCache");
    ReadCache readCache = new ReadCache(
        r.path("file", dataDir.resolve("readcache").resolve("readcache.bin"), workingDir),
        r.size("capacity", GiB, READ_CACHE_CAPACITY));
    r.done();

    Section m = root.section("metadata");
    Metadata metadata = new Metadata(
        m.path("dir", dataDir.resolve("metadata"), workingDir),
        m.size("cacheSize", 64 * MiB, METADATA_CACHE_SIZE));
    m.done();

    Backend backend = BackendConfigReader.read(root, dataDir, workingDir);

    Section g = root.section("groupCommit");
    GroupCommit groupCommit = new GroupCommit(
        g.integer("maxWaitMicros", 200, GROUP_COMMIT_MAX_WAIT_MICROS),
        g.size("maxBytes", 4 * MiB, GROUP_COMMIT_MAX_BYTES));
    g.done();

    Section u = root.section("upload");
    Upload upload = new Upload((int) u.integer("threads", 2, UPLOAD_THREADS));
    u.done();

    Map<String, Vpool> vpools = readVpools(root);
    List<Vdisk> vdisks = readVdisks(root, vpools);
    Iscsi iscsi = readIscsi(root, node, dataDir, vdisks);
    Nfs nfs = readNfs(root, node, dataDir, vpools);
    ApplianceConfig.Snapshots snapshots = readSnapshots(root, vpools);
    ApplianceConfig.Scrub scrub = readScrub(root);
    ApplianceConfig.Dtl dtl = readDtl(root, dataDir, workingDir);
    ApplianceConfig.Management management = readManagement(root, workingDir);
    ApplianceConfig.Cluster cluster = readCluster(root);
    root.done();

    ApplianceConfig config = new ApplianceConfig(
        node, writeBuffer, readCache, metadata, backend, groupCommit, upload, new ArrayList<>(vpools.values()), vdisks,
        iscsi, nfs, snapshots, scrub, dtl, management, cluster);
    checkWriteBufferHoldsScos(config);
    Vpool smallest = config.vpools().stream().min((a, c) -> Long.compare(a.scoSizeBytes(), c.scoSizeBytes())).orElseThrow();
    BackendConfigReader.checkFragmentSize(backend, smallest.scoSizeBytes(), smallest.name());
    checkPlaces(config);
    return config;
  }

  private static Map<String, Vpool> readVpools(Section root) throws ConfigException {
    Map<String, Vpool> pools = new LinkedHashMap<>();
    Map<String, String> where = new LinkedHashMap<>();
    List<Section> items = root.list("vpools", "{name: default, scoSize: 64MiB, cachePolicy: on-read}");
    if (items == null) {
      pools.put("default", new Vpool("default", VolumeSpec.SCO_SIZE_DEFAULT, CachePolicy.ON_READ));
      return pools;
    }
    if (items.isEmpty()) {
      throw new ConfigException("vpools",
          "vpools = [] declares no vPool; declare at least one, or remove the key for the vPool 'default'");
    }
    for (Section p : items) {
      String name = p.name("name", "default", NAME, NAME_RULE);
      Vpool pool = new Vpool(
          name,
          p.size("scoSize", VolumeSpec.SCO_SIZE_DEFAULT, SCO_SIZE),
          CachePolicy.parse(p.choice("cachePolicy", CachePolicy.ON_READ.configName(), cachePolicies())));
      p.done();
      if (pools.containsKey(name)) {
        throw new ConfigException(p.keyPath("name"),
            p.keyPath("name") + " = " + name + " is a duplicate: " + where.get(name) + " has the same name");
      }
      pools.put(name, pool);
      where.put(name, p.keyPath("name"));
    }
    return pools;
  }

  private static List<Vdisk> readVdisks(Section root, Map<String, Vpool> vpools) throws ConfigException {
    List<Vdisk> disks = new ArrayList<>();
    Map<String, String> where = new LinkedHashMap<>();
    List<Section> items = root.list("vdisks", "{name: demo, vpool: default, size: 1GiB, blockSize: 512}");
    if (items == null) {
      return disks;
    }
    for (Section d : items) {
      String name = d.name("name", "demo", NAME, NAME_RULE);
      String vpool = d.name("vpool", "default", NAME, NAME_RULE);
      Vdisk disk = new Vdisk(name, vpool, d.size("size", GiB, VDISK_SIZE), d.integerOneOf("blockSize", 512, 512, 4096),
          d.has("scoSize") ? d.size("scoSize", VolumeSpec.SCO_SIZE_DEFAULT, SCO_SIZE) : 0,
          DtlMode.parse(d.choice("dtlMode", "none", List.of("none", "async", "sync"))),
          d.size("readCacheQuota", 0, READ_CACHE_QUOTA),
          d.bool("dedupe", false),
          peer(d, "dtlPeer"));
      d.done();
      if (!vpools.containsKey(vpool)) {
        throw new ConfigException(d.keyPath("vpool"), d.keyPath("vpool") + " = " + vpool
            + " is not a declared vPool; declared vPools: " + String.join(", ", vpools.keySet()));
      }
      if (where.containsKey(name)) {
        throw new ConfigException(d.keyPath("name"),
            d.keyPath("name") + " = " + name + " is a duplicate: " + where.get(name) + " has the same name");
      }
      where.put(name, d.keyPath("name"));
      disks.add(disk);
    }
    return disks;
  }

  static final Range READ_CACHE_QUOTA = Range.sizes(16 * MiB, 16 * TiB).multipleOf(4 * KiB).orZeroToDisable();
  static final Range SCRUB_FILL_PERCENT = Range.integers(0, 100);
  static final Range SCRUB_RATE = Range.sizes(MiB, 64 * GiB).orZeroToDisable();
  private static final Pattern DURATION = Pattern.compile("([1-9][0-9]{0,5})([mhdw])");
  private static final String DURATION_RULE = "a duration: a whole number and a unit, m (minutes), h, d or w, e.g. 1h, 7d";

  /** {@code snapshots:}: hourly snapshots of every vDisk, kept hourly for a day, daily for a week, weekly for 4 weeks. */
  private static ApplianceConfig.Snapshots readSnapshots(Section root, Map<String, Vpool> vpools) throws ConfigException {
    Section s = root.section("snapshots");
    boolean enabled = s.bool("enabled", true);
    java.time.Duration every = duration(s, "every", "1h");
    String vpool = s.has("vpool") ? s.name("vpool", "default", NAME, NAME_RULE) : null;
    if (vpool != null && !vpools.containsKey(vpool)) {
      throw new ConfigException(s.keyPath("vpool"), s.keyPath("vpool") + " = " + vpool
          + " is not a declared vPool; declared vPools: " + String.join(", ", vpools.keySet()));
    }
    List<String> vdisks = s.strings("vdisks");
    List<Section> tiers = s.list("retention", "{every: 1h, for: 1d}");
    org.vsa.volume.SnapshotRetention.Policy policy = org.vsa.volume.SnapshotRetention.Policy.defaults();
    if (tiers != null) {
      if (tiers.isEmpty()) {
        throw new ConfigException(s.keyPath("retention"), s.keyPath("retention")
            + " = [] keeps nothing; give at least one tier like {every: 1h, for: 1d}, or remove the key for the default");
      }
      List<org.vsa.volume.SnapshotRetention.Tier> list = new ArrayList<>();
      for (Section t : tiers) {
        java.time.Duration te = duration(t, "every", "1h");
        java.time.Duration tf = duration(t, "for", "1d");
        t.done();
        if (tf.compareTo(te) < 0) {
          throw new ConfigException(t.keyPath("for"), t.keyPath("for") + " must be at least " + t.keyPath("every"));
        }
        if (!list.isEmpty() && tf.compareTo(list.get(list.size() - 1).until()) <= 0) {
          throw new ConfigException(t.keyPath("for"), t.keyPath("for") + " must be longer than the previous tier's");
        }
        list.add(new org.vsa.volume.SnapshotRetention.Tier(te, tf));
      }
      policy = new org.vsa.volume.SnapshotRetention.Policy(list);
    }
    s.done();
    return new ApplianceConfig.Snapshots(enabled,
        new org.vsa.volume.SnapshotSchedule(vpool, vdisks == null ? List.of() : vdisks, every, policy));
  }

  /** {@code scrub:}: daily, SCOs at most half live, at most 64MiB/s. */
  private static ApplianceConfig.Scrub readScrub(Section root) throws ConfigException {
    Section s = root.section("scrub");
    boolean enabled = s.bool("enabled", true);
    java.time.Duration every = duration(s, "every", "1d");
    long fill = s.integer("fillPercent", 50, SCRUB_FILL_PERCENT);
    long rate = s.size("rate", org.vsa.volume.ScrubOptions.DEFAULT_RATE, SCRUB_RATE);
    s.done();
    return new ApplianceConfig.Scrub(enabled, every,
        org.vsa.volume.ScrubOptions.defaults().withFillRatio(fill / 100.0).withRate(rate));
  }

  private static java.time.Duration duration(Section s, String key, String dflt) throws ConfigException {
    java.util.regex.Matcher m = DURATION.matcher(s.matching(key, dflt, DURATION, DURATION_RULE));
    if (!m.matches()) {
      throw new IllegalStateException("duration checked by its pattern: " + m);
    }
    long n = Long.parseLong(m.group(1));
    java.time.Duration d = switch (m.group(2)) {
      case "m" -> java.time.Duration.ofMinutes(n);
      case "h" -> java.time.Duration.ofHours(n);
      case "d" -> java.time.Duration.ofDays(n);
      default -> java.time.Duration.ofDays(7 * n);
    };
    return d;
  }

  static final Range PORT = Range.integers(0, 65535);
  public static final int DEFAULT_DTL_PORT = 26100;
  static final Range DTL_CAPACITY = Range.sizes(64 * MiB, 64 * TiB);
  static final Range DTL_ASYNC_MAX_BYTES = Range.sizes(4 * KiB, GiB);
  static final Range DTL_ASYNC_MAX_AGE_MILLIS = Range.integers(0, 60_000);
  static final Range DTL_ACK_TIMEOUT_MILLIS = Range.integers(50, 600_000);
  private static final Pattern PEER = Pattern.compile("(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):([0-9]{1,5})");
  private static final String PEER_RULE = "host:port (a name or IPv4 address, or [IPv6]) with a port in [1, 65535]";

  /** {@code dtl:} the DTL server of this node and the defaults of its vDisks' DTL clients. */
  private static ApplianceConfig.Dtl readDtl(Section root, Path dataDir, Path workingDir) throws ConfigException {
    Section s = root.section("dtl");
    ApplianceConfig.Dtl dtl = new ApplianceConfig.Dtl(
        s.bool("enabled", true),
        (int) s.integer("port", DEFAULT_DTL_PORT, PORT),
        s.path("dir", dataDir.resolve("dtl"), workingDir),
        s.size("capacity", 16 * GiB, DTL_CAPACITY),
        peer(s, "peer"),
        s.size("asyncMaxBytes", MiB, DTL_ASYNC_MAX_BYTES),
        s.integer("asyncMaxAgeMillis", 5, DTL_ASYNC_MAX_AGE_MILLIS),
        s.integer("ackTimeoutMillis", 2000, DTL_ACK_TIMEOUT_MILLIS));
    s.done();
    return dtl;
  }

  public static final int DEFAULT_CLUSTER_PORT = 5701;
  static final Range CLUSTER_PORT = Range.integers(1, 65_535); // the others must know it: never "any free port"
  static final Range CLUSTER_HEARTBEAT_MILLIS = Range.integers(100, 60_000);
  static final Range CLUSTER_LEASE_MILLIS = Range.integers(1_000, 600_000);
  static final Range CLUSTER_LEASE_MARGIN_MILLIS = Range.integers(100, 60_000);
  private static final Pattern CLUSTER_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Pattern FAULT_DOMAIN = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** {@code cluster:} off by default; when on, the heartbeat, lease and margin must leave a safe order. */
  private static ApplianceConfig.Cluster readCluster(Section root) throws ConfigException {
    Section s = root.section("cluster");
    boolean enabled = s.bool("enabled", false);
    String name = s.name("name", "vsa", CLUSTER_NAME, "1 to 64 of A-Z a-z 0-9 . _ -");
    int port = (int) s.integer("port", DEFAULT_CLUSTER_PORT, CLUSTER_PORT);
    int volumePort = (int) s.integer("volumePort", ApplianceConfig.Cluster.DEFAULT_VOLUME_PORT, PORT);
    if (volumePort != 0 && volumePort == port) {
      throw new ConfigException(s.keyPath("volumePort"), s.keyPath("volumePort") + " = " + volumePort
          + " is also cluster.port: the forward server needs a port of its own");
    }
    int namespacePort = (int) s.integer("namespacePort", ApplianceConfig.Cluster.DEFAULT_NAMESPACE_PORT, PORT);
    if (namespacePort != 0 && (namespacePort == port || namespacePort == volumePort)) {
      throw new ConfigException(s.keyPath("namespacePort"), s.keyPath("namespacePort") + " = " + namespacePort
          + " is also cluster." + (namespacePort == port ? "port" : "volumePort")
          + ": the namespace forward server needs a port of its own");
    }
    List<String> members = new ArrayList<>();
    List<String> listed = s.strings("members");
    for (String m : listed == null ? List.<String>of() : listed) {
      java.util.regex.Matcher x = PEER.matcher(m);
      if (!x.matches() || Integer.parseInt(x.group(2)) < 1 || Integer.parseInt(x.group(2)) > 65535) {
        throw new ConfigException(s.keyPath("members"), s.keyPath("members") + " has " + m + ", which is not "
            + PEER_RULE);
      }
      members.add(m);
    }
    String faultDomain = s.name("faultDomain", "default", FAULT_DOMAIN, "1 to 64 of A-Z a-z 0-9 . _ -");
    long heartbeat = s.integer("heartbeatMillis", 1000, CLUSTER_HEARTBEAT_MILLIS);
    long lease = s.integer("leaseMillis", 6000, CLUSTER_LEASE_MILLIS);
    long margin = s.integer("leaseMarginMillis", 1000, CLUSTER_LEASE_MARGIN_MILLIS);
    if (heartbeat * 3 > lease) {
      throw new ConfigException(s.keyPath("leaseMillis"), s.keyPath("leaseMillis") + " = " + lease
          + " must be at least 3 x cluster.heartbeatMillis (" + heartbeat + "), or one slow heartbeat loses the lease");
    }
    if (margin * 2 > lease) {
      throw new ConfigException(s.keyPath("leaseMarginMillis"), s.keyPath("leaseMarginMillis") + " = " + margin
          + " must be at most half of cluster.leaseMillis (" + lease + ")");
    }
    s.done();
    return new ApplianceConfig.Cluster(enabled, name, port, members, faultDomain, heartbeat, lease, margin,
        volumePort, namespacePort);
  }

  public static final int DEFAULT_MANAGEMENT_PORT = 8080;
  private static final Pattern USER = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final Pattern PASSWORD = Pattern.compile("[\\x21-\\x7e]{12,255}");

  /** {@code management:} the REST API: bound to 127.0.0.1 unless configured otherwise. */
  private static ApplianceConfig.Management readManagement(Section root, Path base) throws ConfigException {
    Section s = root.section("management");
    boolean enabled = s.bool("enabled", true);
    java.net.InetAddress bind = s.ipLiteral("bindAddress", "127.0.0.1");
    int port = (int) s.integer("port", DEFAULT_MANAGEMENT_PORT, PORT);
    String user = s.name("user", "admin", USER, "1 to 64 of A-Z a-z 0-9 . _ -");
    String password = s.optionalText("password", true);
    if (password != null && !PASSWORD.matcher(password).matches()) {
      throw new ConfigException(s.keyPath("password"), s.keyPath("password")
          + " must be 12 to 255 printable characters without spaces (the value is not shown)");
    }
    Optional<ApplianceConfig.Tls> tls = readTls(s.section("tls"), base);
    s.done();
    return new ApplianceConfig.Management(enabled, bind, port, user, Optional.ofNullable(password), tls);
  }

  /**
   * {@code management.tls.certificate} and {@code .key}: both or neither; each a readable PEM file
   * (a certificate, a private key), checked here so that {@code vsa config check} finds a mistake.
   */
  private static Optional<ApplianceConfig.Tls> readTls(Section t, Path base) throws ConfigException {
    boolean cert = t.has("certificate");
    boolean key = t.has("key");
    if (!cert && !key) {
      t.done();
      return Optional.empty();
    }
    if (!cert || !key) {
      String missing = t.keyPath(cert ? "key" : "certificate");
      throw new ConfigException(missing, missing + " must be set too: management.tls needs both a certificate and a key"
          + " (PEM files), or neither for plain HTTP");
    }
    Path certificate = t.path("certificate", null, base);
    Path keyFile = t.path("key", null, base);
    t.done();
    pem(t.keyPath("certificate"), certificate, "CERTIFICATE");
    pem(t.keyPath("key"), keyFile, "PRIVATE KEY");
    return Optional.of(new ApplianceConfig.Tls(certificate, keyFile));
  }

  private static void pem(String keyPath, Path file, String kind) throws ConfigException {
    String text;
    try {
      if (Files.size(file) > 1 << 20) {
        throw new ConfigException(keyPath, keyPath + ": " + file + " is not a PEM file (larger than 1 MiB)");
      }
      text = Files.readString(file, java.nio.charset.StandardCharsets.US_ASCII);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new ConfigException(keyPath, keyPath + ": " + file + " does not exist");
    } catch (java.nio.file.AccessDeniedException e) {
      throw new ConfigException(keyPath, keyPath + ": " + file + " is not readable (permission denied)");
    } catch (java.io.IOException | RuntimeException e) {
      throw new ConfigException(keyPath, keyPath + ": cannot read " + file + ": " + e.getMessage());
    }
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----").matcher(text);
    boolean found = false;
    while (m.find()) {
      found |= m.group(1).endsWith(kind);
    }
    if (!found) {
      throw new ConfigException(keyPath, keyPath + ": " + file + " is not a PEM " + kind.toLowerCase(java.util.Locale.ROOT)
          + " (no -----BEGIN ..." + kind + "----- line)");
    }
  }

  private static Optional<String> peer(Section s, String key) throws ConfigException {
    if (!s.has(key)) {
      return Optional.empty();
    }
    String p = s.name(key, "", PEER, PEER_RULE);
    java.util.regex.Matcher m = PEER.matcher(p);
    if (!m.matches() || Integer.parseInt(m.group(2)) < 1 || Integer.parseInt(m.group(2)) > 65535) {
      throw new ConfigException(s.keyPath(key), s.keyPath(key) + " = " + p + " is not " + PEER_RULE);
    }
    return Optional.of(p);
  }
  static final Range ISCSI_LOGIN_TIMEOUT_SECONDS = Range.integers(1, 600);
  static final Range ISCSI_WORKER_THREADS = Range.integers(1, 256);
  static final Range ISCSI_QUEUE_DEPTH = Range.integers(1, 1024);
  static final Range LUN = Range.integers(0, 16383);
  private static final Pattern IQN = Pattern.compile(
      "iqn\\.\\d{4}-\\d{2}\\.[a-z0-9.:-]+|eui\\.[0-9A-Fa-f]{16}|naa\\.[0-9A-Fa-f]{16,32}");
  private static final String IQN_RULE = "iqn.YYYY-MM.reversed.domain[:name] in lower case, eui.<16 hex> or naa.<16-32 hex>";
  private static final Pattern CHAP_USER = Pattern.compile("[\\x21-\\x7e]{1,255}");
  private static final Pattern CHAP_SECRET = Pattern.compile("[\\x20-\\x7e]{12,255}");

  /**
   * {@code iscsi:}. Without {@code targets}, one target {@value IscsiConfig#DEFAULT_IQN} exports
   * every vDisk of {@code vdisks:} as LUN 0, 1, ... in their order (the embedded default: demo as
   * LUN 0).
   */
  private static Iscsi readIscsi(Section root, Node node, Path dataDir, List<Vdisk> vdisks) throws ConfigException {
    Section s = root.section("iscsi");
    boolean enabled = s.bool("enabled", true);
    int port = (int) s.integer("port", IscsiConfig.DEFAULT_PORT, PORT);
    int loginTimeout = (int) s.integer("loginTimeoutSeconds", 15, ISCSI_LOGIN_TIMEOUT_SECONDS);
    int workers = (int) s.integer("workerThreads", 8, ISCSI_WORKER_THREADS);
    int queueDepth = (int) s.integer("queueDepth", 64, ISCSI_QUEUE_DEPTH);
    List<IscsiConfig.Target> targets = new ArrayList<>();
    List<Section> items = s.list("targets", "{iqn: " + IscsiConfig.DEFAULT_IQN + ", luns: [{lun: 0, vdisk: demo}]}");
    if (items == null) {
      Map<Integer, String> luns = new LinkedHashMap<>();
      for (int i = 0; i < vdisks.size(); i++) {
        luns.put(i, vdisks.get(i).name());
      }
      targets.add(IscsiConfig.Target.of(IscsiConfig.DEFAULT_IQN, luns));
    } else {
      Map<String, String> where = new LinkedHashMap<>();
      for (Section t : items) {
        String iqn = t.name("iqn", IscsiConfig.DEFAULT_IQN, IQN, IQN_RULE);
        if (where.containsKey(iqn)) {
          throw new ConfigException(t.keyPath("iqn"),
              t.keyPath("iqn") + " = " + iqn + " is a duplicate: " + where.get(iqn) + " has the same name");
        }
        where.put(iqn, t.keyPath("iqn"));
        Map<Integer, String> luns = new LinkedHashMap<>();
        List<Section> lunItems = t.list("luns", "{lun: 0, vdisk: demo}");
        if (lunItems != null) {
          for (Section l : lunItems) {
            int lun = (int) l.integer("lun", luns.size(), LUN);
            String vdisk = l.name("vdisk", "demo", NAME, NAME_RULE);
            l.done();
            if (luns.containsKey(lun)) {
              throw new ConfigException(l.keyPath("lun"), l.keyPath("lun") + " = " + lun + " is used twice in " + t.path());
            }
            luns.put(lun, vdisk);
          }
        }
        Optional<IscsiConfig.Chap> chap = readChap(t, "chap");
        Optional<IscsiConfig.Chap> mutual = readChap(t, "mutualChap");
        t.done();
        if (mutual.isPresent() && chap.isEmpty()) {
          throw new ConfigException(t.keyPath("mutualChap"), t.keyPath("mutualChap")
              + " needs " + t.keyPath("chap") + ": the initiator authenticates first");
        }
        targets.add(new IscsiConfig.Target(iqn, luns, chap, mutual));
      }
    }
    s.done();
    IscsiConfig config = IscsiConfig.of(node.bindAddress().getHostAddress(), port, targets)
        .withLoginTimeout(java.time.Duration.ofSeconds(loginTimeout))
        .withReservationsDir(dataDir.resolve("iscsi"));
    config = new IscsiConfig(config.bindAddress(), config.port(), config.targets(), config.loginTimeout(), workers,
        queueDepth, config.reservationsDir());
    return new Iscsi(enabled, config);
  }

  static final Range NFS_WORKER_THREADS = Range.integers(1, 256);
  static final Range ANON_ID = Range.integers(0, Integer.MAX_VALUE);
  static final Range VDISK_THRESHOLD = Range.sizes(MiB, 64 * TiB).orZeroToDisable();
  private static final Pattern EXPORT_PATH = Pattern.compile("/[A-Za-z0-9._/-]{1,200}");
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9.:*/_-]{1,255}");

  /**
   * {@code nfs:}. Without {@code exports}, each vPool is exported at {@code /<vpool>} to
   * 127.0.0.1 only (rw, no_root_squash): widen the clients explicitly.
   */
  private static Nfs readNfs(Section root, Node node, Path dataDir, Map<String, Vpool> vpools) throws ConfigException {
    Section s = root.section("nfs");
    boolean enabled = s.bool("enabled", true);
    int port = (int) s.integer("port", NfsConfig.DEFAULT_NFS_PORT, PORT);
    int mountPort = (int) s.integer("mountPort", NfsConfig.DEFAULT_MOUNT_PORT, PORT);
    String portmap = s.choice("portmap", "register-or-embed", List.of("register-or-embed", "none"));
    int workers = (int) s.integer("workerThreads", 8, NFS_WORKER_THREADS);
    List<String> patterns = s.strings("vdiskPatterns");
    long threshold = s.size("vdiskThreshold", NfsConfig.DEFAULT_VDISK_THRESHOLD_BYTES, VDISK_THRESHOLD);
    List<Export> exports = new ArrayList<>();
    List<Section> items = s.list("exports", "{vpool: default, path: /default, clients: [{host: 127.0.0.1}]}");
    if (items == null) {
      for (String vpool : vpools.keySet()) {
        exports.add(new Export(vpool, "/" + vpool, List.of(
            new ClientRule("127.0.0.1", false, Squash.NO_ROOT_SQUASH, ClientRule.NOBODY, ClientRule.NOBODY))));
      }
    } else {
      Map<String, String> where = new LinkedHashMap<>();
      for (Section e : items) {
        String vpool = e.name("vpool", "default", NAME, NAME_RULE);
        if (!vpools.containsKey(vpool)) {
          throw new ConfigException(e.keyPath("vpool"), e.keyPath("vpool") + " = " + vpool
              + " is not a declared vPool; declared vPools: " + String.join(", ", vpools.keySet()));
        }
        String path = e.name("path", "/" + vpool, EXPORT_PATH, "an absolute path like /" + vpool);
        if (where.containsKey(path)) {
          throw new ConfigException(e.keyPath("path"),
              e.keyPath("path") + " = " + path + " is a duplicate: " + where.get(path) + " has the same path");
        }
        where.put(path, e.keyPath("path"));
        List<ClientRule> rules = new ArrayList<>();
        List<Section> clients = e.list("clients", "{host: 127.0.0.1, access: rw, squash: no_root_squash}");
        if (clients == null || clients.isEmpty()) {
          throw new ConfigException(e.keyPath("clients"), e.keyPath("clients")
              + " must list at least one client rule, e.g. {host: 127.0.0.1, access: rw, squash: no_root_squash}");
        }
        for (Section c : clients) {
          String host = c.name("host", "127.0.0.1", HOST, "an IP, a CIDR like 10.0.0.0/24, a host name, or *");
          boolean ro = c.choice("access", "rw", List.of("rw", "ro")).equals("ro");
          Squash squash = Squash.valueOf(c.choice("squash", "no_root_squash",
              List.of("root_squash", "no_root_squash", "all_squash")).toUpperCase(Locale.ROOT));
          int anonUid = (int) c.integer("anonuid", ClientRule.NOBODY, ANON_ID);
          int anonGid = (int) c.integer("anongid", ClientRule.NOBODY, ANON_ID);
          c.done();
          try {
            rules.add(new ClientRule(host, ro, squash, anonUid, anonGid));
          } catch (IllegalArgumentException ex) {
            throw new ConfigException(c.keyPath("host"), c.keyPath("host") + " = " + host + " " + ex.getMessage());
          }
        }
        e.done();
        exports.add(new Export(vpool, path, rules));
      }
    }
    s.done();
    NfsConfig config = new NfsConfig(node.bindAddress().getHostAddress(), port, mountPort,
        portmap.equals("none") ? NfsConfig.Portmap.NONE : NfsConfig.Portmap.REGISTER_OR_EMBED, exports,
        dataDir.resolve("namespace"), patterns == null ? NfsConfig.DEFAULT_VDISK_PATTERNS : patterns, threshold, workers);
    return new Nfs(enabled, config);
  }

  private static Optional<IscsiConfig.Chap> readChap(Section target, String key) throws ConfigException {
    if (!target.has(key)) {
      return Optional.empty();
    }
    Section c = target.section(key);
    String user = c.name("user", "", CHAP_USER, "1 to 255 printable characters without spaces");
    String secret = c.name("secret", "", CHAP_SECRET, "12 to 255 printable characters (RFC 7143 asks for at least 12)");
    c.done();
    return Optional.of(new IscsiConfig.Chap(user, secret));
  }

  /** The write buffer must hold at least two SCOs of every vPool: one being filled, one being uploaded. */
  private static void checkWriteBufferHoldsScos(ApplianceConfig config) throws ConfigException {
    Vpool largest = config.vpools().stream()
        .max((a, c) -> Long.compare(a.scoSizeBytes(), c.scoSizeBytes()))
        .orElseThrow();
    long needed = 2 * largest.scoSizeBytes();
    long capacity = config.writeBuffer().capacityBytes();
    if (capacity < needed) {
      throw new ConfigException("writeBuffer.capacity", "writeBuffer.capacity = " + Sizes.format(capacity)
          + " is too small: it must be at least 2 x the largest scoSize of any vPool (vPool " + largest.name()
          + ": " + Sizes.format(largest.scoSizeBytes()) + "), i.e. >= " + Sizes.format(needed));
    }
  }

  /** Directories and the read-cache file must not coincide or nest in one another. */
  private static void checkPlaces(ApplianceConfig c) throws ConfigException {
    Map<String, Path> dirs = new LinkedHashMap<>();
    dirs.put("writeBuffer.dir", c.writeBuffer().dir());
    dirs.put("metadata.dir", c.metadata().dir());
    if (c.backend().type() == BackendType.LOCAL) {
      dirs.put("backend.dir", c.backend().dir());
    }
    for (int i = 0; i < c.backend().stores().size(); i++) {
      if (c.backend().stores().get(i).dir() != null) {
        dirs.put("backend.stores[" + i + "].dir", c.backend().stores().get(i).dir());
      }
    }
    Map<String, Path> all = new LinkedHashMap<>(dirs);
    all.put("readCache.file", c.readCache().file());
    List<String> keys = new ArrayList<>(all.keySet());
    for (String key : keys) {
      if (all.get(key).equals(c.node().dataDir())) {
        throw new ConfigException(key, key + " = " + all.get(key) + " must not be node.dataDir itself");
      }
    }
    for (int i = 0; i < keys.size(); i++) {
      for (int j = 0; j < keys.size(); j++) {
        String a = keys.get(i);
        String b = keys.get(j);
        if (i < j && all.get(a).equals(all.get(b))) {
          throw new ConfigException(b, b + " = " + all.get(b) + " is the same place as " + a);
        }
        if (i != j && dirs.containsKey(b) && !all.get(a).equals(all.get(b)) && all.get(a).startsWith(all.get(b))) {
          throw new ConfigException(a, a + " = " + all.get(a) + " is inside " + b + " = " + all.get(b)
              + "; they must not nest");
        }
      }
    }
  }

  private static List<String> cachePolicies() {
    return Arrays.stream(CachePolicy.values()).map(CachePolicy::configName).toList();
  }

  /** "line 3, column 7: mapping values are not allowed here", on one line. */
  private static String describeSyntaxError(JsonProcessingException e) {
    String what = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
    // SnakeYAML's message has unindented lines that say what is wrong, and indented ones that
    // quote the source with a caret under the spot: keep the former.
    what = what.lines()
        .filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0)))
        .map(String::strip)
        .reduce((a, b) -> a + "; " + b)
        .orElse(what.strip())
        .replace("Duplicate field", "duplicate key");
    JsonLocation at = e.getLocation();
    String where = at != null && at.getLineNr() > 0
        ? "YAML error at line " + at.getLineNr() + ", column " + at.getColumnNr() + ": "
        : "YAML error: ";
    return where + what;
  }

  /** The host name up to its first dot, made into a valid node name; "vsa" if there is none. */
  static String defaultNodeName() {
    String host = null;
    try {
      Path proc = Path.of("/proc/sys/kernel/hostname");
      if (Files.isReadable(proc)) {
        host = Files.readString(proc).strip();
      }
    } catch (IOException | RuntimeException e) {
      host = null;
    }
    if (host == null || host.isEmpty()) {
      try {
        host = InetAddress.getLocalHost().getHostName();
      } catch (IOException e) {
        host = "";
      }
    }
    int dot = host.indexOf('.');
    String name = (dot >= 0 ? host.substring(0, dot) : host).replaceAll("[^A-Za-z0-9._-]", "-");
    name = name.replaceFirst("^[._-]+", "");
    if (name.length() > 64) {
      name = name.substring(0, 64);
    }
    return name.isEmpty() ? "vsa" : name;
  }
}
