package org.vsa.dtl;

/** What the DTL of one vDisk protects right now. */
public enum DtlState {
  /** The DTL holds every write the vDisk acknowledged (sync) or flushed (async). */
  OK_SYNC,
  /** No DTL by choice (mode none, or no peer configured): the write buffer is the only copy. */
  OK_STANDALONE,
  /**
   * Connected, but the DTL lacks part of the window: writes are acknowledged without waiting for
   * it until it has caught up. Writes it already held stay protected.
   */
  CATCHING_UP,
  /** The DTL is unreachable, full, or fenced this writer out: I/O carries on unprotected. */
  DEGRADED
}
