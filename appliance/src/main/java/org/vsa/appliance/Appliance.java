package org.vsa.appliance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ApplianceConfig.Vdisk;
import org.vsa.appliance.config.Sizes;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.ObjectStore;
import org.vsa.backends.fragment.FragmentObjectStore;
import org.vsa.backends.s3.S3ObjectStore;
import org.vsa.dtl.ClientConfig;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlServer;
import org.vsa.dtl.DtlState;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;
import org.vsa.nfs.NfsConfig;
import org.vsa.nfs.NfsServer;
import org.vsa.volume.Engine;
import org.vsa.volume.SharedObjects;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/**
 * One running node: the data directory (locked against a second appliance), the backend, the
 * engine and the vDisks the configuration asks for.
 *
 * <p>{@link #start} brings it all up or, on any failure, closes what it had opened and throws a
 * {@link StartupException} with one line for the operator. {@link #stop} flushes every vDisk and
 * closes everything, once; later calls return the first call's outcome.
 */
public final class Appliance implements AutoCloseable {

  /** In the data directory; held locked (and holding the pid) while an appliance runs on it. */
  public static final String LOCK_FILE = "vsa.lock";

  private static final Logger log = LoggerFactory.getLogger(Appliance.class);

  private final ApplianceConfig config;
  private final FileChannel lock;
  private final ObjectStore backend;
  private final Engine engine;
  private final IscsiTarget iscsi;
  private final NfsServer nfs;
  private final DtlServer dtlServer;
  private final DtlConnector dtlConnector;
  private final List<String> createdVdisks;
  private final NfsUse nfsUse;
  private org.vsa.appliance.mgmt.ManagementServer management;
  private org.vsa.appliance.mgmt.ManagementApi managementApi;
  private Boolean stopOutcome;
  private org.vsa.appliance.metrics.ApplianceMetrics metrics;
  private org.vsa.appliance.cluster.ClusterNode cluster;
  private org.vsa.appliance.cluster.ClusterController controller;
  private org.vsa.appliance.cluster.VolumeForwarding forwarding;
  private org.vsa.nfs.remote.NamespaceServer namespaceServer;
  private org.vsa.appliance.cluster.IscsiCluster iscsiCluster;
  private org.vsa.volume.remote.PeerClients peers;

  /** This node's part in owning the cluster's vDisks, when {@code cluster.enabled}. */
  public Optional<org.vsa.appliance.cluster.ClusterController> clusterController() {
    return Optional.ofNullable(controller);
  }

  /** This node's cluster, when {@code cluster.enabled}. */
  public Optional<org.vsa.appliance.cluster.ClusterNode> cluster() {
    return Optional.ofNullable(cluster);
  }

  private static org.vsa.appliance.cluster.ClusterNode startCluster(ApplianceConfig config, ObjectStore backend,
      IscsiTarget iscsi, NfsServer nfs, DtlServer dtlServer, org.vsa.appliance.cluster.VolumeForwarding forwarding,
      org.vsa.nfs.remote.NamespaceServer namespaceServer) throws StartupException {
    ApplianceConfig.Cluster c = config.cluster();
    if (!c.enabled()) {
      log.info("single node: cluster.enabled is false, so no membership, no DTL placement and no failover; vDisks"
          + " keep their configured DTL peer (dtl.peer)");
      return null;
    }
    String host = config.node().bindAddress().getHostAddress();
    java.util.Map<String, String> endpoints = new java.util.LinkedHashMap<>();
    if (iscsi != null) {
      endpoints.put("iscsi", host + ":" + iscsi.localAddress().getPort());
    }
    if (nfs != null) {
      endpoints.put("nfs", host + ":" + nfs.localAddress().getPort());
    }
    if (dtlServer != null) {
      endpoints.put("dtl", host + ":" + dtlServer.port());
    }
    if (forwarding != null) {
      endpoints.put(org.vsa.appliance.cluster.ClusterDirectory.VOLUME, forwarding.endpoint());
    }
    if (namespaceServer != null) {
      endpoints.put(org.vsa.appliance.cluster.ClusterNamespaces.NAMESPACE_ENDPOINT,
          host + ":" + namespaceServer.localAddress().getPort());
    }
    try {
      return org.vsa.appliance.cluster.ClusterNode.start(c, config.node().name(), host, backend, endpoints);
    } catch (IOException e) {
      throw new StartupException("cluster: the member addresses recorded in the backend cannot be read: "
          + reason(e, null), e);
    } catch (RuntimeException e) {
      throw new StartupException("cluster: cannot start this node's member on " + host + ":" + c.port() + ": " + e, e);
    }
  }

  private Appliance(
      ApplianceConfig config, FileChannel lock, ObjectStore backend, Engine engine, IscsiTarget iscsi,
      NfsServer nfs, DtlServer dtlServer, DtlConnector dtlConnector, List<String> createdVdisks, NfsUse nfsUse) {
    this.nfsUse = nfsUse;
    this.dtlServer = dtlServer;
    this.dtlConnector = dtlConnector;
    this.config = config;
    this.lock = lock;
    this.backend = backend;
    this.engine = engine;
    this.iscsi = iscsi;
    this.nfs = nfs;
    this.createdVdisks = List.copyOf(createdVdisks);
  }

  /** Starts the node described by {@code config}; logs what was created and what runs. */
  public static Appliance start(ApplianceConfig config) throws StartupException {
    Deque<AutoCloseable> opened = new ArrayDeque<>();
    try {
      Path dataDir = config.node().dataDir();
      createDirectory("node.dataDir", dataDir);
      FileChannel lock = lockDataDir(dataDir);
      opened.push(lock);
      createDirectory("writeBuffer.dir", config.writeBuffer().dir());
      createDirectory("metadata.dir", config.metadata().dir());
      if (config.backend().type() == ApplianceConfig.BackendType.LOCAL) {
        createDirectory("backend.dir", config.backend().dir());
      }
      for (ApplianceConfig.Store store : config.backend().stores()) {
        if (store.dir() != null) {
          createDirectory("backend store " + store.name() + " dir", store.dir());
        }
      }
      if (config.readCache().enabled()) {
        Path file = config.readCache().file();
        createDirectory("readCache.file's directory", file.getParent());
        if (Files.isDirectory(file)) {
          throw new StartupException("readCache.file " + file + " is a directory");
        }
      }
      // counted for /metrics and /api/v1/stats
      ObjectStore backend = new org.vsa.appliance.metrics.CountingObjectStore(openBackend(config),
          config.backend().type().name().toLowerCase(java.util.Locale.ROOT));
      opened.push(backend);
      DtlServer dtlServer = startDtlServer(config);
      if (dtlServer != null) {
        opened.push(dtlServer);
      }
      org.vsa.appliance.cluster.ClusterController controller = config.cluster().enabled()
          ? new org.vsa.appliance.cluster.ClusterController(config.cluster(), config.node().name(), backend) : null;
      if (controller != null) {
        opened.push(controller);
      }
      DtlConnector dtlConnector = startDtlClient(config, controller);
      opened.push(dtlConnector);
      Engine engine = startEngine(config, backend, dtlConnector, controller);
      opened.push(engine);
      List<String> created;
      org.vsa.appliance.cluster.VolumeForwarding forwarding = null;
      org.vsa.volume.remote.PeerClients peers = null;
      if (controller != null) {
        try {
          controller.attach(engine);
        } catch (IOException e) {
          throw new StartupException("cluster: the vDisks in the backend cannot be listed: " + reason(e, null), e);
        }
        created = ensureClusterVdisks(config, controller);
        // vDisk I/O the other nodes forward here, and this node's clients of theirs (NFS from any node)
        try {
          forwarding = org.vsa.appliance.cluster.VolumeForwarding.start(config, engine);
        } catch (IOException | RuntimeException e) {
          throw new StartupException("cluster: cannot start the forward server on "
              + config.node().bindAddress().getHostAddress() + ":" + config.cluster().volumePort()
              + " (cluster.volumePort): " + e.getMessage(), e);
        }
        opened.push(forwarding);
        forwarding.serve(controller);
        peers = new org.vsa.volume.remote.PeerClients(org.vsa.volume.remote.PeerClient.Config.defaults());
        opened.push(peers);
      } else {
        created = ensureVdisks(config, engine);
      }
      startSchedules(config, engine);
      org.vsa.appliance.metrics.ApplianceMetrics metrics = new org.vsa.appliance.metrics.ApplianceMetrics(engine,
          config.node().name(), (org.vsa.appliance.metrics.CountingObjectStore) backend, dtlServer);
      opened.push(metrics);
      IscsiTarget iscsi = startIscsi(config, engine, metrics);
      if (iscsi != null) {
        opened.push(iscsi);
      }
      NfsUse nfsUse = new NfsUse();
      org.vsa.nfs.VolumeCatalog catalog = new EngineVolumeCatalog(engine, config, nfsUse, metrics::meter);
      if (controller != null) {
        final org.vsa.appliance.cluster.ClusterController ctl = controller;
        catalog = new org.vsa.appliance.cluster.ClusterVolumeCatalog(catalog, controller,
            clusterCreator(config, controller), name -> {
              try {
                ctl.delete(name, Duration.ofSeconds(10)); // NFS REMOVE of a vDisk's file; it goes on if not done yet
              } catch (java.util.NoSuchElementException e) {
                log.info("vDisk {}: nothing to delete in the cluster ({})", name, e.getMessage());
              } catch (IllegalStateException e) {
                throw new IOException(e.getMessage(), e);
              }
            }, peers);
      }
      org.vsa.appliance.cluster.ClusterNamespaces namespaces = null;
      if (controller != null && config.nfs().enabled()) {
        // each vPool's namespace is served by one node and forwarded there from the others
        namespaces = new org.vsa.appliance.cluster.ClusterNamespaces(controller, backend,
            clusterNamespaceOpener(config, catalog, backend), org.vsa.nfs.remote.RemoteNamespace.Config.defaults(),
            catalog);
      }
      NfsServer nfs = startNfs(config, catalog, namespaces);
      if (nfs != null) {
        opened.push(nfs);
      }
      org.vsa.nfs.remote.NamespaceServer namespaceServer = null;
      if (namespaces != null && nfs != null) {
        try {
          namespaceServer = org.vsa.nfs.remote.NamespaceServer.start(org.vsa.nfs.remote.NamespaceServer.Config
              .defaults().withBindAddress(config.node().bindAddress().getHostAddress())
              .withPort(config.cluster().namespacePort()), namespaces);
        } catch (IOException | RuntimeException e) {
          throw new StartupException("cluster: cannot start the namespace forward server on "
              + config.node().bindAddress().getHostAddress() + ":" + config.cluster().namespacePort()
              + " (cluster.namespacePort): " + e.getMessage(), e);
        }
        opened.push(namespaceServer);
        java.util.Set<String> vpools = new java.util.TreeSet<>();
        config.vpools().forEach(v -> vpools.add(v.name()));
        controller.hostNamespaces(vpools, namespaces);
      }
      org.vsa.appliance.cluster.IscsiCluster iscsiCluster = null;
      org.vsa.appliance.cluster.ClusterNode cluster = startCluster(config, backend, iscsi, nfs, dtlServer, forwarding,
          namespaceServer);
      if (cluster != null) {
        opened.push(cluster);
        if (iscsi != null) {
          // any node's portal answers for every vDisk: served here, redirected to its owner, or "retry" meanwhile
          iscsiCluster = org.vsa.appliance.cluster.IscsiCluster.bind(iscsi, controller, iscsiLookup(engine, metrics));
          controller.onLeaving(iscsiCluster::leaving);
          controller.onJoining(iscsiCluster::resume);
          // a vDisk with initiators logged in is in use: an NFS REMOVE of its file is refused, here or asked from afar
          if (forwarding != null) {
            forwarding.inUseBy(iscsiCluster::sessionsOf);
          }
          if (catalog instanceof org.vsa.appliance.cluster.ClusterVolumeCatalog clusterCatalog) {
            clusterCatalog.inUseBy(iscsiCluster::sessionsOf);
          }
          opened.push(iscsiCluster);
        }
        try {
          controller.start(cluster.membership());
        } catch (IOException e) {
          throw new StartupException("cluster: cannot start owning vDisks through the backend: " + reason(e, null), e);
        }
      }
      Appliance appliance = new Appliance(config, lock, backend, engine, iscsi, nfs, dtlServer, dtlConnector, created, nfsUse);
      appliance.metrics = metrics;
      appliance.cluster = cluster;
      appliance.controller = controller;
      appliance.forwarding = forwarding;
      appliance.namespaceServer = namespaceServer;
      appliance.iscsiCluster = iscsiCluster;
      appliance.peers = peers;
      opened.push(appliance::stopManagement);
      appliance.startManagement();
      log.info("vsa running: node {}, data dir {}, bind address {}, vDisks: {}",
          config.node().name(), dataDir, config.node().bindAddress().getHostAddress(), appliance.describeVdisks());
      return appliance;
    } catch (StartupException | RuntimeException | Error e) {
      closeAll(opened, e);
      throw e;
    }
  }

  /**
   * Starts the management API (unless disabled): maps the iSCSI LUNs it made before, loads or
   * creates the admin credential, and writes the API's URL to {@code <dataDir>/management.url}
   * for the CLI.
   */
  private void startManagement() throws StartupException {
    ApplianceConfig.Management m = config.management();
    Path dataDir = config.node().dataDir();
    org.vsa.appliance.mgmt.LunTable luns;
    try {
      luns = org.vsa.appliance.mgmt.LunTable.open(dataDir.resolve("iscsi"));
    } catch (IOException e) {
      throw new StartupException("the LUN table of the management API: " + reason(e, dataDir.resolve("iscsi")), e);
    }
    if (iscsi != null) {
      org.vsa.appliance.mgmt.ManagementApi.restoreLuns(iscsi, luns, engine);
      try {
        org.vsa.appliance.mgmt.ChapStore.open(dataDir.resolve("iscsi")).restore(iscsi);
      } catch (IOException e) {
        throw new StartupException("the CHAP table of the management API: " + reason(e, dataDir.resolve("iscsi")), e);
      }
    }
    if (!m.enabled()) {
      log.info("management API disabled (management.enabled = false)");
      return;
    }
    org.vsa.appliance.mgmt.AdminCredential credential = adminCredential(m, dataDir);
    managementApi = new org.vsa.appliance.mgmt.ManagementApi(engine, config, iscsi, luns, nfsUse);
    java.util.Map<String, Object> endpoints = new java.util.LinkedHashMap<>();
    if (iscsi != null) {
      endpoints.put("iscsi", iscsi.localAddress().getAddress().getHostAddress() + ":" + iscsi.localAddress().getPort());
    }
    if (nfs != null) {
      endpoints.put("nfs", nfs.localAddress().getAddress().getHostAddress() + ":" + nfs.localAddress().getPort());
    }
    if (dtlServer != null) {
      endpoints.put("dtl", dtlServer.port());
    }
    managementApi.setEndpoints(endpoints);
    if (cluster != null) {
      managementApi.setCluster(cluster);
    }
    if (controller != null) {
      managementApi.setClusterController(controller);
    }
    if (nfs != null) {
      managementApi.setNfs(nfs);
    }
    try {
      management = org.vsa.appliance.mgmt.ManagementServer.start(m.bindAddress(), m.port(), credential,
          new org.vsa.appliance.metrics.MetricsRoutes(metrics, managementApi), m.tls().orElse(null));
    } catch (IOException e) {
      throw new StartupException(e.getMessage(), e);
    }
    String host = m.bindAddress().isAnyLocalAddress() ? "127.0.0.1" : m.bindAddress().getHostAddress();
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    String url = (m.tls().isPresent() ? "https://" : "http://") + host + ":" + management.localAddress().getPort();
    try {
      Path tmp = dataDir.resolve(MANAGEMENT_URL_FILE + ".tmp");
      Files.writeString(tmp, url + "\n", StandardCharsets.UTF_8);
      Path certCopy = dataDir.resolve(org.vsa.appliance.mgmt.PinnedTrust.FILE);
      if (m.tls().isPresent()) {
        // the certificate the CLI trusts when it finds https in management.url (not secret)
        Path certTmp = dataDir.resolve(org.vsa.appliance.mgmt.PinnedTrust.FILE + ".tmp");
        Files.copy(m.tls().get().certificate(), certTmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.move(certTmp, certCopy, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
            java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      } else {
        Files.deleteIfExists(certCopy);
      }
      Files.move(tmp, dataDir.resolve(MANAGEMENT_URL_FILE), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new StartupException("cannot write " + dataDir.resolve(MANAGEMENT_URL_FILE) + ": " + e.getMessage(), e);
    }
  }

  /** In the data directory while the appliance runs: the management API's URL, for the CLI. */
  public static final String MANAGEMENT_URL_FILE = "management.url";

  private static org.vsa.appliance.mgmt.AdminCredential adminCredential(ApplianceConfig.Management m, Path dataDir)
      throws StartupException {
    if (m.password().isPresent()) {
      log.info("management API: admin credential from the configuration (user {})", m.user());
      return new org.vsa.appliance.mgmt.AdminCredential(m.user(), m.password().get());
    }
    Path file = dataDir.resolve(org.vsa.appliance.mgmt.AdminCredential.FILE);
    try {
      Optional<org.vsa.appliance.mgmt.AdminCredential> stored = org.vsa.appliance.mgmt.AdminCredential.read(dataDir);
      if (stored.isPresent()) {
        log.info("management API: admin credential from {} (user {})", file, stored.get().user());
        return stored.get();
      }
      org.vsa.appliance.mgmt.AdminCredential c = org.vsa.appliance.mgmt.AdminCredential.createIn(dataDir, m.user());
      // shown this once; afterwards only the file (mode 0600) has it
      log.warn("management API: admin credential created: user {} password {} (stored in {}, mode 0600; "
          + "it is not shown again)", c.user(), c.password(), file);
      return c;
    } catch (IOException e) {
      throw new StartupException("admin credential: " + reason(e, file), e);
    }
  }

  /** The management API's resources, or empty when it is disabled. */
  public Optional<org.vsa.appliance.mgmt.ManagementApi> managementApi() {
    return Optional.ofNullable(managementApi);
  }

  /** The management API's address, or empty when it is disabled. */
  public Optional<java.net.InetSocketAddress> managementAddress() {
    return Optional.ofNullable(management).map(org.vsa.appliance.mgmt.ManagementServer::localAddress);
  }

  private void stopManagement() {
    if (management != null) {
      management.close();
      management = null;
      try {
        Files.deleteIfExists(config.node().dataDir().resolve(MANAGEMENT_URL_FILE));
        Files.deleteIfExists(config.node().dataDir().resolve(org.vsa.appliance.mgmt.PinnedTrust.FILE));
      } catch (IOException e) {
        log.warn("cannot remove {}: {}", MANAGEMENT_URL_FILE, e.toString());
      }
    }
    if (managementApi != null) {
      managementApi.close();
      managementApi = null;
    }
  }

  public ApplianceConfig config() {
    return config;
  }

  public Engine engine() {
    return engine;
  }

  /** The node's meters (GET /metrics, GET /api/v1/stats). */
  public org.vsa.appliance.metrics.ApplianceMetrics metrics() {
    return metrics;
  }

  /** This node's DTL server, or empty when {@code dtl.enabled} is false. */
  public Optional<DtlServer> dtlServer() {
    return Optional.ofNullable(dtlServer);
  }

  /**
   * The DTL state of every vDisk (OK_SYNC, OK_STANDALONE, CATCHING_UP, DEGRADED), by name; the
   * management API will show this. Changes are logged as they happen.
   */
  public java.util.Map<String, DtlState> dtlStates() {
    java.util.Map<String, DtlState> out = new java.util.TreeMap<>();
    for (Volume v : engine.volumes()) {
      engine.dtlState(v.name()).ifPresent(s -> out.put(v.name(), s));
    }
    return out;
  }

  private static DtlServer startDtlServer(ApplianceConfig config) throws StartupException {
    ApplianceConfig.Dtl d = config.dtl();
    if (!d.enabled()) {
      log.info("DTL server disabled (dtl.enabled = false)");
      return null;
    }
    createDirectory("dtl.dir", d.dir());
    try {
      return DtlServer.start(d.dir(), config.node().bindAddress().getHostAddress(), d.port(), d.capacityBytes());
    } catch (IOException | RuntimeException e) {
      throw new StartupException("DTL: cannot start on " + config.node().bindAddress().getHostAddress() + ":" + d.port()
          + ": " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
    }
  }

  private static DtlConnector startDtlClient(ApplianceConfig config,
      org.vsa.appliance.cluster.ClusterController controller) throws StartupException {
    ApplianceConfig.Dtl d = config.dtl();
    ClientConfig cc = ClientConfig.defaults()
        .withAsync(d.asyncMaxBytes(), java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(d.asyncMaxAgeMillis()))
        .withAckTimeoutNanos(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(d.ackTimeoutMillis()));
    Path dir = config.node().dataDir().resolve("dtl-client");
    createDirectory("the DTL client directory", dir);
    try {
      if (controller != null) {
        // the cluster places each vDisk's DTL; its state changes are published before acknowledging under them
        return new DtlConnector(dir, cc, controller::dtlPeerOf, new org.vsa.dtl.DtlEvents() {
          @Override
          public void stateChanged(String vdisk, org.vsa.dtl.DtlState from, org.vsa.dtl.DtlState to, String why) {
            controller.dtlStateChanged(vdisk, null, 0, to); // a stream that names no DTL: counts as standalone
          }

          @Override
          public void stateChanged(String vdisk, java.net.InetSocketAddress peer, long epoch,
              org.vsa.dtl.DtlState from, org.vsa.dtl.DtlState to, String why) {
            controller.dtlStateChanged(vdisk, peer, epoch, to);
          }
        });
      }
      return new DtlConnector(dir, cc, config::dtlPeerOf, (vdisk, from, to, why) -> { });
    } catch (IOException e) {
      throw new StartupException("DTL client: " + reason(e, dir), e);
    }
  }

  /** The iSCSI target, or empty when {@code iscsi.enabled} is false. */
  public Optional<IscsiTarget> iscsi() {
    return Optional.ofNullable(iscsi);
  }

  /** The NFS server, or empty when {@code nfs.enabled} is false. */
  public Optional<NfsServer> nfs() {
    return Optional.ofNullable(nfs);
  }

  /** NFS creates a vDisk once in the cluster; its I/O answers "retry" until a node serves it. */
  private static org.vsa.appliance.cluster.ClusterVolumeCatalog.Creator clusterCreator(ApplianceConfig config,
      org.vsa.appliance.cluster.ClusterController controller) {
    return (name, vpool, size) -> {
      ApplianceConfig.Vpool p = config.vpool(vpool)
          .orElseThrow(() -> new IOException("vPool " + vpool + " is not configured on this node"));
      VolumeSpec spec = new VolumeSpec(name, vpool, size, 512, p.scoSizeBytes(), p.cachePolicy());
      if (!controller.create(spec, org.vsa.volume.VolumeSettings.defaults(spec))) {
        throw new IllegalStateException("vDisk " + name + " exists in the cluster");
      }
      controller.awaitOwner(name, Duration.ofSeconds(10));
    };
  }

  /**
   * Opens this node's copy of a vPool's namespace when it wins it in the cluster: restored under
   * {@code nfs.namespaceDir} from the backend's mirror of it (every change an earlier owner
   * acknowledged is there; whatever this node's directory held before is replaced), or a new one
   * under the cluster's id when the backend has none; from then on every change is written through
   * to the backend before it is acknowledged, and only while this node's lease holds.
   */
  private static org.vsa.appliance.cluster.ClusterNamespaces.LocalOpener clusterNamespaceOpener(
      ApplianceConfig config, org.vsa.nfs.VolumeCatalog catalog, ObjectStore backend) {
    NfsConfig c = config.nfs().server();
    SharedObjects mirrorStore = SharedObjects.over(backend);
    return (vpool, epoch, holdsLease, namespaceId) -> {
      Path dir = c.namespaceDir().resolve(vpool);
      long t0 = System.nanoTime();
      boolean restored = org.vsa.nfs.NamespaceMirror.exists(mirrorStore, vpool);
      if (restored) {
        org.vsa.nfs.NamespaceMirror.restore(mirrorStore, vpool, dir);
      } else if (Files.exists(dir)) {
        Path aside = dir.resolveSibling(vpool + ".before-cluster-" + System.currentTimeMillis());
        log.warn("vPool {}: the backend holds no namespace for it yet; this node's old namespace directory {} is not"
            + " the cluster's and is set aside as {}", vpool, dir, aside);
        Files.move(dir, aside);
      }
      org.vsa.nfs.NamespaceMirror mirror = new org.vsa.nfs.NamespaceMirror(mirrorStore, vpool, epoch, holdsLease);
      try {
        org.vsa.nfs.LocalNamespace ns = org.vsa.nfs.LocalNamespace.openWithId(vpool, dir, catalog, c.vdiskPatterns(),
            c.vdiskThresholdBytes(), namespaceId, mirror);
        log.info("vPool {}: its namespace {} at epoch {} in {} ms", vpool, restored ? "restored from the backend"
            : "created", epoch, (System.nanoTime() - t0) / 1_000_000);
        return ns;
      } catch (IOException | RuntimeException e) {
        mirror.close();
        throw e;
      }
    };
  }

  private static NfsServer startNfs(ApplianceConfig config, org.vsa.nfs.VolumeCatalog catalog,
      NfsServer.Opener opener) throws StartupException {
    if (!config.nfs().enabled()) {
      log.info("NFS disabled (nfs.enabled = false)");
      return null;
    }
    NfsConfig c = config.nfs().server();
    try {
      java.util.Optional<List<org.vsa.nfs.Export>> stored = org.vsa.appliance.mgmt.NfsExportStore.load(
          config.node().dataDir());
      if (stored.isPresent()) {
        List<org.vsa.nfs.Export> kept = new java.util.ArrayList<>();
        for (org.vsa.nfs.Export e : stored.get()) {
          if (config.vpool(e.vpool()).isPresent()) {
            kept.add(e);
          } else {
            log.warn("NFS export {} (changed through the API) names vPool {}, which the configuration no longer has:"
                + " not served", e.path(), e.vpool());
          }
        }
        log.info("NFS exports from {} (last changed through the API; they replace nfs.exports)",
            org.vsa.appliance.mgmt.NfsExportStore.file(config.node().dataDir()));
        c = new NfsConfig(c.bindAddress(), c.nfsPort(), c.mountPort(), c.portmap(), kept, c.namespaceDir(),
            c.vdiskPatterns(), c.vdiskThresholdBytes(), c.workerThreads());
      }
    } catch (IOException | RuntimeException e) {
      throw new StartupException("NFS: the exports changed through the API cannot be read (" + e.getMessage()
          + "); fix or remove " + org.vsa.appliance.mgmt.NfsExportStore.file(config.node().dataDir()), e);
    }
    try {
      NfsServer server = opener == null ? NfsServer.start(c, catalog) : NfsServer.start(c, catalog, opener);
      log.info("NFS listening on {} (MOUNT on {}), exports: {}", server.localAddress(), server.mountAddress(),
          c.exports().stream().map(e -> e.path() + " (vPool " + e.vpool() + ")").collect(Collectors.joining(", ")));
      return server;
    } catch (IOException | RuntimeException e) {
      throw new StartupException("cannot start NFS on " + c.bindAddress() + ":" + c.nfsPort() + " (MOUNT "
          + c.mountPort() + "): " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
    }
  }

  /** The vDisks the iSCSI target serves: the engine's handles, each counted into the vDisk's meters. */
  private static org.vsa.iscsi.VolumeLookup iscsiLookup(Engine engine,
      org.vsa.appliance.metrics.ApplianceMetrics metrics) {
    return name -> engine.handle(name).map(metrics::meter);
  }

  private static IscsiTarget startIscsi(ApplianceConfig config, Engine engine,
      org.vsa.appliance.metrics.ApplianceMetrics metrics) throws StartupException {
    if (!config.iscsi().enabled()) {
      log.info("iSCSI disabled (iscsi.enabled = false)");
      return null;
    }
    IscsiConfig c = config.iscsi().target();
    for (IscsiConfig.Target t : c.targets()) {
      t.luns().forEach((lun, vdisk) -> {
        if (engine.offlineVdisk(vdisk).isPresent()) {
          log.warn("iSCSI target {} LUN {} is vDisk {}, which is offline: {}", t.iqn(), lun, vdisk,
              engine.handle(vdisk).isPresent() ? "the LUN is there and answers NOT READY until the vDisk is online"
                  : "its record is unreadable, so the LUN is left out of sessions until the vDisk is online");
        } else if (engine.volume(vdisk).isEmpty()) {
          log.warn("iSCSI target {} LUN {} names vDisk {}, which does not exist (yet): the LUN reports not ready",
              t.iqn(), lun, vdisk);
        }
      });
    }
    try {
      // handles, not the volumes themselves: a LUN bound while its vDisk is offline serves once it is online
      // each counted into the vDisk's meters, the same ones NFS moves
      return IscsiTarget.start(c, iscsiLookup(engine, metrics));
    } catch (IOException | RuntimeException e) {
      // the target's own message names the address: "iSCSI: cannot listen on HOST:PORT: ..."
      throw new StartupException(e.getMessage() == null ? "iSCSI: " + e : e.getMessage(), e);
    }
  }

  /** The names of the vDisks this start created because they did not exist yet. */
  public List<String> createdVdisks() {
    return createdVdisks;
  }

  /**
   * Flushes every vDisk, closes the engine and the backend, releases the data directory and logs
   * "stopped". Only the first call does this; every call returns true when all of it succeeded.
   */
  public synchronized boolean stop() {
    if (stopOutcome != null) {
      return stopOutcome;
    }
    log.info("stopping: flushing every vDisk");
    boolean clean = true;
    stopManagement();
    if (namespaceServer != null) {
      // the other nodes' namespace calls stop here first: they ask the next owner
      clean &= closeLogged("namespace forward server", namespaceServer);
    }
    if (controller != null) {
      // hands its vDisks over through the backend, closes the namespaces it serves, then stops heartbeating
      clean &= closeLogged("cluster ownership", controller);
    }
    if (iscsiCluster != null) {
      clean &= closeLogged("iSCSI cluster binding", iscsiCluster);
    }
    if (cluster != null) {
      clean &= closeLogged("cluster membership", cluster);
    }
    if (metrics != null) {
      metrics.close();
    }
    if (nfs != null) {
      clean &= closeLogged("NFS server", nfs);
    }
    if (iscsi != null) {
      clean &= closeLogged("iSCSI target", iscsi);
    }
    if (peers != null) {
      clean &= closeLogged("forward clients", peers);
    }
    if (forwarding != null) {
      clean &= closeLogged("forward server", forwarding);
    }
    try {
      engine.flushAll();
    } catch (IOException | RuntimeException e) {
      log.error("flush at stop failed; writes acknowledged as BUFFERED since the last flush may be lost", e);
      clean = false;
    }
    clean &= closeLogged("engine", engine);
    clean &= closeLogged("DTL client", dtlConnector);
    if (dtlServer != null) {
      clean &= closeLogged("DTL server", dtlServer);
    }
    clean &= closeLogged("backend", backend);
    clean &= closeLogged("data directory lock", lock);
    stopOutcome = clean;
    if (clean) {
      log.info("stopped");
    } else {
      log.error("stopped, with errors (see above)");
    }
    return clean;
  }

  @Override
  public void close() {
    stop();
  }

  private String describeVdisks() {
    if (controller != null) {
      return controller.vdisks().size() + " in the cluster, each served by the node that holds it (vsa cluster vdisks)";
    }
    List<Volume> volumes = engine.volumes();
    List<org.vsa.volume.OfflineVdisk> offline = engine.offlineVdisks();
    if (volumes.isEmpty() && offline.isEmpty()) {
      return "none";
    }
    String online = volumes.stream()
        .map(v -> v.name() + " (" + Sizes.format(v.sizeBytes()) + ", vPool " + v.spec().vpool() + ")")
        .collect(Collectors.joining(", "));
    if (offline.isEmpty()) {
      return online;
    }
    return (online.isEmpty() ? "" : online + "; ") + "OFFLINE: "
        + offline.stream().map(org.vsa.volume.OfflineVdisk::name).collect(Collectors.joining(", "))
        + " (see vsa vdisk list)";
  }

  /** Scheduled snapshots and scrubbing, as {@code snapshots:} and {@code scrub:} say. */
  private static void startSchedules(ApplianceConfig config, Engine engine) {
    if (config.snapshots().enabled()) {
      engine.startSnapshotSchedule(config.snapshots().schedule());
    }
    if (config.scrub().enabled()) {
      engine.startScrubSchedule(config.scrub().interval(), config.scrub().options());
    }
  }

  private static List<String> ensureVdisks(ApplianceConfig config, Engine engine) throws StartupException {
    List<String> created = new ArrayList<>();
    for (Vdisk vdisk : config.vdisks()) {
      VolumeSpec wanted = config.volumeSpec(vdisk);
      Optional<Volume> existing = engine.volume(vdisk.name());
      if (existing.isPresent()) {
        warnIfDifferent(existing.get().spec(), wanted);
        continue;
      }
      if (engine.contains(vdisk.name())) {
        continue; // offline: it exists, and is never created again over its data
      }
      try {
        engine.create(wanted, config.volumeSettings(vdisk));
      } catch (IOException e) {
        throw new StartupException("cannot create vDisk " + vdisk.name() + ": " + e.getMessage(), e);
      }
      created.add(vdisk.name());
      log.info("created vDisk {}: {}, block size {}, vPool {} (SCO {}, read cache {})",
          wanted.name(), Sizes.format(wanted.sizeBytes()), wanted.blockSize(), wanted.vpool(),
          Sizes.format(wanted.scoSizeBytes()), wanted.cachePolicy().configName());
    }
    return created;
  }

  /**
   * In a cluster, a vDisk of the configuration is created once for the whole cluster (its name is
   * unique there) and owned by whichever node the cluster places it on; a node that finds it in
   * the backend leaves it as it is.
   */
  private static List<String> ensureClusterVdisks(ApplianceConfig config,
      org.vsa.appliance.cluster.ClusterController controller) throws StartupException {
    List<String> created = new ArrayList<>();
    for (Vdisk vdisk : config.vdisks()) {
      VolumeSpec wanted = config.volumeSpec(vdisk);
      try {
        if (controller.create(wanted, config.volumeSettings(vdisk))) {
          created.add(vdisk.name());
          log.info("created vDisk {} in the cluster: {}, block size {}, vPool {}", wanted.name(),
              Sizes.format(wanted.sizeBytes()), wanted.blockSize(), wanted.vpool());
        }
      } catch (IOException | RuntimeException e) {
        throw new StartupException("cannot create vDisk " + vdisk.name() + " in the cluster: " + e.getMessage(), e);
      }
    }
    return created;
  }

  /** The config creates missing vDisks; it never changes existing ones. Say so when they differ. */
  private static void warnIfDifferent(VolumeSpec actual, VolumeSpec wanted) {
    if (actual.sizeBytes() != wanted.sizeBytes()
        || actual.blockSize() != wanted.blockSize()
        || !actual.vpool().equals(wanted.vpool())) {
      log.warn("vDisk {} exists as {}, block size {}, vPool {}; the config says {}, block size {}, vPool {}:"
              + " the existing vDisk is left as it is",
          actual.name(), Sizes.format(actual.sizeBytes()), actual.blockSize(), actual.vpool(),
          Sizes.format(wanted.sizeBytes()), wanted.blockSize(), wanted.vpool());
    }
  }

  private static ObjectStore openBackend(ApplianceConfig config) throws StartupException {
    ApplianceConfig.Backend b = config.backend();
    switch (b.type()) {
      case LOCAL:
        try {
          return new LocalDirectoryObjectStore(b.dir());
        } catch (IOException e) {
          throw new StartupException("cannot open the backend in " + b.dir() + ": " + reason(e, b.dir()), e);
        }
      case S3:
        try {
          return S3ObjectStore.open(b.s3());
        } catch (IOException e) {
          throw new StartupException("cannot open the backend: " + e.getMessage(), e);
        }
      case FRAGMENT:
        return openFragmentBackend(b);
      default:
        throw new IllegalStateException("backend type " + b.type());
    }
  }

  /** Every store must open (a wrong bucket or key is a mistake to fix now); later outages are survived. */
  private static ObjectStore openFragmentBackend(ApplianceConfig.Backend b) throws StartupException {
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    try {
      for (ApplianceConfig.Store store : b.stores()) {
        try {
          ObjectStore s = store.type() == ApplianceConfig.StoreType.LOCAL
              ? new LocalDirectoryObjectStore(store.dir())
              : S3ObjectStore.open(store.s3());
          disks.add(new FragmentObjectStore.Disk(store.name(), s));
        } catch (IOException e) {
          throw new StartupException("cannot open backend store " + store.name() + ": "
              + (store.dir() != null ? reason(e, store.dir()) : e.getMessage()), e);
        }
      }
      FragmentObjectStore fragments = new FragmentObjectStore(b.preset(), disks, b.key());
      fragments.startMaintenance(Duration.ofSeconds(b.repairIntervalSeconds()), Duration.ofHours(b.verifyIntervalHours()));
      log.info("backend: {}", fragments);
      return fragments;
    } catch (StartupException | RuntimeException e) {
      for (FragmentObjectStore.Disk d : disks) {
        try {
          d.store().close();
        } catch (IOException | RuntimeException ce) {
          e.addSuppressed(ce);
        }
      }
      throw e;
    }
  }

  private static Engine startEngine(ApplianceConfig config, ObjectStore backend, DtlConnector dtl,
      org.vsa.appliance.cluster.ClusterController controller) throws StartupException {
    try {
      if (controller != null) {
        // nothing found on local flash opens before this node holds it through the cluster's arbiter
        return Engine.start(config.engineConfig(backend), dtl, Engine.SYSTEM_BOOT_ID, controller::leaseFor);
      }
      return Engine.start(config.engineConfig(backend), dtl);
    } catch (IOException e) {
      log.debug("the engine failed to start", e);
      throw new StartupException("the engine failed to start: " + reason(e, null), e);
    } catch (RuntimeException e) {
      log.error("the engine failed to start", e);
      throw new StartupException("the engine failed to start: " + e, e);
    }
  }

  private static void createDirectory(String what, Path dir) throws StartupException {
    try {
      Files.createDirectories(dir);
    } catch (FileAlreadyExistsException e) {
      throw new StartupException("cannot create " + what + " " + dir + ": "
          + (dir.toString().equals(e.getFile()) ? "it exists and is not a directory" : e.getFile() + " is not a directory"));
    } catch (IOException e) {
      throw new StartupException("cannot create " + what + " " + dir + ": " + reason(e, dir));
    }
    if (!Files.isWritable(dir)) {
      throw new StartupException(what + " " + dir + " is not writable");
    }
  }

  /** Locks {@code dataDir/vsa.lock} for as long as the channel is open, and writes the pid into it. */
  private static FileChannel lockDataDir(Path dataDir) throws StartupException {
    Path file = dataDir.resolve(LOCK_FILE);
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock held;
      try {
        held = channel.tryLock();
      } catch (OverlappingFileLockException e) {
        held = null;
      }
      if (held == null) {
        String holder = readPid(channel);
        channel.close();
        throw new StartupException("data directory " + dataDir + " is in use by another vsa process"
            + (holder.isEmpty() ? "" : " (pid " + holder + ")") + "; it holds " + file);
      }
      channel.truncate(0);
      channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
      return channel;
    } catch (IOException e) {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException suppressed) {
          e.addSuppressed(suppressed);
        }
      }
      throw new StartupException("cannot lock the data directory with " + file + ": " + reason(e, file), e);
    }
  }

  private static String readPid(FileChannel channel) {
    try {
      ByteBuffer buf = ByteBuffer.allocate(32);
      channel.read(buf, 0);
      return new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).strip();
    } catch (IOException e) {
      return "";
    }
  }

  /**
   * What went wrong, for one line: NIO's messages are often just the file name. The file is
   * named when it is not {@code subject}, which the caller's message names already.
   */
  static String reason(IOException e, Path subject) {
    if (!(e instanceof FileSystemException)) {
      return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
    FileSystemException fse = (FileSystemException) e;
    String why;
    if (e instanceof AccessDeniedException) {
      why = "permission denied";
    } else if (e instanceof NoSuchFileException) {
      why = "no such file or directory";
    } else if (e instanceof NotDirectoryException) {
      why = "not a directory";
    } else if (e instanceof FileAlreadyExistsException) {
      why = "already exists";
    } else {
      why = fse.getReason() != null ? fse.getReason() : e.getClass().getSimpleName();
    }
    boolean namesSubject = fse.getFile() == null || (subject != null && subject.toString().equals(fse.getFile()));
    return namesSubject ? why : why + " (" + fse.getFile() + ")";
  }

  private static void closeAll(Deque<AutoCloseable> opened, Throwable failure) {
    while (!opened.isEmpty()) {
      try {
        opened.pop().close();
      } catch (Exception | Error e) {
        failure.addSuppressed(e);
      }
    }
  }

  private static boolean closeLogged(String what, AutoCloseable c) {
    try {
      c.close();
      return true;
    } catch (Exception | Error e) {
      log.error("closing the {} failed", what, e);
      return false;
    }
  }
}
