package org.vsa.volume;

/**
 * What one scrub of one vDisk did.
 *
 * @param scosExamined SCOs in the backend it looked at
 * @param scosRewritten SCOs whose live clusters it moved into new SCOs
 * @param clustersMoved clusters it rewrote
 * @param scosDeleted SCO objects it deleted from the backend
 * @param tlogsDeleted TLog objects it deleted (TLogs no history refers to any more)
 * @param bytesDeleted bytes of the deleted objects
 * @param bytesReclaimed net backend bytes freed: deleted minus rewritten
 * @param deferred why deletions were put off to the next run, or null
 */
public record ScrubReport(String vdisk, int scosExamined, int scosRewritten, long clustersMoved, int scosDeleted,
    int tlogsDeleted, long bytesDeleted, long bytesReclaimed, String deferred) {}
