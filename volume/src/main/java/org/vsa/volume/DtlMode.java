package org.vsa.volume;

/** How a vDisk's not-yet-uploaded writes are replicated to a DTL peer (used by the DTL). */
public enum DtlMode {
  /** No replication: a write is protected against node loss once its SCO is in the backend. */
  NONE,
  /** Replicated in the background; the acknowledgement does not wait for the peer. */
  ASYNC,
  /** A durable write or flush is acknowledged only once the peer holds it. */
  SYNC;

  /** Parses the config spelling: none, async, sync. */
  public static DtlMode parse(String s) {
    for (DtlMode m : values()) {
      if (m.configName().equals(s)) {
        return m;
      }
    }
    throw new IllegalArgumentException("DTL mode must be one of none, async, sync; got '" + s + "'");
  }

  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
