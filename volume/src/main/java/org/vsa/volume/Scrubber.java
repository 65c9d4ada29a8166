package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.ObjectStore;

/**
 * One scrub of one vDisk: garbage collection of its backend objects, beside client I/O.
 *
 * <ol>
 *   <li>Liveness: which slots of its own SCOs the live mapping and each snapshot reference
 *       (snapshot mappings are rebuilt from their TLog ranges).
 *   <li>Candidates, among SCOs that are in the backend and no longer in the write buffer: SCOs
 *       nothing references are deleted; SCOs no snapshot references whose live fraction is at
 *       or below the fill ratio are rewritten. A SCO a snapshot references stays whole: its
 *       data is that snapshot's (and its clones').
 *   <li>Rewrite: each live cluster of a candidate is read from the backend, checked against
 *       its CRC32C, and written again as an ordinary TLog write, only if the cluster still maps
 *       there (a client write that came first wins). Rate-limited.
 *   <li>Then the open SCO is sealed and the scrub waits until the rewritten clusters are in the
 *       backend: a deletion never leaves data only in this node's write buffer.
 *   <li>Deletion, under the engine's lock and only if no snapshot was taken and no rollback
 *       happened meanwhile: a last scan checks that the live mapping references none of the
 *       doomed SCOs, then they are deleted, and so are TLogs no history (head or snapshot)
 *       contains any more (what a rollback left behind).
 * </ol>
 *
 * A crash at any point loses nothing: rewrites are ordinary durable writes, and deletions come
 * last. What a crash leaves (a SCO whose clusters all moved) is unreferenced and the next scrub
 * deletes it. The TLogs of the head's and snapshots' histories are kept (32 bytes per 4 KiB
 * written): snapshots and clones are rebuilt from them.
 */
final class Scrubber {
  private static final Logger log = LoggerFactory.getLogger(Scrubber.class);
  private static final int RUN_CLUSTERS_MAX = 256;

  /** Runs the deletion step under the engine's lock; returns why it did not (or null). */
  interface DeletionGate {
    String runLocked(IoAction deletions) throws IOException;
  }

  interface IoAction {
    void run() throws IOException;
  }

  /**
   * Dedupe: what other mappings (any vDisk's head or snapshot, this one's included) reference of
   * this vDisk's SCOs through shared locations. Such SCOs are kept whole, like those a snapshot
   * pins.
   */
  interface SharedGuard {
    /** SCOs referenced through dedupe when the scrub started. */
    Set<Long> pinned();

    /**
     * Under the deletion lock, before anything is deleted: removes {@code doomed} from the dedupe
     * index (durably, so no new reference can be taken) and returns those some live mapping
     * references after all (they are kept).
     */
    Set<Long> release(Set<Long> doomed) throws IOException;
  }

  private final ObjectStore backend;
  private final LocalVolume v;
  private final SnapshotTable table;
  private final ScrubOptions options;
  private final Mapping.TlogSource tlogs;
  private final DeletionGate gate;
  private final SharedGuard shared;
  private final long startNanos = System.nanoTime();
  private long bytesMetered;

  Scrubber(ObjectStore backend, LocalVolume v, SnapshotTable table, ScrubOptions options, Mapping.TlogSource tlogs,
      DeletionGate gate) {
    this(backend, v, table, options, tlogs, gate, null);
  }

  Scrubber(ObjectStore backend, LocalVolume v, SnapshotTable table, ScrubOptions options, Mapping.TlogSource tlogs,
      DeletionGate gate, SharedGuard shared) {
    this.shared = shared;
    this.backend = backend;
    this.v = v;
    this.table = table;
    this.options = options;
    this.tlogs = tlogs;
    this.gate = gate;
  }

  ScrubReport run() throws IOException {
    String ns = v.namespace();
    Liveness live = Liveness.compute(v, table, tlogs);
    Set<Long> local = v.scosInWriteBuffer();
    long open = v.openNumber();
    int slots = live.slotsPerSco();
    Set<Long> sharedPins = shared == null ? Set.of() : shared.pinned();
    TreeSet<Long> dead = new TreeSet<>();
    TreeSet<Long> sparse = new TreeSet<>();
    int examined = 0;
    for (String name : backend.list(ns, "sco_")) {
      long n = Layout.numberOf(name, "sco_");
      if (n <= 0 || n >= open || local.contains(n) || v.hasPendingShares(n)) {
        continue;
      }
      examined++;
      int headLive = live.headLive(n);
      boolean pinned = live.pinnedBySnapshot(n) || sharedPins.contains(n);
      if (headLive == 0 && !pinned) {
        dead.add(n);
      } else if (!pinned && headLive <= options.fillRatioMax() * slots) {
        sparse.add(n);
      }
    }
    long moved = sparse.isEmpty() ? 0 : rewrite(ns, sparse);
    String deferred = null;
    if (!sparse.isEmpty()) {
      long last = v.sealForSnapshot()[0];
      long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(options.uploadWaitMillisMax());
      while (!v.uploadedThrough(last) && System.nanoTime() < deadline) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      }
      if (!v.uploadedThrough(last)) {
        deferred = "the rewritten clusters are not in the backend yet";
      }
    }
    long[] deleted = new long[3]; // SCOs, TLogs, bytes
    if (deferred == null) {
      TreeSet<Long> doomed = new TreeSet<>(dead);
      doomed.addAll(sparse);
      deferred = gate.runLocked(() -> delete(ns, doomed, open, deleted, sharedPins));
    }
    ScrubReport r = new ScrubReport(v.name(), examined, sparse.size(), moved, (int) deleted[0], (int) deleted[1],
        deleted[2], deleted[2] - moved * Layout.CLUSTER_BYTES, deferred);
    log.info("vDisk {}: scrub examined {} SCOs, rewrote {} ({} clusters), deleted {} SCOs and {} TLogs, "
            + "reclaimed {} bytes in {} ms{}", v.name(), examined, sparse.size(), moved, deleted[0], deleted[1],
        r.bytesReclaimed(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos),
        deferred == null ? "" : "; deletions deferred: " + deferred);
    return r;
  }

  /** Moves the live clusters of the sparse SCOs into the open SCO; returns how many moved. */
  private long rewrite(String ns, Set<Long> sparse) throws IOException {
    Map<Long, List<long[]>> bySco = new HashMap<>();
    v.forEachMapped((cluster, loc, crc) -> {
      if (Layout.lineageOf(loc) == 0 && sparse.contains(Layout.scoOf(loc))) {
        bySco.computeIfAbsent(Layout.scoOf(loc), k -> new ArrayList<>()).add(new long[] {cluster, loc, crc});
      }
    });
    long moved = 0;
    for (long n : sparse) {
      List<long[]> entries = bySco.getOrDefault(n, List.of());
      if (entries.isEmpty()) {
        continue;
      }
      byte[] sco = backend.get(ns, Layout.scoName(n));
      meter(sco.length);
      for (long[] e : entries) {
        long off = Layout.slotOffset(Layout.slotOf(e[1]));
        if (off + Layout.CLUSTER_BYTES > sco.length) {
          throw new IOException("vDisk " + v.name() + ": SCO " + n + " in the backend is shorter than slot "
              + Layout.slotOf(e[1]) + " that cluster " + e[0] + " maps to; scrub stopped, nothing deleted");
        }
        if (Layout.crc32c(sco, (int) off, Layout.CLUSTER_BYTES) != (int) e[2]) {
          throw new IOException("vDisk " + v.name() + ": cluster " + e[0] + " in SCO " + n + " slot " + Layout.slotOf(e[1])
              + " fails its checksum in the backend; scrub stopped, nothing deleted");
        }
      }
      // runs of consecutive clusters (up to 1 MiB) move together: one lock and one append each
      int i = 0;
      while (i < entries.size()) {
        int j = i + 1;
        while (j < entries.size() && j - i < RUN_CLUSTERS_MAX && entries.get(j)[0] == entries.get(j - 1)[0] + 1) {
          j++;
        }
        int k = j - i;
        long[] expected = new long[k];
        int[] crcs = new int[k];
        ByteBuffer data = ByteBuffer.allocate(k * Layout.CLUSTER_BYTES);
        for (int c = 0; c < k; c++) {
          long[] e = entries.get(i + c);
          expected[c] = e[1];
          crcs[c] = (int) e[2];
          data.put(sco, (int) Layout.slotOffset(Layout.slotOf(e[1])), Layout.CLUSTER_BYTES);
        }
        data.clear();
        int m = v.relocate(entries.get(i)[0], expected, data, crcs);
        moved += m;
        meter((long) m * Layout.CLUSTER_BYTES);
        i = j;
      }
    }
    return moved;
  }

  /** Runs under the engine's lock. */
  private void delete(String ns, TreeSet<Long> doomed, long open, long[] deleted, Set<Long> sharedPins)
      throws IOException {
    // always-on check: nothing live may point into what is about to go
    v.forEachMapped((cluster, loc, crc) -> {
      if (Layout.lineageOf(loc) == 0 && doomed.remove(Layout.scoOf(loc))) {
        log.error("vDisk {}: scrub found cluster {} still mapped to SCO {}; keeping that SCO", v.name(), cluster,
            Layout.scoOf(loc));
      }
    });
    Set<Long> local = new java.util.HashSet<>(v.scosInWriteBuffer());
    local.addAll(v.tlogsInWriteBuffer()); // deleted once trimmed from the write buffer, by a later scrub
    // TLogs no history contains any more (what a rollback left behind), with their SCOs
    List<Long> oldTlogs = new ArrayList<>();
    for (String name : backend.list(ns, "tlog_")) {
      long n = Layout.numberOf(name, "tlog_");
      if (n > 0 && n < open && !local.contains(n) && !inSomeHistory(n)) {
        oldTlogs.add(n);
      }
    }
    Set<Long> keep = new java.util.HashSet<>(sharedPins);
    if (shared != null) {
      TreeSet<Long> all = new TreeSet<>(doomed);
      for (long n : oldTlogs) {
        if (!sharedPins.contains(n)) {
          all.add(n);
        }
      }
      Set<Long> still = shared.release(all);
      if (!still.isEmpty()) {
        log.info("vDisk {}: scrub keeps SCOs {}: other vDisks took references to them through dedupe", v.name(), still);
      }
      doomed.removeAll(still);
      keep.addAll(still);
    }
    for (long n : doomed) {
      String name = Layout.scoName(n);
      deleted[2] += sizeOrZero(ns, name);
      backend.delete(ns, name);
      deleted[0]++;
    }
    for (long n : oldTlogs) {
      String name = Layout.tlogName(n);
      String sco = Layout.scoName(n);
      if (!keep.contains(n) && backend.exists(ns, sco)) {
        deleted[2] += sizeOrZero(ns, sco);
        backend.delete(ns, sco);
        deleted[0]++;
      }
      deleted[2] += sizeOrZero(ns, name);
      backend.delete(ns, name);
      deleted[1]++;
    }
  }

  private boolean inSomeHistory(long tlog) {
    if (table.head().contains(tlog)) {
      return true;
    }
    for (SnapshotTable.Entry e : table.snapshots()) {
      if (e.ranges().contains(tlog)) {
        return true;
      }
    }
    return false;
  }

  private long sizeOrZero(String ns, String name) throws IOException {
    try {
      return backend.size(ns, name);
    } catch (org.vsa.backends.NoSuchObjectException e) {
      return 0;
    }
  }

  /** Rate limit: sleeps while more bytes went through than the rate allows since the start. */
  private void meter(long bytes) {
    bytesMetered += bytes;
    long rate = options.bytesPerSecondMax();
    if (rate <= 0) {
      return;
    }
    long dueNanos = (long) (bytesMetered * 1e9 / rate);
    long ahead = dueNanos - (System.nanoTime() - startNanos);
    if (ahead > 0) {
      LockSupport.parkNanos(Math.min(ahead, TimeUnit.SECONDS.toNanos(10)));
    }
  }
}
