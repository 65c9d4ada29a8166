package org.vsa.volume;

import java.nio.file.Path;
import org.vsa.backends.ObjectStore;

/**
 * Where and how the engine keeps its data on this node.
 *
 * @param writeBufferDir directory on local flash for open and not-yet-uploaded SCOs and TLogs
 * @param writeBufferCapacityBytes when the write buffer holds this much, writes are held
 * @param metadataDir directory on local flash for metadata pages and checkpoints
 * @param metadataCacheBytes RAM for cached metadata pages (all vDisks together)
 * @param readCacheFile the read cache's fixed-size file on local flash
 * @param readCacheCapacityBytes size of that file; 0 disables the read cache
 * @param backend where sealed SCOs and TLogs go; the engine closes it when it closes
 * @param groupCommitMaxWaitMicros group commit trigger: the oldest waiter's age
 * @param groupCommitMaxBytes group commit trigger: bytes written since the last fsync
 * @param uploadThreads threads that put sealed SCOs to the backend
 */
public record EngineConfig(
    Path writeBufferDir,
    long writeBufferCapacityBytes,
    Path metadataDir,
    long metadataCacheBytes,
    Path readCacheFile,
    long readCacheCapacityBytes,
    ObjectStore backend,
    long groupCommitMaxWaitMicros,
    long groupCommitMaxBytes,
    int uploadThreads) {

  public static final long DEFAULT_GROUP_COMMIT_MAX_WAIT_MICROS = 200;
  public static final long DEFAULT_GROUP_COMMIT_MAX_BYTES = 4L << 20;

  /** Defaults under one data directory: writebuffer/, metadata/, readcache/ beside the backend. */
  public static EngineConfig underDataDir(Path dataDir, ObjectStore backend) {
    return new EngineConfig(
        dataDir.resolve("writebuffer"),
        8L << 30,
        dataDir.resolve("metadata"),
        64L << 20,
        dataDir.resolve("readcache").resolve("readcache.bin"),
        1L << 30,
        backend,
        DEFAULT_GROUP_COMMIT_MAX_WAIT_MICROS,
        DEFAULT_GROUP_COMMIT_MAX_BYTES,
        2);
  }

  public EngineConfig withWriteBufferCapacity(long bytes) {
    return new EngineConfig(writeBufferDir, bytes, metadataDir, metadataCacheBytes, readCacheFile,
        readCacheCapacityBytes, backend, groupCommitMaxWaitMicros, groupCommitMaxBytes, uploadThreads);
  }

  public EngineConfig withReadCacheCapacity(long bytes) {
    return new EngineConfig(writeBufferDir, writeBufferCapacityBytes, metadataDir, metadataCacheBytes,
        readCacheFile, bytes, backend, groupCommitMaxWaitMicros, groupCommitMaxBytes, uploadThreads);
  }

  public EngineConfig withMetadataCache(long bytes) {
    return new EngineConfig(writeBufferDir, writeBufferCapacityBytes, metadataDir, bytes,
        readCacheFile, readCacheCapacityBytes, backend, groupCommitMaxWaitMicros, groupCommitMaxBytes, uploadThreads);
  }

  public EngineConfig withGroupCommit(long maxWaitMicros, long maxBytes) {
    return new EngineConfig(writeBufferDir, writeBufferCapacityBytes, metadataDir, metadataCacheBytes,
        readCacheFile, readCacheCapacityBytes, backend, maxWaitMicros, maxBytes, uploadThreads);
  }
}
