package org.vsa.volume;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Which slots of a vDisk's own SCOs are still referenced: by its live mapping (the head) and by
 * each of its snapshots (their mappings rebuilt from their TLog ranges). Clones reference their
 * parent's SCOs only through the snapshot they were cloned from, which cannot be deleted while
 * they exist, so the snapshots cover them. RAM: a bit per slot for the head and an int per slot
 * for the snapshots, of SCOs that hold anything referenced.
 */
final class Liveness {
  private final int slotsPerSco;
  private final Map<Long, BitSet> head = new HashMap<>();
  private final Map<Long, int[]> snapshotRefs = new HashMap<>();
  private final List<Mapping> snapshots = new ArrayList<>();

  private Liveness(int slotsPerSco) {
    this.slotsPerSco = slotsPerSco;
  }

  static Liveness compute(LocalVolume v, SnapshotTable t, Mapping.TlogSource src) throws IOException {
    int slots = (int) (v.spec().scoSizeBytes() / Layout.CLUSTER_BYTES);
    Liveness l = new Liveness(slots);
    v.forEachMapped((cluster, loc, crc) -> {
      if (Layout.lineageOf(loc) == 0) {
        l.head.computeIfAbsent(Layout.scoOf(loc), k -> new BitSet(slots)).set(Layout.slotOf(loc));
      }
    });
    for (SnapshotTable.Entry e : t.snapshots()) {
      Mapping m = Mapping.materialize(src, v.id(), v.record().lineage(), e.ranges());
      l.snapshots.add(m);
      m.forEach((cluster, loc, crc) -> {
        if (Layout.lineageOf(loc) == 0) {
          l.snapshotRefs.computeIfAbsent(Layout.scoOf(loc), k -> new int[slots])[Layout.slotOf(loc)]++;
        }
      });
    }
    return l;
  }

  /** Slots of SCO n the head references. */
  int headLive(long sco) {
    BitSet b = head.get(sco);
    return b == null ? 0 : b.cardinality();
  }

  /** Whether any snapshot references a slot of SCO n. */
  boolean pinnedBySnapshot(long sco) {
    return snapshotRefs.containsKey(sco);
  }

  /** Bytes of own SCOs that only snapshot i references (neither the head nor another snapshot). */
  long pinnedBytes(int i) throws IOException {
    long[] count = {0};
    snapshots.get(i).forEach((cluster, loc, crc) -> {
      if (Layout.lineageOf(loc) != 0) {
        return;
      }
      long sco = Layout.scoOf(loc);
      int slot = Layout.slotOf(loc);
      BitSet h = head.get(sco);
      if (snapshotRefs.get(sco)[slot] == 1 && (h == null || !h.get(slot))) {
        count[0]++;
      }
    });
    return count[0] * Layout.CLUSTER_BYTES;
  }

  /** Every own SCO something references. */
  java.util.Set<Long> referencedScos() {
    java.util.Set<Long> out = new java.util.TreeSet<>(head.keySet());
    out.addAll(snapshotRefs.keySet());
    return out;
  }

  int slotsPerSco() {
    return slotsPerSco;
  }
}
