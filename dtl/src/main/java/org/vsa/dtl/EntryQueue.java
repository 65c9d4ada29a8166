package org.vsa.dtl;

import java.util.ArrayList;
import java.util.List;

/** Entries in seq order, contiguous, with access by seq; a growable ring. */
final class EntryQueue {
  private Entry[] ring = new Entry[256];
  private int head;
  private int size;
  private long bytes;

  void add(Entry e) {
    if (size > 0) {
      Verify.that(e.seq() == last().seq() + 1, "queued entry %d does not follow %d", e.seq(), last().seq());
    }
    if (size == ring.length) {
      Entry[] n = new Entry[ring.length * 2];
      for (int i = 0; i < size; i++) {
        n[i] = get(i);
      }
      ring = n;
      head = 0;
    }
    ring[(head + size) & (ring.length - 1)] = e;
    size++;
    bytes += e.sizeBytes();
  }

  int size() {
    return size;
  }

  long bytes() {
    return bytes;
  }

  private Entry get(int i) {
    return ring[(head + i) & (ring.length - 1)];
  }

  Entry first() {
    return get(0);
  }

  Entry last() {
    return get(size - 1);
  }

  Entry removeFirst() {
    Entry e = ring[head];
    ring[head] = null;
    head = (head + 1) & (ring.length - 1);
    size--;
    bytes -= e.sizeBytes();
    return e;
  }

  void clear() {
    while (size > 0) {
      removeFirst();
    }
    head = 0;
  }

  /** Entries following seq {@code after}, up to about {@code maxBytes} (at least one if any). */
  List<Entry> batchAfter(long after, int maxBytes) {
    List<Entry> out = new ArrayList<>();
    if (size == 0) {
      return out;
    }
    long firstSeq = first().seq();
    int i = (int) Math.max(0, after + 1 - firstSeq);
    if (after + 1 < firstSeq) {
      return out;
    }
    long b = 0;
    while (i < size && out.size() < WireCodec.ENTRIES_MAX && (out.isEmpty() || b + get(i).sizeBytes() <= maxBytes)) {
      Entry e = get(i++);
      b += e.sizeBytes();
      out.add(e);
    }
    return out;
  }

  long bytesAfter(long after) {
    long b = 0;
    for (int i = 0; i < size; i++) {
      if (get(i).seq() > after) {
        b += get(i).sizeBytes();
      }
    }
    return b;
  }
}
