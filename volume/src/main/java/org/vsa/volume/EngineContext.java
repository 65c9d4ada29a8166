package org.vsa.volume;

import com.github.benmanes.caffeine.cache.Cache;
import java.util.concurrent.ExecutorService;
import org.vsa.backends.ObjectStore;
import org.vsa.cache.ReadCache;
import org.vsa.cache.WriteBuffer;

/**
 * What every vDisk of one engine shares; {@code dtl} is null when this node runs no DTL client;
 * {@code dedupe} is the vPool's deduplication index (see {@link Dedupe}); {@code bootId} gives the
 * kernel's boot id (see {@link BootMarker}; tests pass their own to simulate a reboot).
 */
record EngineContext(
    EngineConfig config,
    WriteBuffer writeBuffer,
    ReadCache readCache,
    ObjectStore backend,
    Cache<MetadataStore.PageKey, Page> pageCache,
    Uploader uploader,
    ExecutorService checkpointer,
    org.vsa.dtl.DtlConnector dtl,
    Dedupe dedupe,
    java.util.function.Supplier<String> bootId) {

  /** Resident (changed, not yet checkpointed) pages a vDisk may hold before it checkpoints. */
  int dirtyPagesMax() {
    return (int) Math.max(256, config.metadataCacheBytes() / MetadataStore.PAGE_HEAP_BYTES / 4);
  }
}
