package org.vsa.appliance.config;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.vsa.backends.ObjectStore;
import org.vsa.volume.CachePolicy;
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
    Dtl dtl) {

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
    Objects.requireNonNull(dtl);
  }

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

  /** {@code backend:} where sealed SCOs and TLogs go. */
  public record Backend(BackendType type, Path dir) {}

  /** The kinds of backend; only a local directory for now. */
  public enum BackendType {
    LOCAL;

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
   * @param dtlMode none, async or sync (fixed at creation)
   * @param dtlPeer its DTL ({@code host:port}); empty: {@code dtl.peer}
   */
  public record Vdisk(String name, String vpool, long sizeBytes, int blockSize, org.vsa.dtl.DtlMode dtlMode,
      Optional<String> dtlPeer) {
    public Vdisk(String name, String vpool, long sizeBytes, int blockSize) {
      this(name, vpool, sizeBytes, blockSize, org.vsa.dtl.DtlMode.NONE, Optional.empty());
    }
  }

  /** The DTL peer of a vDisk by name: its own, else the node's. */
  public Optional<java.net.InetSocketAddress> dtlPeerOf(String vdiskName) {
    Optional<String> p = vdisks.stream().filter(d -> d.name().equals(vdiskName)).findFirst()
        .flatMap(Vdisk::dtlPeer).or(dtl::peer);
    return p.map(ApplianceConfig::address);
  }

  /** {@code host:port} or {@code [v6]:port}, already checked by the loader. */
  static java.net.InetSocketAddress address(String hostPort) {
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
    return new VolumeSpec(
        vdisk.name(), pool.name(), vdisk.sizeBytes(), vdisk.blockSize(), pool.scoSizeBytes(), pool.cachePolicy(),
        vdisk.dtlMode());
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
