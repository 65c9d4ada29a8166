package org.vsa.nfs;

import com.google.common.util.concurrent.MoreExecutors;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.dcache.oncrpc4j.portmap.OncRpcbindServer;
import org.dcache.oncrpc4j.rpc.OncRpcProgram;
import org.dcache.oncrpc4j.rpc.OncRpcSvc;
import org.dcache.oncrpc4j.rpc.OncRpcSvcBuilder;
import org.dcache.oncrpc4j.rpc.net.IpProtocolType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The NFS gateway: NFSv3 and MOUNT v1/v3 over TCP, one journaled {@link Namespace} per exported
 * vPool. {@link #start} opens the namespaces, listens and (per {@link NfsConfig#portmap()})
 * registers with the portmapper on 111, embedding one when none answers.
 */
public final class NfsServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NfsServer.class);
  private static final long DRAIN_SECONDS = 30;

  private final List<Namespace> namespaces;
  private ExportTable table;
  /** The namespace of each vPool exported since the start, by vPool. */
  private final Map<String, Namespace> byVpool = new HashMap<>();
  private Opener opener;
  private NfsConfig config;
  private VolumeCatalog volumes;
  private final OncRpcSvc nfs;
  private final OncRpcSvc mount;
  private final OncRpcSvc portmap;
  private final ExecutorService workers;
  private final ExecutorService laneThreads;
  private final Nfs3Program program;

  private NfsServer(List<Namespace> namespaces, OncRpcSvc nfs, OncRpcSvc mount, OncRpcSvc portmap,
      ExecutorService workers, ExecutorService laneThreads, Nfs3Program program) {
    this.namespaces = namespaces;
    this.nfs = nfs;
    this.mount = mount;
    this.portmap = portmap;
    this.workers = workers;
    this.program = program;
    this.laneThreads = laneThreads;
  }

  private static ExecutorService pool(String prefix, int threads) {
    AtomicInteger n = new AtomicInteger();
    return Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Lets the calls under way finish (a write in a lane, a durability wait on a worker) before the
   * namespaces close; calls still queued are dropped, unanswered, like those of a stopped server.
   */
  private static void drain(ExecutorService pool) {
    if (pool == null) {
      return;
    }
    pool.shutdown();
    try {
      if (!pool.awaitTermination(DRAIN_SECONDS, TimeUnit.SECONDS)) {
        log.warn("NFS calls still running {} s after the server stopped; closing anyway", DRAIN_SECONDS);
        pool.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      pool.shutdownNow();
    }
  }

  /**
   * How an exported vPool's namespace is opened: by default this node's own ({@link
   * LocalNamespace}, journaled under {@link NfsConfig#namespaceDir()}); in a cluster possibly a
   * namespace forwarded to the node that holds it. The server closes what it opened.
   */
  @FunctionalInterface
  public interface Opener {
    Namespace open(String vpool) throws IOException;
  }

  /** This node's own journaled namespace of each exported vPool. */
  public static Opener localNamespaces(NfsConfig config, VolumeCatalog volumes) {
    return vpool -> LocalNamespace.open(vpool, config.namespaceDir().resolve(vpool), volumes, config.vdiskPatterns(),
        config.vdiskThresholdBytes());
  }

  public static NfsServer start(NfsConfig config, VolumeCatalog volumes) throws IOException {
    return start(config, volumes, localNamespaces(config, volumes));
  }

  /** {@link #start(NfsConfig, VolumeCatalog)} with the exported vPools' namespaces opened by {@code opener}. */
  public static NfsServer start(NfsConfig config, VolumeCatalog volumes, Opener opener) throws IOException {
    List<Namespace> opened = new ArrayList<>();
    OncRpcSvc nfs = null;
    OncRpcSvc mount = null;
    OncRpcSvc portmap = null;
    ExecutorService workers = null;
    ExecutorService laneThreads = null;
    try {
      List<Exported> exported = new ArrayList<>();
      Map<Long, Exported> byNamespace = new HashMap<>();
      for (Export e : config.exports()) {
        Namespace ns = opener.open(e.vpool());
        opened.add(ns);
        Exported x = new Exported(e, ns);
        exported.add(x);
        byNamespace.put(ns.namespaceId(), x);
      }
      // A new WRITE verifier on every start: clients resend UNSTABLE writes not yet COMMITted.
      byte[] verifier = new byte[8];
      new SecureRandom().nextBytes(verifier);
      boolean publish = false;
      if (config.portmap() == NfsConfig.Portmap.REGISTER_OR_EMBED) {
        if (portmapperRunning()) {
          publish = true;
        } else {
          portmap = startPortmapper(config);
          publish = portmap != null;
        }
      }
      workers = pool("vsa-nfs-worker-", config.workerThreads());
      laneThreads = pool("vsa-nfs-lane-", config.workerThreads());
      ExportTable table = new ExportTable(exported);
      Nfs3Program nfs3 = new Nfs3Program(table, verifier, workers, new WriteLanes(laneThreads, workers));
      // oncrpc4j runs each call on the selector thread (a direct executor); Nfs3Program hands it
      // on to a worker, or a WRITE to its file's lane, without waiting.
      nfs = service(config, config.nfsPort(), "vsa-nfs", publish)
          .withWorkerThreadExecutionService(MoreExecutors.newDirectExecutorService())
          .withRpcService(new OncRpcProgram(Nfs3Program.PROGRAM, Nfs3Program.VERSION), nfs3)
          .build();
      MountProgram mnt = new MountProgram(table);
      mount = service(config, config.mountPort(), "vsa-mountd", publish)
          .withWorkerThreadPoolSize(4) // an MNT may wait out a takeover (MountProgram.UNAVAILABLE_WAIT_MILLIS)
          .withRpcService(new OncRpcProgram(MountProgram.PROGRAM, 1), mnt)
          .withRpcService(new OncRpcProgram(MountProgram.PROGRAM, 3), mnt)
          .build();
      DroppedReplies.install();
      nfs.start();
      RpcGuard.install(nfs);
      mount.start();
      RpcGuard.install(mount);
      NfsServer s = new NfsServer(opened, nfs, mount, portmap, workers, laneThreads, nfs3);
      s.table = table;
      for (Exported x : exported) {
        s.byVpool.put(x.export().vpool(), x.namespace());
      }
      s.config = config;
      s.volumes = volumes;
      s.opener = opener;
      log.info("NFS serving {} on {} (mount {}), portmapper: {}", config.exports().stream().map(Export::path).toList(),
          s.localAddress(), s.mountAddress(), publish ? (portmap != null ? "embedded" : "registration asked of the running one") : "none");
      return s;
    } catch (IOException | RuntimeException e) {
      stopQuietly(mount);
      stopQuietly(nfs);
      drain(laneThreads);
      drain(workers);
      for (Namespace ns : opened) {
        try {
          ns.close();
        } catch (IOException x) {
          e.addSuppressed(x);
        }
      }
      stopQuietly(portmap);
      throw e;
    }
  }

  /** Whether a portmapper accepts connections on 111 (a quick TCP probe; oncrpc4j's waits seconds on UDP). */
  private static boolean portmapperRunning() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), 111), 500);
      return true;
    } catch (IOException e) {
      log.info("no portmapper answers on 111 ({}); starting one", e.getMessage());
      return false;
    }
  }

  /**
   * Starts a portmapper on 111, listening on the bind address if that is a loopback one, otherwise
   * on every address, so that both the local registration and remote clients reach it. Null if it
   * cannot (port 111 needs root or CAP_NET_BIND_SERVICE): NFS then runs without one, and clients
   * must be given the ports.
   */
  private static OncRpcSvc startPortmapper(NfsConfig config) throws IOException {
    OncRpcbindServer rpcbind = new OncRpcbindServer();
    OncRpcSvcBuilder b = new OncRpcSvcBuilder()
        .withPort(111)
        .withTCP()
        .withUDP()
        .withoutAutoPublish()
        .withSameThreadIoStrategy()
        .withSelectorThreadPoolSize(1)
        .withServiceName("vsa-portmap")
        .withRpcService(new OncRpcProgram(100000, 2), rpcbind);
    if (InetAddress.getByName(config.bindAddress()).isLoopbackAddress()) {
      b.withBindAddress(config.bindAddress());
    }
    OncRpcSvc svc = b.build();
    try {
      svc.start();
      return svc;
    } catch (IOException e) {
      log.warn("cannot start a portmapper on 111 ({}); NFS runs without one: clients must be given the NFS and "
          + "MOUNT ports", e.toString());
      stopQuietly(svc);
      return null;
    }
  }

  private static OncRpcSvcBuilder service(NfsConfig config, int port, String name, boolean publish) {
    OncRpcSvcBuilder b = new OncRpcSvcBuilder()
        .withTCP()
        .withBindAddress(config.bindAddress())
        .withPort(port)
        .withServiceName(name)
        .withWorkerThreadIoStrategy()
        .withSelectorThreadPoolSize(1);
    return publish ? b.withAutoPublish() : b.withoutAutoPublish();
  }

  private static void stopQuietly(OncRpcSvc svc) {
    if (svc != null) {
      try {
        svc.stop();
      } catch (IOException | RuntimeException e) {
        log.warn("stopping {} failed: {}", svc, e.toString());
      }
    }
  }

  /** Where the NFS program listens. */
  public InetSocketAddress localAddress() {
    return nfs.getInetSocketAddress(IpProtocolType.TCP);
  }

  /** Where the MOUNT program listens. */
  public InetSocketAddress mountAddress() {
    return mount.getInetSocketAddress(IpProtocolType.TCP);
  }

  /** The exports served now. */
  public synchronized List<Export> exports() {
    return table.all().stream().map(Exported::export).toList();
  }

  /**
   * Serves {@code exports} from now on, replacing the ones before: a vPool exported for the first
   * time has its namespace opened; a changed rule applies to the next MOUNT and the next call; a
   * removed export's file handles go stale (its namespace stays open until the server closes, so
   * that calls under way finish). Paths must be unique and not nested in one another, and each vPool exported once.
   *
   * @throws IllegalArgumentException for a bad table (nothing changes)
   * @throws IOException when a new namespace cannot be opened (nothing changes)
   */
  public synchronized void setExports(List<Export> exports) throws IOException {
    for (int i = 0; i < exports.size(); i++) {
      for (int j = 0; j < exports.size(); j++) {
        String a = exports.get(i).path();
        String b = exports.get(j).path();
        if (i != j && (a.equals(b) || b.startsWith(a + "/"))) {
          throw new IllegalArgumentException("export path " + b + (a.equals(b) ? " is given twice" : " is inside " + a));
        }
        if (i != j && exports.get(i).vpool().equals(exports.get(j).vpool())) {
          throw new IllegalArgumentException("vPool " + exports.get(i).vpool() + " is exported twice (" + a + ", " + b
              + "): one export per vPool");
        }
      }
    }
    List<Exported> next = new ArrayList<>();
    for (Export e : exports) {
      Namespace ns = byVpool.get(e.vpool());
      if (ns == null) {
        ns = opener.open(e.vpool());
        namespaces.add(ns);
        byVpool.put(e.vpool(), ns);
      }
      next.add(new Exported(e, ns));
    }
    table.set(next);
    log.info("NFS exports now: {}", exports.stream().map(x -> x.path() + " (vPool " + x.vpool() + ", " + x.clients().size()
        + " client rule(s))").toList());
  }

  /** Stops listening, then makes the namespaces' journals durable and closes them. */
  @Override
  public void close() throws IOException {
    stopQuietly(mount);
    stopQuietly(nfs);
    drain(laneThreads);
    drain(workers);
    program.close();
    IOException first = null;
    for (Namespace ns : namespaces) {
      try {
        ns.close();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    stopQuietly(portmap);
    if (first != null) {
      throw first;
    }
  }

  /** READs answered from ranges read ahead, and ranges read for nothing (tests). */
  long[] readAheadCounts() {
    return program.readAheadCounts();
  }

  /** Waits for the ranges being read ahead (tests). */
  boolean awaitReadAhead(long timeoutMillis) throws InterruptedException {
    return program.awaitReadAhead(timeoutMillis);
  }
}
