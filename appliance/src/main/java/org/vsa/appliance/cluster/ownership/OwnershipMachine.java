package org.vsa.appliance.cluster.ownership;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.vsa.dtl.DtlState;

/**
 * Who owns which vDisk, decided by one node: a pure state machine (no I/O, no threads, no clock of
 * its own), one instance per node. {@link #on} takes an {@link Event} carrying the node's monotonic
 * time and returns the {@link Action}s to carry out; {@link #mayAcknowledge} is the gate the data
 * path asks before acknowledging a write. The seeded simulator in the tests drives several of these
 * through crashes, pauses, drifting clocks and partitions.
 *
 * <p><b>The arbiter</b> is the shared backend: a claim of epoch e of a vDisk is the creation of
 * its claim object with create-if-absent, so exactly one claimer of e wins. Epochs only grow.
 *
 * <p><b>The lease.</b> Every node writes a heartbeat record (its owned vDisks, their DTL node and
 * state, a sequence number) every {@link Timing#heartbeatNanos}. Its lease runs until the start of
 * its last successful write plus lease - margin, on its own clock; a write that took longer than
 * {@link Timing#heartbeatWriteMaxNanos} extends nothing. When the lease runs out the node stops
 * acknowledging for every vDisk it owns ({@link Action.StopAcknowledging}) and may serve them again
 * only after winning a fresh claim (epoch + 1) once its heartbeats succeed again: a lease that
 * lapsed is never silently resumed, since another node may be claiming meanwhile.
 *
 * <p><b>Taking over.</b> A vDisk that no fresh heartbeat lists is taken by one target node: the
 * DTL node the last owner published (it holds the DTL) when it is alive, else the rendezvous-hash
 * winner among the live nodes. The target reads the highest claim (holder H, epoch e; the end of
 * that read opens the window), then waits until H's heartbeat has been seen unchanged for the lease by reads
 * that started inside the window; H's lease is then over and H cannot serve again without a claim
 * of its own. Then it claims exactly e + 1: if H re-claimed meanwhile, or another node took the
 * vDisk, that create fails and the window starts over. A holder that is this node (a claim whose
 * outcome was lost, or an earlier incarnation of this process) is claimed past at once. When H's
 * last published DTL state for the vDisk was not {@link DtlState#OK_SYNC} (writes would be lost),
 * the takeover is refused ({@link Action.Refused}) until the operator forces it or H comes back.
 *
 * <p><b>Publish before acknowledging.</b> An owner acknowledges writes of a vDisk only once a
 * heartbeat listing it with its current DTL state has been stored (so that a takeover always knows
 * the state under which writes may have been acknowledged); a DTL state that falls out of sync
 * holds acknowledgements until the heartbeat saying so is stored.
 *
 * <p><b>DTL placement</b> per owned vDisk: not the owner, a live node that publishes a DTL endpoint
 * ({@link Event.DtlNodes}), of another fault domain when there is one, chosen by rendezvous hashing
 * of node id and vDisk (deterministic, spread), kept while it stays valid, replaced when it dies,
 * stops publishing its endpoint or the owner reports it {@link DtlState#DEGRADED}. When no node
 * qualifies the vDisk has no DTL ({@link Action.SetDtlPeer} with none, and why). A DTL state report
 * counts only for the placement and epoch it is about ({@link Event.DtlStateReported}), so the
 * published pair (DTL node, state) always speaks of the same DTL.
 *
 * <p><b>Hand-over.</b> A node that stops cleanly hands each vDisk over through the backend and says
 * so ({@link Event.HandedOver}): its heartbeats stop listing the vDisk. A taker that finds the holder's
 * process silent and not listing a vDisk it claimed knows that process acknowledged nothing the
 * backend lacks (it never published the vDisk, or handed it over), so it takes it over without a
 * DTL and without refusal, whatever DTL state was published before.
 *
 * <p><b>Deletion.</b> The lead names the vDisks being deleted ({@link Event.VdisksChanged#deleting}).
 * Such a vDisk is deleted by the node that holds it, under its lease, like any other decision of an
 * owner: the node stops acknowledging for it at once, and while its lease holds it emits {@link
 * Action.Delete} (never an {@link Action.Adopt}: a claim won for a vDisk being deleted is held without
 * serving). When the owner is silent, the usual takeover rules pick a node, which claims the next
 * epoch (so the old owner is fenced exactly as by a failover; a deletion is never refused for an
 * out-of-sync DTL, since nothing of the vDisk is to be kept) and deletes it. Once its data is gone
 * ({@link Event.DataDeleted}), the holder closes the name with a {@link Claim#closed closed} claim of
 * the next epoch and forgets it ({@link Action.Closed}); a later vDisk of the same name is then claimed
 * from the next epoch on as a name never claimed. A node that wins a claim for a deletion the lead then
 * calls off (a newer vDisk of that name exists, not being deleted) adopts it as it would have.
 */
public final class OwnershipMachine {
  private final String self;
  private final String faultDomain;
  private final long incarnation;
  private final Timing t;

  private long seq;
  private boolean writing;
  private boolean started;
  private long nextWriteAt;
  private List<Heartbeat.Owned> writingOwned = List.of();
  private boolean hasLease;
  private long leaseUntil;

  private boolean reading;
  private long nextReadAt;
  private final Map<String, Peer> peers = new TreeMap<>();

  private final Set<String> vdisks = new TreeSet<>();
  private final Map<String, Held> held = new TreeMap<>();
  private final Map<String, Watch> watches = new TreeMap<>();
  private final Set<String> forced = new TreeSet<>();
  /** vDisks being deleted (from the lead): never served, deleted by whoever holds them. */
  private final Set<String> deleting = new TreeSet<>();
  /**
   * vDisks whose claims this process has not read yet: at start it looks for claims an earlier
   * process of this node holds (it restarted) and takes those back at once.
   */
  private final Set<String> unprobed = new TreeSet<>();
  /** When this node last read the claims of a vDisk that no live node lists. */
  private final Map<String, Long> probedAt = new HashMap<>();
  private final Map<String, Map<String, Long>> shunned = new HashMap<>();
  /** Whether a pass over every node's heartbeat succeeded yet (DTL placement waits for one). */
  private boolean peersRead;
  /** The nodes that publish a DTL endpoint; null: not told, every node qualifies. */
  private Set<String> dtlCapable;
  /** vDisks handed over from here (clean stop) -> the epoch they were held at: not claimed back. */
  private final Map<String, Long> handedOver = new TreeMap<>();
  /** Handed-over vDisks -> the last heartbeat seq that may still list them (until one after it is stored). */
  private final Map<String, Long> handOverUnpublished = new TreeMap<>();

  private static final class Peer {
    Heartbeat hb;
    long changedAt;
    long lastReadStart;
  }

  private enum Phase { NONE, READING, CLAIMING }

  /** Where a held vDisk's deletion stands. */
  private enum Deletion { NONE, DELETING, CLOSING, CLOSE_READ_NEEDED, CLOSE_READING }

  private static final class Held {
    long epoch;
    String dtlNode;
    DtlState dtl = DtlState.CATCHING_UP;
    DtlState published;
    /** Why the vDisk has no DTL node (null while it has one, or none was looked for yet). */
    String noDtlReason;
    boolean lapsed;
    Phase reclaim = Phase.NONE;
    long claimEpoch;
    /**
     * Set until the first Adopt went out (a claim won while the lease had lapsed, or for a vDisk
     * being deleted: it goes out if the deletion is called off).
     */
    Action.Adopt pendingAdopt;
    Deletion deletion = Deletion.NONE;
    long deletionSince;
    long deleteRetryAt;
    long closeEpoch;
  }

  private enum WatchPhase { READING, WAITING, CLAIMING, REFUSED }

  private static final class Watch {
    WatchPhase phase = WatchPhase.READING;
    long windowStart;
    Claim base;
    long claimEpoch;
    String oldOwner;
    String oldDtl;
    boolean forcedTakeover;
    boolean probe;
  }

  public OwnershipMachine(String self, String faultDomain, long incarnation, Timing timing) {
    this.self = Objects.requireNonNull(self, "self");
    this.faultDomain = Objects.requireNonNull(faultDomain, "faultDomain");
    this.incarnation = incarnation;
    this.t = Objects.requireNonNull(timing, "timing");
  }

  /**
   * Resources owned like vDisks that have no DTL: a vPool's NFS namespace ({@link
   * Records#NAMESPACE_PREFIX}), whose changes are in the backend before they are acknowledged. They
   * are always "in sync": no DTL is placed for them, and a takeover never risks losing a write.
   */
  public static boolean withoutDtl(String resource) {
    return resource.startsWith(Records.NAMESPACE_PREFIX);
  }

  public String self() {
    return self;
  }

  public long incarnation() {
    return incarnation;
  }

  // ---- queries

  /** May this node acknowledge a write of the vDisk at time {@code now} of its monotonic clock? */
  public boolean mayAcknowledge(String vdisk, long now) {
    Held h = held.get(vdisk);
    return h != null && !h.lapsed && leaseValid(now) && h.published != null && h.deletion == Deletion.NONE
        && !deleting.contains(vdisk)
        && (h.dtl == DtlState.OK_SYNC || h.published != DtlState.OK_SYNC);
  }

  /** Does this node serve the vDisk (it won its claim, its lease holds), acknowledging or about to? */
  public boolean serving(String vdisk, long now) {
    Held h = held.get(vdisk);
    return h != null && !h.lapsed && leaseValid(now);
  }

  /**
   * May this node delete the vDisk's data at {@code now}: it holds the vDisk at {@code epoch} under
   * a valid lease and is deleting it ({@link Action.Delete})? Asked before every destructive step.
   */
  public boolean mayDelete(String vdisk, long epoch, long now) {
    Held h = held.get(vdisk);
    return h != null && h.epoch == epoch && !h.lapsed && leaseValid(now) && h.deletion == Deletion.DELETING;
  }

  /** Is the vDisk being deleted, as the lead last said? */
  public boolean deleting(String vdisk) {
    return deleting.contains(vdisk);
  }

  /** The epoch under which this node holds the vDisk, or 0 when it does not. */
  public long epoch(String vdisk) {
    Held h = held.get(vdisk);
    return h == null ? 0 : h.epoch;
  }

  /** The vDisks this node holds (serving or re-claiming after a lapsed lease). */
  public Set<String> held() {
    return Set.copyOf(held.keySet());
  }

  /** The DTL node this node chose for a vDisk it holds, or null. */
  public String dtlNode(String vdisk) {
    Held h = held.get(vdisk);
    return h == null ? null : h.dtlNode;
  }

  /** Why a vDisk held here has no DTL node (null: it has one, or it is not held here). */
  public String noDtlReason(String vdisk) {
    Held h = held.get(vdisk);
    return h == null || h.dtlNode != null ? null : h.noDtlReason;
  }

  /**
   * Has every vDisk handed over from here ({@link Event.HandedOver}) been left out of a stored
   * heartbeat (so that a taker reads that this node lists it no more)?
   */
  public boolean handOversPublished() {
    return handOverUnpublished.isEmpty();
  }

  public boolean leaseValid(long now) {
    return hasLease && now - leaseUntil < 0;
  }

  /** The time the lease runs out (meaningful while {@link #leaseValid}). */
  public long leaseUntil() {
    return leaseUntil;
  }

  /**
   * Who serves each vDisk as this node sees it at {@code now}: itself where it {@link #serving
   * serves}, else the node whose fresh heartbeat lists it with the highest epoch. A vDisk whose
   * last owner is silent (dead, paused, cut off) or that no node lists is absent: it is being
   * taken over, or waits for the operator.
   */
  public Map<String, String> owners(long now) {
    Map<String, String> out = new TreeMap<>();
    Map<String, Long> epochs = new HashMap<>();
    for (Map.Entry<String, Peer> en : peers.entrySet()) {
      Heartbeat hb = en.getValue().hb;
      if (hb == null || en.getKey().equals(self) || !fresh(en.getKey(), now)) {
        continue;
      }
      for (Heartbeat.Owned o : hb.owned()) {
        Long e = epochs.get(o.vdisk());
        if (e == null || o.epoch() > e) {
          epochs.put(o.vdisk(), o.epoch());
          out.put(o.vdisk(), en.getKey());
        }
      }
    }
    for (Map.Entry<String, Held> en : held.entrySet()) {
      Long e = epochs.get(en.getKey());
      if (serving(en.getKey(), now) && (e == null || en.getValue().epoch >= e)) {
        out.put(en.getKey(), self);
      }
    }
    return out;
  }

  /** The nodes this node counts as alive at {@code now}: itself while its lease holds, and every peer whose heartbeat changed within the lease. */
  public Set<String> live(long now) {
    Set<String> out = new TreeSet<>();
    if (leaseValid(now)) {
      out.add(self);
    }
    for (String n : peers.keySet()) {
      if (!n.equals(self) && fresh(n, now)) {
        out.add(n);
      }
    }
    return out;
  }

  /** The DTL state last stored in a heartbeat for a vDisk this node holds (null: none yet). */
  public DtlState published(String vdisk) {
    Held h = held.get(vdisk);
    return h == null ? null : h.published;
  }

  /** Is a takeover of this vDisk refused right now, waiting for the operator? */
  public boolean refused(String vdisk) {
    Watch w = watches.get(vdisk);
    return w != null && w.phase == WatchPhase.REFUSED;
  }

  // ---- events

  public List<Action> on(Event e) {
    List<Action> out = new ArrayList<>();
    long now = e.now();
    if (!started) {
      started = true;
      nextWriteAt = now;
      nextReadAt = now;
    }
    lapse(now, out);
    if (e instanceof Event.HeartbeatWritten w) {
      heartbeatWritten(w, now);
    } else if (e instanceof Event.HeartbeatsRead r) {
      heartbeatsRead(r, now, out);
    } else if (e instanceof Event.ClaimsRead r) {
      claimsRead(r, now, out);
    } else if (e instanceof Event.ClaimResult r) {
      claimResult(r, now, out);
    } else if (e instanceof Event.VdisksChanged v) {
      for (String d : v.vdisks()) {
        if (!vdisks.contains(d)) {
          unprobed.add(d);
        }
      }
      vdisks.clear();
      vdisks.addAll(v.vdisks());
      unprobed.retainAll(vdisks);
      deleting.clear();
      deleting.addAll(v.deleting());
      for (String d : deleting) {
        Watch w = watches.get(d);
        if (w != null && w.phase == WatchPhase.REFUSED) {
          w.phase = WatchPhase.WAITING; // a deletion loses nothing: no longer refused
        }
      }
      watches.keySet().removeIf(d -> !vdisks.contains(d) && watches.get(d).phase != WatchPhase.CLAIMING);
    } else if (e instanceof Event.DtlStateReported r) {
      dtlReported(r, now);
    } else if (e instanceof Event.DataDeleted d) {
      dataDeleted(d, now, out);
    } else if (e instanceof Event.DtlNodes d) {
      dtlCapable = d.nodes();
    } else if (e instanceof Event.HandedOver ho) {
      handedOver(ho, now);
    } else if (e instanceof Event.Force f) {
      forced.add(f.vdisk());
      Watch w = watches.get(f.vdisk());
      if (w != null && w.phase == WatchPhase.REFUSED) {
        w.phase = WatchPhase.WAITING;
      }
    }
    step(now, out);
    return out;
  }

  private void lapse(long now, List<Action> out) {
    if (hasLease && now - leaseUntil >= 0) {
      hasLease = false;
      for (Map.Entry<String, Held> en : held.entrySet()) {
        if (!en.getValue().lapsed) {
          en.getValue().lapsed = true;
          out.add(new Action.StopAcknowledging(en.getKey(), "the lease of node " + self + " lapsed"));
        }
      }
    }
  }

  private void heartbeatWritten(Event.HeartbeatWritten w, long now) {
    if (!writing || w.seq() != seq) {
      return; // not the write in flight: ignore
    }
    writing = false;
    nextWriteAt = w.startedAt() + t.heartbeatNanos();
    if (w.stored()) {
      handOverUnpublished.values().removeIf(after -> w.seq() > after);
      if (!handOverUnpublished.isEmpty()) {
        nextWriteAt = now; // it still listed a vDisk handed over since: the next one goes out at once
      }
    }
    // What the store may hold now: a stored heartbeat (slow or not) is what a taker reads; one that
    // failed or timed out may still land, so its OK_SYNC counts as published (acknowledging out of
    // sync then waits until a heartbeat saying so is stored).
    for (Heartbeat.Owned o : writingOwned) {
      Held h = held.get(o.vdisk());
      if (h != null && h.epoch == o.epoch() && !h.lapsed && (w.stored() || o.dtlState() == DtlState.OK_SYNC)) {
        h.published = o.dtlState();
      }
    }
    if (!w.stored() || now - w.startedAt() > t.heartbeatWriteMaxNanos()) {
      return;
    }
    long until = w.startedAt() + t.leaseNanos() - t.marginNanos();
    if (until - now <= 0) {
      return;
    }
    if (!hasLease || until - leaseUntil > 0) {
      leaseUntil = until;
    }
    hasLease = true;
  }

  private void heartbeatsRead(Event.HeartbeatsRead r, long now, List<Action> out) {
    reading = false;
    nextReadAt = r.startedAt() + t.heartbeatNanos();
    if (r.failed()) {
      return;
    }
    peersRead = true;
    Set<String> nodes = new TreeSet<>(peers.keySet());
    nodes.addAll(r.heartbeats().keySet());
    nodes.remove(self);
    for (String n : nodes) {
      Heartbeat hb = r.heartbeats().get(n);
      Peer p = peers.get(n);
      if (p == null) {
        p = new Peer();
        p.hb = hb;
        p.changedAt = now;
        peers.put(n, p);
      } else if (!Objects.equals(p.hb, hb)) {
        p.hb = hb;
        p.changedAt = now;
      }
      p.lastReadStart = r.startedAt();
    }
    // Safety net: another node publishes a higher epoch of a vDisk held here.
    for (String v : new ArrayList<>(held.keySet())) {
      Held h = held.get(v);
      Heartbeat.Owned best = bestListing(v);
      if (best != null && best.epoch() > h.epoch && h.reclaim != Phase.CLAIMING) {
        release(v, best.epoch(), "node " + listerOf(v, best) + " publishes epoch " + best.epoch(), out);
      }
    }
  }

  private void claimsRead(Event.ClaimsRead r, long now, List<Action> out) {
    String v = r.vdisk();
    Held h = held.get(v);
    if (h != null && h.deletion == Deletion.CLOSE_READING) {
      closeRead(v, h, r, out);
      return;
    }
    if (h != null && h.reclaim == Phase.READING) {
      h.reclaim = Phase.NONE;
      if (r.failed()) {
        return;
      }
      Claim c = r.highest();
      if (c == null || c.epoch() <= h.epoch || (c.node().equals(self) && c.incarnation() == incarnation)) {
        h.reclaim = Phase.CLAIMING;
        h.claimEpoch = Math.max(h.epoch, c == null ? 0 : c.epoch()) + 1;
        out.add(new Action.MakeClaim(new Claim(v, h.claimEpoch, self, incarnation)));
      } else {
        release(v, c.epoch(), "epoch " + c.epoch() + " was claimed by node " + c.node(), out);
      }
      return;
    }
    Watch w = watches.get(v);
    if (w == null || w.phase != WatchPhase.READING) {
      return;
    }
    if (r.failed()) {
      watches.remove(v);
      return;
    }
    Claim c = r.highest();
    // The window opens when the read returned, not when it started: the claim it saw may have been
    // made while it ran, after a heartbeat of its holder that only reads starting later are sure to see.
    w.windowStart = now;
    w.base = c;
    if (c != null && c.closed()) {
      // A deleted vDisk's closed name: nobody holds it; claimed on as a name never claimed, by the
      // node placement picks (nothing of the deleted vDisk is inherited: no old owner, no DTL).
      unprobed.remove(v);
      if (!forced.contains(v) && !self.equals(target(v, null, null, now))) {
        watches.remove(v);
        return;
      }
      claim(v, w, c.epoch() + 1, null, null, false, out);
      return;
    }
    if (c != null && !c.node().equals(self)) {
      unprobed.remove(v); // another node's: the usual rules decide whether this node waits on it
      if (w.probe) {
        watches.remove(v);
        return;
      }
    }
    if (c == null && w.probe && !forced.contains(v) && !self.equals(target(v, null, null, now))) {
      // Never claimed: the node placement picks takes it (the vDisks spread), not whoever looked first.
      watches.remove(v);
      unprobed.remove(v);
      return;
    }
    if (c != null && c.node().equals(self) && c.incarnation() == incarnation) {
      // This process's own claim whose answer was lost: it never served that epoch, and who held the
      // one before is not known here, so nobody's copy or DTL is presumed (the adoption refuses
      // rather than trusting a stale copy; the operator can force it).
      claim(v, w, c.epoch() + 1, null, null, false, out);
    } else if (c == null || c.node().equals(self)) {
      // Never claimed, or claimed by an earlier process of this node: its copy is the newest, and its
      // DTL is the one that process last published.
      Heartbeat mine = peers.containsKey(self) ? peers.get(self).hb : null;
      Heartbeat.Owned listed = mine == null ? null : mine.find(v);
      claim(v, w, c == null ? 1 : c.epoch() + 1, c == null ? null : self,
          c == null || listed == null ? null : listed.dtlNode(), false, out);
    } else {
      w.phase = WatchPhase.WAITING;
    }
  }

  private void claim(String v, Watch w, long epoch, String oldOwner, String oldDtl, boolean forcedTakeover,
      List<Action> out) {
    w.phase = WatchPhase.CLAIMING;
    w.claimEpoch = epoch;
    w.oldOwner = oldOwner;
    w.oldDtl = oldDtl;
    w.forcedTakeover = forcedTakeover;
    out.add(new Action.MakeClaim(new Claim(v, epoch, self, incarnation)));
  }

  private void claimResult(Event.ClaimResult r, long now, List<Action> out) {
    String v = r.vdisk();
    Held h = held.get(v);
    if (h != null && h.deletion == Deletion.CLOSING && h.closeEpoch == r.epoch()) {
      switch (r.outcome()) {
        case WON -> closed(v, h, out);
        case LOST -> release(v, r.epoch(), "epoch " + r.epoch() + " was claimed by another node while this one closed"
            + " the deleted vDisk's name", out);
        default -> h.deletion = Deletion.CLOSE_READ_NEEDED; // read whether the closed claim landed
      }
      return;
    }
    if (h != null && h.reclaim == Phase.CLAIMING && h.claimEpoch == r.epoch()) {
      h.reclaim = Phase.NONE;
      if (r.outcome() == Event.Outcome.WON) {
        h.epoch = r.epoch();
        if (h.dtl == DtlState.OK_SYNC && !withoutDtl(v)) {
          h.dtl = DtlState.CATCHING_UP; // in sync under the epoch before: its stream under this one says so itself
        }
        if (leaseValid(now)) {
          adopt(v, h, out);
        }
      }
      return; // lost or unknown: the next step reads the claims again
    }
    Watch w = watches.get(v);
    if (w == null || w.phase != WatchPhase.CLAIMING || w.claimEpoch != r.epoch()) {
      return;
    }
    watches.remove(v);
    if (r.outcome() == Event.Outcome.UNKNOWN) {
      unprobed.add(v); // this node may hold it without knowing: look again
    }
    if (r.outcome() != Event.Outcome.WON) {
      return; // the window starts over
    }
    unprobed.remove(v);
    forced.remove(v);
    Held n = new Held();
    if (withoutDtl(v)) {
      n.dtl = DtlState.OK_SYNC; // its every change is in the backend before it is acknowledged
    }
    n.epoch = r.epoch();
    n.pendingAdopt = new Action.Adopt(v, r.epoch(), w.oldOwner, w.oldDtl, w.forcedTakeover);
    n.lapsed = true;
    held.put(v, n);
    if (leaseValid(now)) {
      adopt(v, n, out);
    }
  }

  private void adopt(String v, Held h, List<Action> out) {
    Action.Adopt a = h.pendingAdopt == null
        ? new Action.Adopt(v, h.epoch, self, h.dtlNode, false)
        : new Action.Adopt(v, h.epoch, h.pendingAdopt.oldOwner(), h.pendingAdopt.dtlNodeOfOldOwner(),
            h.pendingAdopt.forced());
    h.lapsed = false;
    h.published = null;
    if (toDelete(v, a)) {
      h.pendingAdopt = a; // held to be deleted, not served; adopted as above if the deletion is called off
      return;
    }
    h.pendingAdopt = null;
    out.add(a);
  }

  /**
   * Is a claim won for this adoption one to delete rather than serve: the vDisk is being deleted, or
   * the lead no longer knows it at all and the claim inherits nothing (won from a closed name or a
   * name never claimed, so no copy or DTL of an earlier owner is at stake): a claim made on an old
   * view of a deleted vDisk, which then closes the name again instead of holding it for ever.
   */
  private boolean toDelete(String v, Action.Adopt a) {
    return deleting.contains(v) || (!vdisks.contains(v) && !withoutDtl(v) && a.oldOwner() == null
        && a.dtlNodeOfOldOwner() == null);
  }

  private void dataDeleted(Event.DataDeleted d, long now, List<Action> out) {
    Held h = held.get(d.vdisk());
    if (h == null || h.epoch != d.epoch()) {
      return;
    }
    // Unasked, the engine may say so of a vDisk it was told to adopt and found deleted (a claim made
    // on an old view): the lead no longer lists it, so its name is closed again.
    boolean orphan = h.deletion == Deletion.NONE && d.done() && !vdisks.contains(d.vdisk())
        && !deleting.contains(d.vdisk());
    if (h.deletion != Deletion.DELETING && !orphan) {
      return;
    }
    if (!d.done()) {
      h.deletion = Deletion.NONE;
      h.deleteRetryAt = now + 2 * t.heartbeatNanos();
      return;
    }
    // Its data is gone: close the name at the next epoch, whatever the lease (a closed claim takes
    // nothing from anyone: a node that claimed that epoch meanwhile wins, and the name is its then).
    h.deletion = Deletion.CLOSING;
    h.closeEpoch = h.epoch + 1;
    out.add(new Action.MakeClaim(new Claim(d.vdisk(), h.closeEpoch, self, incarnation, true)));
  }

  private void closeRead(String v, Held h, Event.ClaimsRead r, List<Action> out) {
    if (r.failed()) {
      h.deletion = Deletion.CLOSE_READ_NEEDED;
      return;
    }
    Claim c = r.highest();
    if (c != null && c.epoch() == h.closeEpoch && c.closed() && c.node().equals(self)
        && c.incarnation() == incarnation) {
      closed(v, h, out);
    } else if (c != null && c.epoch() >= h.closeEpoch) {
      release(v, c.epoch(), "epoch " + c.epoch() + " was claimed by node " + c.node() + " while this one closed the"
          + " deleted vDisk's name", out);
    } else {
      h.deletion = Deletion.CLOSING;
      out.add(new Action.MakeClaim(new Claim(v, h.closeEpoch, self, incarnation, true)));
    }
  }

  /** The deleted vDisk's name is closed: forgotten here until the lead names it again (a new vDisk). */
  private void closed(String v, Held h, List<Action> out) {
    held.remove(v);
    vdisks.remove(v);
    deleting.remove(v);
    watches.remove(v);
    unprobed.remove(v);
    probedAt.remove(v);
    out.add(new Action.Closed(v, h.closeEpoch));
  }

  private void release(String v, long epoch, String reason, List<Action> out) {
    Held h = held.remove(v);
    if (h != null && !h.lapsed) {
      out.add(new Action.StopAcknowledging(v, reason));
    }
    out.add(new Action.Release(v, epoch, reason));
  }

  private void dtlReported(Event.DtlStateReported r, long now) {
    Held h = held.get(r.vdisk());
    if (h == null || withoutDtl(r.vdisk())) {
      return;
    }
    if (r.epoch() != h.epoch) {
      return; // made under an earlier epoch: says nothing of the stream the vDisk has now
    }
    if (!Objects.equals(r.dtlNode(), h.dtlNode) && r.state() != DtlState.OK_STANDALONE) {
      // about another placement (a DTL node this vDisk no longer has, or not yet): its OK_SYNC says
      // nothing of the DTL the vDisk has now, its DEGRADED nothing against it. (Standalone, a stream
      // with no DTL at all, e.g. DTL mode none, counts whatever the placement: takers refuse on it.)
      return;
    }
    if (r.state() == DtlState.OK_SYNC && h.dtlNode == null) {
      return; // without a DTL node it cannot be in sync
    }
    if (r.state() == DtlState.DEGRADED && h.dtlNode != null) {
      shunned.computeIfAbsent(r.vdisk(), k -> new HashMap<>()).put(h.dtlNode, now + t.dtlShunNanos());
      h.dtlNode = null; // the next step places it elsewhere
    }
    h.dtl = r.state();
  }

  private void handedOver(Event.HandedOver ho, long now) {
    Held h = held.get(ho.vdisk());
    if (h == null || h.epoch != ho.epoch()) {
      return; // not held here at that epoch (any more): nothing of it is published from here
    }
    held.remove(ho.vdisk());
    watches.remove(ho.vdisk());
    handedOver.put(ho.vdisk(), ho.epoch());
    handOverUnpublished.put(ho.vdisk(), seq);
    if (!writing) {
      nextWriteAt = now; // the heartbeat without it goes out now
    }
  }

  /**
   * Is the vDisk one handed over from here that no other node has served since? This node leaves
   * it to the others (it is stopping); once another node publishes a newer epoch it is a vDisk like
   * any other again.
   */
  private boolean leftToOthers(String v) {
    Long e = handedOver.get(v);
    if (e == null) {
      return false;
    }
    Heartbeat.Owned best = bestListing(v);
    if (best != null && best.epoch() > e) {
      handedOver.remove(v);
      return false;
    }
    return true;
  }

  // ---- the step after every event

  private void step(long now, List<Action> out) {
    lapse(now, out);
    if (!writing && now - nextWriteAt >= 0) {
      seq++;
      List<Heartbeat.Owned> owned = new ArrayList<>();
      for (Map.Entry<String, Held> en : held.entrySet()) {
        Held h = en.getValue();
        if (h.pendingAdopt == null) {
          owned.add(new Heartbeat.Owned(en.getKey(), h.epoch, h.dtlNode, h.dtl));
        }
      }
      writingOwned = owned;
      writing = true;
      out.add(new Action.WriteHeartbeat(new Heartbeat(self, faultDomain, incarnation, seq, owned)));
    }
    if (!reading && now - nextReadAt >= 0) {
      reading = true;
      out.add(new Action.ReadHeartbeats());
    }
    if (leaseValid(now)) {
      for (Map.Entry<String, Held> en : held.entrySet()) {
        Held h = en.getValue();
        if (h.lapsed && h.reclaim == Phase.NONE && h.deletion == Deletion.NONE) {
          h.reclaim = Phase.READING;
          out.add(new Action.ReadClaims(en.getKey()));
        }
      }
    }
    deletions(now, out);
    for (Map.Entry<String, Held> en : held.entrySet()) {
      placeDtl(en.getKey(), en.getValue(), now, out);
      forced.remove(en.getKey()); // a force is for one takeover: it is used up once the vDisk is held
    }
    for (String v : vdisks) {
      if (!held.containsKey(v) && !leftToOthers(v)) {
        watch(v, now, out);
      }
    }
  }

  /** Drives the deletion of every held vDisk being deleted, and adopts one whose deletion was called off. */
  private void deletions(long now, List<Action> out) {
    for (Map.Entry<String, Held> en : List.copyOf(held.entrySet())) {
      String v = en.getKey();
      Held h = en.getValue();
      switch (h.deletion) {
        case NONE -> {
          if (h.lapsed || !leaseValid(now) || h.reclaim != Phase.NONE) {
            break;
          }
          if (deleting.contains(v) || (h.pendingAdopt != null && toDelete(v, h.pendingAdopt))) {
            if (now - h.deleteRetryAt >= 0) {
              h.deletion = Deletion.DELETING;
              h.deletionSince = now;
              out.add(new Action.Delete(v, h.epoch));
            }
          } else if (h.pendingAdopt != null) {
            adopt(v, h, out); // held for a deletion that was called off: serve it after all
          }
        }
        case DELETING -> {
          if (now - h.deletionSince > 10 * t.leaseNanos()) {
            h.deletion = Deletion.NONE; // no answer: the engine's deletion is presumed failed, done again
          }
        }
        case CLOSE_READ_NEEDED -> {
          h.deletion = Deletion.CLOSE_READING;
          out.add(new Action.ReadClaims(v));
        }
        default -> { }
      }
    }
  }

  private void watch(String v, long now, List<Action> out) {
    Watch w = watches.get(v);
    if (w != null && (w.phase == WatchPhase.READING || w.phase == WatchPhase.CLAIMING)) {
      return;
    }
    Heartbeat.Owned best = bestListing(v);
    String lister = best == null ? null : listerOf(v, best);
    boolean liveListed = best != null && fresh(lister, now);
    if (!liveListed && w == null) {
      // Nobody live publishes it: it may be held here without this process knowing (a claim whose
      // answer was lost and that landed later, an earlier process of this node). Look now and then.
      Long at = probedAt.get(v);
      if (at == null || now - at >= t.leaseNanos()) {
        unprobed.add(v);
      }
    }
    if (w == null && unprobed.contains(v) && leaseValid(now)) {
      w = new Watch();
      w.probe = true;
      watches.put(v, w);
      probedAt.put(v, now);
      out.add(new Action.ReadClaims(v));
      return;
    }
    if (liveListed) {
      watches.remove(v); // served (or being re-claimed) by a live node
      forced.remove(v);
      return;
    }
    if (!leaseValid(now)) {
      if (w != null && w.phase != WatchPhase.REFUSED) {
        watches.remove(v);
      }
      return;
    }
    boolean isForced = forced.contains(v);
    if (!isForced && !self.equals(target(v, best, lister, now))) {
      if (w != null && w.phase != WatchPhase.REFUSED) {
        watches.remove(v);
      }
      return;
    }
    if (w == null) {
      w = new Watch();
      watches.put(v, w);
      out.add(new Action.ReadClaims(v));
      return;
    }
    if (w.phase != WatchPhase.WAITING) {
      return;
    }
    if (best != null && best.epoch() > w.base.epoch()) {
      watches.remove(v); // a newer owner published since the window opened
      return;
    }
    String holder = w.base.node();
    if (!stale(holder, w.windowStart)) {
      if (now - w.windowStart > 3 * t.leaseNanos()) {
        watches.remove(v); // the holder lives on without publishing it: read the claims again, they may have moved
      }
      return;
    }
    Peer hp = peers.get(holder);
    Heartbeat.Owned listed = hp.hb == null ? null : hp.hb.find(v);
    boolean sameProcess = hp.hb != null && hp.hb.incarnation() == w.base.incarnation();
    String risk = null;
    if (withoutDtl(v) || deleting.contains(v)) {
      // nothing it acknowledged is only on its holder (every change is in the backend first), or
      // nothing of it is to be kept (it is being deleted)
    } else if (listed != null && listed.dtlState() != DtlState.OK_SYNC) {
      risk = "node " + holder + " last published DTL state " + listed.dtlState() + " for it: writes it acknowledged"
          + " may be only in its write buffer";
    } else if (listed != null && listed.dtlNode() == null) {
      risk = "node " + holder + " last published DTL state OK_SYNC for it without a DTL node: which DTL holds its"
          + " writes is unknown";
    } else if (listed == null && !sameProcess) {
      risk = "node " + holder + " restarted since it claimed epoch " + w.base.epoch()
          + " and its DTL state from then is unknown";
    }
    if (risk != null && !isForced) {
      w.phase = WatchPhase.REFUSED;
      out.add(new Action.Refused(v, holder, w.base.epoch(), "takeover of vDisk " + v + " from node " + holder
          + " (epoch " + w.base.epoch() + ") refused: " + risk + "; force it to accept the loss"));
      return;
    }
    claim(v, w, w.base.epoch() + 1, holder, listed == null ? null : listed.dtlNode(), risk != null, out);
  }

  /** The holder's heartbeat seen unchanged for the lease, by reads that started inside the window. */
  private boolean stale(String node, long windowStart) {
    Peer p = peers.get(node);
    return p != null && p.lastReadStart - windowStart >= 0 && p.lastReadStart - p.changedAt >= t.leaseNanos();
  }

  private boolean fresh(String node, long now) {
    if (node == null) {
      return false;
    }
    if (node.equals(self)) {
      return leaseValid(now);
    }
    Peer p = peers.get(node);
    return p != null && p.hb != null && now - p.changedAt < t.leaseNanos();
  }

  /** The published ownership of the vDisk with the highest epoch, among every node's last heartbeat. */
  private Heartbeat.Owned bestListing(String v) {
    Heartbeat.Owned best = null;
    for (Peer p : peers.values()) {
      Heartbeat.Owned o = p.hb == null ? null : p.hb.find(v);
      if (o != null && (best == null || o.epoch() > best.epoch())) {
        best = o;
      }
    }
    return best;
  }

  private String listerOf(String v, Heartbeat.Owned o) {
    for (Map.Entry<String, Peer> en : peers.entrySet()) {
      Heartbeat hb = en.getValue().hb;
      if (hb != null && hb.find(v) == o) {
        return en.getKey();
      }
    }
    return null;
  }

  /** Who should take the vDisk: its last owner's DTL node when alive, else the rendezvous winner among the live. */
  private String target(String v, Heartbeat.Owned best, String lister, long now) {
    if (best != null && best.dtlNode() != null && !best.dtlNode().equals(lister) && fresh(best.dtlNode(), now)) {
      return best.dtlNode();
    }
    String winner = null;
    long top = 0;
    List<String> live = new ArrayList<>();
    if (leaseValid(now)) {
      live.add(self);
    }
    for (String n : peers.keySet()) {
      if (fresh(n, now)) {
        live.add(n);
      }
    }
    for (String n : live) {
      long score = rendezvous(n, v);
      if (winner == null || Long.compareUnsigned(score, top) > 0) {
        winner = n;
        top = score;
      }
    }
    return winner;
  }

  private void placeDtl(String v, Held h, long now, List<Action> out) {
    if (withoutDtl(v) || deleting.contains(v) || h.deletion != Deletion.NONE || !peersRead) {
      return; // (before the first read of the heartbeats no node is known alive: nothing to decide yet)
    }
    Map<String, Long> shun = shunned.get(v);
    if (shun != null) {
      shun.values().removeIf(until -> now - until >= 0);
    }
    List<String> candidates = new ArrayList<>();
    List<String> alive = new ArrayList<>();
    List<String> withEndpoint = new ArrayList<>();
    boolean otherDomain = false;
    for (Map.Entry<String, Peer> en : peers.entrySet()) {
      String n = en.getKey();
      if (n.equals(self) || !fresh(n, now)) {
        continue;
      }
      alive.add(n);
      if (dtlCapable != null && !dtlCapable.contains(n)) {
        continue; // publishes no DTL endpoint: the vDisk's DTL client could not reach it
      }
      withEndpoint.add(n);
      if (shun == null || !shun.containsKey(n)) {
        candidates.add(n);
        otherDomain |= !faultDomain.equals(en.getValue().hb.faultDomain());
      }
    }
    String current = h.dtlNode;
    if (current != null && candidates.contains(current)
        && (!otherDomain || !faultDomain.equals(peers.get(current).hb.faultDomain()))) {
      return;
    }
    String chosen = null;
    long top = 0;
    for (String n : candidates) {
      if (otherDomain && faultDomain.equals(peers.get(n).hb.faultDomain())) {
        continue;
      }
      long score = rendezvous(n, v);
      if (chosen == null || Long.compareUnsigned(score, top) > 0) {
        chosen = n;
        top = score;
      }
    }
    String reason = null;
    if (chosen == null) {
      reason = alive.isEmpty() ? "no other node is alive"
          : withEndpoint.isEmpty() ? "no other live node publishes a DTL endpoint (alive: " + String.join(", ", alive)
              + ")"
          : "the DTL went DEGRADED on every other live node with a DTL endpoint within the last "
              + t.dtlShunNanos() / 1_000_000_000L + " s (" + String.join(", ", withEndpoint) + ")";
    }
    if (Objects.equals(chosen, current)) {
      if (chosen == null && !reason.equals(h.noDtlReason)) {
        h.noDtlReason = reason;
        out.add(new Action.SetDtlPeer(v, null, reason)); // still none: says why, once per reason
      }
      return;
    }
    h.dtlNode = chosen;
    h.noDtlReason = reason;
    h.dtl = chosen == null ? DtlState.DEGRADED : DtlState.CATCHING_UP;
    out.add(new Action.SetDtlPeer(v, chosen, reason));
  }

  /** FNV-1a 64 of names met so far: rendezvous scores are computed on every step. */
  private final Map<String, Long> nameHashes = new HashMap<>();

  private long rendezvous(String node, String vdisk) {
    long n = nameHashes.computeIfAbsent(node, OwnershipMachine::fnv);
    long v = nameHashes.computeIfAbsent(vdisk, OwnershipMachine::fnv);
    return score(n, v);
  }

  /**
   * Rendezvous (highest random weight) score of a node for a vDisk: the FNV-1a 64 hashes of both
   * names, combined and finished with SplitMix64's mixer. Deterministic across nodes and versions.
   */
  static long rendezvousScore(String node, String vdisk) {
    return score(fnv(node), fnv(vdisk));
  }

  private static long score(long node, long vdisk) {
    long h = node * 0x9e3779b97f4a7c15L + vdisk;
    h ^= h >>> 30;
    h *= 0xbf58476d1ce4e5b9L;
    h ^= h >>> 27;
    h *= 0x94d049bb133111ebL;
    return h ^ (h >>> 31);
  }

  private static long fnv(String s) {
    long h = 0xcbf29ce484222325L;
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }
}
