package org.vsa.volume;

/**
 * What one flatten of a clone did.
 *
 * @param vdisk the clone
 * @param clustersCopied clusters read from its ancestors' SCOs and written into its own
 * @param clustersSkipped inherited clusters a client write (or unmap) replaced while they were copied
 * @param detached the ancestors it no longer depends on (parent first); empty if it was not a clone
 * @param millis how long it took
 */
public record FlattenReport(String vdisk, long clustersCopied, long clustersSkipped, java.util.List<String> detached,
    long millis) {}
