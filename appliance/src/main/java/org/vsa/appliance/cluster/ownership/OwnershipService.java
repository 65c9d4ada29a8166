package org.vsa.appliance.cluster.ownership;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import org.vsa.dtl.DtlState;

/**
 * Runs this node's {@link OwnershipMachine} on the real backend and clock: one thread feeds it
 * events (ticks, results of store calls, what the lead reports) and carries out its actions; store
 * calls run on I/O threads and come back as events, so a hung backend call delays nothing but
 * itself (it is reported failed after a timeout, and its late answer is ignored). Engine callbacks
 * ({@link OwnershipActions}) run in order on a third thread.
 *
 * <p>{@link #mayAcknowledge} is lock-free: after every event the service publishes, per vDisk it
 * may acknowledge, the instant its lease ends; the write path compares that with {@code
 * System.nanoTime()}.
 */
public final class OwnershipService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(OwnershipService.class);

  private final ObjectStore store;
  private final String namespace;
  private final Timing timing;
  private final OwnershipActions actions;
  private final OwnershipMachine machine;
  private final ScheduledExecutorService loop;
  private final ExecutorService io;
  private final ExecutorService heartbeatWriter;
  private final ExecutorService callbacks;
  private final AtomicBoolean closed = new AtomicBoolean();
  /** vDisk -> the nanoTime its acknowledgements must stop at, for the vDisks it may acknowledge. */
  private volatile Map<String, Long> acknowledgeUntil = Map.of();
  /** vDisk -> this node's grant, for the vDisks it serves (acknowledging or about to). */
  private volatile Map<String, Grant> grants = Map.of();
  /** vDisk -> epoch and lease end, for the vDisks this node is deleting (see {@link #mayDelete}). */
  private volatile Map<String, Grant> deletable = Map.of();
  /** vDisk -> the node serving it, as this node sees it (see {@link OwnershipMachine#owners}). */
  private volatile Map<String, String> owners = Map.of();
  private volatile Set<String> live = Set.of();
  /** vDisk -> why it has no DTL node, for the vDisks held here without one. */
  private volatile Map<String, String> noDtl = Map.of();
  /** Every vDisk handed over from here has been left out of a stored heartbeat. */
  private volatile boolean handOversPublished = true;
  /** vDisk -> why its automatic takeover is refused, until someone serves it. */
  private final Map<String, String> refusals = new java.util.concurrent.ConcurrentHashMap<>();
  private final List<Runnable> listeners = new java.util.concurrent.CopyOnWriteArrayList<>();

  /**
   * This node's right to a vDisk it serves: the epoch it won, the instant (System.nanoTime) its
   * lease ends, and the DTL state last stored in its heartbeat (null: none stored yet).
   */
  public record Grant(long epoch, long untilNanos, DtlState published) {}
  private volatile boolean heartbeatsPaused;
  /** The lease end a tick is scheduled for (loop thread only). */
  private long leaseTickAt;

  public OwnershipService(ObjectStore store, String namespace, String node, String faultDomain, Timing timing,
      OwnershipActions actions) {
    this.store = Objects.requireNonNull(store, "store");
    this.namespace = Objects.requireNonNull(namespace, "namespace");
    this.timing = Objects.requireNonNull(timing, "timing");
    this.actions = Objects.requireNonNull(actions, "actions");
    this.machine = new OwnershipMachine(node, faultDomain, ThreadLocalRandom.current().nextLong(), timing);
    this.loop = Executors.newSingleThreadScheduledExecutor(r -> thread(r, "ownership-" + node));
    this.io = Executors.newCachedThreadPool(r -> thread(r, "ownership-io-" + node));
    this.heartbeatWriter = Executors.newSingleThreadExecutor(r -> thread(r, "ownership-heartbeat-" + node));
    this.callbacks = Executors.newSingleThreadExecutor(r -> thread(r, "ownership-actions-" + node));
  }

  private static Thread thread(Runnable r, String name) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    return t;
  }

  /** Creates the cluster namespace when missing and starts heartbeating. */
  public void start() throws IOException {
    store.createNamespace(namespace);
    long tick = Math.max(1_000_000L, timing.heartbeatNanos() / 4);
    loop.scheduleWithFixedDelay(() -> feed(new Event.Tick(System.nanoTime())), 0, tick, TimeUnit.NANOSECONDS);
    log.info("ownership of node {} started (namespace '{}', heartbeat {} ms, lease {} ms, margin {} ms)",
        machine.self(), namespace, timing.heartbeatNanos() / 1_000_000, timing.leaseNanos() / 1_000_000,
        timing.marginNanos() / 1_000_000);
  }

  // ---- what the lead calls

  /** The vDisks of the cluster. */
  public void setVdisks(Set<String> vdisks) {
    setVdisks(vdisks, Set.of());
  }

  /** The vDisks of the cluster, and those of them being deleted (see {@link Event.VdisksChanged}). */
  public void setVdisks(Set<String> vdisks, Set<String> deleting) {
    Set<String> gone = Set.copyOf(deleting);
    Set<String> copy = new java.util.TreeSet<>();
    for (String v : vdisks) {
      try {
        Records.claimName(v, 1); // checks the name fits a claim object
        copy.add(v);
      } catch (IllegalArgumentException e) {
        log.error("vDisk {} cannot be owned through the cluster (its name does not fit a claim record: {}); it is"
            + " served by no node", v, e.getMessage());
      }
    }
    Set<String> del = new java.util.TreeSet<>(gone);
    del.retainAll(copy);
    submit(() -> feed(new Event.VdisksChanged(System.nanoTime(), copy, del)));
  }

  /**
   * The DTL state of a vDisk this node serves, as the engine sees it: the state of its stream to
   * {@code dtlNode} (null: standalone) under ownership {@code epoch}. A report about another DTL node
   * or epoch than the vDisk has now is ignored (see {@link Event.DtlStateReported}).
   */
  public void reportDtlState(String vdisk, long epoch, String dtlNode, DtlState state) {
    submit(() -> feed(new Event.DtlStateReported(System.nanoTime(), vdisk, epoch, dtlNode, state)));
  }

  /** The nodes that publish a DTL endpoint now: DTL placement picks only among them. */
  public void setDtlNodes(Set<String> nodes) {
    Set<String> copy = Set.copyOf(nodes);
    submit(() -> feed(new Event.DtlNodes(System.nanoTime(), copy)));
  }

  /**
   * The engine handed the vDisk, held here at {@code epoch}, over through the backend (see {@link
   * Event.HandedOver}): this node's heartbeats stop listing it, and it claims it no more.
   */
  public void handOver(String vdisk, long epoch) {
    submit(() -> feed(new Event.HandedOver(System.nanoTime(), vdisk, epoch)));
  }

  /**
   * Waits (at most {@code timeout}) until a heartbeat that no longer lists the vDisks handed over
   * so far is stored; false if none was in time (takers then read the last one that does).
   */
  public boolean awaitHandOversPublished(java.time.Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      loop.submit(() -> { }).get(timeout.toMillis(), TimeUnit.MILLISECONDS); // the hand-overs asked so far are fed
    } catch (Exception e) {
      return false;
    }
    while (!handOversPublished) {
      if (System.nanoTime() - deadline > 0 || closed.get()) {
        return false;
      }
      java.util.concurrent.locks.LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    return true;
  }

  /** Why a vDisk served here has no DTL node (empty: it has one, or it is not served here). */
  public java.util.Optional<String> noDtlReason(String vdisk) {
    return java.util.Optional.ofNullable(noDtl.get(vdisk));
  }

  /** How the engine's deletion of a vDisk this node holds ({@link OwnershipActions#delete}) ended. */
  public void reportDeleted(String vdisk, long epoch, boolean done) {
    submit(() -> feed(new Event.DataDeleted(System.nanoTime(), vdisk, epoch, done)));
  }

  /**
   * May this node delete the vDisk's data now: it holds it at {@code epoch}, its lease holds, and
   * the machine asked for the deletion? Lock-free, like {@link #mayAcknowledge}.
   */
  public boolean mayDelete(String vdisk, long epoch) {
    Grant g = deletable.get(vdisk);
    return g != null && g.epoch() == epoch && System.nanoTime() - g.untilNanos() < 0;
  }

  /** The operator's order: take the vDisk over even though its DTL was not in sync. */
  public void force(String vdisk) {
    submit(() -> feed(new Event.Force(System.nanoTime(), vdisk)));
  }

  /** May the write path acknowledge a write of this vDisk now? */
  public boolean mayAcknowledge(String vdisk) {
    Long until = acknowledgeUntil.get(vdisk);
    return until != null && System.nanoTime() - until < 0;
  }

  /**
   * May the write path acknowledge a write of this vDisk under {@code epoch} now, given the DTL
   * state it sees now? As {@link #mayAcknowledge(String)}, and also no when a newer epoch replaced
   * {@code epoch}, or when the DTL left OK_SYNC and no heartbeat says so yet (a takeover would
   * count on a DTL that lacks the write). {@code dtlNow} null: the vDisk is being opened and has
   * no DTL state yet (it acknowledges nothing until it has one).
   */
  public boolean mayAcknowledge(String vdisk, long epoch, DtlState dtlNow) {
    Grant g = grants.get(vdisk);
    return g != null && g.epoch == epoch && mayAcknowledge(vdisk)
        && (dtlNow == null || dtlNow == DtlState.OK_SYNC || g.published != DtlState.OK_SYNC);
  }

  /** This node's grant of the vDisk while it serves it (acknowledging or about to). */
  public java.util.Optional<Grant> grant(String vdisk) {
    return java.util.Optional.ofNullable(grants.get(vdisk));
  }

  /** vDisk -> the node serving it now, as this node sees it (absent: none known). */
  public Map<String, String> owners() {
    return owners;
  }

  /** The nodes this node counts as alive now (their heartbeats change; itself while its lease holds). */
  public Set<String> live() {
    return live;
  }

  /** vDisk -> why its automatic takeover was refused (the operator can {@link #force} it). */
  public Map<String, String> refusals() {
    return Map.copyOf(refusals);
  }

  /** Runs (on the service's thread; keep it short) whenever {@link #owners} or {@link #grant} changed. */
  public void onChange(Runnable r) {
    listeners.add(r);
  }

  public String node() {
    return machine.self();
  }

  /** The epoch under which this node holds the vDisk, 0 when it does not (read on the service's thread). */
  public long epoch(String vdisk) {
    try {
      return loop.submit(() -> machine.epoch(vdisk)).get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("ownership service of node " + machine.self() + " does not answer", e);
    }
  }

  /** The DTL node the machine placed a vDisk held here on, or null (read on the service's thread). */
  public String dtlNode(String vdisk) {
    try {
      return loop.submit(() -> machine.dtlNode(vdisk)).get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("ownership service of node " + machine.self() + " does not answer", e);
    }
  }

  /** Runs {@code r} on the thread that carries out the actions, after those already decided. */
  public void runAction(Runnable r) {
    callback(r);
  }

  /** Tests: stop writing heartbeats (a node cut from the backend, or stuck), or resume. */
  void pauseHeartbeats(boolean paused) {
    heartbeatsPaused = paused;
  }

  /** Tests: the service's thread stops for this long, as in a process pause (stop the world, SIGSTOP). */
  public void freezeForTest(long millis) {
    freezeFor(millis);
  }

  void freezeFor(long millis) {
    submit(() -> {
      try {
        Thread.sleep(millis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
  }

  // ---- the loop

  private void submit(Runnable r) {
    try {
      loop.execute(r);
    } catch (RejectedExecutionException e) {
      if (!closed.get()) {
        throw e;
      }
    }
  }

  /** On the loop thread only. */
  private void feed(Event e) {
    if (closed.get()) {
      return;
    }
    List<Action> out;
    try {
      out = machine.on(e);
    } catch (RuntimeException ex) {
      log.error("ownership machine of node {} failed on {}; stopping every acknowledgement", machine.self(), e, ex);
      acknowledgeUntil = Map.of();
      deletable = Map.of();
      return;
    }
    long now = System.nanoTime();
    Map<String, Long> until = new HashMap<>();
    for (String v : machine.held()) {
      if (machine.mayAcknowledge(v, now)) {
        until.put(v, machine.leaseUntil());
      }
    }
    acknowledgeUntil = Map.copyOf(until);
    Map<String, Grant> d = new HashMap<>();
    for (String v : machine.held()) {
      if (machine.mayDelete(v, machine.epoch(v), now)) {
        d.put(v, new Grant(machine.epoch(v), machine.leaseUntil(), null));
      }
    }
    deletable = Map.copyOf(d);
    Map<String, Grant> g = new HashMap<>();
    for (String v : machine.held()) {
      if (machine.serving(v, now)) {
        g.put(v, new Grant(machine.epoch(v), machine.leaseUntil(), machine.published(v)));
      }
    }
    Map<String, String> o = machine.owners(now);
    live = Set.copyOf(machine.live(now));
    Map<String, String> why = new HashMap<>();
    for (String v : machine.held()) {
      String r = machine.noDtlReason(v);
      if (r != null) {
        why.put(v, r);
      }
    }
    noDtl = Map.copyOf(why);
    handOversPublished = machine.handOversPublished();
    refusals.keySet().removeAll(o.keySet());
    boolean changed = !o.equals(owners) || !g.keySet().equals(grants.keySet());
    grants = Map.copyOf(g);
    owners = Map.copyOf(o);
    if (changed) {
      for (Runnable l : listeners) {
        try {
          l.run();
        } catch (RuntimeException ex) {
          log.warn("an ownership listener failed", ex);
        }
      }
    }
    if (!until.isEmpty() && machine.leaseUntil() != leaseTickAt) {
      // A tick at the lease's end, so that StopAcknowledging goes out on time (the gate is exact anyway).
      leaseTickAt = machine.leaseUntil();
      long delay = leaseTickAt - now;
      loop.schedule(() -> feed(new Event.Tick(System.nanoTime())), Math.max(0, delay), TimeUnit.NANOSECONDS);
    }
    for (Action a : out) {
      carryOut(a);
    }
  }

  private void carryOut(Action a) {
    if (a instanceof Action.WriteHeartbeat w) {
      long started = System.nanoTime();
      long seq = w.heartbeat().seq();
      byte[] bytes = Records.encode(w.heartbeat());
      // one at a time, in order: a write reported as timed out may still land, and must not land after a newer one
      callStore(heartbeatWriter, "heartbeat write", timing.heartbeatNanos(), () -> {
        if (heartbeatsPaused) {
          throw new IOException("heartbeats paused (test)");
        }
        store.put(namespace, Records.heartbeatName(machine.self()), bytes);
        return Boolean.TRUE;
      }, ok -> new Event.HeartbeatWritten(System.nanoTime(), started, seq, ok != null));
    } else if (a instanceof Action.ReadHeartbeats) {
      long started = System.nanoTime();
      callStore("heartbeat read", timing.heartbeatNanos() * 2, this::readHeartbeats,
          map -> new Event.HeartbeatsRead(System.nanoTime(), started, map == null ? Map.of() : map, map == null));
    } else if (a instanceof Action.ReadClaims r) {
      long started = System.nanoTime();
      Claim[] highest = new Claim[1];
      callStore("claims read of " + r.vdisk(), timing.leaseNanos(), () -> {
        highest[0] = readHighestClaim(r.vdisk());
        return Boolean.TRUE;
      }, ok -> new Event.ClaimsRead(System.nanoTime(), r.vdisk(), started, ok == null ? null : highest[0], ok == null));
    } else if (a instanceof Action.MakeClaim c) {
      byte[] bytes = Records.encode(c.claim());
      callStore("claim of " + c.claim().vdisk() + " epoch " + c.claim().epoch(), timing.leaseNanos(),
          () -> store.putIfAbsent(namespace, Records.claimName(c.claim().vdisk(), c.claim().epoch()), bytes),
          won -> new Event.ClaimResult(System.nanoTime(), c.claim().vdisk(), c.claim().epoch(),
              won == null ? Event.Outcome.UNKNOWN : won ? Event.Outcome.WON : Event.Outcome.LOST));
    } else if (a instanceof Action.Adopt ad) {
      log.info("node {} serves vDisk {} at epoch {} (previous owner {}, its DTL on {}{})", machine.self(), ad.vdisk(),
          ad.epoch(), ad.oldOwner(), ad.dtlNodeOfOldOwner(), ad.forced() ? ", forced by the operator" : "");
      callback(() -> actions.adopt(ad.vdisk(), ad.epoch(), ad.oldOwner(), ad.dtlNodeOfOldOwner(), ad.forced()));
    } else if (a instanceof Action.StopAcknowledging s) {
      log.warn("node {} stops acknowledging writes of vDisk {}: {}", machine.self(), s.vdisk(), s.reason());
      callback(() -> actions.stopAcknowledging(s.vdisk()));
    } else if (a instanceof Action.Release r) {
      log.warn("node {} releases vDisk {}: {}", machine.self(), r.vdisk(), r.reason());
      callback(() -> actions.release(r.vdisk()));
    } else if (a instanceof Action.SetDtlPeer p) {
      if (p.node() == null) {
        log.warn("node {}: vDisk {} has no DTL: {}; its writes are in this node's write buffer alone until they"
            + " reach the backend, and a takeover after this node fails is refused", machine.self(), p.vdisk(),
            p.noDtlReason());
      } else {
        log.info("node {}: the DTL of vDisk {} goes to node {}", machine.self(), p.vdisk(), p.node());
      }
      callback(() -> actions.setDtlPeer(p.vdisk(), p.node()));
    } else if (a instanceof Action.Delete d) {
      log.warn("node {} deletes vDisk {} (it holds it at epoch {})", machine.self(), d.vdisk(), d.epoch());
      callback(() -> actions.delete(d.vdisk(), d.epoch()));
    } else if (a instanceof Action.Closed c) {
      log.info("node {}: the name of deleted vDisk {} is closed at epoch {}", machine.self(), c.vdisk(), c.epoch());
      callback(() -> actions.closed(c.vdisk(), c.epoch()));
    } else if (a instanceof Action.Refused r) {
      log.error("{}", r.reason());
      refusals.put(r.vdisk(), r.reason());
      callback(() -> actions.refused(r.vdisk(), r.reason()));
    }
  }

  private Map<String, Heartbeat> readHeartbeats() throws IOException {
    Map<String, Heartbeat> out = new TreeMap<>();
    for (String name : store.list(namespace, Records.HEARTBEAT_PREFIX)) {
      byte[] bytes;
      try {
        bytes = store.get(namespace, name);
      } catch (NoSuchObjectException gone) {
        continue;
      }
      try {
        Heartbeat h = Records.decodeHeartbeat(bytes, name);
        if (name.equals(Records.heartbeatName(h.node()))) {
          out.put(h.node(), h);
        } else {
          log.warn("heartbeat object {} holds the heartbeat of node {}; ignored", name, h.node());
        }
      } catch (IOException bad) {
        log.warn("{}; ignored", bad.getMessage());
      }
    }
    return out;
  }

  private Claim readHighestClaim(String vdisk) throws IOException {
    List<String> names = new ArrayList<>(store.list(namespace, Records.claimPrefix(vdisk)));
    // Sorted by name, and 12-digit epochs sort as numbers: the highest valid one wins.
    for (int i = names.size() - 1; i >= 0; i--) {
      long epoch = Records.claimEpoch(vdisk, names.get(i));
      if (epoch < 0) {
        continue;
      }
      Claim c;
      try {
        c = Records.decodeClaim(store.get(namespace, names.get(i)), names.get(i));
      } catch (NoSuchObjectException unreadable) {
        continue; // created on a fragment store whose winner is still writing it
      }
      if (c.epoch() != epoch || !c.vdisk().equals(vdisk)) {
        throw new IOException("claim object " + names.get(i) + " holds epoch " + c.epoch() + " of vDisk " + c.vdisk());
      }
      return c;
    }
    return null;
  }

  private interface StoreCall<T> {
    T call() throws IOException;
  }

  private interface Report<T> {
    Event event(T resultOrNull);
  }

  /** Runs a store call on an I/O thread; its event (null result: failed) reaches the loop once, by its timeout at the latest. */
  private <T> void callStore(String what, long timeoutNanos, StoreCall<T> call, Report<T> report) {
    callStore(io, what, timeoutNanos, call, report);
  }

  private <T> void callStore(ExecutorService on, String what, long timeoutNanos, StoreCall<T> call,
      Report<T> report) {
    AtomicBoolean reported = new AtomicBoolean();
    try {
      on.execute(() -> {
        T result = null;
        try {
          result = call.call();
        } catch (IOException | RuntimeException e) {
          log.debug("node {}: {} failed: {}", machine.self(), what, e.toString());
        }
        if (reported.compareAndSet(false, true)) {
          T r = result;
          submit(() -> feed(report.event(r)));
        }
      });
      loop.schedule(() -> {
        if (reported.compareAndSet(false, true)) {
          log.warn("node {}: {} did not answer within {} ms", machine.self(), what, timeoutNanos / 1_000_000);
          feed(report.event(null));
        }
      }, timeoutNanos, TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      if (!closed.get()) {
        throw e;
      }
    }
  }

  private void callback(Runnable r) {
    try {
      callbacks.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException e) {
          log.error("node {}: an ownership action failed", machine.self(), e);
        }
      });
    } catch (RejectedExecutionException e) {
      if (!closed.get()) {
        throw e;
      }
    }
  }

  /** Stops heartbeating (the lease then lapses on its own: others take over after it). */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    acknowledgeUntil = Map.of();
    deletable = Map.of();
    grants = Map.of();
    owners = Map.of();
    loop.shutdownNow();
    io.shutdownNow();
    heartbeatWriter.shutdownNow();
    callbacks.shutdown();
    try {
      loop.awaitTermination(5, TimeUnit.SECONDS);
      callbacks.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
