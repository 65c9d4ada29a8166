package org.vsa.iscsi.scsi;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Per LU: which EXTENDED COPY (LID1) list identifiers are running, per I_T nexus, and the
 * outcome of the last {@link #KEPT} finished ones whose list identifier was valid (LIST ID
 * USAGE 00b or 10b), for RECEIVE COPY RESULTS. In memory only: lost on restart, as SPC allows.
 */
final class CopyResults {
  static final int KEPT = 64;

  /**
   * @param status the EXTENDED COPY command's SCSI status
   * @param sense its sense data (CHECK CONDITION), empty otherwise
   * @param segmentsProcessed segments completed before it ended
   * @param bytesCopied bytes written to the destinations
   */
  record Outcome(int status, byte[] sense, int segmentsProcessed, long bytesCopied) {}

  private final Set<String> running = new HashSet<>();
  private final Map<String, Outcome> done = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Outcome> e) {
      return size() > KEPT;
    }
  };

  private static String key(String nexus, int listId) {
    return listId + "/" + nexus;
  }

  /** False if a copy with this list identifier is already running for the nexus. */
  synchronized boolean begin(String nexus, int listId) {
    done.remove(key(nexus, listId));
    return running.add(key(nexus, listId));
  }

  synchronized void end(String nexus, int listId, Outcome o) {
    running.remove(key(nexus, listId));
    if (o != null) {
      done.put(key(nexus, listId), o);
    }
  }

  synchronized boolean isRunning(String nexus, int listId) {
    return running.contains(key(nexus, listId));
  }

  synchronized Outcome outcome(String nexus, int listId) {
    return done.get(key(nexus, listId));
  }
}
