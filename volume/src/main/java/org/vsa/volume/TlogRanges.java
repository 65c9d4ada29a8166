package org.vsa.volume;

import java.util.ArrayList;
import java.util.List;

/**
 * Which of a vDisk's TLogs make up one history (its head's, or a snapshot's), in order:
 * inclusive ranges of TLog numbers. A history starts as {@code 1-} (every TLog from 1 on); a
 * rollback to a snapshot cuts it to the snapshot's ranges and continues at the next unused
 * number, so the TLogs written after the snapshot drop out of every history. A snapshot's
 * ranges are closed; the head's last range is open ({@code last == OPEN}).
 *
 * <p>Text form: ranges joined by '+', each {@code first-last} or {@code first-} (open);
 * the empty history is {@code none}.
 */
record TlogRanges(List<long[]> ranges) {
  static final long OPEN = Long.MAX_VALUE;

  TlogRanges {
    ranges = List.copyOf(ranges);
    long prev = 0;
    for (long[] r : ranges) {
      Verify.that(r.length == 2 && r[0] > prev && r[1] >= r[0], "bad TLog range %s", java.util.Arrays.toString(r));
      prev = r[1];
    }
  }

  static TlogRanges all() {
    return new TlogRanges(List.of(new long[] {1, OPEN}));
  }

  boolean contains(long n) {
    for (long[] r : ranges) {
      if (n >= r[0] && n <= r[1]) {
        return true;
      }
    }
    return false;
  }

  /** This history cut after TLog {@code last}: every range closed at or before it. */
  TlogRanges upTo(long last) {
    List<long[]> out = new ArrayList<>();
    for (long[] r : ranges) {
      if (r[0] <= last) {
        out.add(new long[] {r[0], Math.min(r[1], last)});
      }
    }
    return new TlogRanges(out);
  }

  /** This (closed) history followed by every TLog from {@code first} on. */
  TlogRanges thenFrom(long first) {
    List<long[]> out = new ArrayList<>(ranges);
    out.add(new long[] {first, OPEN});
    return new TlogRanges(out);
  }

  /** The TLog numbers of a closed history, in order. */
  long[] numbers() {
    long count = 0;
    for (long[] r : ranges) {
      Verify.that(r[1] != OPEN, "an open history has no finite list of TLogs");
      count += r[1] - r[0] + 1;
    }
    long[] out = new long[Math.toIntExact(count)];
    int i = 0;
    for (long[] r : ranges) {
      for (long n = r[0]; n <= r[1]; n++) {
        out[i++] = n;
      }
    }
    return out;
  }

  /** The last TLog of a closed history, or 0 if it is empty. */
  long last() {
    return ranges.isEmpty() ? 0 : ranges.get(ranges.size() - 1)[1];
  }

  String encode() {
    if (ranges.isEmpty()) {
      return "none";
    }
    StringBuilder sb = new StringBuilder();
    for (long[] r : ranges) {
      if (sb.length() > 0) {
        sb.append('+');
      }
      sb.append(r[0]).append('-');
      if (r[1] != OPEN) {
        sb.append(r[1]);
      }
    }
    return sb.toString();
  }

  static TlogRanges parse(String s) {
    if (s.equals("none")) {
      return new TlogRanges(List.of());
    }
    List<long[]> out = new ArrayList<>();
    for (String part : s.split("\\+")) {
      int dash = part.indexOf('-');
      if (dash <= 0) {
        throw new IllegalArgumentException("bad TLog range '" + part + "'");
      }
      long first = Long.parseLong(part.substring(0, dash));
      String rest = part.substring(dash + 1);
      out.add(new long[] {first, rest.isEmpty() ? OPEN : Long.parseLong(rest)});
    }
    return new TlogRanges(out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TlogRanges t && t.encode().equals(encode());
  }

  @Override
  public int hashCode() {
    return encode().hashCode();
  }

  @Override
  public String toString() {
    return encode();
  }
}
