package org.vsa.appliance.cluster.ownership;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.vsa.dtl.DtlState;

/**
 * One seeded schedule: 3 to 5 {@link OwnershipMachine}s over a simulated arbiter store, in
 * simulated real time. Every fault rate comes from the seed. The store applies a request after a
 * delay and answers after another; a node's requests and answers can be lost, a node can be cut
 * from the store, crash (and restart as a new process), pause (its clock runs on, its events wait),
 * and each node's monotonic clock runs at its own rate within {@link #DRIFT_PPM_MAX}. A request's
 * answer that does not come within a timeout is reported as a failure (a claim as UNKNOWN) while
 * the request may still be applied later, as a slow S3 PUT would be.
 *
 * <p>Checked after every event: no two nodes both may acknowledge writes of one vDisk at that
 * instant (each judged by its own lease on its own clock: a paused node too); adopted epochs of a
 * vDisk strictly grow and each is adopted once; no DTL node is its owner; a refused takeover is not
 * done by another node until the operator forces it. After the faults stop: every vDisk is served
 * by a live node within {@link #LIVENESS_BOUND_NANOS}.
 *
 * <p>DTL: each node's engine keeps one DTL stream per vDisk it serves, to the node last placed
 * ({@link Action.SetDtlPeer}), under the epoch last adopted; the stream's state reports name that
 * node and epoch and arrive late (a report of a replaced stream may come after the new placement).
 * In some schedules one node publishes no DTL endpoint ({@link Event.DtlNodes}). Checked: placement
 * never picks the owner or a node without an endpoint; a stored heartbeat says OK_SYNC for a vDisk
 * only with the DTL node and epoch of a stream that did report OK_SYNC.
 *
 * <p>Deletions: in half the schedules the operator deletes a vDisk or two during the faults (the
 * lead's view reaches each node by a rescan every 2 s), and a deleted name is sometimes made again
 * (a new, empty vDisk). Checked: the backend data is deleted only when no node may acknowledge
 * writes of the vDisk at that instant; after its data is gone no node acknowledges for it until a
 * new vDisk of the name exists; every deletion is done within the bound, and then no node holds
 * the name of a vDisk that is gone.
 */
final class OwnershipSimulation {
  static final long MS = 1_000_000L;
  static final long S = 1_000 * MS;
  static final Timing TIMING = Timing.DEFAULT; // heartbeat 1 s, lease 6 s, margin 1 s
  static final long DRIFT_PPM_MAX = 20_000; // clock rates within +-2 %
  static final long TICK = 500 * MS;
  static final long REQUEST_TIMEOUT = 2 * S;
  static final long LIVENESS_BOUND_NANOS = 30 * S;

  /**
   * A broken cluster, to see the checks catch it: node n0 runs with this timing (a 2 s lease where
   * the others hold 6 s ones, so it claims long before their leases are over).
   */
  Timing n0Timing = TIMING;

  final long seed;
  final SplittableRandom rnd;
  final long faultsUntil;
  final List<String> trace = new ArrayList<>();
  boolean tracing;

  final List<Node> nodes = new ArrayList<>();
  final Set<String> vdisks = new TreeSet<>();
  final Map<String, Heartbeat> storeHeartbeats = new TreeMap<>();
  final Map<String, TreeMap<Long, Claim>> storeClaims = new TreeMap<>();
  final Map<String, Long> adoptedEpoch = new HashMap<>();
  final Map<String, long[]> refusals = new HashMap<>(); // vdisk -> {epoch}
  final Map<String, String> refusedHolder = new HashMap<>();
  /** The refused holder's heartbeat in the store at the refusal: once it changes, the holder came back. */
  final Map<String, Heartbeat> refusedHolderHeartbeat = new HashMap<>();
  final Set<String> forcedVdisks = new TreeSet<>();
  final Map<String, Long> lastAcknowledging = new HashMap<>();
  /** Deletions requested and not done; names whose vDisk was deleted (not made again). */
  final Set<String> requested = new TreeSet<>();
  final Set<String> gone = new TreeSet<>();
  final boolean deletes;
  /** The node that publishes no DTL endpoint in this schedule (null: every node does). */
  final String noDtlEndpoint;
  /** "vdisk epoch dtlNode" of every engine stream that reported OK_SYNC. */
  final Set<String> syncedStreams = new java.util.HashSet<>();

  // stats
  int crashes;
  int pauses;
  int pausesPastLease;
  int takeovers;
  int refusalCount;
  int forcedCount;
  int deletionsRequested;
  int deletionsDone;
  int recreated;

  private final PriorityQueue<Ev> queue = new PriorityQueue<>();
  private long now; // real time
  private long order;
  private final double lossRate;
  private final double slowRate;

  private record Ev(long at, long order, Runnable run) implements Comparable<Ev> {
    @Override
    public int compareTo(Ev o) {
      return at != o.at ? Long.compare(at, o.at) : Long.compare(order, o.order);
    }
  }

  final class Node {
    final String id;
    final String faultDomain;
    final long offset;
    final long ppm;
    OwnershipMachine m;
    boolean crashed;
    long pausedUntil = Long.MIN_VALUE;
    long cutUntil = Long.MIN_VALUE;
    int generation; // bumps at every crash: answers for an earlier process are dropped
    final List<Runnable> held = new ArrayList<>(); // events that arrived while paused
    /** The engine's DTL stream per vDisk (this process): its DTL node and the epoch it writes with. */
    final Map<String, String> enginePeer = new HashMap<>();
    final Map<String, Long> engineEpoch = new HashMap<>();

    Node(String id, String faultDomain, long offset, long ppm) {
      this.id = id;
      this.faultDomain = faultDomain;
      this.offset = offset;
      this.ppm = ppm;
    }

    long clock() {
      return offset + now + now / 1_000_000 * ppm;
    }

    boolean paused() {
      return now < pausedUntil;
    }

    boolean reaches() {
      return !crashed && now >= cutUntil;
    }
  }

  OwnershipSimulation(long seed) {
    this.seed = seed;
    this.rnd = new SplittableRandom(seed);
    int n = 3 + rnd.nextInt(3);
    for (int i = 0; i < n; i++) {
      nodes.add(new Node("n" + i, "fd" + rnd.nextInt(Math.max(1, n - 1)), rnd.nextLong(1L << 40),
          rnd.nextLong(-DRIFT_PPM_MAX, DRIFT_PPM_MAX + 1)));
    }
    int v = 1 + rnd.nextInt(4);
    for (int i = 0; i < v; i++) {
      vdisks.add("vd" + i);
    }
    lossRate = rnd.nextInt(4) == 0 ? 0 : rnd.nextDouble() * 0.1;
    slowRate = rnd.nextDouble() * 0.05;
    faultsUntil = (20 + rnd.nextInt(40)) * S;
    deletes = rnd.nextBoolean();
    noDtlEndpoint = rnd.nextInt(4) == 0 ? nodes.get(rnd.nextInt(n)).id : null;
  }

  void log(String s) {
    if (tracing) {
      trace.add(String.format("%9.3f %s", now / 1e9, s));
    }
  }

  private void at(long when, Runnable r) {
    queue.add(new Ev(when, order++, r));
  }

  // ---- the run

  void run() {
    for (Node n : nodes) {
      start(n);
    }
    scheduleFault(rnd.nextLong(5 * S));
    if (deletes) {
      int count = 1 + rnd.nextInt(2);
      for (int i = 0; i < count; i++) {
        at(rnd.nextLong(2 * S, faultsUntil), this::requestDeletion);
      }
    }
    long end = faultsUntil + LIVENESS_BOUND_NANOS;
    at(faultsUntil + LIVENESS_BOUND_NANOS / 2, this::forceRefused);
    // Bounded: simulated time only moves forward and ends at `end`; each event schedules finitely many.
    while (!queue.isEmpty()) {
      Ev e = queue.poll();
      if (e.at > end) {
        break;
      }
      now = e.at;
      e.run.run();
    }
    now = end;
    checkLiveness();
  }

  private void start(Node n) {
    n.crashed = false;
    n.generation++;
    n.m = new OwnershipMachine(n.id, n.faultDomain, rnd.nextLong(), n.id.equals("n0") ? n0Timing : TIMING);
    n.enginePeer.clear();
    n.engineEpoch.clear();
    int gen = n.generation;
    if (noDtlEndpoint != null) {
      Set<String> with = new TreeSet<>();
      nodes.forEach(o -> with.add(o.id));
      with.remove(noDtlEndpoint);
      deliver(n, gen, node -> new Event.DtlNodes(node.clock(), with));
    }
    deliver(n, gen, node -> new Event.VdisksChanged(node.clock(), vdisks, requested));
    tick(n, gen);
    if (deletes) {
      rescan(n, gen);
    }
  }

  /** The lead's view reaches the node every 2 s (the controller's rescan of the backend). */
  private void rescan(Node n, int gen) {
    at(now + 2 * S, () -> {
      if (n.crashed || n.generation != gen) {
        return;
      }
      deliver(n, gen, node -> new Event.VdisksChanged(node.clock(), vdisks, requested));
      rescan(n, gen);
    });
  }

  /** The operator deletes a vDisk (the request record is stored at once; nodes learn it by rescans). */
  private void requestDeletion() {
    List<String> live = new ArrayList<>(vdisks);
    live.removeAll(requested);
    if (live.isEmpty()) {
      return;
    }
    String v = live.get(rnd.nextInt(live.size()));
    requested.add(v);
    deletionsRequested++;
    log("operator deletes " + v);
  }

  private void tick(Node n, int gen) {
    at(now + TICK, () -> {
      if (n.crashed || n.generation != gen) {
        return;
      }
      deliver(n, gen, node -> new Event.Tick(node.clock()));
      tick(n, gen);
    });
  }

  private interface EventAt {
    Event make(Node n);
  }

  /** Hands an event to the node now (or when its pause ends), then carries out its actions and checks. */
  private void deliver(Node n, int gen, EventAt make) {
    if (n.crashed || n.generation != gen) {
      return;
    }
    if (n.paused()) {
      n.held.add(() -> deliver(n, gen, make));
      return;
    }
    Event e = make.make(n);
    List<Action> actions = n.m.on(e);
    if (tracing && !(e instanceof Event.Tick)) {
      log(n.id + " <- " + e);
    }
    for (Action a : actions) {
      if (tracing) {
        log(n.id + " -> " + a);
      }
      act(n, gen, a);
    }
    check();
  }

  private void act(Node n, int gen, Action a) {
    if (a instanceof Action.WriteHeartbeat w) {
      for (Heartbeat.Owned o : w.heartbeat().owned()) {
        if (o.dtlState() == DtlState.OK_SYNC && !OwnershipMachine.withoutDtl(o.vdisk())
            && !syncedStreams.contains(o.vdisk() + " " + o.epoch() + " " + o.dtlNode())) {
          throw new AssertionError(n.id + " publishes OK_SYNC for " + o.vdisk() + " at epoch " + o.epoch() + " with DTL"
              + " node " + o.dtlNode() + ", whose stream never reported OK_SYNC");
        }
      }
      long started = n.clock();
      request(n, gen, () -> storeHeartbeats.put(n.id, w.heartbeat()), ok -> node ->
          new Event.HeartbeatWritten(node.clock(), started, w.heartbeat().seq(), ok));
    } else if (a instanceof Action.ReadHeartbeats) {
      long started = n.clock();
      Map<String, Heartbeat> snap = new TreeMap<>();
      request(n, gen, () -> snap.putAll(storeHeartbeats), ok -> node ->
          new Event.HeartbeatsRead(node.clock(), started, ok ? snap : Map.of(), !ok));
    } else if (a instanceof Action.ReadClaims r) {
      long started = n.clock();
      Claim[] highest = new Claim[1];
      request(n, gen, () -> {
        TreeMap<Long, Claim> c = storeClaims.get(r.vdisk());
        highest[0] = c == null || c.isEmpty() ? null : c.lastEntry().getValue();
      }, ok -> node -> new Event.ClaimsRead(node.clock(), r.vdisk(), started, ok ? highest[0] : null, !ok));
    } else if (a instanceof Action.MakeClaim c) {
      boolean[] won = new boolean[1];
      request(n, gen, () -> {
        won[0] = storeClaims.computeIfAbsent(c.claim().vdisk(), k -> new TreeMap<>()).putIfAbsent(c.claim().epoch(),
            c.claim()) == null;
      }, ok -> node -> new Event.ClaimResult(node.clock(), c.claim().vdisk(), c.claim().epoch(),
          !ok ? Event.Outcome.UNKNOWN : won[0] ? Event.Outcome.WON : Event.Outcome.LOST));
    } else if (a instanceof Action.Delete d) {
      String v = d.vdisk();
      if (!n.m.mayDelete(v, d.epoch(), n.clock())) {
        throw new AssertionError(n.id + " was asked to delete " + v + " at epoch " + d.epoch() + " it may not delete at");
      }
      if (!requested.contains(v)) {
        // not being deleted: done when nothing of that name exists (it was deleted), called off otherwise
        boolean done = !vdisks.contains(v);
        at(now + delay(), () -> deliver(n, gen, node -> new Event.DataDeleted(node.clock(), v, d.epoch(), done)));
        return;
      }
      // The engine checked the lease just now; the store deletes after a delay (a pause, a slow request).
      request(n, gen, () -> {
        for (Node o : nodes) {
          if (!o.crashed && o.m != null && o.m.mayAcknowledge(v, o.clock())) {
            throw new AssertionError("the data of " + v + " is deleted (by " + n.id + ", epoch " + d.epoch()
                + ") while " + o.id + " may acknowledge writes of it (epoch " + o.m.epoch(v) + ")");
          }
        }
        log(v + " DATA DELETED by " + n.id);
      }, ok -> node -> new Event.DataDeleted(node.clock(), v, d.epoch(), ok));
    } else if (a instanceof Action.Closed c) {
      String v = c.vdisk();
      if (requested.remove(v)) {
        vdisks.remove(v);
        gone.add(v);
        deletionsDone++;
        log(v + " DELETED (closed at epoch " + c.epoch() + " by " + n.id + ")");
        if (now < faultsUntil && rnd.nextBoolean()) {
          at(now + rnd.nextLong(1 * S, 10 * S), () -> {
            gone.remove(v);
            vdisks.add(v);
            recreated++;
            log("operator creates " + v + " again");
          });
        }
      }
    } else if (a instanceof Action.Adopt ad) {
      if (requested.contains(ad.vdisk()) || !vdisks.contains(ad.vdisk())) {
        // the controller reads the records before adopting: being deleted (or gone), it is not served
        deliver(n, gen, node -> new Event.VdisksChanged(node.clock(), vdisks, requested));
        if (!requested.contains(ad.vdisk())) {
          deliver(n, gen, node -> new Event.DataDeleted(node.clock(), ad.vdisk(), ad.epoch(), true)); // gone
        }
        return;
      }
      Long before = adoptedEpoch.get(ad.vdisk());
      if (before != null && ad.epoch() <= before) {
        throw new AssertionError(n.id + " adopted " + ad.vdisk() + " at epoch " + ad.epoch() + ", not above epoch "
            + before + " adopted before");
      }
      long[] refused = refusals.get(ad.vdisk());
      if (refused != null && ad.epoch() == refused[0] + 1 && !forcedVdisks.contains(ad.vdisk())
          && !n.id.equals(refusedHolder.get(ad.vdisk()))
          && refusalStands(ad.vdisk())) {
        throw new AssertionError(n.id + " took " + ad.vdisk() + " over at epoch " + ad.epoch() + " though the takeover"
            + " from " + refusedHolder.get(ad.vdisk()) + " was refused and nobody forced it");
      }
      adoptedEpoch.put(ad.vdisk(), ad.epoch());
      if (ad.oldOwner() != null && !ad.oldOwner().equals(n.id)) {
        takeovers++;
      }
      // The engine restores, then its DTL (on the node placed last, if any) comes up after a while.
      n.engineEpoch.put(ad.vdisk(), ad.epoch());
      String peer = n.enginePeer.get(ad.vdisk());
      engineReports(n, gen, ad.vdisk(), peer, peer == null ? DtlState.OK_STANDALONE : DtlState.CATCHING_UP, 0);
      if (peer != null) {
        engineReports(n, gen, ad.vdisk(), peer, DtlState.OK_SYNC, (100 + rnd.nextInt(900)) * MS);
      }
    } else if (a instanceof Action.SetDtlPeer p) {
      if (n.id.equals(p.node())) {
        throw new AssertionError(n.id + " chose itself as the DTL node of " + p.vdisk());
      }
      if (p.node() != null && p.node().equals(noDtlEndpoint)) {
        throw new AssertionError(n.id + " placed the DTL of " + p.vdisk() + " on " + p.node() + ", which publishes no"
            + " DTL endpoint");
      }
      if (p.node() == null && p.noDtlReason() == null) {
        throw new AssertionError(n.id + " leaves " + p.vdisk() + " without a DTL and says not why");
      }
      // The engine's stream moves there (none: standalone) and reports on it after a while.
      n.enginePeer.put(p.vdisk(), p.node());
      if (p.node() != null) {
        engineReports(n, gen, p.vdisk(), p.node(), rnd.nextInt(8) == 0 && now < faultsUntil ? DtlState.DEGRADED
            : DtlState.OK_SYNC, (100 + rnd.nextInt(1500)) * MS);
      } else {
        engineReports(n, gen, p.vdisk(), null, DtlState.OK_STANDALONE, (10 + rnd.nextInt(100)) * MS);
      }
    } else if (a instanceof Action.Refused r) {
      refusalCount++;
      refusals.put(r.vdisk(), new long[] {r.epoch()});
      refusedHolder.put(r.vdisk(), r.owner());
      refusedHolderHeartbeat.put(r.vdisk(), storeHeartbeats.get(r.owner()));
    }
  }

  /**
   * Does the premise of the vDisk's refusal still hold: the holder's heartbeat in the store is the one
   * it had at the refusal (it has not come back since), and it lists the vDisk out of sync?
   */
  private boolean refusalStands(String vdisk) {
    Heartbeat now = storeHeartbeats.get(refusedHolder.get(vdisk));
    if (!java.util.Objects.equals(now, refusedHolderHeartbeat.get(vdisk))) {
      return false;
    }
    Heartbeat.Owned o = now == null ? null : now.find(vdisk);
    return o == null || o.dtlState() != DtlState.OK_SYNC;
  }

  /** A state report of the engine's stream of the vDisk to {@code peer} under the epoch it has now, after a delay. */
  private void engineReports(Node n, int gen, String vdisk, String peer, DtlState state, long after) {
    long epoch = n.engineEpoch.getOrDefault(vdisk, 0L);
    at(now + after, () -> {
      if (n.crashed || n.generation != gen) {
        return;
      }
      if (state == DtlState.OK_SYNC) {
        syncedStreams.add(vdisk + " " + epoch + " " + peer);
      }
      deliver(n, gen, node -> new Event.DtlStateReported(node.clock(), vdisk, epoch, peer, state));
    });
  }

  private interface Answer {
    EventAt answer(boolean ok);
  }

  /**
   * A request to the store: applied after a delay unless lost or the node is cut off, answered
   * after another delay unless lost; with no answer by the timeout the node hears of a failure.
   */
  private void request(Node n, int gen, Runnable apply, Answer answer) {
    boolean[] answered = new boolean[1];
    long timeout = now + REQUEST_TIMEOUT;
    boolean sent = n.reaches() && !lost();
    if (sent) {
      long applyAt = now + delay();
      at(applyAt, () -> {
        apply.run();
        if (lost()) {
          return;
        }
        at(now + delay(), () -> {
          if (!n.reaches() || answered[0] || now > timeout) {
            return;
          }
          answered[0] = true;
          deliver(n, gen, answer.answer(true));
        });
      });
    }
    at(timeout, () -> {
      if (!answered[0]) {
        answered[0] = true;
        deliver(n, gen, answer.answer(false));
      }
    });
  }

  private boolean lost() {
    return now < faultsUntil && rnd.nextDouble() < lossRate;
  }

  private long delay() {
    if (now < faultsUntil && rnd.nextDouble() < slowRate) {
      return rnd.nextLong(100 * MS, 4 * S); // a slow request, possibly applied after the timeout
    }
    return rnd.nextLong(1 * MS, 40 * MS);
  }

  // ---- faults

  private void scheduleFault(long after) {
    at(now + after, () -> {
      if (now >= faultsUntil) {
        return;
      }
      Node n = nodes.get(rnd.nextInt(nodes.size()));
      switch (rnd.nextInt(3)) {
        case 0 -> crash(n);
        case 1 -> pause(n);
        default -> cut(n);
      }
      scheduleFault(rnd.nextLong(1 * S, 12 * S));
    });
  }

  private void crash(Node n) {
    if (n.crashed) {
      return;
    }
    crashes++;
    n.crashed = true;
    n.held.clear();
    n.pausedUntil = Long.MIN_VALUE;
    log(n.id + " CRASHES");
    long down = rnd.nextLong(100 * MS, 15 * S);
    at(now + down, () -> {
      log(n.id + " RESTARTS");
      start(n);
    });
  }

  private void pause(Node n) {
    if (n.crashed || n.paused()) {
      return;
    }
    pauses++;
    long length = rnd.nextLong(500 * MS, 20 * S);
    if (length > TIMING.leaseNanos()) {
      pausesPastLease++;
    }
    n.pausedUntil = now + length;
    log(n.id + " PAUSES for " + length / MS + " ms");
    int gen = n.generation;
    at(n.pausedUntil, () -> {
      if (n.generation != gen) {
        return;
      }
      log(n.id + " RESUMES");
      List<Runnable> waiting = new ArrayList<>(n.held);
      n.held.clear();
      waiting.forEach(Runnable::run);
    });
  }

  private void cut(Node n) {
    long length = rnd.nextLong(500 * MS, 20 * S);
    n.cutUntil = Math.max(n.cutUntil, now + length);
    log(n.id + " CUT from the store for " + length / MS + " ms");
  }

  private void forceRefused() {
    for (String v : refusals.keySet()) {
      forcedVdisks.add(v);
      forcedCount++;
      log("operator forces " + v);
      for (Node n : nodes) {
        deliver(n, n.generation, node -> new Event.Force(node.clock(), v));
      }
    }
  }

  // ---- checks

  private void check() {
    for (String v : gone) {
      for (Node n : nodes) {
        if (!n.crashed && n.m != null && n.m.mayAcknowledge(v, n.clock())) {
          throw new AssertionError(n.id + " may acknowledge writes of " + v + ", whose data was deleted");
        }
      }
    }
    Set<String> names = new TreeSet<>(vdisks);
    names.addAll(requested);
    for (String v : names) {
      Node acking = null;
      for (Node n : nodes) {
        if (n.crashed || n.m == null) {
          continue;
        }
        if (n.m.mayAcknowledge(v, n.clock())) {
          if (acking != null) {
            throw new AssertionError("two nodes may acknowledge writes of " + v + " at once: " + acking.id + " (epoch "
                + acking.m.epoch(v) + ") and " + n.id + " (epoch " + n.m.epoch(v) + ")");
          }
          acking = n;
          lastAcknowledging.put(v, now);
          String dtl = n.m.dtlNode(v);
          if (n.id.equals(dtl)) {
            throw new AssertionError(n.id + " is its own DTL node for " + v);
          }
        }
      }
    }
  }

  private void checkLiveness() {
    if (!requested.isEmpty()) {
      throw new AssertionError("deletions of " + requested + " not done " + LIVENESS_BOUND_NANOS / S
          + " s after the faults stopped");
    }
    for (String v : gone) {
      for (Node n : nodes) {
        if (!n.crashed && n.m.held().contains(v)) {
          throw new AssertionError(n.id + " still holds " + v + ", deleted");
        }
      }
    }
    for (String v : vdisks) {
      boolean served = false;
      for (Node n : nodes) {
        served |= !n.crashed && n.m.serving(v, n.clock());
      }
      Long last = lastAcknowledging.get(v);
      if (!served || last == null || now - last > 5 * S) {
        throw new AssertionError(v + " is not served " + LIVENESS_BOUND_NANOS / S + " s after the faults stopped (owned by"
            + " a live node: " + served + ", last acknowledging " + (last == null ? "never" : (now - last) / MS + " ms ago")
            + ")");
      }
    }
  }
}
