package org.vsa.cache;

import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.EOFException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The read cache: 4 KiB blocks in one fixed-size file on local flash, indexed in RAM.
 *
 * <p><b>Policy apart from mechanism.</b> A Caffeine cache (W-TinyLFU) maps (volumeKey, location)
 * to a slot of the file and decides what stays; the file only stores slots. The removal listener
 * returns a removed entry's slot to a free-slot queue, on the removing thread (direct executor) so
 * that evictions free slots at once. A slot is written only by the insert that took it from that
 * queue, and the index holds at most one entry per slot, so two live blocks never share a slot.
 *
 * <p><b>Insert asks the policy before taking a slot.</b> It first reserves the key in the index
 * (a {@link #RESERVED} value, no slot yet). The index is bounded at the number of slots, so when it
 * is full that reservation makes Caffeine evict a victim, whose slot the insert then takes. Had the
 * index held only entries with slots, a full cache could never make room: Caffeine evicts only
 * once the map exceeds its bound, and the map could not grow without a free slot. If no slot is
 * free even after {@code cleanUp()} (concurrent inserts took them), the insert is dropped and
 * counted. Readers treat a reservation as a miss.
 *
 * <p><b>Empty after every start.</b> The index lives in RAM only: {@link #open} truncates the file
 * and extends it (sparse) to capacity, and every slot starts free. Persisting the index would need
 * a journal of its own; refilling from the backend is cheaper than being wrong after a crash.
 *
 * <p><b>No invalidation on write.</b> A location in a log-structured vDisk never changes content,
 * so a key's block is immutable. {@link #invalidateVolume} is for a vDisk deleted or rolled back
 * (its locations may be reused); the caller stops inserting for that volume first.
 *
 * <p><b>Readers and slot reuse.</b> A reader may look up a slot just before it is evicted and
 * rewritten. Each slot carries a seqlock version (odd while being written) and an owner tag
 * (volumeKey, location). A read is a hit only if the version was even and unchanged across the
 * read, the tag is the reader's key, and the block's CRC32C is the one the caller expects (from
 * the vDisk's metadata, which also catches corruption on flash). Anything else is a miss that
 * drops the index entry.
 *
 * <p><b>Quotas.</b> A vDisk may have a quota ({@link #setQuota}): the most blocks it may hold.
 * Blocks held are counted per vDisk (an entry counts from the moment it owns a slot until the
 * removal listener frees that slot). Each admitted block of a vDisk with a quota is also queued
 * in that vDisk's insertion order; once the vDisk holds more than its quota, its oldest blocks
 * leave the index (their slots go back to the free queue) until it is within it. So a vDisk with
 * a quota competes for the rest of the cache under W-TinyLFU like any other, but never holds more
 * than its quota, and within its quota its blocks are replaced oldest first. The order queue
 * holds stale keys of blocks W-TinyLFU evicted; it is compacted once it is twice the quota (plus
 * {@value #QUOTA_SLACK}), so it stays bounded.
 *
 * <p><b>Errors.</b> The cache is an optimisation: an I/O error on its file is logged (at most
 * once per 10 s) and counted, and becomes a miss or a skipped insert; only {@link #open} throws.
 * A {@link FileChannel} closes itself when a thread blocked in it is interrupted; the cache then
 * reopens the file, and a thread already interrupted skips the file so it cannot close it for
 * everyone.
 */
public final class ReadCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReadCache.class);

  public static final int BLOCK_BYTES = 4096;
  /** Index value of a key whose insert has not yet got a slot. */
  static final Integer RESERVED = -1;
  private static final long ERROR_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
  static final int PENDING_MAX = 4096;

  private record Key(long volumeKey, long location) {}

  static final int QUOTA_SLACK = 1024;

  /** A vDisk's quota and its admitted blocks' keys in insertion order (stale ones included). */
  private static final class Quota {
    final long blocksMax;
    final java.util.ArrayDeque<Long> order = new java.util.ArrayDeque<>();

    Quota(long blocksMax) {
      this.blocksMax = blocksMax;
    }
  }

  /** Blocks held (entries owning a slot) per vDisk. */
  private final ConcurrentMap<Long, AtomicLong> held = new java.util.concurrent.ConcurrentHashMap<>();
  private final ConcurrentMap<Long, Quota> quotas = new java.util.concurrent.ConcurrentHashMap<>();
  private final LongAdder quotaEvictions = new LongAdder();

  private final Path file;
  private final int slotCount;
  /** Null when the cache is disabled (capacity below one block). */
  private final Cache<Key, Integer> index;
  /** Free slots as a primitive stack: 4 bytes a slot, not a boxed queue node. */
  private final FreeSlots freeSlots;
  /** Blocks waiting to be written by the filler thread ({@link #offer}); bounded, drops when full. */
  private final ArrayBlockingQueue<Pending> pending;
  private final Thread filler;
  private final java.util.concurrent.atomic.AtomicInteger unwritten = new java.util.concurrent.atomic.AtomicInteger();
  private final AtomicLongArray versions;
  private final AtomicLongArray ownerVolumeKeys;
  private final AtomicLongArray ownerLocations;
  private volatile FileChannel channel;
  private volatile boolean closed;

  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder insertsDropped = new LongAdder();
  private final LongAdder ioErrors = new LongAdder();
  private final AtomicLong lastErrorLogNanos = new AtomicLong(System.nanoTime() - ERROR_LOG_INTERVAL_NANOS);

  /**
   * Opens the cache file, creating it and its directory if needed, and sizes it to {@code
   * capacityBytes} rounded down to whole blocks. A capacity below one block disables the cache
   * (every read misses, inserts are ignored) and leaves the file alone.
   */
  public static ReadCache open(Path file, long capacityBytes) throws IOException {
    Objects.requireNonNull(file, "file");
    if (capacityBytes < 0) {
      throw new IllegalArgumentException("read cache capacityBytes must be >= 0; got " + capacityBytes);
    }
    long blocks = capacityBytes / BLOCK_BYTES;
    if (blocks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("read cache capacityBytes must be at most "
          + (long) Integer.MAX_VALUE * BLOCK_BYTES + "; got " + capacityBytes);
    }
    if (blocks == 0) {
      return new ReadCache(file, 0, null);
    }
    Path dir = file.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
      // Truncating first drops the previous run's blocks, which nothing indexes any more, so the
      // file system can free (trim) them; the extension is sparse.
      raf.setLength(0);
      raf.setLength(blocks * BLOCK_BYTES);
    } catch (IOException e) {
      throw new IOException("cannot size read cache file " + file + " to " + blocks * BLOCK_BYTES + " bytes: " + e, e);
    }
    return new ReadCache(file, (int) blocks, FileChannel.open(file, READ, WRITE));
  }

  private ReadCache(Path file, int slotCount, FileChannel channel) {
    this.file = file;
    this.slotCount = slotCount;
    this.channel = channel;
    this.versions = new AtomicLongArray(slotCount);
    this.ownerVolumeKeys = new AtomicLongArray(slotCount);
    this.ownerLocations = new AtomicLongArray(slotCount);
    this.freeSlots = new FreeSlots(slotCount);
    if (slotCount == 0) {
      this.index = null;
      this.pending = null;
      this.filler = null;
      return;
    }
    this.pending = new ArrayBlockingQueue<>(PENDING_MAX);
    this.filler = new Thread(this::fill, "read-cache-filler");
    this.filler.setDaemon(true);
    this.index = Caffeine.newBuilder()
        .maximumSize(slotCount)
        .executor(Runnable::run)
        .<Key, Integer>removalListener((key, slot, cause) -> {
          if (slot != null && slot >= 0) {
            freeSlots.offer(slot);
            heldBy(key.volumeKey()).decrementAndGet();
          }
        })
        .build();
    this.filler.start();
  }

  /** A block handed to {@link #offer}, copied so that the caller's buffer can be reused at once. */
  private record Pending(long volumeKey, long location, byte[] block) {}

  /**
   * Caches {@code block} later, on the filler thread, so that a read served from the backend
   * returns without waiting for the cache file; dropped (and counted) when the filler is behind
   * by {@value #PENDING_MAX} blocks.
   */
  public void offer(long volumeKey, long location, ByteBuffer block) {
    checkBlock("block", block);
    if (index == null || closed) {
      return;
    }
    if (pending.remainingCapacity() == 0) {
      insertsDropped.increment(); // behind: do not even copy
      return;
    }
    byte[] copy = new byte[BLOCK_BYTES];
    block.duplicate().get(copy);
    unwritten.incrementAndGet();
    if (!pending.offer(new Pending(volumeKey, location, copy))) {
      unwritten.decrementAndGet();
      insertsDropped.increment();
    }
  }

  private void fill() {
    while (!closed) {
      Pending p;
      try {
        p = pending.poll(100, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        return;
      }
      if (p != null) {
        try {
          insert(p.volumeKey(), p.location(), ByteBuffer.wrap(p.block()));
        } finally {
          unwritten.decrementAndGet();
        }
      }
    }
  }

  /** Blocks offered and not yet written, queued or being written (tests wait for it to reach 0). */
  public int pendingInserts() {
    return unwritten.get();
  }

  /**
   * On a hit fills {@code dst} (exactly {@value #BLOCK_BYTES} remaining), advances its position
   * and returns true. On a miss returns false with dst's position unchanged and its remaining
   * bytes unspecified.
   */
  public boolean read(long volumeKey, long location, int expectedCrc32c, ByteBuffer dst) {
    checkBlock("dst", dst);
    Key key = new Key(volumeKey, location);
    Integer slot = usable() ? index.getIfPresent(key) : null;
    if (slot == null || slot < 0) {
      misses.increment();
      return false;
    }
    if (!readSlot(slot, key, expectedCrc32c, dst)) {
      // Stale (slot reused), corrupt, or unreadable: drop it, unless it was re-mapped meanwhile.
      index.asMap().remove(key, slot);
      misses.increment();
      return false;
    }
    dst.position(dst.position() + BLOCK_BYTES);
    hits.increment();
    return true;
  }

  /** Caches {@code block} (exactly {@value #BLOCK_BYTES} remaining; its position is unchanged). */
  public void insert(long volumeKey, long location, ByteBuffer block) {
    checkBlock("block", block);
    if (!usable()) {
      return;
    }
    Key key = new Key(volumeKey, location);
    ConcurrentMap<Key, Integer> map = index.asMap();
    if (map.putIfAbsent(key, RESERVED) != null) {
      return; // cached already (same content: keys are immutable), or being inserted
    }
    Integer slot = freeSlots.poll();
    if (slot == null) {
      index.cleanUp(); // runs pending evictions, which free slots
      slot = freeSlots.poll();
    }
    if (slot == null) {
      map.remove(key, RESERVED);
      insertsDropped.increment();
      return;
    }
    if (!writeSlot(slot, key, block)) {
      map.remove(key, RESERVED);
      freeSlots.offer(slot);
      return;
    }
    AtomicLong count = heldBy(volumeKey);
    count.incrementAndGet(); // before the entry owns the slot: its removal may follow at once
    if (!map.replace(key, RESERVED, slot)) {
      count.decrementAndGet();
      freeSlots.offer(slot); // the reservation was evicted or invalidated meanwhile
      return;
    }
    Quota q = quotas.get(volumeKey);
    if (q != null) {
      synchronized (q) {
        q.order.addLast(location);
        enforce(volumeKey, q);
      }
    }
  }

  private AtomicLong heldBy(long volumeKey) {
    return held.computeIfAbsent(volumeKey, k -> new AtomicLong());
  }

  /**
   * Sets the most bytes (rounded down to whole blocks) the vDisk {@code volumeKey} may hold; 0
   * removes its quota. A vDisk over a new, lower quota loses its oldest blocks at once.
   */
  public void setQuota(long volumeKey, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("read cache quota must be >= 0; got " + bytes);
    }
    if (bytes == 0) {
      quotas.remove(volumeKey);
      return;
    }
    long blocks = Math.max(1, bytes / BLOCK_BYTES);
    Quota old = quotas.get(volumeKey);
    if (old != null && old.blocksMax == blocks) {
      return;
    }
    Quota q = new Quota(blocks);
    if (index != null) {
      // the order of what it holds now is unknown: take the index's, oldest insertion unknown, so any order
      for (Key k : index.asMap().keySet()) {
        if (k.volumeKey() == volumeKey) {
          q.order.addLast(k.location());
        }
      }
    }
    quotas.put(volumeKey, q);
    synchronized (q) {
      enforce(volumeKey, q);
    }
  }

  /** The vDisk's quota in bytes, 0 if it has none. */
  public long quotaBytes(long volumeKey) {
    Quota q = quotas.get(volumeKey);
    return q == null ? 0 : q.blocksMax * BLOCK_BYTES;
  }

  /** Blocks the vDisk holds in the cache now. */
  public long blocksHeld(long volumeKey) {
    AtomicLong c = held.get(volumeKey);
    return c == null ? 0 : c.get();
  }

  /** For tests: the length of the vDisk's quota order queue (0 without a quota). */
  int quotaOrderLength(long volumeKey) {
    Quota q = quotas.get(volumeKey);
    if (q == null) {
      return 0;
    }
    synchronized (q) {
      return q.order.size();
    }
  }

  /** Blocks that left the cache because their vDisk was over its quota. */
  public long quotaEvictions() {
    return quotaEvictions.sum();
  }

  /** Drops the vDisk's oldest blocks while it is over its quota. Holds q's monitor. */
  private void enforce(long volumeKey, Quota q) {
    if (index == null) {
      return;
    }
    AtomicLong count = heldBy(volumeKey);
    ConcurrentMap<Key, Integer> map = index.asMap();
    // bounded: each pass removes one queued key
    while (count.get() > q.blocksMax && !q.order.isEmpty()) {
      Key k = new Key(volumeKey, q.order.pollFirst());
      Integer slot = map.get(k);
      if (slot != null && slot >= 0 && map.remove(k, slot)) {
        quotaEvictions.increment();
      }
    }
    if (q.order.size() > 2 * q.blocksMax + QUOTA_SLACK) {
      q.order.removeIf(loc -> !map.containsKey(new Key(volumeKey, loc)));
    }
  }

  /** Drops every entry of the volume. The caller stops inserting for it first. */
  public void invalidateVolume(long volumeKey) {
    if (index != null) {
      index.asMap().keySet().removeIf(key -> key.volumeKey() == volumeKey);
    }
  }

  public long hits() {
    return hits.sum();
  }

  public long misses() {
    return misses.sum();
  }

  /** hits / (hits + misses); 0 before any read. */
  public double hitRatio() {
    long h = hits.sum();
    long total = h + misses.sum();
    return total == 0 ? 0.0 : (double) h / total;
  }

  public long entries() {
    return index == null ? 0 : index.estimatedSize();
  }

  public long capacityBlocks() {
    return slotCount;
  }

  /** Inserts dropped because no slot was free. */
  public long insertsDropped() {
    return insertsDropped.sum();
  }

  /** I/O errors on the cache file (each one a miss or a skipped insert). */
  public long ioErrors() {
    return ioErrors.sum();
  }

  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    // Not interrupted: an interrupt would close the file channel under the filler's write (and
    // its reopen would wait for this monitor). It sees `closed` within one poll (100 ms).
    if (filler != null) {
      try {
        filler.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      if (index != null) {
        index.invalidateAll();
      }
      if (channel != null) {
        channel.close();
      }
    }
  }

  @Override
  public String toString() {
    return "ReadCache[" + file + ", " + slotCount + " blocks]";
  }

  /**
   * Checks the slot bookkeeping once no operation is in flight: every slot is either free or
   * owned by exactly one index entry, no reservation is left, and no slot is mid-write. Tests call
   * it after each scenario, as Caffeine's tests validate a cache after every test.
   */
  void checkInvariants() {
    if (index == null) {
      return;
    }
    index.cleanUp();
    BitSet seen = new BitSet(slotCount);
    for (Map.Entry<Key, Integer> e : index.asMap().entrySet()) {
      int slot = e.getValue();
      check(slot >= 0 && slot < slotCount, "entry " + e.getKey() + " has slot " + slot);
      check(!seen.get(slot), "slot " + slot + " owned twice");
      seen.set(slot);
      check(ownerVolumeKeys.get(slot) == e.getKey().volumeKey() && ownerLocations.get(slot) == e.getKey().location(),
          "slot " + slot + " tagged for another key than " + e.getKey());
    }
    Map<Long, Long> counted = new java.util.HashMap<>();
    for (Key k : index.asMap().keySet()) {
      counted.merge(k.volumeKey(), 1L, Long::sum);
    }
    for (Map.Entry<Long, AtomicLong> e : held.entrySet()) {
      check(e.getValue().get() == counted.getOrDefault(e.getKey(), 0L), "volume " + e.getKey() + " counted "
          + e.getValue().get() + " blocks, holds " + counted.getOrDefault(e.getKey(), 0L));
      Quota q = quotas.get(e.getKey());
      check(q == null || e.getValue().get() <= q.blocksMax, "volume " + e.getKey() + " over its quota");
    }
    for (int slot : freeSlots.snapshot()) {
      check(!seen.get(slot), "slot " + slot + " both free and owned (or free twice)");
      seen.set(slot);
    }
    check(seen.cardinality() == slotCount, "slots lost: " + (slotCount - seen.cardinality()));
    for (int slot = 0; slot < slotCount; slot++) {
      check((versions.get(slot) & 1) == 0, "slot " + slot + " left mid-write");
    }
  }

  // ---- slots

  private boolean usable() {
    // An interrupted thread would close the shared channel at its first I/O: it skips the cache.
    return index != null && !closed && !Thread.currentThread().isInterrupted();
  }

  private boolean readSlot(int slot, Key key, int expectedCrc32c, ByteBuffer dst) {
    long versionBefore = versions.get(slot);
    if ((versionBefore & 1) != 0) {
      return false;
    }
    if (!readFully(dst.duplicate(), slotOffset(slot))) {
      return false;
    }
    // Volatile reads after the data: a write that overlapped the read changed the version.
    boolean owned = ownerVolumeKeys.get(slot) == key.volumeKey() && ownerLocations.get(slot) == key.location();
    if (!owned || versions.get(slot) != versionBefore) {
      return false;
    }
    CRC32C crc = new CRC32C();
    crc.update(dst.duplicate());
    return (int) crc.getValue() == expectedCrc32c;
  }

  private boolean writeSlot(int slot, Key key, ByteBuffer block) {
    long version = versions.incrementAndGet(slot);
    // Always on: a slot has one writer, the insert that took it from the free queue. Two would
    // interleave blocks; stop rather than serve them.
    check((version & 1) == 1, "slot " + slot + " taken by two inserts");
    try {
      ownerVolumeKeys.set(slot, key.volumeKey());
      ownerLocations.set(slot, key.location());
      return writeFully(block.duplicate(), slotOffset(slot));
    } finally {
      versions.incrementAndGet(slot);
    }
  }

  private static long slotOffset(int slot) {
    return (long) slot * BLOCK_BYTES;
  }

  // ---- file I/O: errors are logged and answered with false

  private boolean readFully(ByteBuffer dst, long position) {
    FileChannel ch = channel;
    try {
      // Bounded: every pass reads at least one byte or fails.
      for (long p = position; dst.hasRemaining(); ) {
        int n = ch.read(dst, p);
        if (n <= 0) {
          throw new EOFException("file shorter than its " + slotCount + " blocks");
        }
        p += n;
      }
      return true;
    } catch (ClosedChannelException e) {
      reopenAfter(ch, e);
    } catch (IOException e) {
      ioError("read at " + position, e);
    }
    return false;
  }

  private boolean writeFully(ByteBuffer src, long position) {
    FileChannel ch = channel;
    try {
      // Bounded: a file channel writes at least one byte per pass or fails.
      for (long p = position; src.hasRemaining(); ) {
        p += ch.write(src, p);
      }
      return true;
    } catch (ClosedChannelException e) {
      reopenAfter(ch, e);
    } catch (IOException e) {
      ioError("write at " + position, e);
    }
    return false;
  }

  /** The channel was closed under us (an interrupt): reopen the file, unless we are closing. */
  private synchronized void reopenAfter(FileChannel dead, ClosedChannelException cause) {
    if (closed || channel != dead) {
      return;
    }
    ioError("I/O (channel closed, reopening)", cause);
    try {
      channel = FileChannel.open(file, READ, WRITE);
    } catch (IOException e) {
      ioError("reopen", e);
    }
  }

  private void ioError(String op, IOException e) {
    ioErrors.increment();
    long now = System.nanoTime();
    long last = lastErrorLogNanos.get();
    if (now - last >= ERROR_LOG_INTERVAL_NANOS && lastErrorLogNanos.compareAndSet(last, now)) {
      log.warn("read cache file {}: {} failed ({} I/O errors so far; blocks come from the backend instead): {}",
          file, op, ioErrors.sum(), e.toString());
    }
  }

  private static void checkBlock(String what, ByteBuffer buffer) {
    if (buffer.remaining() != BLOCK_BYTES) {
      throw new IllegalArgumentException(
          "read cache " + what + " must have exactly " + BLOCK_BYTES + " bytes remaining; has " + buffer.remaining());
    }
  }

  private static void check(boolean condition, String message) {
    if (!condition) {
      throw new IllegalStateException("read cache invariant broken: " + message);
    }
  }

  /** A stack of free slot numbers in one int array. */
  private static final class FreeSlots {
    private final int[] stack;
    private int top;

    FreeSlots(int slots) {
      stack = new int[slots];
      // slot 0 on top, so that a fresh cache fills the file from its start
      for (int i = 0; i < slots; i++) {
        stack[i] = slots - 1 - i;
      }
      top = slots;
    }

    synchronized Integer poll() {
      return top == 0 ? null : stack[--top];
    }

    synchronized void offer(int slot) {
      check(top < stack.length, "free slot stack overflow at slot " + slot);
      stack[top++] = slot;
    }

    synchronized int[] snapshot() {
      return java.util.Arrays.copyOf(stack, top);
    }
  }
}
