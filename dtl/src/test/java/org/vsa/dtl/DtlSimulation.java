package org.vsa.dtl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * One seeded schedule: an owner writing a vDisk (sync or async), its DTL server on a simulated
 * disk, a slow backend, and a network that loses, delays, duplicates and reorders messages and
 * partitions. Owners crash (keeping what they had written locally) and nodes are lost (their write
 * buffer gone: the vDisk is restored elsewhere from the backend plus the DTL, with a higher epoch,
 * while the old owner may linger as a zombie). The DTL server crashes and loses unsynced, torn
 * bytes. Every fault rate comes from the seed. In half the schedules a restarted owner keeps its
 * epoch, as a cluster node under its ownership lease does, while the DTL keeps the stream its
 * previous run wrote under that epoch. Once the faults stop the network is a healthy one (in
 * order, quick), and a last restart of the owner must get back in sync without turning DEGRADED.
 *
 * <p>Owners also lose power: their write buffer keeps what they had forced locally (plus, at
 * random, a further prefix the kernel had written back). In sync mode, once the stream was OK_SYNC
 * (the engine's boot marker names the epoch then), a write released while the DTL held it is
 * acknowledged on the DTL's force alone, and forced locally only later (a seal, a background
 * commit, leaving OK_SYNC); every other acknowledgement forces locally first. Recovery after a power
 * loss takes the write buffer's lost tail from the DTL when the marker names an epoch, as
 * {@code DtlRestore.afterReboot} does.
 *
 * <p>Safety, checked at every restore and at the end: the restored history agrees with the
 * owner's history on every entry up to the highest one acknowledged as protected (a sync-mode
 * write, or a flush, released while the DTL held it). Liveness, checked after the faults stop:
 * the stream gets back to OK_SYNC with the DTL holding every entry, and the DTL's disk shrinks to
 * what the backend does not hold yet.
 */
final class DtlSimulation {
  static final UUID VDISK = new UUID(7, 7);
  private static final long MS = 1_000_000L;

  final long seed;
  private final Random rnd;
  private long now;
  private long order;
  final List<String> trace = new ArrayList<>();

  // fault rates, from the seed
  private final DtlMode mode;
  private final double pDrop;
  private final double pDup;
  private final long delayMaxNanos;
  private final double pServerCrash;
  private final double pOwnerCrash;
  private final double pNodeLoss;
  private final double pPowerLoss;
  private final double pPartition;
  private final long uploadDelayMaxNanos;
  private final long serverBudgetBytes;
  private final long compactMinBytes;
  private final ClientConfig clientConfig;
  private final int dataBytes;
  private final int steps;
  /**
   * Owners restart with the epoch they had, as a cluster node does under its ownership lease (the
   * arbiter's epoch), rather than taking the next one as a single node does.
   */
  private final boolean leaseEpochs;

  // network
  private record Packet(long at, long order, int owner, int conn, boolean toServer, int kind, Msg msg) {}
  private static final int MSG = 0;
  private static final int CONNECTED = 1;
  private static final int DISCONNECTED = 2;
  private final PriorityQueue<Packet> net = new PriorityQueue<>(
      (a, b) -> a.at != b.at ? Long.compare(a.at, b.at) : Long.compare(a.order, b.order));
  private boolean partitioned;
  private boolean faults = true;

  // DTL server
  private final SimDisk disk = new SimDisk();
  private ServerLog log;
  private final Set<Long> serverConns = new HashSet<>();
  private long serverRestartAt = -1;

  // backend: SCO -> its entries, put atomically
  private final Map<Long, List<Entry>> backend = new TreeMap<>();

  private Owner owner;
  private final List<Owner> zombies = new ArrayList<>();
  private int nextOwnerId = 1;
  int restores;
  /** Power losses recovered (and checked), and how many of them took entries from the DTL. */
  int powerLosses;
  int powerLossesFromDtl;
  int protectedAcks;
  int unprotectedAcks;
  /** Writes held back by the queue bound (the writer retried later), and writes the bound let through. */
  int heldBack;
  int admittedAfterHold;
  long overflows;

  DtlSimulation(long seed, int steps) {
    this.seed = seed;
    this.rnd = new Random(seed);
    this.steps = steps;
    mode = rnd.nextBoolean() ? DtlMode.SYNC : DtlMode.ASYNC;
    pDrop = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 0.05;
    pDup = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 0.05;
    delayMaxNanos = (1 + rnd.nextInt(rnd.nextBoolean() ? 5 : 40)) * MS;
    pServerCrash = rnd.nextInt(4) == 0 ? 0 : rnd.nextDouble() * 0.01;
    pOwnerCrash = rnd.nextInt(4) == 0 ? 0 : rnd.nextDouble() * 0.005;
    pNodeLoss = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 0.004;
    pPowerLoss = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 0.004;
    pPartition = rnd.nextInt(3) == 0 ? 0 : rnd.nextDouble() * 0.005;
    uploadDelayMaxNanos = (1 + rnd.nextInt(rnd.nextBoolean() ? 20 : 400)) * MS;
    // small entries, or cluster-sized ones that fill the queue's bound within a few writes
    dataBytes = rnd.nextInt(3) == 0 ? 2048 + rnd.nextInt(6144) : 8;
    // a tight DTL disk budget (in proportion to the entries) in some schedules
    serverBudgetBytes = rnd.nextInt(5) == 0 ? (20_000 + rnd.nextInt(60_000)) * (dataBytes > 8 ? 16L : 1L)
        : Long.MAX_VALUE / 4;
    compactMinBytes = rnd.nextBoolean() ? 0 : 1 + rnd.nextInt(20_000);
    clientConfig = new ClientConfig(1 + rnd.nextInt(2_000), rnd.nextInt(20) * MS, 64 * 1024 + rnd.nextInt(64 * 1024),
        (20 + rnd.nextInt(100)) * MS, (1 + rnd.nextInt(10)) * MS, 200 * MS, 64 * 1024);
    leaseEpochs = rnd.nextBoolean();
    List<ByteBuffer> init = new ArrayList<>();
    log = ServerLog.create(VDISK, compactMinBytes, init);
    init.forEach(disk::append);
    disk.sync();
  }

  /** Set when one seed is replayed: every step goes to the trace. */
  boolean tracing;

  private void note(String s) {
    if (tracing && trace.size() < 50_000) {
      trace.add(String.format("%9.3f ms %s", now / 1e6, s));
    }
  }

  // ---------------------------------------------------------------- owner

  /** A vDisk owner process; its history is the lineage that restores are checked against. */
  private final class Owner {
    final int id = nextOwnerId++;
    final ClientMachine machine;
    final List<Entry> history;
    final long epoch;
    int conn;
    long openSco;
    int inOpen;
    int scoEntries = 3 + rnd.nextInt(40);
    long written; // entries whose log record reached the OS (survive a process crash)
    long forced; // entries forced locally (survive a power loss)
    /** The highest entry acknowledged after a local force (survives a power loss without the DTL). */
    long localAckMax;
    /** The epoch the boot marker names once the stream was OK_SYNC in sync mode (0: none). */
    long markerEpoch;
    boolean holding; // the last write attempt was held back by the queue bound
    long sealRequestedSco = -1; // the highest SCO the DTL asked to have sealed, not yet acted on
    long protectedMax;
    final TreeMap<Long, Long> uploads = new TreeMap<>(); // sealed SCO -> upload done at (or -1: not started)
    final List<long[]> waiters = new ArrayList<>(); // {seq}
    boolean zombie;
    /** Why the stream last turned DEGRADED (null: it never did). */
    String degraded;

    Owner(List<Entry> history, long epoch, long openSco, long protectedMax, long localAckMax) {
      this.history = history;
      this.epoch = epoch;
      this.openSco = openSco;
      this.written = history.size();
      this.forced = history.size(); // the engine forces what it recovered before it goes on
      this.protectedMax = protectedMax;
      this.localAckMax = localAckMax;
      long lastSco = history.isEmpty() ? 0 : history.get(history.size() - 1).sco();
      machine = new ClientMachine(clientConfig, new Random(rnd.nextLong()), VDISK, mode, epoch, history.size(), lastSco);
    }

    long lastSeq() {
      return history.size();
    }

    void step(ClientMachine.Event e) {
      long overflowsBefore = machine.overflows();
      DtlState before = machine.state();
      List<ClientMachine.Action> actions = machine.step(e, now);
      overflows += machine.overflows() - overflowsBefore;
      if (before == DtlState.OK_SYNC && machine.state() != DtlState.OK_SYNC) {
        forced = written; // leaving OK_SYNC forces what was acknowledged on the DTL's force alone
      }
      if (before != DtlState.DEGRADED && machine.state() == DtlState.DEGRADED) {
        degraded = machine.reason();
      }
      if (mode == DtlMode.SYNC && markerEpoch == 0 && machine.state() == DtlState.OK_SYNC && !zombie) {
        markerEpoch = epoch; // the engine writes its boot marker, then acknowledges on the DTL's force
      }
      // the memory bound: while the DTL is away nothing holds writers back and the retain bound drops the queue
      Verify.that(machine.queuedBytes() <= clientConfig.retainMaxBytes(), "queue of %d bytes past the retain bound",
          machine.queuedBytes());
      for (ClientMachine.Action a : actions) {
        act(a);
      }
      release();
    }

    void act(ClientMachine.Action a) {
      if (a instanceof ClientMachine.Connect c) {
        conn = c.conn();
        if (log != null && !partitioned) {
          serverConns.add(key(id, c.conn()));
          send(new Packet(now + delay(), order++, id, c.conn(), false, CONNECTED, null));
        } else {
          send(new Packet(now + delay() + 5 * MS, order++, id, c.conn(), false, DISCONNECTED, null));
        }
      } else if (a instanceof ClientMachine.Close c) {
        serverConns.remove(key(id, c.conn()));
      } else if (a instanceof ClientMachine.Send x) {
        if (tracing) {
          note("owner " + id + " sends " + x.msg());
        }
        transmit(new Packet(now + delay(), order++, id, x.conn(), true, MSG, x.msg()));
      } else if (a instanceof ClientMachine.StateChanged x) {
        note("owner " + id + " " + x.from() + " -> " + x.to() + ": " + x.why());
      } else if (a instanceof ClientMachine.RequestSeal r) {
        // the engine seals on another thread, under its append lock, never inside the step that asked
        // (a step can ask while a seal is appending its own record)
        sealRequestedSco = Math.max(sealRequestedSco, r.sco());
      }
    }

    void release() {
      long released = machine.releasedSeq();
      long held = machine.heldSeq();
      for (int i = waiters.size() - 1; i >= 0; i--) {
        long seq = waiters.get(i)[0];
        if (seq <= released) {
          waiters.remove(i);
          boolean onTheDtlAlone = seq <= held && mode == DtlMode.SYNC && markerEpoch != 0
              && machine.state() == DtlState.OK_SYNC;
          if (!onTheDtlAlone) {
            forced = Math.max(forced, seq); // the local group commit before the acknowledgement
            localAckMax = Math.max(localAckMax, seq);
          }
          if (seq <= held) {
            protectedMax = Math.max(protectedMax, seq);
            protectedAcks++;
          } else {
            unprotectedAcks++;
          }
        }
      }
    }

    void append(Entry e) {
      if (!history.isEmpty()) {
        Entry prev = history.get(history.size() - 1);
        Verify.that(e.sco() > prev.sco() || e.sco() == prev.sco() && prev.record()[0] != 2,
            "entry %d of SCO %d follows entry %d of SCO %d%s", e.seq(), e.sco(), prev.seq(), prev.sco(),
            prev.record()[0] == 2 ? " (sealed)" : "");
      }
      history.add(e);
      if (mode == DtlMode.SYNC) {
        written = history.size(); // sync mode writes the log record before waiting for the DTL
      }
      step(new ClientMachine.Appended(e));
    }

    void write() {
      if (!machine.admits()) {
        // back-pressure: the writer waits (it tries again at a later step); the bound holds
        Verify.that(machine.state() != DtlState.DEGRADED, "a DEGRADED stream must not hold writers back");
        heldBack++;
        holding = true;
        return;
      }
      if (holding) {
        holding = false;
        admittedAfterHold++;
      }
      long seq = lastSeq() + 1;
      byte[] data = new byte[dataBytes];
      rnd.nextBytes(data);
      append(new Entry(seq, openSco, new byte[] {1}, data));
      inOpen++;
      if (mode == DtlMode.SYNC) {
        waiters.add(new long[] {seq});
      }
      if (inOpen >= scoEntries) {
        seal();
      }
    }

    void flush() {
      written = history.size();
      step(new ClientMachine.FlushRequested(lastSeq()));
      waiters.add(new long[] {lastSeq()});
      release();
    }

    void seal() {
      append(new Entry(lastSeq() + 1, openSco, new byte[] {2}, new byte[0]));
      written = history.size();
      forced = written; // the commit after a seal forces the sealed pair before its upload
      if (!zombie) {
        uploads.put(openSco, now + (long) (rnd.nextDouble() * uploadDelayMaxNanos));
      }
      openSco++;
      inOpen = 0;
      scoEntries = 3 + rnd.nextInt(40);
    }

    /** What {@code LocalVolume.sealForDtl} does, later: seal the open SCO if it is at most the one asked for. */
    void sealIfRequested() {
      long sco = sealRequestedSco;
      sealRequestedSco = -1;
      if (sco >= 0 && !zombie && openSco <= sco && inOpen > 0) {
        seal();
      }
    }

    /** Uploads that are due land in the backend; the watermark goes to the DTL. */
    void uploads() {
      boolean any = false;
      for (var it = uploads.entrySet().iterator(); it.hasNext(); ) {
        var u = it.next();
        if (u.getValue() <= now) {
          long sco = u.getKey();
          List<Entry> es = new ArrayList<>();
          for (Entry e : history) {
            if (e.sco() == sco) {
              es.add(e);
            }
          }
          backend.put(sco, es);
          it.remove();
          any = true;
        }
      }
      if (any) {
        step(new ClientMachine.BackendHolds(watermark()));
      }
    }

    long watermark() {
      long min = openSco;
      if (!uploads.isEmpty()) {
        min = Math.min(min, uploads.firstKey());
      }
      return min - 1;
    }
  }

  private static long key(int owner, int conn) {
    return ((long) owner << 32) | conn;
  }

  /**
   * A packet's delay: at random while faults are on (so packets overtake each other); once they are
   * off, a healthy network's: fixed (in order, as TCP) and well within the ack timeout.
   */
  private long delay() {
    return faults ? (long) (rnd.nextDouble() * delayMaxNanos)
        : Math.min(delayMaxNanos / 2, clientConfig.ackTimeoutNanos() / 8);
  }

  private void send(Packet p) {
    net.add(p);
  }

  /** A message on the wire: maybe lost, maybe duplicated, delayed at random (so reordered). */
  private void transmit(Packet p) {
    if (faults && (partitioned || rnd.nextDouble() < pDrop)) {
      return;
    }
    net.add(p);
    if (faults && rnd.nextDouble() < pDup) {
      net.add(new Packet(now + delay(), order++, p.owner, p.conn, p.toServer, p.kind, p.msg));
    }
  }

  private Owner ownerById(int id) {
    if (owner != null && owner.id == id) {
      return owner;
    }
    for (Owner z : zombies) {
      if (z.id == id) {
        return z;
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- server

  private void deliverToServer(Packet p) {
    if (log == null || !serverConns.contains(key(p.owner, p.conn))) {
      return;
    }
    if (tracing) {
      note("server gets " + p.msg + " from owner " + p.owner + " conn " + p.conn);
    }
    List<ServerLog.Action> actions = log.step(key(p.owner, p.conn), p.msg, serverBudgetBytes - log.liveBytes());
    boolean dirty = false;
    for (ServerLog.Action a : actions) {
      if (faults && rnd.nextDouble() < pServerCrash / 4) {
        crashServer("in the middle of a request");
        return;
      }
      if (a instanceof ServerLog.Write w) {
        disk.append(w.bytes());
        dirty = true;
      } else if (a instanceof ServerLog.Sync) {
        disk.sync();
        dirty = false;
      } else if (a instanceof ServerLog.Reply r) {
        if (r.afterSync() && dirty) {
          disk.sync();
          dirty = false;
        }
        transmit(new Packet(now + delay(), order++, p.owner, p.conn, false, MSG, r.msg()));
      } else if (a instanceof ServerLog.SendEntries) {
        throw new AssertionError("fetch goes through restore()");
      } else if (a instanceof ServerLog.Compact c) {
        disk.compact(c);
      } else if (a instanceof ServerLog.Close) {
        serverConns.remove(key(p.owner, p.conn));
      }
    }
    Verify.that(log.fileBytes() == disk.size(), "server state says %d bytes, disk has %d", log.fileBytes(), disk.size());
  }

  private void crashServer(String why) {
    note("DTL server crashes " + why);
    disk.crash(rnd);
    log = null;
    for (long k : serverConns) {
      if (rnd.nextInt(10) < 7) {
        send(new Packet(now + delay(), order++, (int) (k >>> 32), (int) k, false, DISCONNECTED, null));
      }
    }
    serverConns.clear();
    serverRestartAt = now + (long) (rnd.nextDouble() * 200 * MS);
  }

  private int restoreConns;

  private void restartServer() {
    ByteBuffer file = disk.contents();
    String bad = LogCodec.checkHeader(file, VDISK);
    Verify.that(bad == null, "the DTL log header was synced at creation: %s", bad);
    LogCodec.Scan scan = LogCodec.scan(file.position(LogCodec.FILE_HEADER_BYTES));
    log = ServerLog.recover(VDISK, compactMinBytes, scan);
    disk.truncate(log.fileBytes());
    serverRestartAt = -1;
    note("DTL server restarts: entries (" + log.baseSeq() + ", " + log.lastSeq() + "] of epoch " + log.streamEpoch()
        + ", highest epoch " + log.highestEpoch() + (scan.stopReason() == null ? "" : ", log ended: " + scan.stopReason()));
  }

  // ---------------------------------------------------------------- owner crash and node loss

  /** The owner process dies; its write buffer survives with what it had written. */
  private void crashOwner() {
    Owner o = owner;
    int keep = (int) (o.written + rnd.nextInt((int) (o.lastSeq() - o.written) + 1));
    List<Entry> h = new ArrayList<>(o.history.subList(0, keep));
    note("owner " + o.id + " crashes; its write buffer keeps " + keep + " of " + o.lastSeq() + " entries");
    completeSomeUploads(o, h);
    owner = startOwner(h, leaseEpochs ? o.epoch : o.epoch + 1, o.protectedMax, o.localAckMax);
  }

  /** Some of the uploads in flight at a crash had completed: their SCOs (of the kept history) are in the backend. */
  private void completeSomeUploads(Owner o, List<Entry> h) {
    for (var u : o.uploads.entrySet()) {
      if (rnd.nextBoolean() && u.getKey() < (h.isEmpty() ? 0 : h.get(h.size() - 1).sco() + 1)) {
        List<Entry> es = new ArrayList<>();
        for (Entry e : h) {
          if (e.sco() == u.getKey()) {
            es.add(e);
          }
        }
        backend.put(u.getKey(), es); // the put had completed
      }
    }
  }

  /**
   * The owner's node loses power: its write buffer keeps what was forced (and perhaps a further
   * prefix the kernel had written back); recovery takes the rest from the DTL when the boot marker
   * names an epoch. Every acknowledged write must be there: those acknowledged on the DTL's force
   * and those acknowledged after a local force.
   */
  private void powerLoss() {
    Owner o = owner;
    int keep = (int) (o.forced + rnd.nextInt((int) (o.written - o.forced) + 1));
    List<Entry> h = new ArrayList<>(o.history.subList(0, keep));
    note("owner " + o.id + " loses power; its write buffer keeps " + keep + " of " + o.lastSeq() + " entries ("
        + o.forced + " forced), marker epoch " + o.markerEpoch);
    completeSomeUploads(o, h);
    long epoch = leaseEpochs ? o.epoch : o.epoch + 1;
    if (o.markerEpoch != 0) {
      if (log == null) {
        restartServer(); // the open waits for the DTL (or the operator overrides: not simulated)
      }
      Verify.that(log.streamEpoch() == o.markerEpoch, "after a power loss the DTL holds the stream of epoch %d, the"
          + " marker names %d", log.streamEpoch(), o.markerEpoch);
      if (!leaseEpochs) {
        epoch = Math.max(log.highestEpoch(), o.epoch) + 1;
      }
      serverStep(new Msg.Hello(VDISK, epoch)); // the fetch claims a new epoch, or the lease's
      List<Entry> dtl = fetchAll(epoch);
      int added = 0;
      for (Entry e : dtl) {
        if (e.seq() <= h.size()) {
          Verify.that(e.sameAs(h.get((int) e.seq() - 1)), "DTL entry %d differs from the write buffer's", e.seq());
        } else {
          Verify.that(e.seq() == h.size() + 1, "the DTL's entries start at %d, the write buffer ends at %d", e.seq(),
              h.size());
          h.add(e);
          added++;
        }
      }
      if (added > 0) {
        powerLossesFromDtl++;
      }
      if (!leaseEpochs) {
        epoch++;
      }
    }
    long must = Math.max(o.protectedMax, o.localAckMax);
    if (h.size() < must) {
      throw new AssertionError("recovery after a power loss: the history ends at " + h.size() + " but entry " + must
          + " was acknowledged (protected up to " + o.protectedMax + ", locally forced up to " + o.localAckMax + ")");
    }
    for (int i = 0; i < must; i++) {
      if (!h.get(i).sameAs(o.history.get(i))) {
        throw new AssertionError("recovery after a power loss: entry " + (i + 1) + " differs from the one written");
      }
    }
    powerLosses++;
    owner = startOwner(h, epoch, o.protectedMax, o.localAckMax);
  }

  /** Reads the DTL's whole stream with {@code epoch} (what the Fetch RPC does). */
  private List<Entry> fetchAll(long epoch) {
    List<Entry> dtl = new ArrayList<>();
    long after = 0;
    while (true) {
      List<ServerLog.Action> as = log.step(new Msg.Fetch(epoch, after, 1 + rnd.nextInt(4096)), Long.MAX_VALUE);
      ServerLog.SendEntries s = null;
      for (ServerLog.Action a : as) {
        if (a instanceof ServerLog.SendEntries x) {
          s = x;
        } else if (a instanceof ServerLog.Write w) {
          disk.append(w.bytes());
        } else if (a instanceof ServerLog.Sync) {
          disk.sync();
        }
      }
      Verify.that(s != null, "fetch answered %s", as);
      for (long q = s.fromSeq() + 1; q <= s.toSeq(); q++) {
        ByteBuffer rec = disk.read(log.offsetOf(q), log.lengthOf(q));
        LogCodec.Scan one = LogCodec.scan(rec);
        Verify.that(one.records().size() == 1, "entry %d does not decode at its offset", q);
        dtl.add(one.records().get(0).entry());
      }
      after = s.toSeq();
      if (!s.more()) {
        return dtl;
      }
    }
  }

  /** A restarted owner: recovery seals the open SCO and queues every sealed SCO not in the backend. */
  private Owner startOwner(List<Entry> h, long epoch, long protectedMax, long localAckMax) {
    long lastSco = h.isEmpty() ? 1 : h.get(h.size() - 1).sco();
    boolean lastSealed = !h.isEmpty() && h.get(h.size() - 1).record()[0] == 2;
    long open = lastSealed ? lastSco + 1 : lastSco;
    h.add(new Entry(h.size() + 1, open, new byte[] {2}, new byte[0]));
    Owner n = new Owner(h, epoch, open + 1, protectedMax, localAckMax);
    for (long s = 1; s <= open; s++) {
      if (!backend.containsKey(s)) {
        n.uploads.put(s, now + (long) (rnd.nextDouble() * uploadDelayMaxNanos));
      }
    }
    n.step(new ClientMachine.BackendHolds(n.watermark()));
    n.step(new ClientMachine.Tick());
    return n;
  }

  /** The owner's node is lost; the vDisk is restored from the backend and the DTL and checked. */
  private void loseNode(String why) {
    Owner o = owner;
    note("node of owner " + o.id + " lost " + why + "; restoring from the backend and the DTL");
    if (log == null) {
      restartServer(); // the restore waits for the DTL to come back
    }
    long epoch = Math.max(log.highestEpoch(), o.epoch) + 1;
    // fence the old owner, then read the whole stream (what the Fetch RPC does)
    serverStep(new Msg.Hello(VDISK, epoch));
    List<Entry> dtl = fetchAll(epoch);
    List<Entry> restored = restore(backend, dtl);
    check(o, restored, "restore after node loss");
    // SCOs past the backend's contiguous prefix belong to the lost owner's history, which the
    // restored one may not follow: the restore deletes them before anything new is uploaded.
    long prefix = 0;
    while (backend.containsKey(prefix + 1)) {
      prefix++;
    }
    long b = prefix;
    backend.keySet().removeIf(k -> k > b);
    restores++;
    o.zombie = true;
    o.uploads.clear();
    if (rnd.nextBoolean()) {
      zombies.add(o); // keeps writing for a while, fenced out by the epoch
    }
    owner = startOwner(new ArrayList<>(restored), epoch, o.protectedMax, 0); // locally acknowledged writes may go with the node
  }

  /** A restore's Hello and Fetch, on a connection of its own (owner ids start at 1: owner 0 is the restores'). */
  private void serverStep(Msg m) {
    for (ServerLog.Action a : log.step(key(0, ++restoreConns), m, Long.MAX_VALUE)) {
      if (a instanceof ServerLog.Write w) {
        disk.append(w.bytes());
      } else if (a instanceof ServerLog.Sync) {
        disk.sync();
      }
    }
  }

  /**
   * What the engine's restore does: every SCO of the backend's contiguous prefix, then the DTL's
   * entries of later SCOs, as long as the sequence numbers follow each other.
   */
  static List<Entry> restore(Map<Long, List<Entry>> backend, List<Entry> dtl) {
    List<Entry> out = new ArrayList<>();
    long b = 0;
    while (backend.containsKey(b + 1)) {
      b++;
      out.addAll(backend.get(b));
    }
    for (Entry e : dtl) {
      if (e.sco() > b) {
        if (e.seq() != out.size() + 1) {
          break;
        }
        out.add(e);
      }
    }
    return out;
  }

  private void check(Owner o, List<Entry> restored, String when) {
    long p = o.protectedMax;
    if (restored.size() < p) {
      throw new AssertionError(when + ": the restored history ends at " + restored.size()
          + " but entry " + p + " was acknowledged as protected");
    }
    for (int i = 0; i < p; i++) {
      if (!restored.get(i).sameAs(o.history.get(i))) {
        throw new AssertionError(when + ": restored entry " + (i + 1) + " differs from the one written ("
            + restored.get(i) + " vs " + o.history.get(i) + "); protected up to " + p);
      }
    }
  }

  // ---------------------------------------------------------------- the schedule

  void run() {
    owner = startOwner(new ArrayList<>(), 1, 0, 0);
    for (int i = 0; i < steps; i++) {
      advance((long) (rnd.nextDouble() * 3 * MS), true);
      double r = rnd.nextDouble();
      if (r < 0.45) {
        owner.write();
      } else if (r < 0.55) {
        owner.flush();
      } else if (r < 0.57 && owner.inOpen > 0) {
        owner.seal();
      } else if (r < 0.60 && !zombies.isEmpty()) {
        Owner z = zombies.get(rnd.nextInt(zombies.size()));
        if (rnd.nextInt(10) == 0) {
          zombies.remove(z);
        } else {
          z.write();
        }
      }
      double f = rnd.nextDouble();
      if (f < pServerCrash && log != null) {
        crashServer("between requests");
      } else if ((f -= pServerCrash) < pOwnerCrash) {
        crashOwner();
      } else if ((f -= pOwnerCrash) < pNodeLoss) {
        loseNode("mid-run");
      } else if ((f -= pNodeLoss) < pPowerLoss) {
        powerLoss();
      } else if ((f -= pPowerLoss) < pPartition) {
        partitioned = !partitioned;
        note(partitioned ? "network partitioned" : "partition healed");
      }
    }
    // liveness: faults stop, everything heals, the stream must get back to OK_SYNC
    partitioned = false;
    faults = false;
    if (log == null) {
      restartServer();
    }
    zombies.clear();
    owner.flush();
    long deadline = now + 60_000 * MS;
    while (!(owner.machine.state() == DtlState.OK_SYNC && owner.machine.heldSeq() == owner.lastSeq()
        && owner.waiters.isEmpty() && owner.uploads.isEmpty())) {
      if (now > deadline) {
        throw new AssertionError("liveness: no OK_SYNC within 60 s of healing; state " + owner.machine.state()
            + " (" + owner.machine.reason() + "), held " + owner.machine.heldSeq() + " of " + owner.lastSeq()
            + ", waiters " + owner.waiters.size() + ", uploads " + owner.uploads.keySet());
      }
      advance(5 * MS, false);
      if (owner.inOpen > 0 && rnd.nextInt(20) == 0) {
        owner.seal();
      }
    }
    // with every SCO uploaded the DTL keeps at most the open SCO's entries
    if (owner.inOpen > 0) {
      owner.seal();
    }
    deadline = now + 60_000 * MS;
    while ((!owner.uploads.isEmpty() || log.lastSeq() > log.baseSeq()) && now < deadline) {
      advance(5 * MS, false);
    }
    if (log.lastSeq() != log.baseSeq()) {
      throw new AssertionError("trimming: with every SCO in the backend the DTL still holds entries ("
          + log.baseSeq() + ", " + log.lastSeq() + "]");
    }
    long bound = LogCodec.FILE_HEADER_BYTES + 2 * log.liveBytes() + compactMinBytes + 4096;
    if (disk.size() > bound + log.fileBytes() - log.liveBytes() && log.fileBytes() - LogCodec.FILE_HEADER_BYTES - log.liveBytes() > Math.max(log.liveBytes(), compactMinBytes) + 1024) {
      throw new AssertionError("the DTL file holds " + disk.size() + " bytes for " + log.liveBytes() + " live");
    }
    restartWhenHealthy();
    loseNode("at the end");
  }

  /**
   * Once everything is healthy the owner restarts (its epoch kept under a lease, or the next one)
   * and writes: with no fault left, its new stream must get in sync and hold the new writes without
   * ever turning DEGRADED (a stream that waits out an ack timeout would).
   */
  private void restartWhenHealthy() {
    Owner o = owner;
    note("owner " + o.id + " restarts with everything healthy");
    List<Entry> h = new ArrayList<>(o.history);
    owner = startOwner(h, leaseEpochs ? o.epoch : o.epoch + 1, o.protectedMax, o.localAckMax);
    int writes = 0;
    long deadline = now + 60_000 * MS;
    while (!(writes >= 5 && owner.machine.state() == DtlState.OK_SYNC && owner.machine.heldSeq() == owner.lastSeq()
        && owner.waiters.isEmpty())) {
      if (owner.degraded != null || now > deadline) {
        throw new AssertionError("restart when healthy: the stream " + (owner.degraded != null
            ? "turned DEGRADED (" + owner.degraded + ")" : "is not in sync within 60 s") + "; state "
            + owner.machine.state() + " (" + owner.machine.reason() + "), held " + owner.machine.heldSeq() + " of "
            + owner.lastSeq());
      }
      if (writes < 5 && owner.machine.admits()) {
        owner.write();
        writes++;
      }
      advance(MS, false);
    }
  }

  /** Time passes: packets, uploads, ticks. */
  private void advance(long dt, boolean faults) {
    long until = now + dt;
    while (!net.isEmpty() && net.peek().at <= until) {
      Packet p = net.poll();
      now = Math.max(now, p.at);
      if (p.toServer) {
        if (!partitioned || !faults) {
          deliverToServer(p);
        }
        continue;
      }
      Owner o = ownerById(p.owner);
      if (o == null) {
        continue;
      }
      switch (p.kind) {
        case CONNECTED -> o.step(new ClientMachine.Connected(p.conn));
        case DISCONNECTED -> o.step(new ClientMachine.Disconnected(p.conn, "connection lost"));
        default -> {
          if (tracing) {
            note("owner " + o.id + " gets " + p.msg);
          }
          o.step(new ClientMachine.Received(p.conn, p.msg));
        }
      }
    }
    now = until;
    if (log == null && serverRestartAt >= 0 && now >= serverRestartAt) {
      restartServer();
    }
    owner.sealIfRequested();
    owner.uploads();
    if (rnd.nextInt(10) == 0) {
      owner.forced = owner.written; // the background group commit after acknowledgements on the DTL's force
    }
    owner.step(new ClientMachine.Tick());
    for (Owner z : zombies) {
      z.step(new ClientMachine.Tick());
    }
  }
}
