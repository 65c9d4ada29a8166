package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The copy phase of a flatten: every cluster the clone still maps at an ancestor's level (1..255),
 * and every shared (dedupe) location it got from an ancestor's history rather than its own, is
 * read from where it is stored, checked against
 * its CRC32C and written into the clone's open SCO with the scrubber's compare-and-append
 * ({@link LocalVolume#relocate(long, long[], ByteBuffer, int[])}): a client write that reaches the
 * cluster first wins. Runs beside client I/O, rate-limited.
 *
 * <p>Crash-safe without a journal of its own: each copy is an ordinary TLog write, so a crash
 * leaves a clone whose clusters map either to the ancestor (still in its lineage) or to its own
 * copy; the next flatten copies what is left. The lineage is cut by the engine only afterwards.
 */
final class Flattener {
  private static final int RUN_CLUSTERS_MAX = 256;

  private final LocalVolume v;
  private final long bytesPerSecondMax;
  private final long startNanos = System.nanoTime();
  private long bytesMetered;
  long copied;
  long skipped;

  Flattener(LocalVolume v, long bytesPerSecondMax) {
    this.v = v;
    this.bytesPerSecondMax = bytesPerSecondMax;
  }

  /** Inherited entries of the live mapping in cluster order: {cluster, location, crc} columns. */
  static final class Inherited {
    long[] clusters = new long[1024];
    long[] locs = new long[1024];
    int[] crcs = new int[1024];
    int size;

    void add(long cluster, long loc, int crc) {
      if (size == clusters.length) {
        clusters = Arrays.copyOf(clusters, size * 2);
        locs = Arrays.copyOf(locs, size * 2);
        crcs = Arrays.copyOf(crcs, size * 2);
      }
      clusters[size] = cluster;
      locs[size] = loc;
      crcs[size] = crc;
      size++;
    }
  }

  /**
   * Whether a live mapping entry is inherited: it names an ancestor's SCO (level 1..255), or it is
   * a shared (dedupe) location that the clone's own TLog history does not record ({@code own}:
   * the mapping of that history alone). The latter came with the mapping the clone was created
   * with, from an ancestor's SHARE record: without the lineage nothing would name it, so it must
   * be written into the clone's own history too.
   */
  static boolean inherited(long cluster, long loc, Mapping own) {
    int level = Layout.lineageOf(loc);
    if (level >= 1 && level <= Layout.LINEAGE_MAX) {
      return true;
    }
    return Layout.isShared(loc) && own.location(cluster) != loc;
  }

  static Inherited scan(LocalVolume v, Mapping own) throws IOException {
    Inherited in = new Inherited();
    v.forEachMapped((cluster, loc, crc) -> {
      if (inherited(cluster, loc, own)) {
        in.add(cluster, loc, crc);
      }
    });
    return in;
  }

  /** Copies every inherited cluster once; returns how many were inherited at the scan. */
  int copyAll(Mapping own) throws IOException {
    Inherited in = scan(v, own);
    int i = 0;
    while (i < in.size) {
      int j = i + 1;
      while (j < in.size && j - i < RUN_CLUSTERS_MAX && in.clusters[j] == in.clusters[j - 1] + 1) {
        j++;
      }
      int k = j - i;
      long[] locs = Arrays.copyOfRange(in.locs, i, j);
      int[] crcs = Arrays.copyOfRange(in.crcs, i, j);
      ByteBuffer data = ByteBuffer.allocate(k * Layout.CLUSTER_BYTES);
      v.readAt(in.clusters[i], locs, crcs, data.duplicate());
      meter((long) k * Layout.CLUSTER_BYTES);
      int m = v.relocate(in.clusters[i], locs, data, crcs);
      copied += m;
      skipped += k - m;
      i = j;
    }
    return in.size;
  }

  /** Rate limit: sleeps while more bytes went through than the rate allows since the start. */
  private void meter(long bytes) {
    bytesMetered += bytes;
    if (bytesPerSecondMax <= 0) {
      return;
    }
    long dueNanos = (long) (bytesMetered * 1e9 / bytesPerSecondMax);
    long ahead = dueNanos - (System.nanoTime() - startNanos);
    if (ahead > 0) {
      LockSupport.parkNanos(Math.min(ahead, TimeUnit.SECONDS.toNanos(10)));
    }
  }
}
