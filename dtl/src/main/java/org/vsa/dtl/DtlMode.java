package org.vsa.dtl;

/** How a vDisk's not-yet-uploaded writes are copied to its DTL. */
public enum DtlMode {
  /** No copy: until its SCO is in the backend, a write lives only in this node's write buffer. */
  NONE,
  /** Writes are queued and shipped by size or age; a flush returns once the DTL holds everything before it. */
  ASYNC,
  /** A write is acknowledged only once the DTL holds it (or the DTL is unreachable: see {@link DtlState}). */
  SYNC;

  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }

  public static DtlMode parse(String s) {
    for (DtlMode m : values()) {
      if (m.configName().equals(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("DTL mode must be none, async or sync; got '" + s + "'");
  }
}
