package org.vsa.volume;

import com.github.benmanes.caffeine.cache.Cache;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vDisk's mapping (cluster to location + CRC), paged and checkpointed so that RAM does not
 * grow with the vDisk's nominal size and a restart replays only the TLogs since the last
 * checkpoint.
 *
 * <p>Where a page lives: pages changed since the last checkpoint are <em>resident</em> (held
 * in RAM until a checkpoint writes them); other pages are read on demand from the page log and
 * kept in a cache shared by all vDisks, bounded in bytes. The only RAM that grows with written
 * data is the page directory: one entry per written page (2 MiB of vDisk).
 *
 * <p>Checkpoint protocol. (1) The cut, under the vDisk's append lock: the caller names the last
 * applied sequence number S and the first TLog T that holds records after S; every resident
 * page is copied. (2) Without the lock: the copies are appended to the page log and forced, then
 * the checkpoint file (S, T, page log length, page directory) is replaced atomically. (3) Under
 * the append lock again: pages not changed since their copy leave the resident set. Recovery
 * loads the checkpoint and replays records with sequence &gt; S from TLog T on. Pages are copied at
 * the cut rather than written live, so a page on disk never holds a mapping whose TLog record
 * could be lost in a crash.
 *
 * <pre>
 * page log "pages-GEN.dat": header 64 bytes (u32 magic 'VPGL', u16 version 1, u16 0,
 *   u64+u64 vDisk id, u64 generation, zeros, u32 CRC32C of bytes 0..59 at 60),
 *   then page records of 16 + 512*12 + 4 bytes: u32 magic 'VPAG', u16 version 1,
 *   u16 entry count, u64 page index, entries (u64 location, u32 CRC32C), u32 CRC32C of all before.
 * checkpoint "checkpoint": u32 magic 'VCKP', u16 version 1, u16 0, u64+u64 vDisk id,
 *   u64 applied sequence S, u64 replay-from TLog T, u64 page log generation, u64 page log length,
 *   u32 page count, that many (u64 page index, u64 offset), u32 CRC32C of all before.
 * </pre>
 */
final class MetadataStore implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetadataStore.class);

  static final int PAGELOG_MAGIC = 0x5650474C; // 'VPGL'
  static final int PAGE_MAGIC = 0x56504147; // 'VPAG'
  static final int CHECKPOINT_MAGIC = 0x56434B50; // 'VCKP'
  static final short VERSION = 1;
  static final int PAGELOG_HEADER_BYTES = 64;
  static final int PAGE_RECORD_BYTES = 16 + Layout.PAGE_ENTRIES * 12 + 4;
  /** Heap a cached page costs, roughly: its arrays and object headers. */
  static final int PAGE_HEAP_BYTES = Layout.PAGE_ENTRIES * 12 + 128;

  /** Key in the page cache shared by all vDisks. */
  record PageKey(MetadataStore owner, long page) {
    @Override
    public boolean equals(Object o) {
      return o instanceof PageKey k && k.owner == owner && k.page == page;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(owner) * 31 + Long.hashCode(page);
    }
  }

  private final Path dir;
  private final UUID volumeId;
  private final Cache<PageKey, Page> cleanPages;
  /** Pages changed since the last checkpoint. Written only under the vDisk's append lock. */
  private final Map<Long, Page> resident = new ConcurrentHashMap<>();
  /**
   * The page log and the directory into it (page index to the offset of its newest record),
   * swapped together when a compaction starts a new generation.
   */
  private record View(FileChannel pageLog, Map<Long, Long> directory) {}

  private volatile View view = new View(null, new ConcurrentHashMap<>());
  private long pageLogGeneration;
  private long pageLogLength;
  private long appliedSeq;
  private long replayFromTlog;

  private MetadataStore(Path dir, UUID volumeId, Cache<PageKey, Page> cleanPages) {
    this.dir = dir;
    this.volumeId = volumeId;
    this.cleanPages = cleanPages;
  }

  /** Opens (or creates) the store in {@code dir}; no checkpoint yet means an empty mapping. */
  static MetadataStore open(Path dir, UUID volumeId, Cache<PageKey, Page> cleanPages) throws IOException {
    Files.createDirectories(dir);
    MetadataStore m = new MetadataStore(dir, volumeId, cleanPages);
    m.load();
    return m;
  }

  private void load() throws IOException {
    Path cp = dir.resolve("checkpoint");
    if (!Files.exists(cp)) {
      appliedSeq = 0;
      replayFromTlog = 1;
      pageLogGeneration = 1;
      startPageLog(pageLogGeneration);
      return;
    }
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(cp));
    int n = b.limit();
    if (n < 64 || b.getInt(0) != CHECKPOINT_MAGIC) {
      throw new IOException(cp + ": not a checkpoint (bad magic)");
    }
    if (b.getInt(n - 4) != Layout.crc32c(b.array(), 0, n - 4)) {
      throw new IOException(cp + ": checkpoint checksum mismatch");
    }
    if (b.getShort(4) != VERSION) {
      throw new IOException(cp + ": checkpoint version " + b.getShort(4) + " is not supported");
    }
    if (!new UUID(b.getLong(8), b.getLong(16)).equals(volumeId)) {
      throw new IOException(cp + ": checkpoint belongs to another vDisk");
    }
    appliedSeq = b.getLong(24);
    replayFromTlog = b.getLong(32);
    pageLogGeneration = b.getLong(40);
    pageLogLength = b.getLong(48);
    int count = b.getInt(56);
    Verify.that(n == 60 + count * 16 + 4, "checkpoint length %d for %d pages", n, count);
    b.position(60);
    Map<Long, Long> directory = new ConcurrentHashMap<>();
    for (int i = 0; i < count; i++) {
      directory.put(b.getLong(), b.getLong());
    }
    Path pl = pageLogPath(pageLogGeneration);
    FileChannel pageLog = FileChannel.open(pl, StandardOpenOption.READ, StandardOpenOption.WRITE);
    view = new View(pageLog, directory);
    ByteBuffer h = ByteBuffer.allocate(PAGELOG_HEADER_BYTES);
    TLog.readFully(pageLog, h, 0);
    checkPageLogHeader(h, pl, pageLogGeneration);
    if (pageLog.size() > pageLogLength) {
      // pages appended by a checkpoint that never completed
      pageLog.truncate(pageLogLength);
    }
    deleteOtherPageLogs(pageLogGeneration);
  }

  private Path pageLogPath(long generation) {
    return dir.resolve(String.format("pages-%08x.dat", generation));
  }

  private void startPageLog(long generation) throws IOException {
    FileChannel ch = createPageLog(generation);
    ch.force(true);
    view = new View(ch, new ConcurrentHashMap<>());
    pageLogLength = PAGELOG_HEADER_BYTES;
  }

  /** Creates (or empties) page log {@code generation} and writes its header. */
  private FileChannel createPageLog(long generation) throws IOException {
    FileChannel ch = FileChannel.open(pageLogPath(generation), StandardOpenOption.CREATE,
        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE);
    ByteBuffer h = ByteBuffer.allocate(PAGELOG_HEADER_BYTES);
    h.putInt(PAGELOG_MAGIC).putShort(VERSION).putShort((short) 0);
    h.putLong(volumeId.getMostSignificantBits()).putLong(volumeId.getLeastSignificantBits()).putLong(generation);
    h.putInt(60, Layout.crc32c(h.array(), 0, 60));
    h.clear();
    TLog.writeFully(ch, h, 0);
    return ch;
  }

  private void checkPageLogHeader(ByteBuffer h, Path file, long generation) throws IOException {
    if (h.getInt(0) != PAGELOG_MAGIC || h.getInt(60) != Layout.crc32c(h.array(), 0, 60)) {
      throw new IOException(file + ": not a valid page log header");
    }
    if (h.getShort(4) != VERSION) {
      throw new IOException(file + ": page log version " + h.getShort(4) + " is not supported");
    }
    if (!new UUID(h.getLong(8), h.getLong(16)).equals(volumeId) || h.getLong(24) != generation) {
      throw new IOException(file + ": page log belongs to another vDisk or generation");
    }
  }

  private void deleteOtherPageLogs(long keep) throws IOException {
    try (var s = Files.newDirectoryStream(dir, "pages-*.dat")) {
      for (Path p : s) {
        if (!p.equals(pageLogPath(keep))) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  long appliedSeq() {
    return appliedSeq;
  }

  long replayFromTlog() {
    return replayFromTlog;
  }

  int residentPages() {
    return resident.size();
  }

  int writtenPages() {
    Map<Long, Long> directory = view.directory();
    return directory.size() + (int) resident.keySet().stream().filter(p -> !directory.containsKey(p)).count();
  }

  /** Fills locations and CRCs of clusters [first, first+n) into the arrays from index 0. */
  void lookup(long first, int n, long[] locs, int[] crcs) throws IOException {
    int done = 0;
    while (done < n) {
      long cluster = first + done;
      long pageIndex = cluster >>> Layout.PAGE_SHIFT;
      int from = (int) (cluster & (Layout.PAGE_ENTRIES - 1));
      int k = Math.min(n - done, Layout.PAGE_ENTRIES - from);
      Page p = pageForRead(pageIndex);
      if (p == null) {
        java.util.Arrays.fill(locs, done, done + k, 0L);
        java.util.Arrays.fill(crcs, done, done + k, 0);
      } else {
        p.copy(from, k, locs, crcs, done);
      }
      done += k;
    }
  }

  private Page pageForRead(long pageIndex) throws IOException {
    Page p = resident.get(pageIndex);
    if (p != null) {
      return p;
    }
    if (!view.directory().containsKey(pageIndex)) {
      // checked again: the page may have become resident meanwhile
      return resident.get(pageIndex);
    }
    try {
      // Caffeine's compute is atomic per key: a checkpoint's put of a newer page waits for
      // this load and then replaces it.
      return cleanPages.get(new PageKey(this, pageIndex), k -> loadUnchecked(pageIndex));
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  private Page loadUnchecked(long pageIndex) {
    try {
      return loadPage(pageIndex);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Page loadPage(long pageIndex) throws IOException {
    View v = view;
    Long offset = v.directory().get(pageIndex);
    Page p = new Page(pageIndex);
    if (offset == null) {
      return p;
    }
    ByteBuffer b = ByteBuffer.allocate(PAGE_RECORD_BYTES);
    try {
      TLog.readFully(v.pageLog(), b, offset);
    } catch (java.nio.channels.ClosedChannelException e) {
      if (view == v) {
        throw e;
      }
      return loadPage(pageIndex); // a compaction swapped the page log under us
    }
    if (b.getInt(0) != PAGE_MAGIC || b.getShort(4) != VERSION || b.getShort(6) != Layout.PAGE_ENTRIES
        || b.getLong(8) != pageIndex || b.getInt(PAGE_RECORD_BYTES - 4) != Layout.crc32c(b.array(), 0, PAGE_RECORD_BYTES - 4)) {
      throw new IOException(dir + ": metadata page " + pageIndex + " at offset " + offset + " is corrupt");
    }
    long[] locs = new long[Layout.PAGE_ENTRIES];
    int[] crcs = new int[Layout.PAGE_ENTRIES];
    b.position(16);
    for (int i = 0; i < Layout.PAGE_ENTRIES; i++) {
      locs[i] = b.getLong();
      crcs[i] = b.getInt();
    }
    p.load(locs, crcs);
    return p;
  }

  /** The page for a change; the caller holds the vDisk's append lock. */
  private Page pageForWrite(long pageIndex) throws IOException {
    Page p = resident.get(pageIndex);
    if (p == null) {
      PageKey key = new PageKey(this, pageIndex);
      p = cleanPages.getIfPresent(key);
      if (p == null) {
        p = loadPage(pageIndex);
      }
      resident.put(pageIndex, p);
      cleanPages.invalidate(key);
    }
    return p;
  }

  /** Maps one cluster; returns the location it had (0: none). The caller holds the vDisk's append lock. */
  long set(long cluster, long location, int crc) throws IOException {
    Page p = pageForWrite(cluster >>> Layout.PAGE_SHIFT);
    long old = p.set((int) (cluster & (Layout.PAGE_ENTRIES - 1)), location, crc);
    stamp++; // after the change: see stamp()
    return old;
  }

  /** Stamps of different stores (a vDisk reopened, another vDisk) never meet: each starts 2^32 apart. */
  private static final AtomicLong STAMP_BASES = new AtomicLong();

  /** Written only under the append lock; volatile so that a reader who sees a value sees the changes before it. */
  private volatile long stamp = STAMP_BASES.incrementAndGet() << 32;

  /**
   * A value that changes whenever the mapping does, set after each change. Data read after
   * {@code stamp() == s} is still current as long as {@code stamp()} still returns s: that is how a
   * front end's read-ahead knows its buffer is not stale.
   */
  long stamp() {
    return stamp;
  }

  /** Unmaps clusters [first, first+count); skips pages never written. Caller holds the append lock. */
  void unmap(long first, long count) throws IOException {
    long end = first + count;
    long c = first;
    while (c < end) {
      long pageIndex = c >>> Layout.PAGE_SHIFT;
      long pageEnd = (pageIndex + 1) << Layout.PAGE_SHIFT;
      long to = Math.min(end, pageEnd);
      if (resident.containsKey(pageIndex) || view.directory().containsKey(pageIndex)) {
        Page p = pageForWrite(pageIndex);
        p.clear((int) (c - (pageIndex << Layout.PAGE_SHIFT)), (int) (to - (pageIndex << Layout.PAGE_SHIFT)));
      }
      c = to;
    }
    stamp++;
  }

  /** A checkpoint's cut: what the mapping was after sequence {@code appliedSeq}. */
  record Cut(long appliedSeq, long replayFromTlog, List<Page.Snapshot> pages) {}

  /** Takes the cut; the caller holds the append lock and has applied everything up to appliedSeq. */
  Cut cut(long appliedSeq, long replayFromTlog) {
    List<Page.Snapshot> snaps = new ArrayList<>(resident.size());
    for (Page p : resident.values()) {
      snaps.add(p.snapshot());
    }
    return new Cut(appliedSeq, replayFromTlog, snaps);
  }

  /**
   * Writes the cut's pages and then the checkpoint; no lock held. Only one checkpoint of a vDisk
   * runs at a time (the caller serialises them).
   */
  void write(Cut cut) throws IOException {
    View v = view;
    Map<Long, Long> directory = v.directory();
    FileChannel pageLog = v.pageLog();
    long livePagesBytes = (long) (directory.size() + cut.pages().size()) * PAGE_RECORD_BYTES;
    boolean compact = pageLogLength > 4 * livePagesBytes + (16L << 20);
    FileChannel target = pageLog;
    long generation = pageLogGeneration;
    long pos = pageLogLength;
    Map<Long, Long> newDirectory = new java.util.HashMap<>(directory);
    if (compact) {
      generation = pageLogGeneration + 1;
      target = createPageLog(generation);
      pos = PAGELOG_HEADER_BYTES;
      java.util.Set<Long> inCut = new java.util.HashSet<>();
      for (Page.Snapshot s : cut.pages()) {
        inCut.add(s.index());
      }
      // carry over every page the cut does not rewrite
      ByteBuffer rec = ByteBuffer.allocate(PAGE_RECORD_BYTES);
      for (Map.Entry<Long, Long> e : directory.entrySet()) {
        if (inCut.contains(e.getKey())) {
          continue;
        }
        rec.clear();
        TLog.readFully(pageLog, rec, e.getValue());
        rec.flip();
        TLog.writeFully(target, rec, pos);
        newDirectory.put(e.getKey(), pos);
        pos += PAGE_RECORD_BYTES;
      }
    }
    ByteBuffer batch = ByteBuffer.allocate(PAGE_RECORD_BYTES * 64);
    long batchStart = pos;
    for (Page.Snapshot s : cut.pages()) {
      if (!batch.hasRemaining()) {
        batch.flip();
        TLog.writeFully(target, batch, batchStart);
        batch.clear();
        batchStart = pos;
      }
      int start = batch.position();
      batch.putInt(PAGE_MAGIC).putShort(VERSION).putShort((short) Layout.PAGE_ENTRIES).putLong(s.index());
      for (int i = 0; i < Layout.PAGE_ENTRIES; i++) {
        batch.putLong(s.locations()[i]).putInt(s.crcs()[i]);
      }
      batch.putInt(Layout.crc32c(batch.array(), start, PAGE_RECORD_BYTES - 4));
      newDirectory.put(s.index(), pos);
      pos += PAGE_RECORD_BYTES;
    }
    batch.flip();
    TLog.writeFully(target, batch, batchStart);
    target.force(false);

    writeCheckpointFile(cut, generation, pos, newDirectory);

    // the checkpoint now names the new records: readers may find them
    if (compact) {
      view = new View(target, new ConcurrentHashMap<>(newDirectory));
    } else {
      directory.putAll(newDirectory);
    }
    pageLogGeneration = generation;
    pageLogLength = pos;
    appliedSeq = cut.appliedSeq();
    replayFromTlog = cut.replayFromTlog();
    if (compact) {
      pageLog.close();
      deleteOtherPageLogs(generation);
      log.info("{}: metadata page log compacted into generation {} ({} pages)", dir, generation, newDirectory.size());
    }
  }

  private void writeCheckpointFile(Cut cut, long generation, long length, Map<Long, Long> dirMap) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(60 + dirMap.size() * 16 + 4);
    b.putInt(CHECKPOINT_MAGIC).putShort(VERSION).putShort((short) 0);
    b.putLong(volumeId.getMostSignificantBits()).putLong(volumeId.getLeastSignificantBits());
    b.putLong(cut.appliedSeq()).putLong(cut.replayFromTlog()).putLong(generation).putLong(length);
    b.putInt(dirMap.size());
    for (Map.Entry<Long, Long> e : dirMap.entrySet()) {
      b.putLong(e.getKey()).putLong(e.getValue());
    }
    b.putInt(Layout.crc32c(b.array(), 0, b.position()));
    b.flip();
    Path tmp = dir.resolve("checkpoint.tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, b, 0);
      ch.force(true);
    }
    Files.move(tmp, dir.resolve("checkpoint"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
  }

  /** After {@link #write}: pages unchanged since the cut leave the resident set. Caller holds the append lock. */
  void complete(Cut cut) {
    for (Page.Snapshot s : cut.pages()) {
      Page p = resident.get(s.index());
      if (p != null && p.modCount() == s.modCount()) {
        // into the clean cache first, so that a reader always finds the page somewhere
        cleanPages.put(new PageKey(this, s.index()), p);
        resident.remove(s.index());
      }
    }
  }

  /** Receives one mapped cluster. */
  interface EntryConsumer {
    void accept(long cluster, long location, int crc) throws IOException;
  }

  /**
   * Calls {@code f} for every mapped cluster of the live mapping. Pages are read one at a time
   * without a lock: an entry changed meanwhile may be seen before or after the change.
   */
  void forEachEntry(EntryConsumer f) throws IOException {
    java.util.TreeSet<Long> indexes = new java.util.TreeSet<>(view.directory().keySet());
    indexes.addAll(resident.keySet());
    long[] locs = new long[Layout.PAGE_ENTRIES];
    int[] crcs = new int[Layout.PAGE_ENTRIES];
    for (long index : indexes) {
      Page p = pageForRead(index);
      if (p == null) {
        continue;
      }
      p.copy(0, Layout.PAGE_ENTRIES, locs, crcs, 0);
      for (int i = 0; i < Layout.PAGE_ENTRIES; i++) {
        if (locs[i] != 0) {
          f.accept((index << Layout.PAGE_SHIFT) + i, locs[i], crcs[i]);
        }
      }
    }
  }

  /**
   * Replaces the whole mapping of the (closed) vDisk in {@code dir} by {@code m}: the pages go
   * to a new page log generation, then one atomic checkpoint replacement switches to it, naming
   * {@code replayFromTlog} as the first TLog to replay. A crash before that replacement leaves
   * the old mapping (and the stray page log is removed at the next open). The applied sequence
   * stays the old checkpoint's, so that sequence numbers keep growing.
   */
  static void install(Path dir, UUID volumeId, Mapping m, long replayFromTlog) throws IOException {
    install(dir, volumeId, m, replayFromTlog, -1);
  }

  /**
   * As above; {@code appliedSeq} >= 0 sets the checkpoint's sequence number (a restore rebuilds the
   * metadata from scratch: its mapping covers the history through that record), -1 keeps the store's.
   */
  static void install(Path dir, UUID volumeId, Mapping m, long replayFromTlog, long appliedSeq) throws IOException {
    com.github.benmanes.caffeine.cache.Cache<PageKey, Page> none =
        com.github.benmanes.caffeine.cache.Caffeine.newBuilder().maximumSize(0).build();
    MetadataStore s = open(dir, volumeId, none);
    try {
      long generation = s.pageLogGeneration + 1;
      Map<Long, Long> directory = new java.util.HashMap<>();
      long pos = PAGELOG_HEADER_BYTES;
      try (FileChannel target = s.createPageLog(generation)) {
        ByteBuffer rec = ByteBuffer.allocate(PAGE_RECORD_BYTES);
        for (Page p : m.pages.values()) {
          Page.Snapshot snap = p.snapshot();
          rec.clear();
          rec.putInt(PAGE_MAGIC).putShort(VERSION).putShort((short) Layout.PAGE_ENTRIES).putLong(snap.index());
          for (int i = 0; i < Layout.PAGE_ENTRIES; i++) {
            rec.putLong(snap.locations()[i]).putInt(snap.crcs()[i]);
          }
          rec.putInt(Layout.crc32c(rec.array(), 0, PAGE_RECORD_BYTES - 4));
          rec.flip();
          TLog.writeFully(target, rec, pos);
          directory.put(snap.index(), pos);
          pos += PAGE_RECORD_BYTES;
        }
        target.force(true);
      }
      Fs.fsyncDirectory(dir);
      s.writeCheckpointFile(new Cut(appliedSeq >= 0 ? appliedSeq : s.appliedSeq, replayFromTlog, List.of()), generation,
          pos, directory);
    } finally {
      s.close();
    }
    open(dir, volumeId, none).close(); // removes the older page log
  }

  @Override
  public void close() throws IOException {
    cleanPages.asMap().keySet().removeIf(k -> k.owner() == this);
    resident.clear();
    FileChannel ch = view.pageLog();
    if (ch != null) {
      ch.close();
    }
  }
}
