package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.volume.Verify;
import org.vsa.volume.SharedObjects;

/**
 * A vPool's namespace kept in the shared object backend, written through before a change is
 * acknowledged, so that another node can take the namespace over with every acknowledged change
 * ({@link #restore}, then {@link LocalNamespace#open(String, Path, VolumeCatalog, List, long,
 * NamespaceMirror)}).
 *
 * <p>What goes to the backend: every journal record {@link LocalNamespace} makes (metadata
 * changes, vDisk files' sizes), and small files' data at their durability points (a DURABLE write,
 * COMMIT, a size change). Changes are group-committed: whoever waits first puts every change
 * queued by then as one log segment, the others wait for it (N concurrent creates cost about one
 * put). A small file's data goes as the range written since its last durability point (its "dirty"
 * range) plus the file's size: up to {@link #INLINE_BYTES_MAX} inside the segment, larger first as
 * data objects of at most {@link #DATA_CHUNK_BYTES} each (read and put a chunk at a time); either
 * way pointers in the log name them. Once a file's chain of pointers passes
 * {@link #CHAIN_ENTRIES_MAX} entries or its size in bytes, the whole file is sent instead. After
 * every upload, before a change is acknowledged, the owner's lease is checked: a stale owner never
 * acknowledges ({@link NamespaceUnavailableException}, JUKEBOX, the client retries elsewhere).
 *
 * <p>A failing backend: a change is acknowledged only once it is in the backend. A failed put
 * keeps its object queued (the same name and bytes are put again, in order, by a background
 * retrier with backoff, only while the lease holds, until it lands, a base takes it over, or the
 * mirror closes); the changes waiting on it wait up to {@link #FAILED_WAIT_MILLIS} for that, then
 * answer JUKEBOX (never acknowledged, already applied here; they may land later). Until the failed object lands, every
 * new change is refused before it is applied ({@link #admit}, JUKEBOX), so what this node shows
 * beyond the backend is at most the changes taken before the failure. The backlog (changes taken,
 * not yet in the backend) is bounded by {@link #BACKLOG_CHANGES_MAX} and {@link #BACKLOG_BYTES_MAX}
 * (a backend that is slow rather than failing): past them, new changes are refused the same way.
 *
 * <p>Backend format, version 1, one backend namespace {@code nsm-<vpool>}; objects are never
 * overwritten with other bytes (names carry the owner's epoch and a number; numbers are 16 hex
 * digits, so {@code list} sorts them; a put whose outcome is unknown is retried with the same name
 * and the same bytes):
 * <ul>
 *   <li>{@code b.<epoch>.<gen>}: a base, the whole namespace: header {@code [magic VNMB][version]
 *       [namespace id][epoch][gen][record count][CRC32C of the 40 bytes before]}, then records: one
 *       journal record (a snapshot of every inode), then every small file's chain of pointers (and
 *       the data of ranges whose segment was not yet put when the base was cut).
 *   <li>{@code s.<epoch>.<gen>.<seq>}: a log segment after base {@code gen}: header {@code [magic
 *       VNMS][version][namespace id][epoch][gen][seq][record count][CRC32C of the 48 bytes before]},
 *       then records in the order the changes were made.
 *   <li>{@code d.<epoch>.<seq>}: small files' data: header {@code [magic VNMD][version][epoch][seq]
 *       [record count][CRC32C of the 28 bytes before]}, then data records.
 * </ul>
 * A record is {@code [magic VNMR][type][payload length][CRC32C of payload][payload]}. Types:
 * 1 journal record (payload: a {@link Journal} record, its own header and CRC included); 2 data
 * pointer (file id, size, offset, length, offset of the data record in its object, object name
 * as a length-prefixed UTF-8 string; length 0: a size alone, no object); 3 data (file id, offset,
 * bytes), in a data object, or inline in a segment or base just before its pointer. A pointer may
 * name a data object, or a segment or base of the same epoch that carries the range. At open under
 * a new epoch the base copies every small file into data objects of that epoch, so nothing of older
 * epochs is needed again.
 *
 * <p>Restore takes the newest base of the highest epoch that has one, then its segments in
 * sequence order, stopping at the first missing number (later segments were never acknowledged:
 * the uploads are serial, and a change waits for every segment before its own); it writes the
 * journal records as the local journal and applies pointers in order (set the size, write the
 * range). An object with a bad magic, version or CRC is an error naming the object. A stale owner
 * (lower epoch) that goes on putting after a takeover writes only names of its own epoch, which a
 * restore of the newer epoch never reads. After a base lands the owner deletes (best effort,
 * logged) older epochs' objects and its own older bases, segments and data objects that no chain
 * names any more.
 *
 * <p>Changelog: 1 - first version.
 */
public final class NamespaceMirror implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NamespaceMirror.class);
  static final int BASE_MAGIC = 0x564E4D42; // VNMB
  static final int SEGMENT_MAGIC = 0x564E4D53; // VNMS
  static final int DATA_MAGIC = 0x564E4D44; // VNMD
  static final int RECORD_MAGIC = 0x564E4D52; // VNMR
  static final int VERSION = 1;
  static final int T_JOURNAL = 1;
  static final int T_POINTER = 2;
  static final int T_DATA = 3;
  static final int RECORD_HEADER_BYTES = 16;
  static final int BASE_HEADER_BYTES = 44;
  static final int SEGMENT_HEADER_BYTES = 52;
  static final int DATA_HEADER_BYTES = 32;
  /**
   * A file's chain of pointers longer than this (or than one per {@link #CHAIN_BYTES_PER_ENTRY} of
   * the file, whichever is more) is replaced by the whole file: a restore reads a bounded number of
   * ranges per file, and a file appended to in small steps is uploaded again whole only every
   * size / 64 KiB appends (about 64 KiB uploaded per append), not every 16 (its size per 16).
   */
  static final int CHAIN_ENTRIES_MAX = 16;
  static final long CHAIN_BYTES_PER_ENTRY = 64 << 10;
  /**
   * A range up to this size travels inside the log segment (a data record, then its pointer), so
   * that a small DURABLE write costs one shared put; a larger one goes first in a data object.
   */
  static final int INLINE_BYTES_MAX = 128 << 10;
  /** Data objects written at open pack files up to about this size. */
  static final int PACK_BYTES = 32 << 20;
  /** More segments than this since the last base make the namespace compact (a new base). */
  static final int SEGMENTS_PER_BASE_MAX = 4096;
  static final long AWAIT_MILLIS_MAX = 120_000;
  /**
   * The backlog (changes taken but not yet in the backend: the queue, and the segment being put or
   * failed) is bounded: past either limit a new change is refused before it is applied
   * ({@link #admit}, JUKEBOX). A soft bound: each NFS thread may add one change past it.
   */
  static final long BACKLOG_BYTES_MAX = 64L << 20;
  static final int BACKLOG_CHANGES_MAX = 65_536;
  /** A failed put is retried in the background after this long, doubling up to the max. */
  static final long RETRY_MILLIS_MIN = 100;
  static final long RETRY_MILLIS_MAX = 5_000;
  /** How long a change whose put failed waits for the retries before its client gets JUKEBOX. */
  static final long FAILED_WAIT_MILLIS = 3_000;
  /** At most one line per this long about refused changes (the count is in the next one). */
  static final long REFUSED_LOG_MILLIS = 10_000;
  /**
   * A small file's range larger than {@link #INLINE_BYTES_MAX} goes in data objects of at most this
   * many bytes each (one pointer per object, all queued together): read into a buffer of this size,
   * not the whole range at once.
   */
  static final int DATA_CHUNK_BYTES = 4 << 20;
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,200}");
  private static final Pattern OBJECT = Pattern.compile("([bsd])\\.([0-9a-f]{16})\\.([0-9a-f]{16})(?:\\.([0-9a-f]{16}))?");

  private final SharedObjects store;
  private final String vpool;
  private final String bucket;
  private final long epoch;
  private final BooleanSupplier holdsLease;

  /** Reads a small file's size and bytes for an upload; given by the namespace. */
  interface Source {
    long size(long id) throws IOException;

    void read(long id, long offset, ByteBuffer dst) throws IOException;
  }

  /** A pointer to a range of a small file in a data object (length 0: a size alone). */
  record Pointer(long id, long size, long offset, long length, String object, long objectOffset) {
    ByteBuffer encode() {
      byte[] o = object.getBytes(StandardCharsets.UTF_8);
      ByteBuffer p = ByteBuffer.allocate(8 * 5 + 4 + o.length);
      p.putLong(id).putLong(size).putLong(offset).putLong(length).putLong(objectOffset).putInt(o.length).put(o);
      return p.flip();
    }

    static Pointer decode(ByteBuffer p) {
      long id = p.getLong();
      long size = p.getLong();
      long offset = p.getLong();
      long length = p.getLong();
      long objectOffset = p.getLong();
      int n = p.getInt();
      if (n < 0 || n > 200 || n > p.remaining()) {
        throw new IllegalArgumentException("bad object name length " + n);
      }
      byte[] o = new byte[n];
      p.get(o);
      Pointer ptr = new Pointer(id, size, offset, length, new String(o, StandardCharsets.UTF_8), objectOffset);
      if (size < 0 || offset < 0 || length < 0 || offset + length > size || objectOffset < 0
          || (length > 0 && n == 0)) {
        throw new IllegalArgumentException("bad pointer " + ptr);
      }
      return ptr;
    }
  }

  /** Per small file: what was written since its last upload, and its chain of pointers. */
  private static final class FileState {
    final Object upload = new Object();
    long dirtyFrom = Long.MAX_VALUE;
    long dirtyTo = -1;
    boolean sizeDirty;
    /** Guarded by the mirror's {@code mon}. */
    final List<Link> chain = new ArrayList<>();
    long chainBytes;
    long lastTicket;

    synchronized void mark(long from, long to) {
      dirtyFrom = Math.min(dirtyFrom, from);
      dirtyTo = Math.max(dirtyTo, to);
    }

    synchronized void markSize() {
      sizeDirty = true;
    }

    /** Takes the dirty range ({@code [from, to)}, or null if clean) and clears it. */
    synchronized long[] take() {
      if (dirtyTo < 0 && !sizeDirty) {
        return null;
      }
      long[] r = dirtyTo < 0 ? new long[] {0, 0} : new long[] {dirtyFrom, dirtyTo};
      dirtyFrom = Long.MAX_VALUE;
      dirtyTo = -1;
      sizeDirty = false;
      return r;
    }
  }

  /**
   * A pointer of a file's chain (guarded by {@code mon}). {@code data}: the range's bytes, kept while
   * the object that carries them inline (a segment, or a base that took them over from a segment
   * not yet put) is not known to be in the backend; {@code p.object()} is empty until a segment is
   * formed around it.
   */
  private static final class Link {
    Pointer p;
    byte[] data;

    Link(Pointer p, byte[] data) {
      this.p = p;
      this.data = data;
    }
  }

  /** A queued change: an encoded record, or a range to carry inline. */
  private record Queued(byte[] record, Link inline) {
    /** What it holds in the heap, about. */
    long bytes() {
      return record != null ? record.length : inline.data.length + RECORD_HEADER_BYTES * 2 + 64;
    }
  }

  /**
   * One object to put: a base or a segment, the last ticket it makes durable, and the chain links
   * whose bytes it carries.
   */
  private record Batch(String name, byte[] bytes, long lastTicket, boolean base, GcPlan gc, List<Link> carried,
      int changes) {}

  /** What a landed base lets the owner delete. */
  private record GcPlan(long gen, long dataSeqFloor, Set<String> referenced) {}

  private final Object mon = new Object();
  private final Map<Long, FileState> files = new ConcurrentHashMap<>();
  private final ConcurrentSkipListSet<Long> dataInFlight = new ConcurrentSkipListSet<>();
  private final ExecutorService gc;
  private Source source;
  private long namespaceId;
  // guarded by mon
  private final List<Queued> pending = new ArrayList<>();
  private long enqueued;
  private long durable;
  private boolean uploading;
  private Batch stuck;
  private Batch base;
  private long gen;
  private long segSeq;
  private long dataSeq;
  private long failures;
  private String lastFailure;
  /** Bytes of {@code pending}'s records and inline ranges. */
  private long pendingBytes;
  /**
   * A put failed and the object it tried (a segment or a base) is not in the backend yet: new
   * changes are refused, the retrier puts it again; cleared once it lands.
   */
  private boolean degraded;
  private boolean retryScheduled;
  private long retryMillis = RETRY_MILLIS_MIN;
  private long refused;
  private long refusedLoggedNanos;
  private long failedLoggedNanos;
  private long backlogBytesMax = BACKLOG_BYTES_MAX;
  private int backlogChangesMax = BACKLOG_CHANGES_MAX;
  private final java.util.concurrent.ScheduledExecutorService retrier;
  private boolean started;
  private boolean closed;

  /**
   * A mirror of {@code vpool}'s namespace for the owner at {@code epoch}; {@code holdsLease} is asked
   * after every upload, before anything is acknowledged.
   */
  public NamespaceMirror(SharedObjects store, String vpool, long epoch, BooleanSupplier holdsLease) {
    Verify.that(epoch >= 0, "epoch %d", epoch);
    this.store = store;
    this.vpool = vpool;
    this.bucket = bucket(vpool);
    this.epoch = epoch;
    this.holdsLease = holdsLease;
    this.gc = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "nsmirror-gc-" + vpool);
      t.setDaemon(true);
      return t;
    });
    this.retrier = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "nsmirror-retry-" + vpool);
      t.setDaemon(true);
      return t;
    });
  }

  public long epoch() {
    return epoch;
  }

  /** The backend namespace of {@code vpool}'s mirror. */
  static String bucket(String vpool) {
    String b = "nsm-" + vpool;
    if (!NAME.matcher(b).matches()) {
      throw new IllegalArgumentException("vPool name " + vpool + " cannot name a backend namespace");
    }
    return b;
  }

  static String hex(long v) {
    return String.format("%016x", v);
  }

  static String baseName(long epoch, long gen) {
    return "b." + hex(epoch) + "." + hex(gen);
  }

  static String segmentName(long epoch, long gen, long seq) {
    return "s." + hex(epoch) + "." + hex(gen) + "." + hex(seq);
  }

  static String dataName(long epoch, long seq) {
    return "d." + hex(epoch) + "." + hex(seq);
  }

  /** Parsed object name: kind, epoch, second number, third (segments) or -1; null if not ours. */
  private record Name(char kind, long epoch, long a, long b) {
    static Name parse(String s) {
      Matcher m = OBJECT.matcher(s);
      if (!m.matches() || (m.group(1).equals("s") != (m.group(4) != null))) {
        return null;
      }
      return new Name(m.group(1).charAt(0), Long.parseUnsignedLong(m.group(2), 16),
          Long.parseUnsignedLong(m.group(3), 16), m.group(4) == null ? -1 : Long.parseUnsignedLong(m.group(4), 16));
    }
  }

  /** Whether the backend holds a mirror of {@code vpool}'s namespace (a base). */
  public static boolean exists(SharedObjects store, String vpool) throws IOException {
    String b = bucket(vpool);
    return store.namespaceExists(b) && !store.list(b, "b.").isEmpty();
  }

  // ---------------------------------------------------------------- restore

  /**
   * Rebuilds {@code dir} (emptied first: a local copy may be stale or hold changes never
   * acknowledged) as a namespace directory holding exactly what the backend holds for
   * {@code vpool}: its journal and small files' data. Throws if there is no mirror or an object is
   * corrupt (the message names it).
   */
  public static void restore(SharedObjects store, String vpool, Path dir) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        restoreOnce(store, vpool, dir);
        return;
      } catch (VanishedException e) {
        // an owner (a stale one, or this epoch's before it lost its lease) collected objects of the
        // base this restore started from after writing a newer one: start again from the newest
        if (attempt >= RESTORE_ATTEMPTS) {
          throw e;
        }
        log.warn("namespace {}: {}; restoring again (attempt {} of {})", vpool, e.getMessage(), attempt + 1,
            RESTORE_ATTEMPTS);
      }
    }
  }

  static final int RESTORE_ATTEMPTS = 3;

  /** An object a restore needed is gone (collected after a newer base landed). */
  private static final class VanishedException extends IOException {
    VanishedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  private static void restoreOnce(SharedObjects store, String vpool, Path dir) throws IOException {
    String b = bucket(vpool);
    if (!store.namespaceExists(b)) {
      throw new IOException("namespace " + vpool + ": no mirror in the backend (" + b + " does not exist)");
    }
    Name newest = null;
    for (String s : store.list(b, "b.")) {
      Name n = Name.parse(s);
      if (n != null && n.kind == 'b' && (newest == null || n.epoch > newest.epoch
          || (n.epoch == newest.epoch && n.a > newest.a))) {
        newest = n;
      }
    }
    if (newest == null) {
      throw new IOException("namespace " + vpool + ": no base in the backend namespace " + b);
    }
    String baseObject = baseName(newest.epoch, newest.a);
    ByteBuffer bb = ByteBuffer.wrap(get(store, b, baseObject));
    long[] h = header(bb, BASE_MAGIC, BASE_HEADER_BYTES, b, baseObject);
    long nsId = h[0];
    if (h[1] != newest.epoch || h[2] != newest.a) {
      throw new IOException(b + "/" + baseObject + ": header says epoch " + h[1] + " gen " + h[2] + " (corrupt)");
    }
    List<ByteBuffer> journal = new ArrayList<>();
    List<Pointer> pointers = new ArrayList<>();
    readRecords(bb, (int) h[3], b, baseObject, journal, pointers);
    String prefix = "s." + hex(newest.epoch) + "." + hex(newest.a) + ".";
    List<String> segments = store.list(b, prefix);
    long expect = 0;
    for (String s : segments) {
      Name n = Name.parse(s);
      if (n == null) {
        continue;
      }
      if (n.b != expect) {
        log.warn("namespace {}: segment {} missing in {}; the {} later segments were never acknowledged, ignored",
            vpool, segmentName(newest.epoch, newest.a, expect), b, segments.size() - expect);
        break;
      }
      ByteBuffer sb = ByteBuffer.wrap(get(store, b, s));
      long[] sh = header(sb, SEGMENT_MAGIC, SEGMENT_HEADER_BYTES, b, s);
      if (sh[0] != nsId || sh[1] != newest.epoch || sh[2] != newest.a || sh[4] != n.b) {
        throw new IOException(b + "/" + s + ": header names namespace " + sh[0] + " epoch " + sh[1] + " gen "
            + sh[2] + " seq " + sh[4] + ", not those of its name and base");
      }
      readRecords(sb, (int) sh[3], b, s, journal, pointers);
      expect++;
    }
    emptyDir(dir);
    Path files = Files.createDirectories(dir.resolve("files"));
    Journal.writeRestored(dir.resolve("journal"), nsId, journal);
    Set<Long> touched = new HashSet<>();
    for (Pointer p : pointers) {
      applyPointer(store, b, files, p);
      touched.add(p.id());
    }
    for (long id : touched) {
      try (FileChannel c = FileChannel.open(files.resolve(Long.toString(id)), StandardOpenOption.WRITE)) {
        c.force(true);
      }
    }
    Journal.fsyncDir(files);
    Journal.fsyncDir(dir);
    log.info("namespace {}: restored from {} (base {}, {} segments, {} journal records, {} data pointers)", vpool, b,
        baseObject, expect, journal.size(), pointers.size());
  }

  private static byte[] get(SharedObjects store, String b, String name) throws IOException {
    try {
      return store.get(b, name);
    } catch (SharedObjects.Missing e) {
      throw new VanishedException(b + "/" + name + " vanished while restoring: " + e.getMessage(), e);
    }
  }

  /** Checks an object's header; returns [namespace id or 0, epoch, gen, count, seq]. */
  private static long[] header(ByteBuffer bb, int magic, int headerBytes, String b, String name) throws IOException {
    if (bb.remaining() < headerBytes || bb.getInt(0) != magic) {
      throw new IOException(b + "/" + name + ": not a namespace mirror object of its kind (bad magic or too short)");
    }
    CRC32C crc = new CRC32C();
    crc.update(bb.array(), 0, headerBytes - 4);
    if ((int) crc.getValue() != bb.getInt(headerBytes - 4)) {
      throw new IOException(b + "/" + name + ": header CRC mismatch (corrupt object)");
    }
    int version = bb.getInt(4);
    if (version != VERSION) {
      throw new IOException(b + "/" + name + ": version " + version + " is not supported (max " + VERSION + ")");
    }
    long[] r;
    if (magic == BASE_MAGIC) {
      r = new long[] {bb.getLong(8), bb.getLong(16), bb.getLong(24), bb.getInt(32) & 0xffffffffL, 0};
    } else if (magic == SEGMENT_MAGIC) {
      r = new long[] {bb.getLong(8), bb.getLong(16), bb.getLong(24), bb.getInt(40) & 0xffffffffL, bb.getLong(32)};
    } else {
      r = new long[] {0, bb.getLong(8), 0, bb.getInt(24) & 0xffffffffL, bb.getLong(16)};
    }
    bb.position(headerBytes);
    return r;
  }

  private static void readRecords(ByteBuffer bb, int count, String b, String name, List<ByteBuffer> journal,
      List<Pointer> pointers) throws IOException {
    for (int i = 0; i < count; i++) {
      int at = bb.position();
      ByteBuffer p = record(bb, b, name, at);
      int type = bb.getInt(at + 4);
      try {
        if (type == T_JOURNAL) {
          journal.add(p);
        } else if (type == T_POINTER) {
          pointers.add(Pointer.decode(p));
        } else if (type == T_DATA) {
          // a range carried inline: a pointer names it
        } else {
          throw new IllegalArgumentException("record type " + type);
        }
      } catch (RuntimeException e) {
        throw new IOException(b + "/" + name + ": record " + i + " at byte " + at + " is malformed: " + e.getMessage());
      }
    }
    if (bb.hasRemaining()) {
      throw new IOException(b + "/" + name + ": " + bb.remaining() + " bytes after its " + count + " records (corrupt)");
    }
  }

  /** The payload of the record at {@code bb}'s position (checked), position moved past it. */
  private static ByteBuffer record(ByteBuffer bb, String b, String name, int at) throws IOException {
    if (bb.remaining() < RECORD_HEADER_BYTES || bb.getInt(at) != RECORD_MAGIC) {
      throw new IOException(b + "/" + name + ": no record at byte " + at + " (bad magic or cut short: corrupt)");
    }
    int len = bb.getInt(at + 8);
    if (len < 0 || len > bb.remaining() - RECORD_HEADER_BYTES) {
      throw new IOException(b + "/" + name + ": record at byte " + at + " claims " + len + " bytes (corrupt)");
    }
    CRC32C crc = new CRC32C();
    crc.update(bb.array(), bb.arrayOffset() + at + RECORD_HEADER_BYTES, len);
    if ((int) crc.getValue() != bb.getInt(at + 12)) {
      throw new IOException(b + "/" + name + ": CRC mismatch in the record at byte " + at + " (corrupt)");
    }
    ByteBuffer p = bb.slice(at + RECORD_HEADER_BYTES, len);
    bb.position(at + RECORD_HEADER_BYTES + len);
    return p;
  }

  private static void applyPointer(SharedObjects store, String b, Path files, Pointer p) throws IOException {
    try (FileChannel c = FileChannel.open(files.resolve(Long.toString(p.id())), StandardOpenOption.CREATE,
        StandardOpenOption.WRITE)) {
      if (c.size() > p.size()) {
        c.truncate(p.size());
      } else if (c.size() < p.size()) {
        c.write(ByteBuffer.allocate(1), p.size() - 1);
      }
      if (p.length() == 0) {
        return;
      }
      ByteBuffer rec = ByteBuffer.allocate(Math.toIntExact(RECORD_HEADER_BYTES + 16 + p.length()));
      try {
        store.read(b, p.object(), p.objectOffset(), rec);
      } catch (SharedObjects.Missing e) {
        throw new VanishedException(b + "/" + p.object() + ", which holds data of file " + p.id()
            + ", vanished while restoring: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new IOException(b + "/" + p.object() + ": reading the data of file " + p.id() + " failed: " + e, e);
      }
      rec.flip();
      ByteBuffer d = record(rec, b, p.object(), 0);
      if (rec.getInt(4) != T_DATA || d.getLong(0) != p.id() || d.getLong(8) != p.offset()) {
        throw new IOException(b + "/" + p.object() + ": the record at byte " + p.objectOffset()
            + " is not the data of file " + p.id() + " at " + p.offset());
      }
      d.position(16);
      long pos = p.offset();
      while (d.hasRemaining()) {
        pos += c.write(d, pos);
      }
    }
  }

  private static void emptyDir(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
          if (!p.equals(dir)) {
            Files.delete(p);
          }
        }
      }
    }
    Files.createDirectories(dir);
  }

  // ---------------------------------------------------------------- encoding

  private static void putRecord(java.io.ByteArrayOutputStream out, int type, ByteBuffer payload) {
    ByteBuffer h = ByteBuffer.allocate(RECORD_HEADER_BYTES);
    CRC32C crc = new CRC32C();
    crc.update(payload.duplicate());
    h.putInt(RECORD_MAGIC).putInt(type).putInt(payload.remaining()).putInt((int) crc.getValue());
    out.write(h.array(), 0, RECORD_HEADER_BYTES);
    byte[] p = new byte[payload.remaining()];
    payload.duplicate().get(p);
    out.write(p, 0, p.length);
  }

  static byte[] encodeRecord(int type, ByteBuffer payload) {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(RECORD_HEADER_BYTES + payload.remaining());
    putRecord(out, type, payload);
    return out.toByteArray();
  }

  private static byte[] object(ByteBuffer header, List<byte[]> records) {
    int size = header.capacity();
    for (byte[] r : records) {
      size += r.length;
    }
    CRC32C crc = new CRC32C();
    crc.update(header.array(), 0, header.capacity() - 4);
    header.putInt(header.capacity() - 4, (int) crc.getValue());
    ByteBuffer o = ByteBuffer.allocate(size);
    o.put(header.array());
    for (byte[] r : records) {
      o.put(r);
    }
    return o.array();
  }

  private byte[] segment(long g, long seq, List<byte[]> records) {
    ByteBuffer h = ByteBuffer.allocate(SEGMENT_HEADER_BYTES);
    h.putInt(SEGMENT_MAGIC).putInt(VERSION).putLong(namespaceId).putLong(epoch).putLong(g).putLong(seq)
        .putInt(records.size());
    return object(h, records);
  }

  private byte[] baseObject(long g, List<byte[]> records) {
    ByteBuffer h = ByteBuffer.allocate(BASE_HEADER_BYTES);
    h.putInt(BASE_MAGIC).putInt(VERSION).putLong(namespaceId).putLong(epoch).putLong(g).putInt(records.size());
    return object(h, records);
  }

  private byte[] dataObject(long seq, List<byte[]> records) {
    ByteBuffer h = ByteBuffer.allocate(DATA_HEADER_BYTES);
    h.putInt(DATA_MAGIC).putInt(VERSION).putLong(epoch).putLong(seq).putInt(records.size());
    return object(h, records);
  }

  private static byte[] dataRecord(long id, long offset, ByteBuffer bytes) {
    ByteBuffer p = ByteBuffer.allocate(16 + bytes.remaining());
    p.putLong(id).putLong(offset).put(bytes.duplicate());
    return encodeRecord(T_DATA, p.flip());
  }

  // ---------------------------------------------------------------- the owner's side

  /**
   * Starts mirroring (the namespace's open): refuses if a newer epoch wrote here, then writes a
   * base of this epoch holding {@code snapshot} (a journal record of the whole namespace) and every
   * small file ({@code smallFiles}) copied into data objects of this epoch.
   */
  void start(long nsId, ByteBuffer snapshot, Set<Long> smallFiles, Source src) throws IOException, NfsException {
    this.namespaceId = nsId;
    this.source = src;
    store.createNamespace(bucket);
    long g = -1;
    long d = -1;
    for (String s : store.list(bucket, "")) {
      Name n = Name.parse(s);
      if (n == null) {
        continue;
      }
      if (n.epoch > epoch) {
        log.warn("namespace {}: not opened at epoch {}: the backend holds {} of epoch {} (another node owns it)",
            vpool, epoch, s, n.epoch);
        throw new NamespaceUnavailableException("namespace " + vpool + ": the backend holds epoch " + n.epoch
            + " (" + s + "), newer than this owner's " + epoch + ": another node owns it", true);
      }
      if (n.epoch == epoch && n.kind != 'd') {
        g = Math.max(g, n.a);
      } else if (n.epoch == epoch) {
        d = Math.max(d, n.a);
      }
    }
    List<byte[]> records = new ArrayList<>();
    records.add(encodeRecord(T_JOURNAL, snapshot));
    List<byte[]> pack = new ArrayList<>();
    List<Pointer> packed = new ArrayList<>();
    long packBytes = DATA_HEADER_BYTES;
    long nextData = d + 1;
    Set<String> referenced = new HashSet<>();
    for (long id : smallFiles.stream().sorted().toList()) {
      long size = src.size(id);
      Pointer p;
      if (size == 0) {
        p = new Pointer(id, 0, 0, 0, "", 0);
      } else {
        // a chunk at a time, so that a large small file is never whole in the heap
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(size, DATA_CHUNK_BYTES));
        for (long at = 0; at < size; ) {
          int n = (int) Math.min(chunk.capacity(), size - at);
          chunk.clear().limit(n);
          src.read(id, at, chunk);
          zeroRest(chunk); // cut short by a concurrent truncation: its size change follows
          chunk.flip();
          if (packBytes + n > PACK_BYTES && !pack.isEmpty()) {
            putData(nextData++, pack, packed, records, referenced);
            pack = new ArrayList<>();
            packed = new ArrayList<>();
            packBytes = DATA_HEADER_BYTES;
          }
          byte[] r = dataRecord(id, at, chunk);
          packed.add(new Pointer(id, size, at, n, dataName(epoch, nextData), packBytes));
          pack.add(r);
          packBytes += r.length;
          at += n;
        }
        continue;
      }
      FileState fs = state(id);
      fs.chain.add(new Link(p, null));
      records.add(encodeRecord(T_POINTER, p.encode()));
    }
    if (!pack.isEmpty()) {
      putData(nextData++, pack, packed, records, referenced);
    }
    long ticket;
    synchronized (mon) {
      dataSeq = nextData;
      gen = g + 1;
      segSeq = 0;
      ticket = ++enqueued; // the base's own: open returns once it is in the backend
      base = new Batch(baseName(epoch, gen), baseObject(gen, records), ticket, true,
          new GcPlan(gen, nextData, referenced), List.of(), 1);
      started = true;
    }
    await(ticket);
    log.info("namespace {}: mirrored to {} at epoch {} (base gen {}, {} small files)", vpool, bucket, epoch, gen,
        smallFiles.size());
  }

  private void putData(long seq, List<byte[]> pack, List<Pointer> packed, List<byte[]> records,
      Set<String> referenced) throws IOException {
    String name = dataName(epoch, seq);
    store.put(bucket, name, dataObject(seq, pack));
    referenced.add(name);
    for (Pointer p : packed) {
      Verify.that(p.object().equals(name), "pointer %s into %s", p, name);
      state(p.id()).chain.add(new Link(p, null));
      state(p.id()).chainBytes += p.length();
      records.add(encodeRecord(T_POINTER, p.encode()));
    }
  }

  private static void zeroRest(ByteBuffer b) {
    while (b.hasRemaining()) {
      b.put((byte) 0);
    }
  }

  private FileState state(long id) {
    return files.computeIfAbsent(id, k -> new FileState());
  }

  /** Queues a journal record (the caller holds the namespace lock); returns its ticket. */
  long journal(ByteBuffer record) {
    byte[] r = encodeRecord(T_JOURNAL, record);
    synchronized (mon) {
      pending.add(new Queued(r, null));
      pendingBytes += r.length;
      return ++enqueued;
    }
  }

  /**
   * Refuses a new change before it is applied (JUKEBOX, retryable; a log line at most every
   * {@link #REFUSED_LOG_MILLIS}) while a put failed and has not landed yet, or while the backlog is
   * past {@link #BACKLOG_BYTES_MAX} or {@link #BACKLOG_CHANGES_MAX}.
   */
  void admit() throws NfsException {
    String why;
    long count = 0;
    synchronized (mon) {
      if (closed) {
        throw new NamespaceUnavailableException("namespace " + vpool + ": closed", false);
      }
      long bytes = backlogBytesLocked();
      int changes = backlogChangesLocked();
      if (degraded) {
        why = "putting to the backend failed (" + lastFailure + "); retried in the background, " + changes
            + " changes wait";
      } else if (bytes >= backlogBytesMax || changes >= backlogChangesMax) {
        why = "the backend is behind by " + changes + " changes (" + bytes + " bytes; at most "
            + backlogChangesMax + " and " + backlogBytesMax + ")";
      } else {
        return;
      }
      refused++;
      long now = System.nanoTime();
      if (refusedLoggedNanos == 0 || now - refusedLoggedNanos >= TimeUnit.MILLISECONDS.toNanos(REFUSED_LOG_MILLIS)) {
        count = refused;
        refused = 0;
        refusedLoggedNanos = now;
      }
    }
    if (count > 0) {
      log.warn("namespace {}: {} change(s) refused with JUKEBOX since the last such line: {}", vpool, count, why);
    }
    throw Status.of(Status.JUKEBOX, "namespace " + vpool + ": change not taken: " + why);
  }

  /** Sets the backlog's bounds (defaults {@link #BACKLOG_BYTES_MAX}, {@link #BACKLOG_CHANGES_MAX}); for tests. */
  void limits(long bytes, int changes) {
    synchronized (mon) {
      backlogBytesMax = bytes;
      backlogChangesMax = changes;
    }
  }

  /** Changes taken and not yet in the backend (queued, or in the segment being put or failed). */
  int backlogChanges() {
    synchronized (mon) {
      return backlogChangesLocked();
    }
  }

  /** Bytes of the changes {@link #backlogChanges} counts. */
  long backlogBytes() {
    synchronized (mon) {
      return backlogBytesLocked();
    }
  }

  /** Whether a put failed and its object has not landed since (new changes are refused). */
  boolean degraded() {
    synchronized (mon) {
      return degraded;
    }
  }

  private int backlogChangesLocked() {
    return pending.size() + (stuck == null ? 0 : stuck.changes());
  }

  private long backlogBytesLocked() {
    return pendingBytes + (stuck == null ? 0 : stuck.bytes().length);
  }

  /** A small file was written at [offset, offset + length); uploaded at its next durability point. */
  void dirty(long id, long offset, long length) {
    state(id).mark(offset, offset + length);
  }

  /** A small file's size changed (truncate, extension by SETATTR). */
  void sizeChanged(long id) {
    state(id).markSize();
  }

  /** The file is gone or no longer a small file: its data is not mirrored any more. */
  void forget(long id) {
    files.remove(id);
  }

  /** Segments put since the last base. */
  long segmentsSinceBase() {
    synchronized (mon) {
      return segSeq;
    }
  }

  /**
   * Uploads a small file's dirty range (and size) and queues its pointers; returns the ticket to
   * {@link #await} (the last one of this file if it was clean). A range up to
   * {@link #INLINE_BYTES_MAX} is queued with its bytes (the next segment carries it); a larger one is
   * read and put {@link #DATA_CHUNK_BYTES} at a time as data objects, whose pointers are queued
   * together (one segment holds them all, so a restore applies all of them or none). Refused
   * ({@link #admit}) before anything is read if the mirror takes no change now; a failed put of a
   * data object answers JUKEBOX; either way the range stays dirty for the next durability point.
   */
  long syncData(long id) throws IOException, NfsException {
    FileState fs = state(id);
    synchronized (fs.upload) {
      long[] r = fs.take();
      if (r == null) {
        return fs.lastTicket;
      }
      List<Long> seqs = new ArrayList<>();
      try {
        admit();
        checkLease();
        long size = source.size(id);
        long from = Math.min(r[0], size);
        long len = Math.max(0, Math.min(r[1], size) - from);
        boolean whole;
        synchronized (mon) {
          whole = fs.chain.size() >= Math.max(CHAIN_ENTRIES_MAX, size / CHAIN_BYTES_PER_ENTRY)
              || fs.chainBytes + len > size;
        }
        if (whole) {
          from = 0;
          len = size;
        }
        List<Link> links = new ArrayList<>();
        if (len == 0) {
          links.add(new Link(new Pointer(id, size, 0, 0, "", 0), null));
        } else if (len <= INLINE_BYTES_MAX) {
          ByteBuffer bytes = ByteBuffer.allocate((int) len);
          source.read(id, from, bytes);
          links.add(new Link(new Pointer(id, size, from, len, "", 0), bytes.array())); // placed by next()
        } else {
          ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(len, DATA_CHUNK_BYTES));
          for (long at = from; at < from + len; ) {
            int n = (int) Math.min(chunk.capacity(), from + len - at);
            chunk.clear().limit(n);
            source.read(id, at, chunk);
            zeroRest(chunk); // cut short by a concurrent truncation: its size change follows
            chunk.flip();
            long seq;
            synchronized (mon) {
              seq = dataSeq++;
              dataInFlight.add(seq);
            }
            seqs.add(seq);
            String name = dataName(epoch, seq);
            byte[] object = dataObject(seq, List.of(dataRecord(id, at, chunk)));
            try {
              store.put(bucket, name, object);
            } catch (IOException e) {
              log.warn("namespace {}: putting {}/{} (data of file {}) failed: {}", vpool, bucket, name, id,
                  e.toString());
              throw Status.of(Status.JUKEBOX, "namespace " + vpool + ": putting " + name
                  + " to the backend failed: " + e + "; not acknowledged, retry");
            }
            links.add(new Link(new Pointer(id, size, at, n, name, DATA_HEADER_BYTES), null));
            at += n;
          }
        }
        synchronized (mon) {
          if (whole) {
            fs.chain.clear();
            fs.chainBytes = 0;
          }
          for (Link link : links) {
            fs.chain.add(link);
            fs.chainBytes += link.p.length();
            Queued q = link.data != null ? new Queued(null, link)
                : new Queued(encodeRecord(T_POINTER, link.p.encode()), null);
            pending.add(q);
            pendingBytes += q.bytes();
            fs.lastTicket = ++enqueued;
          }
        }
        return fs.lastTicket;
      } catch (IOException | NfsException | RuntimeException e) {
        fs.mark(r[0], r[1]); // upload it with the next durability point
        if (r[1] <= r[0]) {
          fs.markSize();
        }
        if (e instanceof IOException) {
          log.warn("namespace {}: reading file {} to upload it to {} failed: {}", vpool, id, bucket, e.toString());
        }
        throw e;
      } finally {
        for (long seq : seqs) {
          dataInFlight.remove(seq);
        }
      }
    }
  }

  /**
   * The journal was compacted into {@code snapshot} (caller holds the namespace lock, so no journal
   * record is queued meanwhile): the next upload is a new base holding it and the data pointers of
   * {@code smallFiles}; the changes queued so far are in it.
   */
  void rebase(ByteBuffer snapshot, Set<Long> smallFiles) {
    byte[] snap = encodeRecord(T_JOURNAL, snapshot);
    synchronized (mon) {
      if (!started) {
        return;
      }
      gen++;
      String name = baseName(epoch, gen);
      List<byte[]> records = new ArrayList<>();
      List<Link> carried = new ArrayList<>();
      records.add(snap);
      long pos = BASE_HEADER_BYTES + snap.length;
      Set<String> referenced = new HashSet<>();
      for (Map.Entry<Long, FileState> e : files.entrySet()) {
        if (!smallFiles.contains(e.getKey())) {
          continue;
        }
        for (Link l : e.getValue().chain) {
          if (l.data != null) {
            // its segment is queued, being put or failed: the base carries the bytes itself
            byte[] dr = dataRecord(l.p.id(), l.p.offset(), ByteBuffer.wrap(l.data));
            l.p = new Pointer(l.p.id(), l.p.size(), l.p.offset(), l.p.length(), name, pos);
            records.add(dr);
            pos += dr.length;
            carried.add(l);
          }
          byte[] pr = encodeRecord(T_POINTER, l.p.encode());
          records.add(pr);
          pos += pr.length;
          if (l.p.length() > 0) {
            referenced.add(l.p.object());
          }
        }
      }
      long floor = dataInFlight.isEmpty() ? dataSeq : Math.min(dataSeq, dataInFlight.first());
      segSeq = 0;
      base = new Batch(name, baseObject(gen, records), enqueued, true, new GcPlan(gen, floor, referenced), carried,
          pending.size() + (stuck == null ? 0 : stuck.changes()) + 1);
      pending.clear();
      pendingBytes = 0;
      stuck = null; // a failed segment or base: its changes are in this base
    }
  }

  /** Waits until every change queued so far is in the backend (COMMIT, close). */
  void awaitAll() throws NfsException {
    long t;
    synchronized (mon) {
      t = enqueued;
    }
    await(t);
  }

  /**
   * Waits until the change of {@code ticket} is in the backend (putting it, and whatever was
   * queued with it, if nobody is), then checks the lease. If a put fails, the object stays queued
   * and the retrier puts it again; the change waits for that at most {@link #FAILED_WAIT_MILLIS},
   * then answers JUKEBOX (not acknowledged; it stays queued and may land later).
   */
  void await(long ticket) throws NfsException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(AWAIT_MILLIS_MAX);
    long failedDeadline = 0;
    while (true) {
      Batch b;
      synchronized (mon) {
        if (durable >= ticket) {
          break;
        }
        if (closed) {
          throw new NamespaceUnavailableException("namespace " + vpool + ": closed", false);
        }
        if (degraded || uploading) {
          long now = System.nanoTime();
          long until = deadline;
          if (degraded) {
            // the retrier puts the failed object again; this change waits a little for it
            if (failedDeadline == 0) {
              failedDeadline = Math.min(deadline, now + TimeUnit.MILLISECONDS.toNanos(FAILED_WAIT_MILLIS));
            }
            until = failedDeadline;
          }
          long left = until - now;
          if (left <= 0) {
            throw Status.of(Status.JUKEBOX, degraded
                ? "namespace " + vpool + ": putting to the backend failed (" + lastFailure
                    + "); not acknowledged, retried in the background"
                : "namespace " + vpool + ": the backend did not answer in " + AWAIT_MILLIS_MAX + " ms");
          }
          try {
            mon.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw Status.of(Status.JUKEBOX, "namespace " + vpool + ": interrupted");
          }
          continue;
        }
        b = next();
        Verify.that(b != null, "namespace %s: ticket %d not durable (%d) and nothing queued", vpool, ticket, durable);
        uploading = true;
      }
      put(b);
    }
    checkLease();
  }

  /**
   * Puts {@code b} (the caller set {@code uploading}). A failed put leaves it queued (the same
   * name and bytes are put again), makes the mirror refuse new changes and schedules a retry;
   * throws only if the lease does not hold.
   */
  private void put(Batch b) throws NfsException {
    Exception failed = null;
    try {
      checkLease(); // a stale owner puts nothing more
      store.put(bucket, b.name(), b.bytes());
    } catch (IOException | NfsException | RuntimeException e) {
      failed = e;
    }
    boolean retry = false;
    boolean recovered = false;
    boolean logFailure = false;
    long failedPuts = 0;
    synchronized (mon) {
      uploading = false;
      mon.notifyAll();
      if (failed == null) {
        if (b == stuck) {
          stuck = null;
        }
        if (b == base) {
          base = null;
        }
        for (Link l : b.carried()) {
          if (l.p.object().equals(b.name())) {
            l.data = null; // in the backend now
          }
        }
        durable = Math.max(durable, b.lastTicket());
        if (degraded && stuck == null && base == null) {
          degraded = false;
          recovered = true;
          failedPuts = failures;
          failures = 0;
          failedLoggedNanos = 0;
        }
        retryMillis = RETRY_MILLIS_MIN;
      } else {
        if (!(failed instanceof NfsException)) {
          failures++;
          failedPuts = failures;
          lastFailure = b.name() + ": " + failed;
          degraded = true;
          long now = System.nanoTime();
          if (failedLoggedNanos == 0 || now - failedLoggedNanos >= TimeUnit.MILLISECONDS.toNanos(REFUSED_LOG_MILLIS)) {
            failedLoggedNanos = now;
            logFailure = true;
          }
        }
        if (degraded && !retryScheduled && !closed) {
          retryScheduled = true;
          retry = true;
        }
      }
    }
    if (logFailure) {
      log.warn("namespace {}: putting {}/{} failed ({} failed puts in a row); new changes are refused (JUKEBOX) and "
          + "it is put again until it lands: {}", vpool, bucket, b.name(), failedPuts, failed.toString());
    }
    if (retry) {
      scheduleRetry();
    }
    if (recovered) {
      log.info("namespace {}: {}/{} is in the backend after {} failed puts; changes are taken again", vpool, bucket,
          b.name(), failedPuts);
    }
    if (failed instanceof NfsException ne) {
      throw ne;
    }
    if (failed == null && b.gc() != null) {
      scheduleGc(b.gc());
    }
  }

  private void scheduleRetry() {
    long delay;
    synchronized (mon) {
      delay = retryMillis;
      retryMillis = Math.min(retryMillis * 2, RETRY_MILLIS_MAX);
    }
    try {
      retrier.schedule(this::retry, delay, TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing
    }
  }

  /**
   * The retrier: puts the backlog in order (the failed object first, same name and bytes) until all
   * of it is in the backend or the mirror closes; after a failure it runs again later (backoff).
   */
  private void retry() {
    while (true) {
      Batch b = null;
      synchronized (mon) {
        retryScheduled = false;
        if (closed || (durable >= enqueued && stuck == null && base == null)) {
          return;
        }
        if (uploading) {
          // a change's own put is under way (there is none while degraded but the retrier's): look again later
          retryScheduled = true;
        } else {
          b = next();
          if (b == null) {
            return;
          }
          uploading = true;
        }
      }
      if (b == null) {
        try {
          retrier.schedule(this::retry, RETRY_MILLIS_MIN, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
          // closing
        }
        return;
      }
      try {
        put(b);
      } catch (NfsException e) {
        return; // the lease does not hold: put scheduled another try if changes wait (the lease may come back)
      }
      synchronized (mon) {
        if (degraded) {
          return; // it failed again: put scheduled the next try
        }
      }
    }
  }

  /** The next object to put (caller holds mon): a failed one again, the base, or the queued changes. */
  private Batch next() {
    if (stuck != null) {
      return stuck;
    }
    if (base != null) {
      return base;
    }
    if (pending.isEmpty()) {
      return null;
    }
    String name = segmentName(epoch, gen, segSeq);
    List<byte[]> records = new ArrayList<>();
    List<Link> carried = new ArrayList<>();
    long pos = SEGMENT_HEADER_BYTES;
    for (Queued q : pending) {
      if (q.inline() == null) {
        records.add(q.record());
        pos += q.record().length;
        continue;
      }
      Link l = q.inline();
      byte[] dr = dataRecord(l.p.id(), l.p.offset(), ByteBuffer.wrap(l.data));
      l.p = new Pointer(l.p.id(), l.p.size(), l.p.offset(), l.p.length(), name, pos);
      byte[] pr = encodeRecord(T_POINTER, l.p.encode());
      records.add(dr);
      records.add(pr);
      pos += dr.length + pr.length;
      carried.add(l);
    }
    Batch b = new Batch(name, segment(gen, segSeq, records), enqueued, false, null, carried, pending.size());
    segSeq++;
    pending.clear();
    pendingBytes = 0;
    stuck = b; // until it is put: a failure retries exactly this object (same name, same bytes)
    return b;
  }

  private void checkLease() throws NfsException {
    if (!holdsLease.getAsBoolean()) {
      throw new NamespaceUnavailableException("namespace " + vpool + ": this node's lease on it (epoch " + epoch
          + ") does not hold: not acknowledged", false);
    }
  }

  private void scheduleGc(GcPlan plan) {
    try {
      gc.execute(() -> collect(plan));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      // closing
    }
  }

  /** Deletes what the base of {@code plan} made useless; best effort, logged. */
  private void collect(GcPlan plan) {
    if (!holdsLease.getAsBoolean()) {
      return;
    }
    int deleted = 0;
    try {
      for (String s : store.list(bucket, "")) {
        Name n = Name.parse(s);
        if (n == null || n.epoch > epoch) {
          continue;
        }
        // an older epoch's objects: the first base of this epoch copied what it needed
        boolean old = n.kind == 'd' ? n.a < plan.dataSeqFloor() : n.a < plan.gen();
        boolean drop = n.epoch < epoch || (old && !plan.referenced().contains(s) && !referencedNow(s));
        if (drop) {
          store.delete(bucket, s);
          deleted++;
        }
      }
      log.info("namespace {}: {} objects of older bases and epochs deleted from {} after base gen {}", vpool,
          deleted, bucket, plan.gen());
    } catch (IOException | RuntimeException e) {
      log.warn("namespace {}: collecting old objects in {} failed after {} deletions (retried after the next base): {}",
          vpool, bucket, deleted, e.toString());
    }
  }

  private boolean referencedNow(String object) {
    synchronized (mon) {
      for (FileState fs : files.values()) {
        for (Link l : fs.chain) {
          if (l.p.object().equals(object)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /** Waits (at most 60 s) until the collections scheduled so far are done; for tests. */
  void awaitCollected() throws Exception {
    gc.submit(() -> { }).get(60, TimeUnit.SECONDS);
  }

  /** Stops the mirror (the store is the caller's). Changes not yet put are not waited for. */
  @Override
  public void close() {
    synchronized (mon) {
      closed = true;
      mon.notifyAll();
    }
    retrier.shutdownNow();
    gc.shutdown();
    try {
      gc.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public String toString() {
    return "NamespaceMirror[" + bucket + ", epoch " + epoch + "]";
  }
}
