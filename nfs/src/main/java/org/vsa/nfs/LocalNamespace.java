package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileStore;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.Verify;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.PeerUnavailableException;
import org.vsa.volume.remote.WritesLostException;

/**
 * A vPool's namespace on local flash: inodes in RAM, every change logged to a {@link Journal}
 * (fsynced before a metadata operation returns), small files' bytes in {@code files/<id>}, large
 * files (names matching the vDisk patterns) in a vDisk.
 *
 * <p>Small files: their data file is the truth for their size (a stable write or COMMIT fsyncs
 * it), so data writes need no journal record. vDisk files: the logical size is journaled; the vDisk
 * grows thinly ahead of it in {@link #GROW_STEP_BYTES} steps, or exactly on SETATTR size.
 * Unaligned vDisk I/O is merged here: a partial block is read, patched and written under the
 * file's exclusive lock, while aligned I/O shares it.
 *
 * <p>vDisks of the vPool that no file names (created through the configuration or the API)
 * are adopted at the root as {@code <name>.raw}; a file whose vDisk was deleted elsewhere
 * disappears.
 */
public final class LocalNamespace implements Namespace {
  private static final Logger log = LoggerFactory.getLogger(LocalNamespace.class);
  static final long ROOT_ID = 1;
  static final long GROW_STEP_BYTES = 64L << 20;
  /** Chunk in which a small file that grew past the threshold is copied into its new vDisk. */
  static final int CONVERT_CHUNK_BYTES = 4 << 20;
  static final long GROW_STEP_MAX_BYTES = 1L << 30;
  /** NFS max file size we advertise and enforce (FSINFO maxfilesize). */
  public static final long MAX_FILE_BYTES = 64L << 40;
  static final int NAME_BYTES_MAX = 255;
  static final int PATH_BYTES_MAX = 4096;
  static final long COMPACT_MIN_BYTES = 8L << 20;

  private final String vpool;
  private final Path dir;
  private final Path filesDir;
  private final VolumeCatalog catalog;
  private final List<PathMatcher> vdiskPatterns;
  private final long vdiskThresholdBytes;
  private final Journal journal;
  private final DataFiles data;
  private final Lock lock = new ReentrantLock();
  private final Map<Long, Inode> inodes = new HashMap<>();
  /**
   * Journal offset this thread must fsync to before its operation returns (-1: none), and the
   * mirror's ticket it must wait for (0: none).
   */
  private final ThreadLocal<long[]> pendingSync = ThreadLocal.withInitial(() -> new long[] {-1, 0});
  /** The namespace's copy in the shared backend, or null (single node: local flash only). */
  private volatile NamespaceMirror mirror;
  /** The mirror's ticket of the last record {@link #log} queued (guarded by the lock). */
  private long mirrorTicket;
  private final Map<String, Long> byVolume = new HashMap<>();
  /** vDisks this namespace is creating for a file right now: not to be adopted meanwhile. */
  private final Set<String> creating = new HashSet<>();
  /** Entry changes made under the lock since the last record; the next record carries them. */
  private final List<Journal.EntryOp> entryOps = new ArrayList<>();
  private long nextId;
  private long seq;
  private long lastSnapshotBytes;
  private long compactMinBytes = COMPACT_MIN_BYTES;

  private LocalNamespace(String vpool, Path dir, VolumeCatalog catalog, List<String> patterns, long thresholdBytes,
      Journal journal) {
    this.vpool = vpool;
    this.vdiskThresholdBytes = thresholdBytes;
    this.dir = dir;
    this.filesDir = dir.resolve("files");
    this.catalog = catalog;
    this.journal = journal;
    this.data = new DataFiles(filesDir, DataFiles.OPEN_MAX);
    List<PathMatcher> m = new ArrayList<>();
    for (String p : patterns) {
      m.add(FileSystems.getDefault().getPathMatcher("glob:" + p));
    }
    this.vdiskPatterns = m;
  }

  /** {@link #open(String, Path, VolumeCatalog, List, long)} without a size threshold. */
  public static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns)
      throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, 0);
  }

  /**
   * Opens (or creates) the namespace of {@code vpool} under {@code dir} and adopts the vPool's
   * vDisks. A small file growing past {@code vdiskThresholdBytes} (0: never) becomes a vDisk.
   */
  public static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, COMPACT_MIN_BYTES);
  }

  /**
   * As {@link #open(String, Path, VolumeCatalog, List, long)}, with every change written through to
   * {@code mirror} (the shared backend) before it is acknowledged; null: none. Opening writes a new
   * base of the whole namespace at the mirror's epoch. The namespace closes the mirror when it
   * closes. A node taking the namespace over {@link NamespaceMirror#restore restores} {@code dir}
   * from the backend first.
   */
  public static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, NamespaceMirror mirror) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, COMPACT_MIN_BYTES, mirror);
  }

  /** As above, compacting the journal once it passes max(compactMinBytes, 4 x the last snapshot). */
  static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, long compactMinBytes) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, compactMinBytes, null);
  }

  static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, long compactMinBytes, NamespaceMirror mirror) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, compactMinBytes,
        new SecureRandom().nextLong() & Long.MAX_VALUE, mirror);
  }

  /**
   * {@link #open(String, Path, VolumeCatalog, List, long)}, a new namespace getting
   * {@code namespaceIdIfNew} as its id (a cluster's nodes agree on a vPool's namespace id before
   * any of them holds it); an existing one keeps its own.
   */
  public static LocalNamespace openWithId(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, long namespaceIdIfNew) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, COMPACT_MIN_BYTES, namespaceIdIfNew, null);
  }

  /** {@link #openWithId} with every change written through to {@code mirror} (see {@link #open(String, Path, VolumeCatalog, List, long, NamespaceMirror)}). */
  public static LocalNamespace openWithId(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, long namespaceIdIfNew, NamespaceMirror mirror) throws IOException {
    return open(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, COMPACT_MIN_BYTES, namespaceIdIfNew, mirror);
  }

  private static LocalNamespace open(String vpool, Path dir, VolumeCatalog catalog, List<String> vdiskPatterns,
      long vdiskThresholdBytes, long compactMinBytes, long namespaceIdIfNew, NamespaceMirror mirror)
      throws IOException {
    if (namespaceIdIfNew <= 0) {
      throw new IllegalArgumentException("a namespace id is positive; got " + namespaceIdIfNew);
    }
    Files.createDirectories(dir.resolve("files"));
    Path jf = dir.resolve("journal");
    List<Journal.Change> changes = new ArrayList<>();
    Journal j;
    boolean fresh = !Files.exists(jf);
    if (fresh) {
      j = Journal.create(jf, namespaceIdIfNew);
    } else {
      j = Journal.open(jf, changes);
    }
    LocalNamespace ns = new LocalNamespace(vpool, dir, catalog, vdiskPatterns, vdiskThresholdBytes, j);
    ns.compactMinBytes = compactMinBytes;
    try {
      ns.recover(changes, fresh);
      ns.adopt();
      if (mirror != null) {
        ns.startMirror(mirror);
      }
    } catch (IOException | RuntimeException e) {
      ns.data.close();
      j.close();
      throw e;
    }
    return ns;
  }

  /** Writes the mirror's base (the whole namespace, small files' data copied) and turns it on. */
  private void startMirror(NamespaceMirror m) throws IOException {
    ByteBuffer snapshot;
    Set<Long> small;
    lock.lock();
    try {
      snapshot = Journal.encode(++seq, nextId, List.copyOf(inodes.values()), true, List.of(), new long[0]);
      small = smallFiles();
    } finally {
      lock.unlock();
    }
    try {
      m.start(journal.namespaceId(), snapshot, small, mirrorSource());
    } catch (NfsException e) {
      throw new IOException(e.getMessage());
    }
    lock.lock();
    try {
      mirror = m;
    } finally {
      lock.unlock();
    }
  }

  /** Ids of the small files (regular, not in a vDisk); caller holds the lock. */
  private Set<Long> smallFiles() {
    Set<Long> ids = new HashSet<>();
    for (Inode n : inodes.values()) {
      if (n.type == Attr.REG && n.volume == null) {
        ids.add(n.id);
      }
    }
    return ids;
  }

  /** What the mirror reads small files' sizes and bytes through. */
  private NamespaceMirror.Source mirrorSource() {
    return new NamespaceMirror.Source() {
      @Override
      public long size(long id) {
        lock.lock();
        try {
          Inode n = inodes.get(id);
          return n == null || n.volume != null ? 0 : n.size;
        } finally {
          lock.unlock();
        }
      }

      @Override
      public void read(long id, long offset, ByteBuffer dst) throws IOException {
        lock.lock();
        boolean gone;
        try {
          Inode n = inodes.get(id);
          gone = n == null || n.volume != null;
        } finally {
          lock.unlock();
        }
        if (!gone && Files.exists(dataFile(id))) {
          DataFiles.Open f = data.acquire(id);
          try {
            long pos = offset;
            while (dst.hasRemaining()) {
              int r = f.ch.read(dst, pos);
              if (r < 0) {
                break;
              }
              pos += r;
            }
          } finally {
            data.release(f);
          }
        }
        while (dst.hasRemaining()) {
          dst.put((byte) 0); // past the data file's end (or gone): zeros, as a READ sees them
        }
      }
    };
  }

  private void recover(List<Journal.Change> changes, boolean fresh) throws IOException {
    nextId = ROOT_ID + 1;
    for (Journal.Change c : changes) {
      for (Journal.Put p : c.puts()) {
        Inode existing = inodes.get(p.inode().id);
        if (p.full() || existing == null) {
          inodes.put(p.inode().id, p.inode());
        } else {
          existing.copyAttrs(p.inode());
        }
      }
      for (Journal.EntryOp o : c.entries()) {
        Inode d = inodes.get(o.dir());
        Verify.that(d != null && d.isDir(), "namespace %s: journal record %d changes entries of %d, not a directory",
            vpool, c.seq(), o.dir());
        if (o.link()) {
          d.putEntry(o.name(), o.child(), o.cookie());
        } else if (d.entries.containsKey(o.name())) {
          d.removeEntry(o.name());
        }
      }
      for (long d : c.deletes()) {
        inodes.remove(d);
      }
      nextId = Math.max(nextId, c.nextId());
      seq = c.seq();
    }
    if (!inodes.containsKey(ROOT_ID)) {
      Verify.that(fresh || changes.isEmpty(), "namespace %s: the journal has changes but no root", vpool);
      Inode root = new Inode(ROOT_ID, Attr.DIR);
      root.mode = 0755;
      root.parent = ROOT_ID;
      long now = now();
      root.atimeNanos = root.mtimeNanos = root.ctimeNanos = now;
      lock.lock();
      try {
        inodes.put(ROOT_ID, root);
        logSyncIo(List.of(root), new long[0]);
      } finally {
        lock.unlock();
      }
    }
    for (Inode n : inodes.values()) {
      if (n.volume != null) {
        byVolume.put(n.volume, n.id);
        // A crash between a vDisk resize and its journal record: the vDisk's size bounds the file's.
        Optional<BlockVolume> v = catalog.get(n.volume);
        if (v.isPresent() && n.size > v.get().sizeBytes()) {
          log.warn("namespace {}: file {} is {} bytes but its vDisk {} only {}; using the latter", vpool, n.id,
              n.size, n.volume, v.get().sizeBytes());
          n.size = v.get().sizeBytes();
        }
      }
      if (n.type == Attr.REG && n.volume == null) {
        Path f = dataFile(n.id);
        n.size = Files.exists(f) ? Files.size(f) : 0;
      }
    }
    // Small files' data of removed inodes (a crash between the journal record and the delete).
    try (var s = Files.newDirectoryStream(filesDir)) {
      for (Path f : s) {
        Long id = parseId(f.getFileName().toString());
        if (id == null || !inodes.containsKey(id) || inodes.get(id).volume != null) {
          Files.deleteIfExists(f);
        }
      }
    }
    lastSnapshotBytes = journal.sizeBytes();
    log.info("namespace {}: {} files, journal {} bytes", vpool, inodes.size(), journal.sizeBytes());
  }

  private static Long parseId(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Adopts unnamed vDisks of this vPool at the root as name.raw; forgets files whose vDisk is gone. */
  void adopt() throws IOException {
    List<VolumeCatalog.Entry> all = catalog.list();
    Set<String> present = new HashSet<>();
    for (VolumeCatalog.Entry e : all) {
      present.add(e.name());
    }
    lock.lock();
    try {
      List<Inode> puts = new ArrayList<>();
      List<Long> deletes = new ArrayList<>();
      Inode root = inodes.get(ROOT_ID);
      for (VolumeCatalog.Entry e : all) {
        if (!e.vpool().equals(vpool) || byVolume.containsKey(e.name()) || creating.contains(e.name())) {
          continue;
        }
        Optional<BlockVolume> v = catalog.get(e.name());
        String name = e.name() + ".raw";
        if (v.isEmpty() || root.entries.containsKey(name)) {
          log.warn("namespace {}: vDisk {} cannot appear as /{}: the name is taken", vpool, e.name(), name);
          continue;
        }
        Inode n = newInode(Attr.REG, 0644, 0, 0);
        n.volume = e.name();
        n.size = v.get().sizeBytes();
        link(root, name, n.id);
        byVolume.put(e.name(), n.id);
        puts.add(n);
      }
      for (Inode n : List.copyOf(inodes.values())) {
        if (n.volume != null && !present.contains(n.volume) && catalog.get(n.volume).isEmpty()) {
          Inode parent = findParent(n.id);
          if (parent != null) {
            for (String name : List.copyOf(parent.entries.keySet())) {
              if (parent.entries.get(name)[0] == n.id) {
                unlink(parent, name);
              }
            }
            puts.add(parent);
          }
          inodes.remove(n.id);
          byVolume.remove(n.volume);
          deletes.add(n.id);
          log.info("namespace {}: vDisk {} is gone; its file is removed", vpool, n.volume);
        }
      }
      if (!puts.isEmpty() || !deletes.isEmpty()) {
        if (!puts.contains(root)) {
          puts.add(root);
        }
        logSyncIo(puts, deletes.stream().mapToLong(Long::longValue).toArray());
      }
    } finally {
      lock.unlock();
    }
  }

  private Inode findParent(long id) {
    for (Inode d : inodes.values()) {
      if (d.isDir()) {
        for (long[] e : d.entries.values()) {
          if (e[0] == id) {
            return d;
          }
        }
      }
    }
    return null;
  }

  @Override
  public long namespaceId() {
    return journal.namespaceId();
  }

  @Override
  public long rootId() {
    return ROOT_ID;
  }

  @Override
  public Attr getattr(long fileId) throws NfsException {
    lock.lock();
    try {
      return attr(inode(fileId));
    } finally {
      lock.unlock();
    }
  }

  /** The attributes of {@code n}, under the namespace lock. */
  private Attr attrOf(Inode n) {
    lock.lock();
    try {
      return attr(n);
    } finally {
      lock.unlock();
    }
  }

  private Attr attr(Inode n) {
    int nlink = n.isDir() ? 2 + (int) n.entries.values().stream().filter(e -> isDirId(e[0])).count() : 1;
    long size = n.isDir() ? 4096L * (1 + n.entries.size() / 64) : n.size;
    long used = n.volume != null ? n.size : (size + 4095) & ~4095L;
    return new Attr(n.type, n.mode & 07777, nlink, n.uid, n.gid, size, used, n.id, n.atimeNanos, n.mtimeNanos,
        n.ctimeNanos, n.volume != null);
  }

  private boolean isDirId(long id) {
    Inode c = inodes.get(id);
    return c != null && c.isDir();
  }

  @Override
  public long lookup(long dirId, String name) throws NfsException {
    for (int attempt = 0; ; attempt++) {
      lock.lock();
      try {
        Inode d = dir(dirId);
        if (name.equals(".")) {
          return d.id;
        }
        if (name.equals("..")) {
          return d.parent;
        }
        long[] e = d.entries.get(name);
        if (e != null) {
          return e[0];
        }
        if (dirId != ROOT_ID || attempt > 0 || !name.endsWith(".raw")) {
          throw Status.of(Status.NOENT, name);
        }
      } finally {
        lock.unlock();
      }
      adoptQuietly();
    }
  }

  private void adoptQuietly() throws NfsException {
    try {
      adopt();
    } catch (IOException e) {
      throw ioError(e);
    }
  }

  @Override
  public Attr setattr(long fileId, SetAttr s) throws NfsException {
    admitChange();
    Inode n;
    lock.lock();
    try {
      n = inode(fileId);
    } finally {
      lock.unlock();
    }
    if (s.sizeBytes() != null) {
      resize(n, s.sizeBytes());
    }
    lock.lock();
    try {
      inode(fileId);
      applyAttrs(n, s, s.sizeBytes() != null);
      logDeferred(List.of(n), new long[0]);
      return attr(n);
    } finally {
      unlockAndSync();
    }
  }

  private void applyAttrs(Inode n, SetAttr s, boolean touched) {
    long now = now();
    if (s.mode() != null) {
      n.mode = s.mode() & 07777;
    }
    if (s.uid() != null) {
      n.uid = s.uid();
    }
    if (s.gid() != null) {
      n.gid = s.gid();
    }
    if (s.atimeNanos() != SetAttr.DONT_CHANGE) {
      n.atimeNanos = s.atimeNanos() == SetAttr.SERVER_TIME ? now : s.atimeNanos();
    }
    if (s.mtimeNanos() != SetAttr.DONT_CHANGE) {
      n.mtimeNanos = s.mtimeNanos() == SetAttr.SERVER_TIME ? now : s.mtimeNanos();
    } else if (touched) {
      n.mtimeNanos = now;
    }
    n.ctimeNanos = now;
  }

  private void resize(Inode n, long size) throws NfsException {
    if (n.isDir()) {
      throw Status.of(Status.ISDIR, "size of a directory");
    }
    if (n.type != Attr.REG) {
      throw Status.of(Status.INVAL, "size of a non-regular file");
    }
    if (size < 0 || size > MAX_FILE_BYTES) {
      throw Status.of(Status.FBIG, "size " + size);
    }
    if (n.volume == null && vdiskThresholdBytes > 0 && size > vdiskThresholdBytes) {
      try {
        toVdisk(n);
      } catch (IOException e) {
        throw ioError(e);
      }
    }
    n.io.writeLock().lock();
    try {
      if (n.volume == null) {
        DataFiles.Open f = data.acquire(n.id);
        try {
          FileChannel ch = f.ch;
          if (size < ch.size()) {
            ch.truncate(size);
          } else if (size > ch.size()) {
            ch.write(ByteBuffer.allocate(1), size - 1);
          }
          f.force();
        } finally {
          data.release(f);
        }
        lock.lock();
        try {
          n.size = size;
        } finally {
          lock.unlock();
        }
        if (mirror != null) {
          mirror.sizeChanged(n.id);
          mirror.await(mirror.syncData(n.id));
        }
        return;
      }
      BlockVolume v = volume(n);
      long alloc = Math.max(roundUp(size, 4096), 4096);
      if (size < n.size) {
        // Zero the tail of the last block so that growing again reads zeros there.
        // (up to the end of what the vDisk keeps: sizes are multiples of 4 KiB, and at least 4 KiB).
        zeroTail(v, size, Math.min(v.sizeBytes(), alloc));
      }
      if (alloc != v.sizeBytes()) {
        catalog.resize(n.volume, alloc);
      }
      lock.lock();
      try {
        n.size = size;
      } finally {
        lock.unlock();
      }
    } catch (IOException e) {
      throw ioError(e);
    } finally {
      n.io.writeLock().unlock();
    }
  }

  private static void zeroTail(BlockVolume v, long from, long to) throws IOException {
    if (to <= from) {
      return;
    }
    int bs = v.blockSize();
    long start = from - from % bs;
    ByteBuffer b = ByteBuffer.allocate((int) (roundUp(to, bs) - start));
    v.read(start, b);
    for (int i = (int) (from - start); i < b.capacity(); i++) {
      b.put(i, (byte) 0);
    }
    v.write(start, b.flip(), Durability.DURABLE);
  }

  @Override
  public long create(long dirId, String name, int uid, int gid, SetAttr attrs, boolean exclusive)
      throws NfsException {
    checkName(name);
    admitChange();
    boolean exists;
    lock.lock();
    try {
      long[] e = dir(dirId).entries.get(name);
      exists = e != null;
      if (exists && exclusive) {
        throw Status.of(Status.EXIST, name);
      }
      if (exists && inode(e[0]).isDir()) {
        throw Status.of(Status.ISDIR, name);
      }
    } finally {
      lock.unlock();
    }
    if (exists || !isVdiskName(name)) {
      // An existing file (UNCHECKED: its attributes are applied, size 0 truncates) or a small one.
      return createNode(dirId, name, Attr.REG, uid, gid, attrs, null, null, exclusive);
    }
    String volName = reserveVolumeName(dirId, name);
    boolean created = false;
    boolean used = false;
    try {
      try {
        catalog.create(volName, vpool, 4096);
        created = true;
      } catch (IOException | RuntimeException ex) {
        throw ioError(ex);
      }
      long id = createNode(dirId, name, Attr.REG, uid, gid, attrs, volName, null, exclusive);
      lock.lock();
      try {
        used = byVolume.containsKey(volName);
      } finally {
        lock.unlock();
      }
      return id;
    } finally {
      if (created && !used) {
        deleteVolumeQuietly(volName); // failed, or lost a race with another CREATE of the name
      }
      markCreating(volName, false);
    }
  }

  private void markCreating(String volName, boolean on) {
    lock.lock();
    try {
      if (on) {
        creating.add(volName);
      } else {
        creating.remove(volName);
      }
    } finally {
      lock.unlock();
    }
  }


  @Override
  public long createExclusive(long dirId, String name, int uid, int gid, long verifier) throws NfsException {
    // Kept in atime, as knfsd does; the client sets the real times with a SETATTR afterwards.
    long v = verifier & Long.MAX_VALUE;
    try {
      return create(dirId, name, uid, gid, new SetAttr(null, null, null, null, v, SetAttr.DONT_CHANGE), true);
    } catch (NfsException e) {
      if (e.status() != Status.EXIST) {
        throw e;
      }
      lock.lock();
      try {
        long[] x = dir(dirId).entries.get(name);
        Inode existing = x == null ? null : inodes.get(x[0]);
        if (existing != null && existing.type == Attr.REG && existing.atimeNanos == v) {
          return existing.id;
        }
      } finally {
        lock.unlock();
      }
      throw e;
    }
  }

  /**
   * Picks the name of a new file's vDisk and marks it as being created: {@code NAME} for
   * {@code /NAME.ext} at the root if free, else {@code <vpool>-nfs-<n>}.
   */
  private String reserveVolumeName(long dirId, String name) {
    lock.lock();
    try {
      String stem = name.substring(0, name.lastIndexOf('.') < 1 ? name.length() : name.lastIndexOf('.'));
      String v;
      do {
        v = vpool.substring(0, Math.min(vpool.length(), 32)) + "-nfs-" + (nextId++); // never an inode id
      } while (catalog.get(v).isPresent() || creating.contains(v));
      if (dirId == ROOT_ID && stem.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}") && !byVolume.containsKey(stem)
          && !creating.contains(stem) && catalog.get(stem).isEmpty()) {
        v = stem;
      }
      creating.add(v);
      return v;
    } finally {
      lock.unlock();
    }
  }

  private void deleteVolumeQuietly(String volName) {
    try {
      catalog.delete(volName);
    } catch (IOException | RuntimeException e) {
      log.warn("namespace {}: deleting vDisk {} failed: {}", vpool, volName, e.toString());
    }
  }

  @Override
  public long mkdir(long dirId, String name, int uid, int gid, SetAttr attrs) throws NfsException {
    checkName(name);
    return createNode(dirId, name, Attr.DIR, uid, gid, attrs, null, null, true);
  }

  @Override
  public long symlink(long dirId, String name, String target, int uid, int gid, SetAttr attrs) throws NfsException {
    checkName(name);
    if (target.isEmpty() || target.length() > PATH_BYTES_MAX) {
      throw Status.of(Status.NAMETOOLONG, "symlink target");
    }
    return createNode(dirId, name, Attr.LNK, uid, gid, attrs, null, target, true);
  }

  private long createNode(long dirId, String name, int type, int uid, int gid, SetAttr attrs, String volume,
      String target, boolean exclusive) throws NfsException {
    admitChange();
    lock.lock();
    try {
      Inode d = dir(dirId);
      long[] e = d.entries.get(name);
      if (e != null) {
        if (exclusive || type != Attr.REG) {
          throw Status.of(Status.EXIST, name);
        }
        // UNCHECKED create of an existing file: apply the attributes (size 0 truncates).
        Inode existing = inode(e[0]);
        if (attrs.sizeBytes() != null) {
          lock.unlock();
          try {
            resize(existing, attrs.sizeBytes());
          } finally {
            lock.lock();
          }
        }
        applyAttrs(existing, attrs, false);
        logDeferred(List.of(existing), new long[0]);
        return existing.id;
      }
      Inode n = newInode(type, type == Attr.DIR ? 0755 : 0644, uid, gid);
      if (type == Attr.DIR) {
        n.parent = d.id;
      }
      n.volume = volume;
      n.target = target;
      if (target != null) {
        n.size = target.length();
      }
      if (volume != null) {
        byVolume.put(volume, n.id);
      }
      SetAttr a = new SetAttr(attrs.mode(), null, null, null, attrs.atimeNanos(), attrs.mtimeNanos());
      applyAttrs(n, a, false);
      link(d, name, n.id);
      d.mtimeNanos = d.ctimeNanos = n.ctimeNanos;
      logDeferred(List.of(n, d), new long[0]);
      return n.id;
    } finally {
      unlockAndSync();
    }
  }

  private Inode newInode(int type, int mode, int uid, int gid) {
    Inode n = new Inode(nextId++, type);
    n.mode = mode;
    n.uid = uid;
    n.gid = gid;
    long now = now();
    n.atimeNanos = n.mtimeNanos = n.ctimeNanos = now;
    inodes.put(n.id, n);
    return n;
  }

  @Override
  public String readlink(long fileId) throws NfsException {
    lock.lock();
    try {
      Inode n = inode(fileId);
      if (n.type != Attr.LNK) {
        throw Status.of(Status.INVAL, "not a symlink");
      }
      return n.target;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void remove(long dirId, String name) throws NfsException {
    admitChange();
    String volume;
    long id;
    refuseIfInUse(dirId, name);
    lock.lock();
    try {
      Inode d = dir(dirId);
      long[] e = d.entries.get(name);
      if (e == null) {
        throw Status.of(Status.NOENT, name);
      }
      Inode n = inode(e[0]);
      if (n.isDir()) {
        throw Status.of(Status.ISDIR, name);
      }
      unlink(d, name);
      d.mtimeNanos = d.ctimeNanos = now();
      inodes.remove(n.id);
      id = n.id;
      volume = n.volume;
      if (volume != null) {
        byVolume.remove(volume);
      }
      logDeferred(List.of(d), new long[] {n.id});
    } finally {
      unlockAndSync();
    }
    // After the journal says it is gone: a crash in between leaves an orphan, never a dangling name.
    if (volume != null) {
      deleteVolumeQuietly(volume);
    } else {
      deleteData(id);
    }
  }

  /**
   * A REMOVE of a vDisk's file deletes the vDisk: refused while the vDisk is in use (asked of the
   * catalog, without the namespace's lock: it may ask another node). A file that is not a vDisk's
   * is removed as always.
   */
  private void refuseIfInUse(long dirId, String name) throws NfsException {
    String volume;
    lock.lock();
    try {
      long[] e = dir(dirId).entries.get(name);
      Inode n = e == null ? null : inodes.get(e[0]);
      volume = n == null ? null : n.volume;
    } finally {
      lock.unlock();
    }
    if (volume == null) {
      return; // not a vDisk's file (or no such file: the REMOVE says so)
    }
    Optional<String> why;
    try {
      why = catalog.inUse(volume);
    } catch (PeerUnavailableException e) {
      throw Status.of(Status.JUKEBOX, "REMOVE of " + name + ": whether vDisk " + volume + " is in use cannot be told"
          + " now: " + e.getMessage());
    } catch (IOException | RuntimeException e) {
      log.warn("namespace {}: REMOVE of {}: asking whether vDisk {} is in use failed: {}", vpool, name, volume,
          e.toString());
      throw Status.of(Status.JUKEBOX, "REMOVE of " + name + ": whether vDisk " + volume + " is in use cannot be told"
          + " now: " + e);
    }
    if (why.isPresent()) {
      log.warn("namespace {}: REMOVE of {} refused: {}", vpool, name, why.get());
      throw Status.of(Status.ACCES, "REMOVE of " + name + " refused: " + why.get());
    }
  }

  @Override
  public void rmdir(long dirId, String name) throws NfsException {
    admitChange();
    lock.lock();
    try {
      Inode d = dir(dirId);
      if (name.equals(".") || name.equals("..")) {
        throw Status.of(Status.INVAL, name);
      }
      long[] e = d.entries.get(name);
      if (e == null) {
        throw Status.of(Status.NOENT, name);
      }
      Inode n = inode(e[0]);
      if (!n.isDir()) {
        throw Status.of(Status.NOTDIR, name);
      }
      if (!n.entries.isEmpty()) {
        throw Status.of(Status.NOTEMPTY, name);
      }
      unlink(d, name);
      d.mtimeNanos = d.ctimeNanos = now();
      inodes.remove(n.id);
      logDeferred(List.of(d), new long[] {n.id});
    } finally {
      unlockAndSync();
    }
  }

  @Override
  public void rename(long fromDirId, String fromName, long toDirId, String toName) throws NfsException {
    checkName(toName);
    admitChange();
    String dropVolume = null;
    long dropData = 0;
    lock.lock();
    try {
      Inode from = dir(fromDirId);
      Inode to = dir(toDirId);
      long[] e = from.entries.get(fromName);
      if (e == null) {
        throw Status.of(Status.NOENT, fromName);
      }
      Inode n = inode(e[0]);
      if (n.isDir()) {
        for (long p = to.id; ; p = inodes.get(p).parent) {
          if (p == n.id) {
            throw Status.of(Status.INVAL, "cannot move a directory into itself");
          }
          if (p == ROOT_ID) {
            break;
          }
        }
      }
      List<Inode> puts = new ArrayList<>();
      long[] dels = new long[0];
      long[] t = to.entries.get(toName);
      if (t != null) {
        if (t[0] == n.id) {
          return;
        }
        Inode victim = inode(t[0]);
        if (victim.isDir() != n.isDir()) {
          throw Status.of(victim.isDir() ? Status.ISDIR : Status.NOTDIR, toName);
        }
        if (victim.isDir() && !victim.entries.isEmpty()) {
          throw Status.of(Status.EXIST, toName);
        }
        unlink(to, toName);
        inodes.remove(victim.id);
        dels = new long[] {victim.id};
        if (victim.volume != null) {
          byVolume.remove(victim.volume);
          dropVolume = victim.volume;
        } else if (victim.type == Attr.REG) {
          dropData = victim.id;
        }
      }
      unlink(from, fromName);
      link(to, toName, n.id);
      long now = now();
      from.mtimeNanos = from.ctimeNanos = to.mtimeNanos = to.ctimeNanos = n.ctimeNanos = now;
      if (n.isDir()) {
        n.parent = to.id;
      }
      puts.add(from);
      if (to != from) {
        puts.add(to);
      }
      puts.add(n);
      logDeferred(puts, dels);
    } finally {
      unlockAndSync();
    }
    if (dropVolume != null) {
      deleteVolumeQuietly(dropVolume);
    }
    if (dropData != 0) {
      deleteData(dropData);
    }
  }

  /** Drops a small file's data (its open channel closes when the last I/O on it ends). */
  private void deleteData(long id) {
    data.forget(id);
    try {
      Files.deleteIfExists(dataFile(id));
    } catch (IOException e) {
      log.warn("namespace {}: deleting data of file {} failed: {}", vpool, id, e.toString());
    }
  }

  @Override
  public List<Entry> readdir(long dirId, long cookie, int max) throws NfsException {
    if (dirId == ROOT_ID && cookie == 0) {
      adoptQuietly();
    }
    lock.lock();
    try {
      Inode d = dir(dirId);
      List<Entry> out = new ArrayList<>();
      if (cookie == 0 && out.size() < max) {
        out.add(new Entry(".", d.id, 1));
      }
      if (cookie <= 1 && out.size() < max) {
        out.add(new Entry("..", d.parent, 2));
      }
      if (cookie > 2 && !d.byCookie.containsKey(cookie) && cookie >= d.nextCookie) {
        throw Status.of(Status.BAD_COOKIE, "cookie " + cookie);
      }
      for (Map.Entry<Long, String> e : d.byCookie.tailMap(cookie, false).entrySet()) {
        if (out.size() >= max) {
          break;
        }
        out.add(new Entry(e.getValue(), d.entries.get(e.getValue())[0], e.getKey()));
      }
      return out;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public boolean hasMoreAfter(long dirId, long cookie) throws NfsException {
    lock.lock();
    try {
      Inode d = dir(dirId);
      return cookie < 2 || d.byCookie.higherKey(cookie) != null;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long contentStamp(long fileId) {
    try {
      Inode n = regular(fileId);
      String vdisk = n.volume;
      if (vdisk == null) {
        return 0;
      }
      return catalog.get(vdisk).map(BlockVolume::contentStamp).orElse(0L);
    } catch (NfsException e) {
      return 0;
    }
  }

  @Override
  public Read read(long fileId, long offset, ByteBuffer dst) throws NfsException {
    Inode n = regular(fileId);
    if (offset < 0) {
      throw Status.of(Status.INVAL, "offset");
    }
    n.io.readLock().lock();
    try {
      long size = sizeOf(n);
      if (offset >= size) {
        return new Read(0, attrOf(n));
      }
      int len = (int) Math.min(dst.remaining(), size - offset);
      if (n.volume == null) {
        readSmall(n, offset, dst, len);
        return new Read(len, attrOf(n));
      }
      for (int attempt = 1; ; attempt++) {
        try {
          readVdisk(volume(n), offset, dst, len);
          break;
        } catch (NotOwnerException e) {
          ownerMoved(n, e, attempt);
        } catch (PeerUnavailableException e) {
          throw ownerUnreachable(n, e);
        }
      }
      dst.position(dst.position() + len);
      return new Read(len, attrOf(n));
    } catch (IOException e) {
      throw ioError(e);
    } finally {
      n.io.readLock().unlock();
    }
  }

  @Override
  public Layout layout(long fileId) throws NfsException {
    Inode n = regular(fileId);
    n.io.readLock().lock();
    try {
      return n.volume == null ? null : new Layout(n.volume, sizeOf(n), attrOf(n));
    } finally {
      n.io.readLock().unlock();
    }
  }

  /** Reads {@code len} bytes at {@code offset} of the vDisk into {@code dst} (its position kept). */
  private static void readVdisk(BlockVolume v, long offset, ByteBuffer dst, int len) throws IOException {
    int bs = v.blockSize();
    long start = offset - offset % bs;
    long end = roundUp(offset + len, bs);
    if (start == offset && end == offset + len) {
      ByteBuffer d = dst.slice(dst.position(), len);
      v.read(offset, d);
    } else {
      ByteBuffer tmp = ByteBuffer.allocate((int) (end - start));
      v.read(start, tmp);
      tmp.position((int) (offset - start)).limit((int) (offset - start) + len);
      dst.duplicate().put(tmp);
    }
  }

  /** At most this many tries of one operation on a vDisk whose owner keeps moving; then JUKEBOX. */
  static final int OWNER_TRIES = 3;

  private final java.util.concurrent.atomic.AtomicLong writeEpoch = new java.util.concurrent.atomic.AtomicLong();

  @Override
  public long writeEpoch() {
    return writeEpoch.get();
  }

  /**
   * The file's vDisk is no longer served where its volume pointed: UNSTABLE writes acknowledged
   * there may be lost (a new write verifier makes clients send them again), and the catalog resolves
   * the owner again for the next try; after {@link #OWNER_TRIES} the client is told to retry later.
   */
  private void ownerMoved(Inode n, NotOwnerException e, int attempt) throws NfsException {
    writesMayBeLost(n, e);
    catalog.moved(n.volume);
    if (attempt >= OWNER_TRIES) {
      throw Status.of(Status.JUKEBOX, "vDisk " + n.volume + " is moving: " + e.getMessage());
    }
  }

  /**
   * The file's vDisk's owner did not answer (down, paused, cut off) or went away mid-request: the
   * outcome is unknown and UNSTABLE writes it held may be lost (new verifier); the catalog resolves
   * the owner again, and the client is told to retry later (JUKEBOX) rather than given an I/O error,
   * so that it rides out a failover. Not retried here: a request that timed out already took long.
   */
  private NfsException ownerUnreachable(Inode n, IOException e) {
    writesMayBeLost(n, e);
    catalog.moved(n.volume);
    return Status.of(Status.JUKEBOX, "vDisk " + n.volume + ": " + e.getMessage());
  }

  private void writesMayBeLost(Inode n, IOException e) {
    long epoch = writeEpoch.incrementAndGet();
    log.warn("namespace {}: file {} (vDisk {}): {}; new write verifier (epoch {}): clients resend uncommitted writes",
        vpool, n.id, n.volume, e.getMessage(), epoch);
  }

  private void readSmall(Inode n, long offset, ByteBuffer dst, int len) throws IOException {
    DataFiles.Open f = data.acquire(n.id);
    try {
      ByteBuffer d = dst.slice(dst.position(), len);
      long pos = offset;
      while (d.hasRemaining()) {
        int r = f.ch.read(d, pos);
        if (r < 0) {
          break;
        }
        pos += r;
      }
      // A hole past the data file's end (a crash lost an unstable extension) reads as zeros.
      while (d.hasRemaining()) {
        d.put((byte) 0);
      }
      dst.position(dst.position() + len);
    } finally {
      data.release(f);
    }
  }

  @Override
  public Written write(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    Written w = writeDeferred(fileId, offset, data, durability);
    w.settle().await();
    return new Written(w.count(), w.durable(), w.after(), Settle.NONE);
  }

  @Override
  public Written writeDeferred(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    return write(fileId, offset, data, durability, false);
  }

  @Override
  public Written writeAtOnce(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    return write(fileId, offset, data, durability, true);
  }

  /** A write; {@code atOnce}: only if it needs no wait (else null, nothing done), see {@link #writeAtOnce}. */
  private Written write(long fileId, long offset, ByteBuffer data, Durability durability, boolean atOnce)
      throws NfsException {
    Inode n = regular(fileId);
    int len = data.remaining();
    if (offset < 0 || offset + len > MAX_FILE_BYTES || offset + len < 0) {
      throw Status.of(Status.FBIG, "write past the maximum file size");
    }
    try {
      if (atOnce) {
        Settle settle = n.volume == null ? null : writeVdisk(n, offset, data, durability, true);
        return settle == null ? null : new Written(len, durability == Durability.DURABLE, attrOf(n), settle);
      }
      if (n.volume == null && vdiskThresholdBytes > 0 && offset + len > vdiskThresholdBytes) {
        toVdisk(n);
      }
      Settle settle = Settle.NONE;
      if (n.volume != null || !writeSmall(n, offset, data, durability)) {
        int at = data.position();
        for (int attempt = 1; ; attempt++) {
          try {
            settle = writeVdisk(n, offset, data, durability, false);
            break;
          } catch (NotOwnerException e) {
            data.position(at); // nothing was written: try again, on the new owner
            ownerMoved(n, e, attempt);
          } catch (PeerUnavailableException e) {
            throw ownerUnreachable(n, e);
          }
        }
      }
      return new Written(len, durability == Durability.DURABLE, attrOf(n), settle);
    } catch (IOException e) {
      throw ioError(e);
    }
  }

  /** Writes a small file; false if it became a vDisk meanwhile (nothing written then). */
  private boolean writeSmall(Inode n, long offset, ByteBuffer src, Durability durability)
      throws IOException, NfsException {
    n.io.readLock().lock();
    if (n.volume != null) {
      n.io.readLock().unlock();
      return false;
    }
    DataFiles.Open f = null;
    NamespaceMirror m = mirror;
    long ticket = 0;
    try {
      if (m != null && durability == Durability.DURABLE) {
        m.admit(); // before the data is written: a refused write changes nothing
      }
      f = data.acquire(n.id);
      long pos = offset;
      while (src.hasRemaining()) {
        pos += f.ch.write(src, pos);
      }
      if (durability == Durability.DURABLE) {
        f.force();
      }
      lock.lock();
      try {
        n.size = Math.max(n.size, pos);
        n.mtimeNanos = n.ctimeNanos = now();
      } finally {
        lock.unlock();
      }
      if (m != null) {
        m.dirty(n.id, offset, pos - offset);
        if (durability == Durability.DURABLE) {
          ticket = m.syncData(n.id); // under the read lock: the file cannot become a vDisk meanwhile
        }
      }
    } finally {
      if (f != null) {
        data.release(f);
      }
      n.io.readLock().unlock();
    }
    if (ticket > 0) {
      m.await(ticket);
    }
    return true;
  }

  /**
   * Writes into the file's vDisk; returns the durability wait left (the vDisk's, then the
   * journal's). {@code atOnce}: null instead if the write would wait for a lock or room.
   */
  private Settle writeVdisk(Inode n, long offset, ByteBuffer data, Durability durability, boolean atOnce)
      throws IOException, NfsException {
    BlockVolume.Pending pending;
    long journaled = -1;
    long mirrored = 0;
    int len = data.remaining();
    long end = offset + len;
    BlockVolume v = volume(n);
    int bs = v.blockSize();
    boolean aligned = offset % bs == 0 && len % bs == 0;
    boolean grows = end > v.sizeBytes();
    if (mirror != null && end > sizeOf(n)) {
      admitChange(); // the new size is a change (journaled, mirrored): refused before anything is written
    }
    var l = aligned && !grows ? n.io.readLock() : n.io.writeLock();
    if (atOnce) {
      // whole 4 KiB clusters only: a partial cluster is merged with what is there, which may need a backend read
      if (!aligned || grows || (offset | len) % 4096 != 0 || !v.writesAtOnce(len) || !l.tryLock()) {
        return null;
      }
    } else {
      l.lock();
    }
    try {
      if (end > v.sizeBytes()) {
        v = catalog.grow(n.volume, Math.min(growTo(end), roundUp(MAX_FILE_BYTES, 4096)));
      }
      if (aligned) {
        pending = v.writeDeferred(offset, data, durability);
      } else {
        long start = offset - offset % bs;
        long stop = roundUp(end, bs);
        ByteBuffer merged = ByteBuffer.allocate((int) (stop - start));
        if (start != offset) {
          v.read(start, merged.slice(0, bs));
        }
        if (stop != end && (stop - bs != start || start == offset)) {
          v.read(stop - bs, merged.slice((int) (stop - bs - start), bs));
        }
        merged.position((int) (offset - start));
        merged.put(data);
        merged.clear();
        pending = v.writeDeferred(start, merged, durability);
      }
      long size;
      boolean extended;
      lock.lock();
      try {
        extended = end > n.size;
        n.size = Math.max(n.size, end);
        n.mtimeNanos = n.ctimeNanos = now();
        size = n.size;
      } finally {
        lock.unlock();
      }
      if (extended) {
        // The new size must be as durable as the data: journal it, fsynced for stable writes.
        lock.lock();
        long at;
        try {
          at = log(List.of(n), new long[0]);
          if (durability == Durability.DURABLE) {
            mirrored = mirrorTicket;
          }
        } finally {
          lock.unlock();
        }
        if (durability == Durability.DURABLE) {
          journaled = at;
        }
      }
      Verify.that(size <= v.sizeBytes(), "file %d: size %d beyond its vDisk's %d", n.id, size, v.sizeBytes());
    } finally {
      l.unlock();
    }
    if (pending == BlockVolume.Pending.NONE && journaled < 0) {
      return Settle.NONE;
    }
    BlockVolume.Pending p = pending;
    long at = journaled;
    long mt = mirrored;
    NamespaceMirror m = mirror;
    return () -> {
      try {
        p.await();
        if (at >= 0) {
          journal.syncTo(at); // the new size is as durable as the data
        }
        if (mt > 0 && m != null) {
          m.await(mt); // and in the backend
        }
      } catch (NotOwnerException | PeerUnavailableException e) {
        // the owner went away between taking the write and making it durable: unknown outcome,
        // the client sends it again
        throw ownerUnreachable(n, e);
      } catch (IOException e) {
        throw ioError(e);
      }
    };
  }

  /**
   * Moves a small file that grew past the threshold into a new vDisk: copy, flush, then switch the
   * inode (journaled, fsynced), then drop the data file. A crash before the switch leaves the
   * small file as it was and an orphan vDisk, which appears at the root as {@code <name>.raw}.
   */
  private void toVdisk(Inode n) throws IOException, NfsException {
    n.io.writeLock().lock();
    try {
      if (n.volume != null) {
        return;
      }
      String volName = vpool.substring(0, Math.min(vpool.length(), 32)) + "-nfs-" + n.id;
      long size = sizeOf(n);
      long t0 = System.nanoTime();
      long copiedNanos = 0;
      markCreating(volName, true);
      try {
        BlockVolume v = catalog.create(volName, vpool, Math.max(roundUp(size, GROW_STEP_BYTES), GROW_STEP_BYTES));
        Path f = dataFile(n.id);
        if (Files.exists(f)) {
          try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            // direct: neither the file read nor the engine's write bounces it through a JDK buffer
            ByteBuffer b = ByteBuffer.allocateDirect(CONVERT_CHUNK_BYTES);
            for (long pos = 0; pos < size; pos += b.capacity()) {
              b.clear();
              while (b.hasRemaining() && ch.read(b, pos + b.position()) > 0) {
                // read until the chunk is full or the file ends
              }
              while (b.hasRemaining()) {
                b.put((byte) 0); // a hole at the end (an unstable extension lost in a crash)
              }
              int len = (int) Math.min(b.capacity(), roundUp(size - pos, v.blockSize()));
              b.position(0).limit(len);
              v.write(pos, b, Durability.BUFFERED);
            }
          }
        }
        copiedNanos = System.nanoTime() - t0;
        v.flush();
        lock.lock();
        try {
          n.volume = volName;
          byVolume.put(volName, n.id);
          logSync(List.of(n), new long[0]);
        } finally {
          lock.unlock();
        }
      } catch (IOException | NfsException | RuntimeException e) {
        if (n.volume == null) {
          deleteVolumeQuietly(volName);
        }
        throw e;
      } finally {
        markCreating(volName, false);
      }
      if (mirror != null) {
        mirror.forget(n.id);
      }
      deleteData(n.id);
      log.info("namespace {}: file {} grew past {} bytes and is now vDisk {} ({} MiB moved in {} ms, of which {} ms "
          + "copying and {} ms making it durable)", vpool, n.id, vdiskThresholdBytes, volName, size >> 20,
          (System.nanoTime() - t0) / 1_000_000, copiedNanos / 1_000_000, (System.nanoTime() - t0 - copiedNanos) / 1_000_000);
    } finally {
      n.io.writeLock().unlock();
    }
  }

  @Override
  public void commit(long fileId) throws NfsException {
    Inode n = regular(fileId);
    n.io.readLock().lock();
    try {
      if (n.volume != null) {
        for (int attempt = 1; ; attempt++) {
          try {
            volume(n).flush();
            break;
          } catch (NotOwnerException e) {
            ownerMoved(n, e, attempt);
          } catch (PeerUnavailableException e) {
            throw ownerUnreachable(n, e);
          } catch (WritesLostException e) {
            // this flush went through, but UNSTABLE writes acknowledged by another session of the
            // owner may be gone: the COMMIT answers with the new verifier, the client resends them
            writesMayBeLost(n, e);
            break;
          }
        }
      } else {
        if (Files.exists(dataFile(n.id))) {
          DataFiles.Open f = data.acquire(n.id);
          try {
            f.force();
          } finally {
            data.release(f);
          }
        }
        if (mirror != null) {
          mirror.syncData(n.id); // UNSTABLE writes since the last durability point
        }
      }
      journal.syncTo(Long.MAX_VALUE);
      if (mirror != null) {
        mirror.awaitAll();
      }
    } catch (IOException e) {
      throw ioError(e);
    } finally {
      n.io.readLock().unlock();
    }
  }

  @Override
  public long[] capacity() {
    try {
      FileStore fs = Files.getFileStore(dir);
      return new long[] {fs.getTotalSpace(), fs.getUsableSpace()};
    } catch (IOException e) {
      return new long[] {0, 0};
    }
  }

  // --- helpers

  private long sizeOf(Inode n) {
    lock.lock();
    try {
      return n.size;
    } finally {
      lock.unlock();
    }
  }

  private Inode inode(long id) throws NfsException {
    Inode n = inodes.get(id);
    if (n == null) {
      throw Status.of(Status.STALE, "no file " + id);
    }
    return n;
  }

  private Inode dir(long id) throws NfsException {
    Inode n = inode(id);
    if (!n.isDir()) {
      throw Status.of(Status.NOTDIR, "file " + id);
    }
    return n;
  }

  private Inode regular(long id) throws NfsException {
    lock.lock();
    try {
      Inode n = inode(id);
      if (n.isDir()) {
        throw Status.of(Status.ISDIR, "file " + id);
      }
      if (n.type != Attr.REG) {
        throw Status.of(Status.INVAL, "file " + id + " is not a regular file");
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  private BlockVolume volume(Inode n) throws NfsException {
    return catalog.get(n.volume).orElseThrow(() -> Status.of(Status.STALE, "vDisk " + n.volume + " is gone"));
  }

  private boolean isVdiskName(String name) {
    Path p = Path.of(name);
    for (PathMatcher m : vdiskPatterns) {
      if (m.matches(p)) {
        return true;
      }
    }
    return false;
  }

  private static void checkName(String name) throws NfsException {
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.indexOf('/') >= 0 || name.indexOf('\0') >= 0) {
      throw Status.of(Status.INVAL, "bad name");
    }
    if (name.length() > NAME_BYTES_MAX) {
      throw Status.of(Status.NAMETOOLONG, "name");
    }
  }

  private Path dataFile(long id) {
    return filesDir.resolve(Long.toString(id));
  }

  /** Adds a directory entry, to be journaled with the operation's record (caller holds the lock). */
  private void link(Inode d, String name, long child) {
    long cookie = d.addEntry(name, child);
    entryOps.add(Journal.EntryOp.link(d.id, name, child, cookie));
  }

  /** Removes a directory entry, to be journaled with the operation's record (caller holds the lock). */
  private long unlink(Inode d, String name) {
    long child = d.removeEntry(name);
    entryOps.add(Journal.EntryOp.unlink(d.id, name));
    return child;
  }

  /**
   * Refuses a change before anything of it is applied while the mirror takes none (a put failed
   * and has not landed yet, or its backlog is full): JUKEBOX, the client retries; see
   * {@link NamespaceMirror#admit}.
   */
  private void admitChange() throws NfsException {
    NamespaceMirror m = mirror;
    if (m != null) {
      m.admit();
    }
  }

  /** Appends a change (caller holds the lock); returns the offset to sync to. */
  private long log(List<Inode> puts, long[] deletes) throws NfsException {
    try {
      List<Journal.EntryOp> ops = List.copyOf(entryOps);
      entryOps.clear();
      ByteBuffer record = Journal.encode(++seq, nextId, puts, false, ops, deletes);
      ByteBuffer copy = record.duplicate();
      long at = journal.append(record);
      if (mirror != null) {
        mirrorTicket = mirror.journal(copy);
        for (long d : deletes) {
          mirror.forget(d);
        }
      }
      if (journal.sizeBytes() > Math.max(compactMinBytes, 4 * lastSnapshotBytes)
          || (mirror != null && mirror.segmentsSinceBase() > NamespaceMirror.SEGMENTS_PER_BASE_MAX)) {
        compactLocked();
        at = 0;
      }
      return at;
    } catch (IOException e) {
      throw ioError(e);
    }
  }

  /** Rewrites the journal as one snapshot, and the mirror's next upload as a base; caller holds the lock. */
  private void compactLocked() throws IOException {
    ByteBuffer snapshot = Journal.encode(++seq, nextId, List.copyOf(inodes.values()), true, List.of(), new long[0]);
    journal.compact(snapshot);
    lastSnapshotBytes = journal.sizeBytes();
    if (mirror != null) {
      mirror.rebase(snapshot, smallFiles()); // the next upload is a new base holding it
    }
  }

  /** Compacts the journal now (the mirror's next upload is a new base); for tests. */
  void compactNow() throws IOException {
    lock.lock();
    try {
      compactLocked();
    } finally {
      lock.unlock();
    }
  }

  private void logSyncIo(List<Inode> puts, long[] deletes) throws IOException {
    try {
      logSync(puts, deletes);
    } catch (NfsException e) {
      throw new IOException("namespace " + vpool + ": journal write failed: " + e.getMessage());
    }
  }

  /**
   * Appends a change (caller holds the lock) whose fsync {@link #unlockAndSync} does after the
   * lock is released: the change is durable before the operation returns, and other operations
   * (GETATTR, READ, ...) need not wait for the fsync, which concurrent changes share.
   */
  private void logDeferred(List<Inode> puts, long[] deletes) throws NfsException {
    long at = log(puts, deletes);
    long[] p = pendingSync.get();
    p[0] = Math.max(p[0], at);
    if (mirror != null) {
      p[1] = Math.max(p[1], mirrorTicket);
    }
  }

  private void unlockAndSync() throws NfsException {
    lock.unlock();
    long[] p = pendingSync.get();
    if (p[0] < 0) {
      return;
    }
    long at = p[0];
    long ticket = p[1];
    p[0] = -1;
    p[1] = 0;
    try {
      journal.syncTo(at);
    } catch (IOException e) {
      throw ioError(e);
    }
    if (ticket > 0) {
      mirror.await(ticket);
    }
  }

  /** Appends and fsyncs a change (caller holds the lock). */
  private void logSync(List<Inode> puts, long[] deletes) throws NfsException {
    long at = log(puts, deletes);
    try {
      journal.syncTo(at);
    } catch (IOException e) {
      throw ioError(e);
    }
    if (mirror != null) {
      mirror.await(mirrorTicket);
    }
  }

  static NfsException ioError(Exception e) {
    String m = String.valueOf(e.getMessage());
    // the engine wraps the file system's error ("writing SCO n in the write buffer failed", then
    // "stopped after a write-buffer failure"): look through the causes, a bounded chain
    Throwable t = e;
    for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) {
      String tm = String.valueOf(t.getMessage());
      if (tm.contains("No space left") || tm.contains("ENOSPC")) {
        return Status.of(Status.NOSPC, m);
      }
    }
    if (e instanceof IllegalStateException || e instanceof IllegalArgumentException) {
      return Status.of(Status.INVAL, m);
    }
    if (e instanceof org.vsa.volume.VolumeFencedException) {
      // this node no longer owns the vDisk: the client retries later, by then served by its new owner
      log.info("vDisk fenced here: {}", m);
      return Status.of(Status.JUKEBOX, m);
    }
    if (e instanceof NotOwnerException || e instanceof PeerUnavailableException) {
      return Status.of(Status.JUKEBOX, m); // the vDisk is moving: the client retries later
    }
    log.warn("I/O error: {}", e.toString());
    return Status.of(Status.IO, m);
  }

  /**
   * How big a vDisk grows when a write passes its end: a quarter more than needed, between
   * {@link #GROW_STEP_BYTES} and {@link #GROW_STEP_MAX_BYTES} (thin: growing costs no space), so a
   * file written sequentially resizes its vDisk a few times, not once per 64 MiB.
   */
  static long growTo(long end) {
    long ahead = Math.min(Math.max(end / 4, GROW_STEP_BYTES), GROW_STEP_MAX_BYTES);
    return roundUp(end + ahead, GROW_STEP_BYTES);
  }

  private static long roundUp(long v, long unit) {
    return (v + unit - 1) / unit * unit;
  }

  private static long now() {
    java.time.Instant i = java.time.Instant.now();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  @Override
  public void close() throws IOException {
    if (mirror != null) {
      try {
        mirror.awaitAll();
      } catch (NfsException e) {
        log.warn("namespace {}: closing with changes not in the backend: {}", vpool, e.getMessage());
      }
    }
    data.close();
    lock.lock();
    try {
      journal.syncTo(Long.MAX_VALUE);
      journal.close();
    } finally {
      lock.unlock();
      if (mirror != null) {
        mirror.close();
      }
    }
  }
}
