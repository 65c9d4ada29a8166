package org.vsa.iscsi;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.iscsi.pdu.Framing;
import org.vsa.iscsi.pdu.PduDecoder;
import org.vsa.iscsi.pdu.PduEncoder;
import org.vsa.iscsi.scsi.LogicalUnit;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Verify;

/**
 * The iSCSI target: a TCP listener whose connections each run one session (MaxConnections=1,
 * ErrorRecoveryLevel=0) against the configured targets' LUNs.
 *
 * <pre>
 *   IscsiTarget t = IscsiTarget.start(IscsiConfig.embeddedDefault(), engine::volume);
 *   ...
 *   t.close();
 * </pre>
 */
public final class IscsiTarget implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IscsiTarget.class);
  /** Largest write (Expected Data Transfer Length) buffered for one command. */
  static final int MAX_DATA_OUT_BYTES = 8 << 20 | 4096;

  /** Replaced (never mutated) when a LUN is mapped or unmapped at runtime; sessions bind LUNs at login. */
  private volatile IscsiConfig config;
  private final VolumeLookup volumes;
  private final EventLoopGroup boss;
  private final EventLoopGroup loops;
  private final ThreadPoolExecutor workers;
  private final Channel server;
  private final AtomicInteger tsih = new AtomicInteger();
  /**
   * Write buffers and not-yet-sent read data of every connection together stay below this;
   * beyond it commands get TASK SET FULL.
   */
  static final long DATA_OUT_BUDGET_BYTES = 256L << 20;
  private final java.util.concurrent.atomic.AtomicLong dataOutBytes = new java.util.concurrent.atomic.AtomicLong();
  /** Logical units by target and LUN, created once so that SCSI state (reservations, WCE) is shared by sessions. */
  private final Map<String, LogicalUnit> units = new ConcurrentHashMap<>();
  /** Normal sessions by initiator name, ISID and target, for session reinstatement. */
  private final Map<String, Connection> sessions = new ConcurrentHashMap<>();
  /** Every open connection, logging in or not: what {@link #dropSessions} looks through. */
  private final java.util.Set<Connection> live = ConcurrentHashMap.newKeySet();
  /** Where targets are served; null: the configured targets here, no others (single node). */
  private volatile TargetLocator locator;
  private final RedirectGuard redirects = new RedirectGuard(System::nanoTime);

  private IscsiTarget(IscsiConfig config, VolumeLookup volumes, TargetLocator locator) throws IOException {
    this.config = config;
    this.volumes = volumes;
    this.locator = locator;
    AtomicInteger n = new AtomicInteger();
    this.workers = new ThreadPoolExecutor(config.workerThreads(), config.workerThreads(), 30, TimeUnit.SECONDS,
        new ArrayBlockingQueue<>(config.workerThreads() * 256), r -> {
          Thread t = new Thread(r, "iscsi-worker-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    this.boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("iscsi-accept", true),
        NioIoHandler.newFactory());
    this.loops = new MultiThreadIoEventLoopGroup(Math.max(2, Runtime.getRuntime().availableProcessors()),
        new DefaultThreadFactory("iscsi-io", true), NioIoHandler.newFactory());
    ServerBootstrap b = new ServerBootstrap()
        .group(boss, loops)
        .channel(NioServerSocketChannel.class)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.SO_KEEPALIVE, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 4 << 20))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            Framing framing = new Framing(Params.OUR_MAX_RECV_DATA_SEGMENT);
            ch.pipeline().addLast("decoder", new PduDecoder(framing));
            ch.pipeline().addLast("encoder", new PduEncoder(framing));
            ch.pipeline().addLast("session", new Connection(IscsiTarget.this, framing));
          }
        });
    ChannelFuture bound = b.bind(config.bindAddress(), config.port()).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      shutdownLoops();
      throw new IOException("iSCSI: cannot listen on " + config.bindAddress() + ":" + config.port() + ": "
          + bound.cause(), bound.cause());
    }
    this.server = bound.channel();
  }

  /** Binds the listener; the LUNs' vDisks are looked up at each login, so they may come and go. */
  public static IscsiTarget start(IscsiConfig config, VolumeLookup volumes) throws IOException {
    return start(config, volumes, null);
  }

  /**
   * Like {@link #start(IscsiConfig, VolumeLookup)}, with the control plane's {@link TargetLocator}
   * deciding at each login whether a target is served here, elsewhere (a redirect) or nowhere;
   * null: the configured targets are here and no others exist.
   */
  public static IscsiTarget start(IscsiConfig config, VolumeLookup volumes, TargetLocator locator)
      throws IOException {
    IscsiTarget t = new IscsiTarget(config, volumes, locator);
    log.info("iSCSI target listening on {} with {} target(s): {}", t.localAddress(), config.targets().size(),
        config.targets().stream().map(IscsiConfig.Target::iqn).toList());
    return t;
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) server.localAddress();
  }

  public IscsiConfig config() {
    return config;
  }

  /**
   * Maps {@code vdisk} as LUN {@code lun} of target {@code iqn} while the target runs: sessions
   * that log in from now on see it (REPORT LUNS), sessions already logged in keep their LUNs.
   * IllegalArgumentException if there is no such target, IllegalStateException if the LUN is taken.
   */
  public synchronized void mapLun(String iqn, int lun, String vdisk) {
    IscsiConfig.Target t = config.target(iqn)
        .orElseThrow(() -> new IllegalArgumentException("no iSCSI target " + iqn));
    if (t.luns().containsKey(lun)) {
      throw new IllegalStateException("LUN " + lun + " of iSCSI target " + iqn + " is taken by vDisk " + t.luns().get(lun));
    }
    Map<Integer, String> luns = new java.util.TreeMap<>(t.luns());
    luns.put(lun, vdisk);
    config = config.withTarget(new IscsiConfig.Target(t.iqn(), luns, t.chap(), t.mutualChap()));
    log.info("iSCSI target {}: LUN {} = vDisk {} (for sessions that log in from now on)", t.iqn(), lun, vdisk);
  }

  /** Removes LUN {@code lun} of target {@code iqn} (if mapped) for sessions that log in from now on. */
  public synchronized void unmapLun(String iqn, int lun) {
    IscsiConfig.Target t = config.target(iqn)
        .orElseThrow(() -> new IllegalArgumentException("no iSCSI target " + iqn));
    if (!t.luns().containsKey(lun)) {
      return;
    }
    Map<Integer, String> luns = new java.util.TreeMap<>(t.luns());
    String was = luns.remove(lun);
    config = config.withTarget(new IscsiConfig.Target(t.iqn(), luns, t.chap(), t.mutualChap()));
    units.remove(t.iqn() + "/" + lun);
    log.info("iSCSI target {}: LUN {} (vDisk {}) unmapped", t.iqn(), lun, was);
  }

  /**
   * Sets (or, with both empty, removes) the CHAP credentials of target {@code iqn} for logins from
   * now on; sessions already logged in stay. IllegalArgumentException if there is no such target or
   * mutual CHAP is asked without CHAP.
   */
  public synchronized void setChap(String iqn, java.util.Optional<IscsiConfig.Chap> chap,
      java.util.Optional<IscsiConfig.Chap> mutualChap) {
    IscsiConfig.Target t = config.target(iqn)
        .orElseThrow(() -> new IllegalArgumentException("no iSCSI target " + iqn));
    config = config.withTarget(new IscsiConfig.Target(t.iqn(), t.luns(), chap, mutualChap));
    log.info("iSCSI target {}: CHAP {}{} (for logins from now on)", t.iqn(), chap.isPresent() ? "required" : "off",
        mutualChap.isPresent() ? ", mutual" : "");
  }

  /** Replaces the target locator for logins and discoveries from now on; null: the configured targets only. */
  public void locator(TargetLocator l) {
    this.locator = l;
  }

  /**
   * Adds target {@code t} while the target runs (e.g. {@link IscsiConfig.Target#forVdisk} when this
   * node starts to serve a vDisk). IllegalArgumentException if a target of that name exists.
   */
  public synchronized void addTarget(IscsiConfig.Target t) {
    config = config.plusTarget(t);
    log.info("iSCSI target {} added: LUNs {}", t.iqn(), t.luns());
  }

  /**
   * Removes target {@code iqn} (if there is one) for logins from now on; its sessions stay until
   * {@link #dropSessions}. Returns whether there was one.
   */
  public synchronized boolean removeTarget(String iqn) {
    Optional<IscsiConfig.Target> t = config.target(iqn);
    if (t.isEmpty()) {
      return false;
    }
    config = config.minusTarget(iqn);
    units.keySet().removeIf(k -> k.startsWith(t.get().iqn() + "/"));
    log.info("iSCSI target {} removed", t.get().iqn());
    return true;
  }

  /**
   * Ends every session of target {@code iqn} at once (failover, fencing: this node stops serving
   * it): each of its connections, logged in or still logging in, is closed, and commands in flight
   * on them are aborted. When this method returns, none of those commands will be acknowledged any
   * more, so an initiator's next command fails and it logs in again (then, if the locator says so,
   * it is redirected). Change the {@link TargetLocator} (or {@link #removeTarget}) first, so that
   * such a new login is not let in here again. The future completes once the aborted commands that
   * were already running against the volumes have returned (a write among them may still land on
   * the volume until then, unacknowledged). Waits at most {@link #DROP_WAIT_SECONDS} for the
   * connections' network threads (beyond that, logged: a thread that busy closes them later).
   */
  public java.util.concurrent.CompletableFuture<Void> dropSessions(String iqn) {
    record Drop(java.util.concurrent.CompletableFuture<Boolean> closed, java.util.concurrent.CompletableFuture<Void> done) {}
    List<Drop> drops = new java.util.ArrayList<>();
    for (Connection c : live) {
      Drop d = new Drop(new java.util.concurrent.CompletableFuture<>(), new java.util.concurrent.CompletableFuture<>());
      Runnable drop = () -> c.dropIfTarget(iqn, d.closed(), d.done());
      try {
        if (c.ctx().executor().inEventLoop()) {
          drop.run();
        } else {
          c.ctx().executor().execute(drop);
        }
        drops.add(d);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        // its event loop is gone, and the connection with it
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DROP_WAIT_SECONDS);
    List<java.util.concurrent.CompletableFuture<Void>> drained = new java.util.ArrayList<>();
    int dropped = 0;
    int late = 0;
    for (Drop d : drops) {
      try {
        if (d.closed().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          dropped++;
          drained.add(d.done());
        }
      } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
        late++;
        drained.add(d.done());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        late++;
        drained.add(d.done());
      }
    }
    if (late > 0) {
      log.warn("iSCSI target {}: {} connection(s) not closed by their network threads within {} s; they close"
          + " when those threads get to it", iqn, late, DROP_WAIT_SECONDS);
    }
    log.info("iSCSI target {}: {} session(s) dropped", iqn, dropped);
    return java.util.concurrent.CompletableFuture.allOf(
        drained.toArray(java.util.concurrent.CompletableFuture[]::new));
  }

  /** How long {@link #dropSessions} waits for the connections' network threads to close them. */
  static final int DROP_WAIT_SECONDS = 10;

  /** Where target {@code iqn} is served: the locator's answer, or the local configuration's. */
  TargetLocator.Location locate(String iqn) {
    TargetLocator l = locator;
    if (l != null) {
      return l.locate(iqn);
    }
    return config.target(iqn).isPresent() ? TargetLocator.HERE : TargetLocator.UNKNOWN;
  }

  RedirectGuard redirects() {
    return redirects;
  }

  /**
   * SendTargets=All of a discovery session on the portal {@code local}: every target served here
   * (configured here and, with a locator, placed here by it) at this portal, and every target the
   * locator places elsewhere at its node's address. A locator that fails is logged and left out:
   * the local targets are still listed.
   */
  Map<String, String> sendTargets(String localPortal) {
    TargetLocator l = locator;
    // the locator's directory by lower-case name (iSCSI names compare without case), sorted
    Map<String, Map.Entry<String, TargetLocator.Location>> dir = new java.util.TreeMap<>();
    if (l != null) {
      try {
        Map<String, TargetLocator.Location> d = l.directory();
        if (d != null) {
          d.forEach((iqn, where) -> {
            if (iqn != null && where != null) {
              dir.putIfAbsent(iqn.toLowerCase(java.util.Locale.ROOT), Map.entry(iqn, where));
            }
          });
        }
      } catch (RuntimeException e) {
        log.warn("iSCSI discovery: the target locator's directory failed; listing the local targets only", e);
      }
    }
    Map<String, String> out = new LinkedHashMap<>(); // the configuration's order, then the directory's
    for (IscsiConfig.Target t : config.targets()) {
      Map.Entry<String, TargetLocator.Location> known = dir.remove(t.iqn().toLowerCase(java.util.Locale.ROOT));
      TargetLocator.Location where;
      try {
        where = known != null ? known.getValue() : locate(t.iqn());
      } catch (RuntimeException e) {
        log.warn("iSCSI discovery: the target locator failed on {}; listing it here, where it is configured",
            t.iqn(), e);
        where = TargetLocator.HERE;
      }
      if (where instanceof TargetLocator.Here) {
        out.put(t.iqn(), localPortal);
      } else if (where instanceof TargetLocator.Elsewhere e) {
        out.put(t.iqn(), e.targetAddress());
      }
    }
    dir.values().forEach(known -> {
      if (known.getValue() instanceof TargetLocator.Elsewhere e) {
        out.put(known.getKey(), e.targetAddress());
      }
    });
    return out;
  }

  /** The I_T nexuses (initiator, ISID) logged in to target {@code iqn} now. */
  public java.util.List<String> sessionsOf(String iqn) {
    return nexusesOf(iqn);
  }

  ThreadPoolExecutor workers() {
    return workers;
  }

  boolean reserveDataOut(int bytes) {
    long now = dataOutBytes.addAndGet(bytes);
    if (now > DATA_OUT_BUDGET_BYTES) {
      dataOutBytes.addAndGet(-bytes);
      return false;
    }
    return true;
  }

  void releaseDataOut(int bytes) {
    long now = dataOutBytes.addAndGet(-bytes);
    Verify.that(now >= 0, "data-out budget went negative: %d", now);
  }

  /** For tests: data-out bytes held by commands in flight. */
  long dataOutBytesHeld() {
    return dataOutBytes.get();
  }

  int newTsih() {
    int v;
    do {
      v = tsih.incrementAndGet() & 0xffff;
    } while (v == 0);
    return v;
  }

  /** Resolves the target's LUNs to volumes for a new session; a vDisk that does not exist leaves its LUN out. */
  void bindLuns(Connection c) {
    Map<Integer, LogicalUnit> m = new LinkedHashMap<>();
    for (Map.Entry<Integer, String> e : new java.util.TreeMap<>(c.targetConfig.luns()).entrySet()) {
      Optional<? extends BlockVolume> v = volumes.volume(e.getValue());
      if (v.isEmpty()) {
        log.warn("iSCSI target {} LUN {}: no vDisk {}; the LUN is left out", c.targetConfig.iqn(), e.getKey(),
            e.getValue());
        continue;
      }
      String key = c.targetConfig.iqn() + "/" + e.getKey();
      LogicalUnit lu = units.compute(key, (k, old) -> {
        if (old != null && old.volume() == v.get()) {
          return old;
        }
        LogicalUnit fresh = new LogicalUnit(c.targetConfig.iqn(), e.getKey(), v.get(),
            reservationsFile(c.targetConfig.iqn(), e.getKey(), v.get()));
        String iqn = c.targetConfig.iqn();
        fresh.aborter((nexuses, lun) -> awaitAborts(abortTasks(iqn, nexuses, lun, null)));
        return fresh;
      });
      m.put(e.getKey(), lu);
    }
    c.luns = Map.copyOf(m);
    c.lunList = List.copyOf(m.keySet());
  }

  private java.nio.file.Path reservationsFile(String iqn, int lun, BlockVolume v) {
    if (config.reservationsDir().isEmpty()) {
      return null;
    }
    java.nio.file.Path dir = config.reservationsDir().get();
    try {
      java.nio.file.Files.createDirectories(dir);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot create " + dir, e);
    }
    return dir.resolve("pr-" + v.id() + "-" + iqn.replaceAll("[^A-Za-z0-9.:-]", "_") + "-" + lun);
  }

  /** Session reinstatement: a new session with the same initiator, ISID and target replaces the old one. */
  void sessionStarted(Connection c) {
    Connection old = sessions.put(sessionKey(c), c);
    if (old != null && old != c) {
      old.close("reinstated by a new login with the same ISID");
    }
  }

  /** A dropped session leaves the session table at once (sessionsOf no longer lists it), not when its socket has closed. */
  void sessionDropped(Connection c) {
    if (!c.discovery && c.initiatorName != null && c.targetConfig != null) {
      sessions.remove(sessionKey(c), c);
    }
  }

  void connectionOpened(Connection c) {
    live.add(c);
  }

  void connectionClosed(Connection c) {
    live.remove(c);
    if (!c.discovery && c.initiatorName != null && c.targetConfig != null) {
      sessions.remove(sessionKey(c), c);
      String nexus = c.nexus();
      c.luns.values().forEach(lu -> lu.nexusLost(nexus));
    }
  }

  /**
   * Aborts the tasks on {@code lun} (-1: every LUN) of the target's sessions whose nexus is in
   * {@code nexuses} (null: every session), except {@code except}'s. Completes once the aborted
   * tasks that were already running have finished (their results are dropped).
   */
  java.util.concurrent.CompletableFuture<Void> abortTasks(String targetIqn, java.util.Collection<String> nexuses,
      int lun, Connection except) {
    List<java.util.concurrent.CompletableFuture<Void>> all = new java.util.ArrayList<>();
    for (Connection c : sessions.values()) {
      if (c == except || !c.targetConfig.iqn().equals(targetIqn) || (nexuses != null && !nexuses.contains(c.nexus()))) {
        continue;
      }
      java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
      all.add(done);
      try {
        c.ctx().executor().execute(() -> {
          List<Task> running = c.abortAll(lun).stream().filter(t -> t.submitted && !t.done).toList();
          if (running.isEmpty()) {
            done.complete(null);
            return;
          }
          int[] left = {running.size()};
          for (Task t : running) {
            t.waiters.add(() -> {
              if (--left[0] == 0) {
                done.complete(null);
              }
            });
          }
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        done.complete(null); // its event loop is gone, and with it the session's tasks
      }
    }
    return java.util.concurrent.CompletableFuture.allOf(all.toArray(java.util.concurrent.CompletableFuture[]::new));
  }

  private static boolean awaitAborts(java.util.concurrent.CompletableFuture<Void> f) {
    try {
      f.get(ABORT_WAIT_SECONDS, TimeUnit.SECONDS);
      return true;
    } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
      log.warn("aborted tasks of other sessions did not finish in {} s", ABORT_WAIT_SECONDS);
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** How long PREEMPT AND ABORT waits for the preempted sessions' running commands. */
  static final int ABORT_WAIT_SECONDS = 30;

  /** The I_T nexuses of the target's sessions that are logged in now. */
  java.util.List<String> nexusesOf(String targetIqn) {
    return sessions.values().stream()
        .filter(c -> c.targetConfig.iqn().equals(targetIqn))
        .map(Connection::nexus)
        .distinct()
        .toList();
  }

  private static String sessionKey(Connection c) {
    return c.initiatorName + "|" + c.isid + "|" + c.targetConfig.iqn();
  }

  /** Stops listening, drops every connection, and waits for running commands to finish. */
  @Override
  public void close() {
    server.close().awaitUninterruptibly();
    shutdownLoops();
    log.info("iSCSI target stopped");
  }

  private void shutdownLoops() {
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    workers.shutdown();
    try {
      workers.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
