package org.vsa.appliance.config;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.vsa.backends.ObjectStore;
import org.vsa.volume.CachePolicy;
import org.vsa.dtl.DtlMode;
import org.vsa.volume.VolumeSettings;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.VolumeSpec;

/**
 * The appliance's configuration, as read and checked by {@link ConfigLoader}: one record per
 * section of the YAML file, one component per key (sizes in bytes, every path absolute).
 *
 * <p>The records do not check their values themselves: {@link ConfigLoader} does, so that an
 * error can name the key path and the value as the user wrote it.
 *
 * <p>To add a setting (e.g. a port): add a component to the record of its section, read it in
 * {@link ConfigLoader} (the compiler asks for it), document it in {@code vsa.example.yaml};
 * for a command-line flag add one {@code @Option} to the command that calls
 * {@link ConfigOverrides#set} with the key path.
 */
public record ApplianceConfig(
    Node node,
    WriteBuffer writeBuffer,
    ReadCache readCache,
    Metadata metadata,
    Backend backend,
    GroupCommit groupCommit,
    Upload upload,
    List<Vpool> vpools,
    List<Vdisk> vdisks,
    Iscsi iscsi,
    Nfs nfs,
    Snapshots snapshots,
    Scrub scrub,
    Dtl dtl,
    Management management,
    Cluster cluster) {

  public ApplianceConfig {
    Objects.requireNonNull(node);
    Objects.requireNonNull(writeBuffer);
    Objects.requireNonNull(readCache);
    Objects.requireNonNull(metadata);
    Objects.requireNonNull(backend);
    Objects.requireNonNull(groupCommit);
    Objects.requireNonNull(upload);
    vpools = List.copyOf(vpools);
    vdisks = List.copyOf(vdisks);
    Objects.requireNonNull(iscsi);
    Objects.requireNonNull(nfs);
    Objects.requireNonNull(snapshots);
    Objects.requireNonNull(scrub);
    Objects.requireNonNull(dtl);
    Objects.requireNonNull(management);
    Objects.requireNonNull(cluster);
  }

  /**
   * {@code cluster:} membership of this node in a cluster of appliances (Hazelcast). Off by default: a
   * single node runs without any of it, and says so at start.
   *
   * @param enabled whether this node joins a cluster
   * @param name the cluster's name: nodes join only members of the same name
   * @param port this node's member port (on {@code node.bindAddress})
   * @param members seed members ({@code host:port}); with the members recorded in the backend by
   *     {@code vsa node add}, the addresses this node asks to join at start
   * @param faultDomain this node's fault domain (a rack, a room): placement puts a vDisk's DTL in
   *     another one when it can
   * @param heartbeatMillis how often this node writes its heartbeat to the backend
   * @param leaseMillis how long a node's heartbeat must stay unchanged before another node takes
   *     over its vDisks
   * @param leaseMarginMillis how much earlier than that an owner stops acknowledging writes by itself
   * @param volumePort this node's forward server (on {@code node.bindAddress}): the other nodes send
   *     the I/O of the vDisks this node serves there (NFS from any node); 0 for any free port
   * @param namespacePort this node's namespace forward server (on {@code node.bindAddress}): the
   *     other nodes send the NFS namespace calls of the vPools whose namespace this node serves
   *     there; 0 for any free port
   */
  public record Cluster(boolean enabled, String name, int port, List<String> members, String faultDomain,
      long heartbeatMillis, long leaseMillis, long leaseMarginMillis, int volumePort, int namespacePort) {
    /** The forward server's port unless configured. */
    public static final int DEFAULT_VOLUME_PORT = 3270;
    /** The namespace forward server's port unless configured. */
    public static final int DEFAULT_NAMESPACE_PORT = 3271;

    public Cluster {
      members = List.copyOf(members);
    }

    /** With the default {@link #namespacePort}. */
    public Cluster(boolean enabled, String name, int port, List<String> members, String faultDomain,
        long heartbeatMillis, long leaseMillis, long leaseMarginMillis, int volumePort) {
      this(enabled, name, port, members, faultDomain, heartbeatMillis, leaseMillis, leaseMarginMillis, volumePort,
          DEFAULT_NAMESPACE_PORT);
    }

    /** With the default {@link #volumePort}. */
    public Cluster(boolean enabled, String name, int port, List<String> members, String faultDomain,
        long heartbeatMillis, long leaseMillis, long leaseMarginMillis) {
      this(enabled, name, port, members, faultDomain, heartbeatMillis, leaseMillis, leaseMarginMillis,
          DEFAULT_VOLUME_PORT);
    }

    /** A single node: no cluster. */
    public static Cluster single() {
      return new Cluster(false, "vsa", 5701, List.of(), "default", 1000, 6000, 1000, DEFAULT_VOLUME_PORT,
          DEFAULT_NAMESPACE_PORT);
    }
  }

  /**
   * {@code management:} the management REST API (and the CLI that talks to it).
   *
   * @param enabled whether the appliance serves it
   * @param bindAddress the address it listens on: 127.0.0.1 unless configured otherwise (not
   *     {@code node.bindAddress}: the API is for this host's administrators first)
   * @param port its port ({@code --mgmt-port}); 0 picks a free one (written to the data directory)
   * @param user the administrator's user name
   * @param password the administrator's password if the configuration sets it; otherwise one is
   *     created at first start and kept in the data directory (mode 0600)
   * @param tls the certificate and key when the API is served over HTTPS
   */
  public record Management(boolean enabled, InetAddress bindAddress, int port, String user, Optional<String> password,
      Optional<Tls> tls) {
    @Override
    public String toString() {
      return "Management[enabled=" + enabled + ", bindAddress=" + bindAddress + ", port=" + port + ", user=" + user
          + ", password=" + (password.isPresent() ? "(set)" : "(generated)") + ", tls=" + tls.orElse(null) + "]";
    }
  }

  /**
   * {@code management.tls}: HTTPS for the management API.
   *
   * @param certificate PEM file of the server's certificate (chain)
   * @param key PEM file of its private key (PKCS#8, unencrypted)
   */
  public record Tls(java.nio.file.Path certificate, java.nio.file.Path key) {}

  /**
   * {@code snapshots:} scheduled snapshots and their retention.
   *
   * @param enabled whether the schedule runs
   * @param schedule what it snapshots, how often, and how long it keeps them
   */
  public record Snapshots(boolean enabled, org.vsa.volume.SnapshotSchedule schedule) {}

  /**
   * {@code scrub:} scheduled scrubbing (garbage collection of overwritten data in the backend).
   *
   * @param enabled whether the schedule runs
   * @param interval time between the end of one scrub of every vDisk and the start of the next
   * @param options fill ratio and rate limit
   */
  public record Scrub(boolean enabled, java.time.Duration interval, org.vsa.volume.ScrubOptions options) {}

  /**
   * {@code dtl:} this node's DTL server, and the client side of its vDisks' DTLs.
   *
   * @param enabled whether this node serves as a DTL for others
   * @param port the DTL server's port ({@code --dtl-port})
   * @param dir the DTL logs, on local flash
   * @param capacityBytes disk budget of the DTL logs; appends beyond it are refused (the owner runs DEGRADED)
   * @param peer where this node's vDisks keep their DTL ({@code host:port}), unless a vDisk names its own
   * @param asyncMaxBytes async mode ships once this much is queued
   * @param asyncMaxAgeMillis async mode ships once the oldest queued write is this old
   * @param ackTimeoutMillis a DTL silent for this long counts as unreachable (the longest a sync write waits for it)
   */
  public record Dtl(boolean enabled, int port, Path dir, long capacityBytes, Optional<String> peer, long asyncMaxBytes,
      long asyncMaxAgeMillis, long ackTimeoutMillis) {}

  /**
   * {@code nfs:} the NFSv3 gateway.
   *
   * @param enabled whether the appliance serves NFS
   * @param server what it serves (bind address from {@code node.bindAddress})
   */
  public record Nfs(boolean enabled, org.vsa.nfs.NfsConfig server) {}

  /**
   * {@code iscsi:} the iSCSI target.
   *
   * @param enabled whether the appliance serves iSCSI
   * @param target what it serves (bind address from {@code node.bindAddress})
   */
  public record Iscsi(boolean enabled, org.vsa.iscsi.IscsiConfig target) {}

  /**
   * {@code node:} this node.
   *
   * @param name node name, unique in the cluster (default: the host name)
   * @param dataDir where everything of this node lives unless placed elsewhere
   * @param bindAddress the IP address every listener binds to
   */
  public record Node(String name, Path dataDir, InetAddress bindAddress) {}

  /** {@code writeBuffer:} open and not-yet-uploaded SCOs and TLogs, on local flash. */
  public record WriteBuffer(Path dir, long capacityBytes) {}

  /** {@code readCache:} the fixed-size read cache file; capacity 0 disables it. */
  public record ReadCache(Path file, long capacityBytes) {
    public boolean enabled() {
      return capacityBytes > 0;
    }
  }

  /** {@code metadata:} metadata pages and checkpoints, and the RAM to cache pages in. */
  public record Metadata(Path dir, long cacheSizeBytes) {}

  /**
   * {@code backend:} where sealed SCOs and TLogs go.
   *
   * @param type local directory, one S3 bucket, or erasure-coded fragments over several stores
   * @param dir the directory of type {@code local}
   * @param s3 the bucket of type {@code s3}; null otherwise
   * @param stores the stores of type {@code fragment}; empty otherwise
   * @param preset the preset of type {@code fragment}; null otherwise
   * @param key the preset's encryption key when it encrypts; never shown
   * @param repairIntervalSeconds how often the fragment backend's repair pass runs
   * @param verifyIntervalHours how often it reads and checks every fragment
   * @param presets every preset declared for type {@code fragment} ({@code preset} among them); empty otherwise
   */
  public record Backend(BackendType type, Path dir, org.vsa.backends.s3.S3Settings s3, List<Store> stores,
      org.vsa.backends.fragment.Preset preset, org.vsa.backends.fragment.EncryptionKey key,
      long repairIntervalSeconds, long verifyIntervalHours, List<org.vsa.backends.fragment.Preset> presets) {
    public static final long REPAIR_INTERVAL_SECONDS_DEFAULT = 300;
    public static final long VERIFY_INTERVAL_HOURS_DEFAULT = 24;

    public Backend {
      stores = List.copyOf(stores);
      presets = List.copyOf(presets);
    }

    public Backend(BackendType type, Path dir, org.vsa.backends.s3.S3Settings s3, List<Store> stores,
        org.vsa.backends.fragment.Preset preset, org.vsa.backends.fragment.EncryptionKey key,
        long repairIntervalSeconds, long verifyIntervalHours) {
      this(type, dir, s3, stores, preset, key, repairIntervalSeconds, verifyIntervalHours,
          preset == null ? List.of() : List.of(preset));
    }

    /** A local directory backend. */
    public Backend(BackendType type, Path dir) {
      this(type, dir, null, List.of(), null, null, REPAIR_INTERVAL_SECONDS_DEFAULT, VERIFY_INTERVAL_HOURS_DEFAULT);
    }
  }

  /** One of {@code backend.stores}: a "disk" of the fragment backend. */
  public record Store(String name, StoreType type, Path dir, org.vsa.backends.s3.S3Settings s3) {}

  /** The kinds of fragment store. */
  public enum StoreType {
    LOCAL,
    S3;

    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The kinds of backend. */
  public enum BackendType {
    LOCAL,
    S3,
    FRAGMENT;

    public String configName() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** {@code groupCommit:} when the write buffer is fsynced for waiting DURABLE writes. */
  public record GroupCommit(long maxWaitMicros, long maxBytes) {}

  /** {@code upload:} sealed SCOs to the backend. */
  public record Upload(int threads) {}

  /** One entry of {@code vpools:}: what its vDisks have in common. */
  public record Vpool(String name, long scoSizeBytes, CachePolicy cachePolicy) {}

  /**
   * One entry of {@code vdisks:}: a vDisk created at start when it does not exist.
   *
   * @param scoSizeBytes SCO size at creation; 0 = the vPool's
   * @param dtlMode none, async or sync
   * @param readCacheQuotaBytes read-cache quota (0: none)
   * @param dedupe whether identical clusters are stored once
   * @param dtlPeer its DTL ({@code host:port}); empty: {@code dtl.peer}
   */
  public record Vdisk(String name, String vpool, long sizeBytes, int blockSize, long scoSizeBytes, DtlMode dtlMode,
      long readCacheQuotaBytes, boolean dedupe, Optional<String> dtlPeer) {
    /** With the defaults: the vPool's SCO size, DTL none, no quota, no dedupe, the node's DTL peer. */
    public Vdisk(String name, String vpool, long sizeBytes, int blockSize) {
      this(name, vpool, sizeBytes, blockSize, 0, DtlMode.NONE, 0, false, Optional.empty());
    }
  }

  /** The settings the engine gives the vDisk: its own keys plus its vPool's cache policy. */
  public VolumeSettings volumeSettings(Vdisk vdisk) {
    VolumeSpec spec = volumeSpec(vdisk);
    return new VolumeSettings(vdisk.dtlMode(), spec.cachePolicy(), vdisk.readCacheQuotaBytes(), vdisk.dedupe());
  }

  /** The DTL peer of a vDisk by name: its own, else the node's. */
  public Optional<java.net.InetSocketAddress> dtlPeerOf(String vdiskName) {
    Optional<String> p = vdisks.stream().filter(d -> d.name().equals(vdiskName)).findFirst()
        .flatMap(Vdisk::dtlPeer).or(dtl::peer);
    return p.map(ApplianceConfig::address);
  }

  /**
   * {@code host:port} or {@code [v6]:port} (checked by the loader for configured addresses; other
   * callers catch the RuntimeException a malformed one throws).
   */
  public static java.net.InetSocketAddress address(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    String host = hostPort.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    return new java.net.InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
  }

  public Optional<Vpool> vpool(String name) {
    return vpools.stream().filter(p -> p.name().equals(name)).findFirst();
  }

  /** What the engine creates the vDisk with: its own keys plus its vPool's. */
  public VolumeSpec volumeSpec(Vdisk vdisk) {
    Vpool pool = vpool(vdisk.vpool()).orElseThrow(
        () -> new IllegalArgumentException("vDisk " + vdisk.name() + " names undeclared vPool " + vdisk.vpool()));
    return new VolumeSpec(vdisk.name(), pool.name(), vdisk.sizeBytes(), vdisk.blockSize(),
        vdisk.scoSizeBytes() == 0 ? pool.scoSizeBytes() : vdisk.scoSizeBytes(), pool.cachePolicy(), vdisk.dtlMode());
  }

  /** The engine's configuration, with {@code backendStore} opened from {@link #backend()}. */
  public EngineConfig engineConfig(ObjectStore backendStore) {
    return new EngineConfig(
        writeBuffer.dir(),
        writeBuffer.capacityBytes(),
        metadata.dir(),
        metadata.cacheSizeBytes(),
        readCache.file(),
        readCache.capacityBytes(),
        backendStore,
        groupCommit.maxWaitMicros(),
        groupCommit.maxBytes(),
        upload.threads());
  }
}
