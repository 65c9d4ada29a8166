package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * A vDisk's mapping rebuilt in RAM by replaying TLog histories: what a snapshot (or the point a
 * clone was taken at) maps. RAM: one page (about 6 KiB) per 2 MiB of the vDisk that the history
 * ever wrote; the vDisk's nominal size does not matter.
 */
final class Mapping {
  /** Where TLogs are read from: a vDisk's namespace and TLog number to the TLog's bytes. */
  interface TlogSource {
    byte[] tlog(String namespace, long number) throws IOException;
  }

  final TreeMap<Long, Page> pages = new TreeMap<>();
  /** The highest sequence number of the vDisk's own (level 0) records replayed. */
  long lastSeq;

  /**
   * The mapping of a vDisk with the given lineage after the TLogs of {@code ranges} of its own:
   * the deepest ancestor's snapshot first (its SCOs at that lineage level), then each level up,
   * then the vDisk's own TLogs (level 0).
   */
  static Mapping materialize(TlogSource src, UUID selfId, List<VolumeRecord.Ancestor> lineage, TlogRanges ranges)
      throws IOException {
    Mapping m = new Mapping();
    for (int level = lineage.size(); level >= 1; level--) {
      VolumeRecord.Ancestor a = lineage.get(level - 1);
      for (long n : a.ranges().numbers()) {
        m.replay(src.tlog(a.namespace(), n), a.id(), a.namespace(), n, level);
      }
    }
    String ns = LocalVolume.namespaceOf(selfId);
    for (long n : ranges.numbers()) {
      m.replay(src.tlog(ns, n), selfId, ns, n, 0);
    }
    return m;
  }

  /** Applies every record of one sealed TLog; a torn or unsealed TLog in a history is an error. */
  void replay(byte[] tlog, UUID volumeId, String namespace, long n, int level) throws IOException {
    Path name = Path.of(namespace, Layout.tlogName(n));
    if (tlog.length < TLog.HEADER_BYTES) {
      throw new IOException(name + ": TLog of a snapshot's history is shorter than its header");
    }
    ByteBuffer b = ByteBuffer.wrap(tlog);
    TLog.checkHeader(b.duplicate().limit(TLog.HEADER_BYTES), name, volumeId, n);
    boolean sealed = false;
    for (int pos = TLog.HEADER_BYTES; pos + TLog.RECORD_BYTES <= tlog.length && !sealed; pos += TLog.RECORD_BYTES) {
      TLog.Record r = TLog.decode(b.duplicate().position(pos));
      if (r == null) {
        throw new IOException(name + ": corrupt record at byte " + pos + " in a snapshot's history");
      }
      if (level == 0) {
        lastSeq = Math.max(lastSeq, r.seq());
      }
      switch (r.type()) {
        case TLog.WRITE -> set(r.cluster(), Layout.withLineage(Layout.location(n, r.a()), level), r.dataCrc());
        case TLog.UNMAP -> unmap(r.cluster(), r.a() & 0xFFFF_FFFFL);
        case TLog.SHARE -> set(r.target(), r.sharedLocation(), r.dataCrc()); // absolute at every level
        default -> sealed = true;
      }
    }
    if (!sealed) {
      throw new IOException(name + ": TLog in a snapshot's history is not sealed");
    }
  }

  /** The location a cluster maps to (0: unmapped). */
  long location(long cluster) {
    Page p = pages.get(cluster >>> Layout.PAGE_SHIFT);
    return p == null ? 0 : p.location((int) (cluster & (Layout.PAGE_ENTRIES - 1)));
  }

  void set(long cluster, long location, int crc) {
    pages.computeIfAbsent(cluster >>> Layout.PAGE_SHIFT, Page::new)
        .set((int) (cluster & (Layout.PAGE_ENTRIES - 1)), location, crc);
  }

  void unmap(long first, long count) {
    long end = first + count;
    for (Map.Entry<Long, Page> e : pages.subMap(first >>> Layout.PAGE_SHIFT, true, (end - 1) >>> Layout.PAGE_SHIFT, true)
        .entrySet()) {
      long base = e.getKey() << Layout.PAGE_SHIFT;
      int from = (int) Math.max(0, first - base);
      int to = (int) Math.min(Layout.PAGE_ENTRIES, end - base);
      e.getValue().clear(from, to);
    }
  }

  /** Calls {@code f} for every mapped cluster, in cluster order. */
  void forEach(MetadataStore.EntryConsumer f) throws IOException {
    long[] locs = new long[Layout.PAGE_ENTRIES];
    int[] crcs = new int[Layout.PAGE_ENTRIES];
    for (Page p : pages.values()) {
      p.copy(0, Layout.PAGE_ENTRIES, locs, crcs, 0);
      for (int i = 0; i < Layout.PAGE_ENTRIES; i++) {
        if (locs[i] != 0) {
          f.accept((p.index << Layout.PAGE_SHIFT) + i, locs[i], crcs[i]);
        }
      }
    }
  }
}
