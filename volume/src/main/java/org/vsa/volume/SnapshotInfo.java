package org.vsa.volume;

import java.time.Instant;
import java.util.List;

/**
 * A snapshot as the management surface shows it.
 *
 * @param name unique within its vDisk
 * @param created when it was taken
 * @param sizeBytes the vDisk's nominal size at that point
 * @param scheduled taken by the snapshot schedule (and so subject to its retention)
 * @param pinnedBytes backend bytes that only this snapshot keeps: what deleting it and the next
 *     scrub free
 * @param clones vDisks cloned from it (it cannot be deleted while there are any)
 */
public record SnapshotInfo(String name, Instant created, long sizeBytes, boolean scheduled, long pinnedBytes,
    List<String> clones) {}
