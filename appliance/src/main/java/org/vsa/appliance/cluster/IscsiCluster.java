package org.vsa.appliance.cluster;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;
import org.vsa.iscsi.TargetLocator;
import org.vsa.iscsi.VolumeLookup;

/**
 * The iSCSI target of this node bound to its cluster: every vDisk of the cluster is a target of
 * its own ({@link IscsiConfig#vdiskTargetName}, LUN 0 = the vDisk) that any node's portal answers.
 *
 * <ul>
 *   <li>As the target's {@link TargetLocator}: a per-vDisk target whose owner is this node is
 *       served here; one owned by another live node is redirected to that node's {@code iscsi}
 *       endpoint (portal group 1, the one every vsa target uses); one that no node serves right now
 *       (a takeover is under way, the owner's endpoint is not known, this node is handing it over)
 *       answers "service unavailable" (0x0301), which initiators retry; a name that is neither a
 *       cluster vDisk's target nor a target of the static configuration ({@code iscsi.targets}) is
 *       "not found". Static targets are served as without a cluster. The locator answers from the
 *       directory's memory, never blocks, and never throws (a failing directory reads as
 *       "unavailable", logged).
 *   <li>Per-vDisk targets follow ownership: at {@link #bind} and after every change the directory
 *       reports, the target of each vDisk this node now serves is added, and that of each vDisk it
 *       no longer serves is removed and its sessions dropped, so that the initiators log in again
 *       and are redirected. The work runs on a thread of its own, never on the directory's.
 *   <li>{@link #leaving}: the controller calls it before it fences, releases or forgets a vDisk:
 *       the target is removed and its sessions are dropped before it returns, so no command of
 *       this node is acknowledged for that vDisk afterwards.
 * </ul>
 *
 * Nothing here throws into the control plane: failures are logged.
 */
public final class IscsiCluster implements TargetLocator, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IscsiCluster.class);
  /** The portal group tag of every vsa portal (the target answers TargetPortalGroupTag=1). */
  static final int PORTAL_GROUP_TAG = 1;
  /** How long {@link #leaving} and a sync wait for the dropped sessions' running commands. */
  static final long DRAIN_WAIT_SECONDS = 30;
  private static final String PREFIX = IscsiConfig.VDISK_TARGET_PREFIX;

  private final IscsiTarget target;
  private final ClusterDirectory directory;
  private final VolumeLookup volumes;
  /** Targets of the static configuration at bind time, lower case: served as without a cluster. */
  private final Set<String> staticTargets;
  private final ExecutorService worker;
  private final AtomicBoolean syncPending = new AtomicBoolean();
  private volatile boolean closed;

  private final Object lock = new Object();
  /** vDisks whose target this object added and has not removed (guarded by lock). */
  private final Set<String> served = new HashSet<>();
  /**
   * vDisks handed over by {@link #leaving} while the directory may still name this node their owner:
   * not served again until the directory names another owner (or none), or {@link #resume}.
   * Guarded by lock.
   */
  private final Set<String> left = new HashSet<>();

  private IscsiCluster(IscsiTarget target, ClusterDirectory directory, VolumeLookup volumes) {
    this.target = target;
    this.directory = directory;
    this.volumes = volumes;
    Set<String> names = new HashSet<>();
    target.config().targets().forEach(t -> names.add(t.iqn().toLowerCase(Locale.ROOT)));
    this.staticTargets = Set.copyOf(names);
    this.worker = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
      Thread t = new Thread(r, "iscsi-cluster");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Binds {@code target} to the cluster: installs this object as its locator, adds the targets of
   * the vDisks this node serves now (before it returns), and follows the directory's changes from
   * then on. {@code volumes} is the lookup the target was started with (the appliance's
   * {@code engine.handle(name)} metered): a vDisk's target is added only once it finds the vDisk.
   */
  public static IscsiCluster bind(IscsiTarget target, ClusterDirectory directory, VolumeLookup volumes) {
    IscsiCluster c = new IscsiCluster(target, directory, volumes);
    target.locator(c);
    directory.onChange(c::changed);
    c.sync();
    log.info("iSCSI bound to the cluster as node {}: {} per-vDisk target(s) served here", c.self(), c.served().size());
    return c;
  }

  // ---------------------------------------------------------------------------------------------
  // TargetLocator

  @Override
  public Location locate(String iqn) {
    if (iqn == null) {
      return UNKNOWN;
    }
    if (staticTargets.contains(iqn.toLowerCase(Locale.ROOT))) {
      return local(iqn);
    }
    Optional<String> vdisk = IscsiConfig.vdiskOfTargetName(PREFIX, iqn);
    try {
      if (vdisk.isEmpty() || !directory.vdisks().containsKey(vdisk.get())) {
        return local(iqn);
      }
      Location where = where(vdisk.get());
      if (where instanceof Unavailable && ownedHere(vdisk.get())) {
        requestSync(); // owned here but not set up: a login retry is as good a reason as any to look again
      }
      return where;
    } catch (RuntimeException e) {
      log.warn("iSCSI: the cluster directory failed on {}; answering 'service unavailable'", iqn, e);
      return UNAVAILABLE;
    }
  }

  @Override
  public Map<String, Location> directory() {
    Map<String, Location> out = new LinkedHashMap<>();
    for (String vdisk : new TreeSet<>(directory.vdisks().keySet())) {
      String iqn;
      try {
        iqn = IscsiConfig.vdiskTargetName(PREFIX, vdisk);
      } catch (IllegalArgumentException e) {
        continue; // not a name a target can carry; locate() never sees it either
      }
      if (!staticTargets.contains(iqn.toLowerCase(Locale.ROOT))) {
        out.put(iqn, where(vdisk));
      }
    }
    return out;
  }

  /** Where vDisk {@code vdisk}'s target is served now, per the directory. */
  private Location where(String vdisk) {
    Optional<String> owner = directory.owner(vdisk);
    if (owner.isEmpty()) {
      return UNAVAILABLE;
    }
    if (owner.get().equals(directory.self())) {
      synchronized (lock) {
        return served.contains(vdisk) ? HERE : UNAVAILABLE;
      }
    }
    Optional<InetSocketAddress> at = directory.endpoint(owner.get(), ClusterDirectory.ISCSI);
    if (at.isEmpty()) {
      return UNAVAILABLE; // the owner is not a live member (or has no portal): a takeover will follow
    }
    InetSocketAddress a = at.get();
    if (a.getAddress() != null && a.getAddress().isAnyLocalAddress()) {
      log.warn("iSCSI: node {} publishes its portal as {}, which no initiator can reach; vDisk {} answers"
          + " 'service unavailable'", owner.get(), a, vdisk);
      return UNAVAILABLE;
    }
    try {
      return new Elsewhere(a.getHostString(), a.getPort(), PORTAL_GROUP_TAG);
    } catch (IllegalArgumentException e) {
      log.warn("iSCSI: node {} publishes an unusable portal {}: {}", owner.get(), a, e.getMessage());
      return UNAVAILABLE;
    }
  }

  private Location local(String iqn) {
    return target.config().target(iqn).isPresent() ? HERE : UNKNOWN;
  }

  private boolean ownedHere(String vdisk) {
    return directory.owner(vdisk).map(o -> o.equals(directory.self())).orElse(false);
  }

  // ---------------------------------------------------------------------------------------------
  // Ownership changes

  /**
   * Stops serving {@code vdisk} here at once: removes its target (a new login here is then told
   * "service unavailable", or redirected once the directory names another owner), drops its
   * sessions and waits (at most about {@link #DRAIN_WAIT_SECONDS} s plus the target's own bound)
   * until the commands they were running have returned. Call it before fencing, releasing or
   * forgetting the vDisk. The vDisk is not served here again until the directory has named another
   * owner or none ({@link #resume} to serve it again without that). Idempotent; never throws.
   *
   * @return whether every dropped session's commands returned in time (false: logged; some may
   *     still reach the volume, none will be acknowledged)
   */
  public boolean leaving(String vdisk) {
    try {
      String iqn = IscsiConfig.vdiskTargetName(PREFIX, vdisk);
      synchronized (lock) {
        left.add(vdisk);
        if (served.remove(vdisk)) {
          target.removeTarget(iqn);
        }
      }
      return drain(List.of(iqn));
    } catch (RuntimeException e) {
      log.error("iSCSI: could not stop serving vDisk {}", vdisk, e);
      return false;
    }
  }

  /** Cancels {@link #leaving}: the controller keeps {@code vdisk} after all; it is served again if it owns it. */
  public void resume(String vdisk) {
    synchronized (lock) {
      left.remove(vdisk);
    }
    requestSync();
  }

  /**
   * The iSCSI sessions on this node that use the vDisk: those of its per-vDisk target and of any
   * configured target with a LUN of it (empty: not in use over iSCSI here).
   */
  public List<String> sessionsOf(String vdisk) {
    Set<String> out = new java.util.LinkedHashSet<>(); // the per-vDisk target is among the configured ones too
    try {
      out.addAll(target.sessionsOf(IscsiConfig.vdiskTargetName(PREFIX, vdisk)));
    } catch (IllegalArgumentException e) {
      // a name that makes no target name: it has no per-vDisk target
    }
    for (IscsiConfig.Target t : target.config().targets()) {
      if (t.luns().containsValue(vdisk)) {
        out.addAll(target.sessionsOf(t.iqn()));
      }
    }
    return List.copyOf(out);
  }

  /** The vDisks whose per-vDisk target is served here now. */
  public Set<String> served() {
    synchronized (lock) {
      return Set.copyOf(served);
    }
  }

  /** This node's name, as the directory knows it. */
  String self() {
    return directory.self();
  }

  /** The directory's callback: short, on the control plane's thread. */
  private void changed() {
    if (closed) {
      return;
    }
    try {
      forgetLeftMarks(); // now, so that a quick handover and back is not missed by a later sync
    } catch (RuntimeException e) {
      log.warn("iSCSI: reading the cluster directory after a change failed", e);
    }
    requestSync();
  }

  private void forgetLeftMarks() {
    synchronized (lock) {
      left.removeIf(v -> !ownedHere(v));
    }
  }

  /** Runs a sync on the worker; changes that come while one is pending are covered by it. */
  private void requestSync() {
    if (closed || !syncPending.compareAndSet(false, true)) {
      return;
    }
    try {
      worker.execute(() -> {
        syncPending.set(false);
        sync();
      });
    } catch (RejectedExecutionException e) {
      syncPending.set(false); // closed
    }
  }

  /** Adds the targets of the vDisks served here now, removes the others and drops their sessions. */
  private void sync() {
    if (closed) {
      return;
    }
    List<String> dropped = new ArrayList<>();
    try {
      Set<String> want = new TreeSet<>();
      for (String v : directory.vdisks().keySet()) {
        if (ownedHere(v)) {
          want.add(v);
        }
      }
      synchronized (lock) {
        left.removeIf(v -> !want.contains(v));
        want.removeAll(left);
        for (String v : want) {
          // asked again under the lock: a leaving() and a change since the snapshot must not bring back
          // a target (harmless even then: locate() asks the directory before it answers Here)
          if (!served.contains(v) && ownedHere(v)) {
            add(v);
          }
        }
        for (String v : List.copyOf(served)) {
          if (!want.contains(v)) {
            served.remove(v);
            String iqn = IscsiConfig.vdiskTargetName(PREFIX, v);
            target.removeTarget(iqn);
            dropped.add(iqn);
            log.info("iSCSI: vDisk {} is no longer served here; its target is removed and its sessions dropped", v);
          }
        }
      }
    } catch (RuntimeException e) {
      log.warn("iSCSI: following the cluster's ownership failed; trying again at the next change", e);
    }
    if (!dropped.isEmpty()) {
      drain(dropped);
    }
  }

  /** Adds vDisk {@code v}'s target if its volume is there (under lock). */
  private void add(String v) {
    String iqn;
    try {
      iqn = IscsiConfig.vdiskTargetName(PREFIX, v);
    } catch (IllegalArgumentException e) {
      log.warn("iSCSI: vDisk {} cannot have a target of its own: {}", v, e.getMessage());
      return;
    }
    if (staticTargets.contains(iqn.toLowerCase(Locale.ROOT))) {
      return; // the static configuration has it
    }
    if (volumes.volume(v).isEmpty()) {
      log.info("iSCSI: vDisk {} is served by this node but not open here yet; its target waits", v);
      return;
    }
    try {
      target.addTarget(IscsiConfig.Target.forVdisk(PREFIX, v));
    } catch (IllegalArgumentException e) {
      // already there (a previous binding left it): take it over as it is
      log.info("iSCSI: target {} already exists; serving it as vDisk {}'s", iqn, v);
    }
    served.add(v);
  }

  /** Drops the sessions of the targets and waits, bounded, for their running commands. */
  private boolean drain(List<String> iqns) {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (String iqn : iqns) {
      try {
        all.add(target.dropSessions(iqn));
      } catch (RuntimeException e) {
        log.error("iSCSI: dropping the sessions of {} failed", iqn, e);
        return false;
      }
    }
    try {
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(DRAIN_WAIT_SECONDS, TimeUnit.SECONDS);
      return true;
    } catch (TimeoutException e) {
      log.warn("iSCSI: commands of the dropped sessions of {} still running after {} s; they will not be"
          + " acknowledged", iqns, DRAIN_WAIT_SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      log.warn("iSCSI: dropping the sessions of {} failed", iqns, e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      log.warn("iSCSI: interrupted while dropping the sessions of {}", iqns);
    }
    return false;
  }

  /**
   * Stops following the directory (its callback becomes a no-op). The target keeps asking this
   * object where targets are served, and the per-vDisk targets stay, until the target is closed:
   * close this first, then the target.
   */
  @Override
  public void close() {
    closed = true;
    worker.shutdown();
    try {
      if (!worker.awaitTermination(DRAIN_WAIT_SECONDS + 15, TimeUnit.SECONDS)) {
        log.warn("iSCSI: the cluster binding's worker did not stop in time");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** For tests: returns once the syncs asked for so far have run (bounded). */
  void settle() throws Exception {
    worker.submit(() -> { }).get(DRAIN_WAIT_SECONDS + 15, TimeUnit.SECONDS);
  }
}
