package org.vsa.volume;

/**
 * One page of a vDisk's mapping: {@link Layout#PAGE_ENTRIES} clusters, each a location and the
 * CRC32C of its bytes. Guarded by its own monitor, so that a reader never pairs one write's
 * location with another's CRC.
 */
final class Page {
  final long index;
  private final long[] locations = new long[Layout.PAGE_ENTRIES];
  private final int[] crcs = new int[Layout.PAGE_ENTRIES];
  /** Bumped on every change; a checkpoint uses it to tell whether a page changed since its cut. */
  private long modCount;

  Page(long index) {
    this.index = index;
  }

  synchronized long location(int i) {
    return locations[i];
  }

  /** Copies entries [from, from+n) into the arrays at {@code at}. */
  synchronized void copy(int from, int n, long[] locs, int[] crcsOut, int at) {
    System.arraycopy(locations, from, locs, at, n);
    System.arraycopy(crcs, from, crcsOut, at, n);
  }

  /** Maps entry {@code i}; returns the location it had (0: none). */
  synchronized long set(int i, long location, int crc) {
    long old = locations[i];
    locations[i] = location;
    crcs[i] = crc;
    modCount++;
    return old;
  }

  /** Clears [from, to); returns whether anything was mapped there. */
  synchronized boolean clear(int from, int to) {
    boolean any = false;
    for (int i = from; i < to; i++) {
      any |= locations[i] != 0;
      locations[i] = 0;
      crcs[i] = 0;
    }
    if (any) {
      modCount++;
    }
    return any;
  }

  synchronized long modCount() {
    return modCount;
  }

  synchronized Snapshot snapshot() {
    return new Snapshot(index, locations.clone(), crcs.clone(), modCount);
  }

  synchronized void load(long[] locs, int[] crcsIn) {
    System.arraycopy(locs, 0, locations, 0, Layout.PAGE_ENTRIES);
    System.arraycopy(crcsIn, 0, crcs, 0, Layout.PAGE_ENTRIES);
  }

  /** A page's content at a checkpoint's cut. */
  record Snapshot(long index, long[] locations, int[] crcs, long modCount) {}
}
