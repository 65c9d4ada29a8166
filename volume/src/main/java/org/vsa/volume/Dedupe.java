package org.vsa.volume;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deduplication of one vPool (one engine): which clusters already stored in the backend a write
 * of a dedupe-enabled vDisk may point to instead of storing its own copy.
 *
 * <p><b>Shared-namespace table</b> ({@code dedupe-namespaces} in the metadata directory): a small
 * index (0..32767) for every vDisk whose clusters may be shared, so that a mapping entry (a
 * {@link Layout#sharedLocation shared location}) and a TLog SHARE record can name another vDisk's
 * SCO in 64 bits. An entry is ACTIVE while its vDisk exists, RETAINED once the vDisk was deleted
 * while others still referenced some of its SCOs (the namespace keeps just those), GONE when the
 * namespace was deleted. Written whole and atomically (temp file, fsync, rename, fsync of the
 * directory) before any TLog record can name the index.
 *
 * <p><b>Index</b>: SHA-256 of a cluster's 4096 bytes to its shared location and CRC32C, in a
 * Caffeine map bounded by entry count (an evicted entry only costs a missed share). Two clusters
 * with the same SHA-256 are taken as identical (a collision is far less likely than an undetected
 * disk error), and the CRC32C must match too. Only clusters whose SCO (and every earlier SCO of
 * its vDisk) is in the backend are entered, so a share never depends on another vDisk's write
 * buffer or DTL. The index survives restarts: every change is appended to {@code dedupe-index}
 * (64-byte records, magic, version, CRC32C each), replayed at start and then compacted. Entries
 * are appended without fsync (losing one costs a missed share); a purge (the SCOs a scrub or a
 * vDisk deletion is about to delete) is fsynced before anything is deleted, so that no entry can
 * name a deleted object after a crash. A corrupt record before the log's last one makes the
 * replay distrust the whole log and start empty.
 *
 * <p><b>Lock</b>: a write that shares holds {@link #shareLock()} (read) from its index lookup until
 * its mapping names the shared location; a scrub or deletion takes it exclusively to purge the SCOs
 * it is about to delete and to check that no live mapping took a reference meanwhile.
 */
final class Dedupe implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Dedupe.class);
  static final String TABLE_FILE = "dedupe-namespaces";
  static final String INDEX_FILE = "dedupe-index";

  static final int TABLE_MAGIC = 0x56444E53; // 'VDNS'
  static final int INDEX_MAGIC = 0x56444458; // 'VDDX'
  static final short VERSION = 1;
  static final int HEADER_BYTES = 64;
  static final int RECORD_BYTES = 64;
  static final short RECORD_MAGIC = 0x4458; // 'DX'
  static final byte ENTRY = 1;
  static final byte PURGE_SCO = 2;
  static final byte PURGE_NAMESPACE = 3;
  /** Pending (written, not yet in the backend) clusters that all vDisks together remember for the index. */
  static final long PENDING_MAX = 1L << 20;

  enum State { ACTIVE, RETAINED, GONE }

  /** A dedupe-table entry. */
  record Namespace(int index, UUID id, State state) {
    String name() {
      return LocalVolume.namespaceOf(id);
    }
  }

  /** A SHA-256 digest as a map key. */
  record Key(long h0, long h1, long h2, long h3) {
    static Key of(byte[] sha256) {
      ByteBuffer b = ByteBuffer.wrap(sha256);
      return new Key(b.getLong(), b.getLong(), b.getLong(), b.getLong());
    }

    void put(ByteBuffer b) {
      b.putLong(h0).putLong(h1).putLong(h2).putLong(h3);
    }
  }

  /** Where a cluster with a given content is stored. */
  record Target(long location, int crc) {}

  /** A written cluster waiting for its SCO to reach the backend before it enters the index. */
  record Pending(Key key, int slot, int crc) {}

  private final Path dir;
  private final Cache<Key, Target> index;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final AtomicLong pending = new AtomicLong();
  private final Object fileLock = new Object();
  private volatile TreeMap<Integer, Namespace> table;
  private FileChannel indexLog; // guarded by fileLock
  private boolean closed; // guarded by fileLock
  private final java.util.concurrent.ExecutorService writer = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "dedupe-index");
    t.setDaemon(true);
    return t;
  });
  private long logPos; // guarded by fileLock

  private Dedupe(Path dir, long entriesMax) {
    this.dir = dir;
    this.index = Caffeine.newBuilder().maximumSize(entriesMax).executor(Runnable::run).build();
  }

  /** Loads the table and the index of the metadata directory {@code dir} (both may be absent). */
  static Dedupe open(Path dir, long entriesMax) throws IOException {
    Dedupe d = new Dedupe(dir, entriesMax);
    d.table = loadTable(dir.resolve(TABLE_FILE));
    d.replay();
    d.compact();
    return d;
  }

  static byte[] sha256(ByteBuffer cluster) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(cluster.duplicate());
      return md.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JVM has no SHA-256", e);
    }
  }

  ReentrantReadWriteLock.ReadLock shareLock() {
    return lock.readLock();
  }

  ReentrantReadWriteLock.WriteLock exclusive() {
    return lock.writeLock();
  }

  // ---------------------------------------------------------------- table

  /** The vDisk's index, registering it (durably) if it has none yet. */
  synchronized int register(UUID id) throws IOException {
    Namespace existing = byId(id);
    if (existing != null) {
      Verify.that(existing.state() == State.ACTIVE, "vDisk %s is registered as %s", id, existing.state());
      return existing.index();
    }
    // a GONE index is free again: no mapping names it and the index holds nothing of it
    int next = table.isEmpty() ? 0 : table.lastKey() + 1;
    for (Namespace n : table.values()) {
      if (n.state() == State.GONE) {
        next = n.index();
        break;
      }
    }
    if (next > Layout.SHARED_INDEX_MAX) {
      throw new IOException("the vPool's dedupe table is full (" + (Layout.SHARED_INDEX_MAX + 1) + " vDisks)");
    }
    TreeMap<Integer, Namespace> t = new TreeMap<>(table);
    t.put(next, new Namespace(next, id, State.ACTIVE));
    storeTable(t);
    log.info("dedupe: vDisk {} registered as shared namespace {}", id, next);
    return next;
  }

  /** The vDisk's entry, or null. */
  Namespace byId(UUID id) {
    for (Namespace n : table.values()) {
      if (n.id().equals(id)) {
        return n;
      }
    }
    return null;
  }

  Namespace namespace(int index) {
    return table.get(index);
  }

  /** Every entry in the given state. */
  List<Namespace> inState(State s) {
    return table.values().stream().filter(n -> n.state() == s).toList();
  }

  boolean isEmpty() {
    return table.isEmpty();
  }

  synchronized void setState(int index, State s) throws IOException {
    Namespace n = table.get(index);
    Verify.that(n != null, "no shared namespace %d", index);
    TreeMap<Integer, Namespace> t = new TreeMap<>(table);
    t.put(index, new Namespace(index, n.id(), s));
    storeTable(t);
    log.info("dedupe: shared namespace {} (vDisk {}) is now {}", index, n.id(), s);
  }

  /*
   * dedupe-namespaces:
   *   header 16 bytes: u32 magic 'VDNS', u16 version (1), u16 reserved, u32 entry count, u32 CRC32C of bytes 0..11
   *   entries, 28 bytes each: u16 index, u8 state (0 ACTIVE, 1 RETAINED, 2 GONE), u8 reserved,
   *     u64 + u64 vDisk id, u32 reserved, u32 CRC32C of the entry's bytes 0..23
   */
  private void storeTable(TreeMap<Integer, Namespace> t) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(16 + 28 * t.size());
    b.putInt(TABLE_MAGIC).putShort(VERSION).putShort((short) 0).putInt(t.size());
    b.putInt(Layout.crc32c(b.array(), 0, 12));
    for (Namespace n : t.values()) {
      int start = b.position();
      b.putShort((short) n.index()).put((byte) n.state().ordinal()).put((byte) 0);
      b.putLong(n.id().getMostSignificantBits()).putLong(n.id().getLeastSignificantBits()).putInt(0);
      b.putInt(Layout.crc32c(b.array(), start, 24));
    }
    b.flip();
    Path tmp = dir.resolve(TABLE_FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, b, 0);
      ch.force(true);
    }
    Files.move(tmp, dir.resolve(TABLE_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
    table = t;
  }

  private static TreeMap<Integer, Namespace> loadTable(Path p) throws IOException {
    TreeMap<Integer, Namespace> t = new TreeMap<>();
    if (!Files.exists(p)) {
      return t;
    }
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p));
    if (b.remaining() < 16 || b.getInt(0) != TABLE_MAGIC || b.getInt(12) != Layout.crc32c(b.array(), 0, 12)) {
      throw new IOException(p + ": not a dedupe table (bad magic or header checksum)");
    }
    if (b.getShort(4) != VERSION) {
      throw new IOException(p + ": dedupe table version " + b.getShort(4) + " is not supported (this build reads "
          + VERSION + ")");
    }
    int count = b.getInt(8);
    if (count < 0 || b.remaining() != 16 + 28L * count) {
      throw new IOException(p + ": dedupe table of " + b.remaining() + " bytes cannot hold " + count + " entries");
    }
    for (int i = 0; i < count; i++) {
      int start = 16 + 28 * i;
      if (b.getInt(start + 24) != Layout.crc32c(b.array(), start, 24)) {
        throw new IOException(p + ": dedupe table entry " + i + " fails its checksum");
      }
      int index = b.getShort(start) & 0xFFFF;
      int state = b.get(start + 2);
      if (state < 0 || state >= State.values().length || index > Layout.SHARED_INDEX_MAX) {
        throw new IOException(p + ": dedupe table entry " + i + " is invalid");
      }
      t.put(index, new Namespace(index, new UUID(b.getLong(start + 4), b.getLong(start + 12)), State.values()[state]));
    }
    return t;
  }

  // ---------------------------------------------------------------- index

  /** The shared location of a cluster with this digest and CRC, or 0. Caller holds {@link #shareLock()}. */
  long lookup(Key key, int crc) {
    Target t = index.getIfPresent(key);
    if (t == null || t.crc() != crc) {
      return 0;
    }
    Namespace n = table.get(Layout.sharedIndexOf(t.location()));
    return n != null && n.state() == State.ACTIVE ? t.location() : 0;
  }

  /** Reserves room to remember one more pending cluster; false when too many are pending. */
  boolean reservePending() {
    if (pending.incrementAndGet() > PENDING_MAX) {
      pending.decrementAndGet();
      return false;
    }
    return true;
  }

  void releasePending(long n) {
    pending.addAndGet(-n);
  }

  /**
   * Enters the clusters of SCO {@code sco} of namespace {@code idx}, now in the backend. Their log
   * records go through the index's writer thread, in order with purges (see {@link #appendDurably}).
   */
  void publish(int idx, long sco, List<Pending> entries) {
    if (sco >= Layout.SHARED_SCO_LIMIT || entries.isEmpty()) {
      return;
    }
    ByteBuffer b = ByteBuffer.allocate(RECORD_BYTES * entries.size());
    for (Pending p : entries) {
      long loc = Layout.sharedLocation(idx, sco, p.slot());
      index.asMap().putIfAbsent(p.key(), new Target(loc, p.crc()));
      encode(b, ENTRY, p.crc(), loc, p.key());
    }
    b.flip();
    // on the index's own thread: an interrupted uploader thread would close the channel (NIO)
    try {
      writer.execute(() -> {
        try {
          append(b, false);
        } catch (IOException e) {
          log.warn("dedupe: appending to {} failed: {}", INDEX_FILE, e.toString());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("dedupe: index closed; {} entries not logged", entries.size());
    }
  }

  /**
   * Removes every entry naming the given SCOs of namespace {@code idx} and makes that durable.
   * Caller holds {@link #exclusive()}; it deletes those SCOs only after this returned.
   */
  void purge(int idx, Set<Long> scos) throws IOException {
    if (scos.isEmpty()) {
      return;
    }
    index.asMap().values().removeIf(t -> Layout.sharedIndexOf(t.location()) == idx
        && scos.contains(Layout.scoOf(t.location())));
    ByteBuffer b = ByteBuffer.allocate(RECORD_BYTES * scos.size());
    for (long n : scos) {
      if (n < Layout.SHARED_SCO_LIMIT && n > 0) {
        encode(b, PURGE_SCO, 0, Layout.sharedLocation(idx, n, 0), null);
      }
    }
    b.flip();
    appendDurably(b);
  }

  /** Removes every entry of namespace {@code idx}, durably. Caller holds {@link #exclusive()}. */
  void purgeNamespace(int idx) throws IOException {
    index.asMap().values().removeIf(t -> Layout.sharedIndexOf(t.location()) == idx);
    ByteBuffer b = ByteBuffer.allocate(RECORD_BYTES);
    encode(b, PURGE_NAMESPACE, 0, idx, null);
    b.flip();
    appendDurably(b);
  }

  /** Entries in the index (tests, stats). */
  long entries() {
    return index.estimatedSize();
  }

  /**
   * Appends and fsyncs on the writer thread, after every entry queued before: a purge must follow
   * in the log the entries it removes, or a replay would bring them back.
   */
  private void appendDurably(ByteBuffer b) throws IOException {
    java.util.concurrent.Future<?> f;
    try {
      f = writer.submit(() -> {
        append(b, true);
        return null;
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      throw new IOException("dedupe index " + INDEX_FILE + " is closed", e);
    }
    try {
      f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while purging the dedupe index");
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    }
  }

  /** Appends whole records; a channel an interrupt closed is reopened once (after the last whole record). */
  private void append(ByteBuffer b, boolean force) throws IOException {
    synchronized (fileLock) {
      for (int attempt = 0; ; attempt++) {
        if (closed) {
          throw new IOException("dedupe index " + INDEX_FILE + " is closed");
        }
        try {
          if (indexLog == null || !indexLog.isOpen()) {
            indexLog = FileChannel.open(dir.resolve(INDEX_FILE), StandardOpenOption.WRITE);
            long size = indexLog.size();
            logPos = HEADER_BYTES + Math.max(0, (size - HEADER_BYTES) / RECORD_BYTES * RECORD_BYTES);
          }
          ByteBuffer d = b.duplicate();
          int n = d.remaining();
          TLog.writeFully(indexLog, d, logPos);
          if (force) {
            indexLog.force(false);
          }
          logPos += n;
          return;
        } catch (java.nio.channels.ClosedChannelException e) {
          if (attempt > 0) {
            throw e;
          }
          log.warn("dedupe: {} was closed by an interrupt; reopening it", INDEX_FILE);
          indexLog = null;
        }
      }
    }
  }

  /*
   * dedupe-index: header 64 bytes (u32 magic 'VDDX', u16 version (1), reserved, u32 CRC32C of bytes
   * 0..59 at 60), then 64-byte records:
   *   0  u16 magic 'DX', u8 version (1), u8 type: 1 ENTRY, 2 PURGE_SCO, 3 PURGE_NAMESPACE
   *   4  u32 ENTRY: CRC32C of the cluster; else 0
   *   8  u64 ENTRY: shared location; PURGE_SCO: shared location of slot 0 of the SCO; PURGE_NAMESPACE: index
   *   16 32 bytes ENTRY: SHA-256 of the cluster; else 0
   *   48 reserved, 0
   *   60 u32 CRC32C of bytes 0..59
   */
  private static void encode(ByteBuffer b, byte type, int crc, long loc, Key key) {
    int start = b.position();
    b.putShort(RECORD_MAGIC).put((byte) VERSION).put(type).putInt(crc).putLong(loc);
    if (key != null) {
      key.put(b);
    } else {
      b.position(b.position() + 32);
    }
    b.position(start + 60);
    ByteBuffer view = b.duplicate().position(start).limit(start + 60);
    b.putInt(Layout.crc32c(view));
  }

  private static ByteBuffer header() {
    ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
    h.putInt(INDEX_MAGIC).putShort(VERSION);
    h.putInt(60, Layout.crc32c(h.array(), 0, 60));
    h.clear();
    return h;
  }

  private void replay() throws IOException {
    Path p = dir.resolve(INDEX_FILE);
    if (!Files.exists(p)) {
      return;
    }
    byte[] all = Files.readAllBytes(p);
    ByteBuffer b = ByteBuffer.wrap(all);
    if (all.length < HEADER_BYTES || b.getInt(0) != INDEX_MAGIC || b.getInt(60) != Layout.crc32c(all, 0, 60)
        || b.getShort(4) != VERSION) {
      log.warn("dedupe: {} has no valid header; the index starts empty", p);
      return;
    }
    int records = 0;
    for (int pos = HEADER_BYTES; pos + RECORD_BYTES <= all.length; pos += RECORD_BYTES) {
      if (b.getInt(pos + 60) != Layout.crc32c(all, pos, 60) || b.getShort(pos) != RECORD_MAGIC || b.get(pos + 2) != VERSION) {
        if (pos + 2L * RECORD_BYTES <= all.length) {
          log.warn("dedupe: {} has a corrupt record at byte {} before its end; the index starts empty", p, pos);
          index.invalidateAll();
        } else {
          log.warn("dedupe: {} ends with a torn record at byte {}; keeping the {} records before it", p, pos, records);
        }
        return;
      }
      byte type = b.get(pos + 3);
      long loc = b.getLong(pos + 8);
      switch (type) {
        case ENTRY -> {
          Namespace n = table.get(Layout.sharedIndexOf(loc));
          if (Layout.isShared(loc) && n != null && n.state() == State.ACTIVE) {
            ByteBuffer k = b.duplicate().position(pos + 16);
            index.put(new Key(k.getLong(), k.getLong(), k.getLong(), k.getLong()), new Target(loc, b.getInt(pos + 4)));
          }
        }
        case PURGE_SCO -> index.asMap().values().removeIf(t -> Layout.sharedIndexOf(t.location()) == Layout.sharedIndexOf(loc)
            && Layout.scoOf(t.location()) == Layout.scoOf(loc));
        case PURGE_NAMESPACE -> index.asMap().values().removeIf(t -> Layout.sharedIndexOf(t.location()) == (int) loc);
        default -> {
          log.warn("dedupe: {} has a record of unknown type {} at byte {}; the index starts empty", p, type, pos);
          index.invalidateAll();
          return;
        }
      }
      records++;
    }
  }

  /** Rewrites the log from the entries in RAM (atomically), then opens it for appending. */
  private void compact() throws IOException {
    Path tmp = dir.resolve(INDEX_FILE + ".tmp");
    List<Map.Entry<Key, Target>> live = new ArrayList<>(index.asMap().entrySet());
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, header(), 0);
      long pos = HEADER_BYTES;
      ByteBuffer b = ByteBuffer.allocate(RECORD_BYTES * 1024);
      for (int i = 0; i < live.size(); i++) {
        encode(b, ENTRY, live.get(i).getValue().crc(), live.get(i).getValue().location(), live.get(i).getKey());
        if (!b.hasRemaining() || i == live.size() - 1) {
          b.flip();
          int n = b.remaining();
          TLog.writeFully(ch, b, pos);
          pos += n;
          b.clear();
        }
      }
      ch.force(true);
    }
    Files.move(tmp, dir.resolve(INDEX_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
    synchronized (fileLock) {
      indexLog = FileChannel.open(dir.resolve(INDEX_FILE), StandardOpenOption.WRITE);
      logPos = indexLog.size();
    }
    if (!live.isEmpty()) {
      log.info("dedupe: index loaded with {} entries", live.size());
    }
  }

  @Override
  public void close() throws IOException {
    writer.shutdown();
    try {
      writer.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (fileLock) {
      closed = true;
      if (indexLog != null && indexLog.isOpen()) {
        indexLog.force(false);
        indexLog.close();
      }
      indexLog = null;
    }
  }
}
