package org.vsa.backends;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An {@link ObjectStore} in a local directory: {@code root/<namespace>/<name>}, one file per
 * object.
 *
 * <p><b>Durability.</b> A put writes a temp file ({@code .tmp-*}) in the namespace directory,
 * forces it, renames it over the name (atomic, replacing) and then forces the directory, so that
 * the rename itself survives a crash before put returns. A crash leaves at worst a temp file; the
 * constructor removes those older than 15 minutes (younger ones may be another appliance's puts in
 * flight, when nodes share the directory). Namespace creation and deletion and object deletion force the parent
 * directory too.
 *
 * <p><b>Atomic replace.</b> A rename swaps whole inodes, and an open channel keeps reading the
 * inode it opened: a reader sees the old object or the new one, never a mix.
 *
 * <p><b>Ranged reads</b> are hot (4 KiB reads out of a SCO), so read-only channels stay open in a
 * bounded Caffeine cache whose removal listener closes them. A put or delete changes the directory
 * first and then invalidates the cached channel, so a reader that starts after it returned opens
 * the new file (or finds none). A reader whose channel is closed under it (invalidation, eviction,
 * or another thread's interrupt, since a {@link FileChannel} closes itself when a thread blocked
 * in it is interrupted) restarts its whole range on a private fresh channel: restarting, not
 * resuming, is what keeps two versions from mixing. The interrupted reader itself gets an
 * {@link InterruptedIOException}, and a thread already interrupted gets it before touching a
 * shared channel.
 *
 * <p>Concurrent {@link #put} and {@link #deleteNamespace} of the same namespace is a caller error
 * (deleting a vDisk while uploading to it); the delete then fails with an IOException. Call {@link
 * #close} once users have stopped.
 */
public final class LocalDirectoryObjectStore implements ObjectStore {
  private static final Logger log = LoggerFactory.getLogger(LocalDirectoryObjectStore.class);

  public static final int OPEN_CHANNELS_MAX_DEFAULT = 256;
  static final String TEMP_PREFIX = ".tmp-";
  /** The name rule, as documentation; {@link #isValidName} implements it without a regex. */
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,200}");

  private final Path root;
  /** Sealed files are hard-linked in until a link fails once (another file system). */
  private volatile boolean linking = true;
  private final Cache<Path, FileChannel> readChannels;
  private volatile boolean closed;

  public LocalDirectoryObjectStore(Path root) throws IOException {
    this(root, OPEN_CHANNELS_MAX_DEFAULT);
  }

  /** @param openChannelsMax read-only channels kept open for ranged reads (file descriptors) */
  public LocalDirectoryObjectStore(Path root, int openChannelsMax) throws IOException {
    if (openChannelsMax < 1) {
      throw new IllegalArgumentException("openChannelsMax must be >= 1; got " + openChannelsMax);
    }
    this.root = Objects.requireNonNull(root, "root");
    Files.createDirectories(root);
    removeTempFiles();
    // Direct executor: a channel is closed by the thread that evicts or invalidates it, so after
    // put/delete/close returns no stale descriptor lingers in a pool thread's queue.
    this.readChannels = Caffeine.newBuilder()
        .maximumSize(openChannelsMax)
        .executor(Runnable::run)
        .<Path, FileChannel>removalListener((file, channel, cause) -> closeQuietly(channel))
        .build();
  }

  public Path root() {
    return root;
  }

  @Override
  public void createNamespace(String namespace) throws IOException {
    Path dir = namespaceDir(namespace);
    try {
      Files.createDirectory(dir);
      forceDirectory(root);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(dir)) {
        throw new IOException("create namespace '" + namespace + "': " + dir + " exists and is not a directory", e);
      }
    } catch (IOException e) {
      throw failure("create", namespace, null, e);
    }
  }

  @Override
  public void deleteNamespace(String namespace) throws IOException {
    Path dir = namespaceDir(namespace);
    if (!Files.isDirectory(dir)) {
      return;
    }
    try {
      try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
        for (Path entry : entries) {
          Files.deleteIfExists(entry);
        }
      }
      Files.deleteIfExists(dir);
      forceDirectory(root);
    } catch (NoSuchFileException e) {
      log.debug("namespace '{}' deleted concurrently", namespace, e);
    } catch (IOException e) {
      throw failure("delete", namespace, null, e);
    } finally {
      List<Path> stale = new ArrayList<>();
      for (Path file : readChannels.asMap().keySet()) {
        if (dir.equals(file.getParent())) {
          stale.add(file);
        }
      }
      readChannels.invalidateAll(stale);
    }
  }

  @Override
  public boolean namespaceExists(String namespace) {
    return Files.isDirectory(namespaceDir(namespace));
  }

  @Override
  public List<String> listNamespaces() throws IOException {
    checkOpen();
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
      for (Path entry : entries) {
        String name = entry.getFileName().toString();
        if (isValidName(name) && Files.isDirectory(entry)) {
          names.add(name);
        }
      }
    } catch (IOException e) {
      throw new IOException("list namespaces in " + root + ": " + e, e);
    }
    Collections.sort(names);
    return names;
  }

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    Objects.requireNonNull(source, "source");
    putAtomically(namespace, name, (temp) -> copyInto(source, temp));
  }

  private static void copyInto(Path source, Path temp) throws IOException {
    try (FileChannel from = FileChannel.open(source, READ);
        FileChannel to = FileChannel.open(temp, WRITE)) {
      long sizeBytes = from.size();
      // Bounded: every pass moves at least one byte or fails.
      for (long position = 0; position < sizeBytes; ) {
        long n = from.transferTo(position, sizeBytes - position, to);
        if (n <= 0) {
          throw new IOException("source " + source + " shrank below " + sizeBytes + " bytes while copying");
        }
        position += n;
      }
      to.force(true);
    }
  }

  /**
   * A hard link to the sealed file when it is on this store's file system (no byte is copied or
   * written twice: the default embedded setup keeps the write buffer and this store on one disk),
   * a copy otherwise. The linked inode is forced before the rename, as a copy would be.
   */
  @Override
  public void dropCached(String namespace, String name) {
    PageCache.drop(objectPath(namespace, name));
  }

  @Override
  public void putSealed(String namespace, String name, Path source) throws IOException {
    Objects.requireNonNull(source, "source");
    if (!linking) {
      put(namespace, name, source);
      return;
    }
    putAtomically(namespace, name, (temp) -> {
      Files.delete(temp); // the link takes the temp name: it is unique in this directory
      try {
        Files.createLink(temp, source);
      } catch (IOException | UnsupportedOperationException e) {
        // another file system (EXDEV), or links not supported: copy, and stop trying
        log.info("backend {}: cannot link {} into the store ({}); copying sealed files from now on", root, source,
            e.toString());
        linking = false;
        Files.createFile(temp);
        copyInto(source, temp);
        return;
      }
      try (FileChannel ch = FileChannel.open(temp, READ)) {
        ch.force(true);
      }
    });
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    Objects.requireNonNull(data, "data");
    putAtomically(namespace, name, (temp) -> {
      try (FileChannel to = FileChannel.open(temp, WRITE)) {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
          to.write(src);
        }
        to.force(true);
      }
    });
  }

  /**
   * Writes and forces a temp file, then hard-links it to the name: link(2) fails with EEXIST when
   * the name exists, atomically, for every thread and process on this file system (a rename would
   * replace). Then the temp name goes and the directory is forced, so the created name survives a
   * crash before true is returned. A crash in between leaves a temp file, removed at the next start.
   */
  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    Objects.requireNonNull(data, "data");
    Path file = objectPath(namespace, name);
    Path dir = file.getParent();
    Path temp = createTemp(dir, namespace, name, "create");
    try {
      try (FileChannel to = FileChannel.open(temp, WRITE)) {
        ByteBuffer src = ByteBuffer.wrap(data);
        while (src.hasRemaining()) {
          to.write(src);
        }
        to.force(true);
      }
      try {
        Files.createLink(file, temp);
      } catch (FileAlreadyExistsException e) {
        return false;
      }
      Files.delete(temp);
      forceDirectory(dir);
      return true;
    } catch (IOException e) {
      throw failure("create", namespace, name, e);
    } finally {
      deleteQuietly(temp);
    }
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    Path file = objectPath(namespace, name);
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0; got " + offset + " for '" + namespace + "/" + name + "'");
    }
    if (Thread.currentThread().isInterrupted()) {
      // Its first read would close the shared cached channel for every reader of the object.
      throw new InterruptedIOException("read of '" + namespace + "/" + name + "' interrupted");
    }
    int start = dst.position();
    FileChannel cached = cachedChannel(namespace, name, file);
    try {
      try {
        readFully(cached, namespace, name, offset, dst);
      } catch (ClosedChannelException e) {
        if (e instanceof ClosedByInterruptException) {
          throw e;
        }
        // Closed under us: the object was replaced or deleted, the cache evicted the channel, or
        // another reader was interrupted. Restart the whole range so versions never mix.
        readChannels.asMap().remove(file, cached);
        dst.position(start);
        try (FileChannel fresh = openForRead(namespace, name, file)) {
          readFully(fresh, namespace, name, offset, dst);
        }
      }
    } catch (ClosedByInterruptException e) {
      // Interrupted mid-read: that closed the channel for every reader; drop it so nobody gets it again.
      readChannels.asMap().remove(file, cached);
      InterruptedIOException interrupted =
          new InterruptedIOException("read of '" + namespace + "/" + name + "' interrupted");
      interrupted.initCause(e);
      throw interrupted;
    } catch (IOException e) {
      throw failure("read", namespace, name, e);
    }
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    Path file = objectPath(namespace, name);
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw missing(namespace, name);
    } catch (IOException e) {
      throw failure("get", namespace, name, e);
    }
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    Path file = objectPath(namespace, name);
    try {
      return Files.size(file);
    } catch (NoSuchFileException e) {
      throw missing(namespace, name);
    } catch (IOException e) {
      throw failure("size", namespace, name, e);
    }
  }

  @Override
  public boolean exists(String namespace, String name) {
    return Files.isRegularFile(objectPath(namespace, name));
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    Path file = objectPath(namespace, name);
    try {
      // Unlink first, then invalidate: a reader that opens in between gets NoSuchObjectException;
      // invalidating first would let a reader re-cache the doomed file and read it after delete.
      if (Files.deleteIfExists(file)) {
        readChannels.invalidate(file);
        forceDirectory(file.getParent());
      }
    } catch (IOException e) {
      throw failure("delete", namespace, name, e);
    }
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    Path dir = namespaceDir(namespace);
    Objects.requireNonNull(prefix, "prefix");
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path entry : entries) {
        String name = entry.getFileName().toString();
        if (name.startsWith(prefix) && isValidName(name)) {
          names.add(name);
        }
      }
    } catch (NoSuchFileException e) {
      throw new NoSuchObjectException(namespace);
    } catch (IOException e) {
      throw failure("list", namespace, prefix + "*", e);
    }
    Collections.sort(names);
    return names;
  }

  @Override
  public void close() {
    closed = true;
    readChannels.invalidateAll();
    readChannels.cleanUp();
  }

  @Override
  public String toString() {
    return "LocalDirectoryObjectStore[" + root + "]";
  }

  /** Open read channels right now; for tests. */
  long openChannels() {
    readChannels.cleanUp();
    return readChannels.estimatedSize();
  }

  // ---- names and paths

  /** Same rule as {@link #NAME}, without a regex: this runs on every ranged read. */
  private static boolean isValidName(String s) {
    if (s == null || s.isEmpty() || s.length() > 200 || s.equals(".") || s.equals("..") || s.startsWith(TEMP_PREFIX)) {
      return false;
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static String checkName(String what, String s) {
    if (!isValidName(s)) {
      String shown = s == null ? "null" : "'" + (s.length() > 220 ? s.substring(0, 220) + "...'" : s + "'");
      throw new IllegalArgumentException(
          what + " must match [A-Za-z0-9._-]{1,200}, not be '.' or '..' and not start with '"
              + TEMP_PREFIX + "'; got " + shown);
    }
    return s;
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  private Path namespaceDir(String namespace) {
    checkOpen();
    return root.resolve(checkName("namespace", namespace));
  }

  private Path objectPath(String namespace, String name) {
    return namespaceDir(namespace).resolve(checkName("object name", name));
  }

  // ---- writes

  private interface TempWriter {
    void fill(Path temp) throws IOException;
  }

  /** A new temp file in the namespace's directory, for a put or create of {@code name} ({@code op} names it in errors). */
  private Path createTemp(Path dir, String namespace, String name, String op) throws IOException {
    try {
      return Files.createTempFile(dir, TEMP_PREFIX, null);
    } catch (NoSuchFileException e) {
      throw new NoSuchObjectException(namespace);
    } catch (IOException e) {
      throw failure(op, namespace, name, e);
    }
  }

  private void putAtomically(String namespace, String name, TempWriter writer) throws IOException {
    Path file = objectPath(namespace, name);
    Path dir = file.getParent();
    Path temp = createTemp(dir, namespace, name, "put");
    boolean moved = false;
    try {
      writer.fill(temp);
      Files.move(temp, file, ATOMIC_MOVE, REPLACE_EXISTING);
      moved = true;
      // Readers holding the replaced file's channel finish on the old version; new ones reopen.
      readChannels.invalidate(file);
      forceDirectory(dir);
    } catch (IOException e) {
      throw failure("put", namespace, name, e);
    } finally {
      if (!moved) {
        deleteQuietly(temp);
      }
    }
  }

  private static void forceDirectory(Path dir) throws IOException {
    try (FileChannel channel = FileChannel.open(dir, READ)) {
      channel.force(true);
    }
  }

  /**
   * How old a temp file must be to count as a crash leftover. Several appliances may share one
   * backend directory (a cluster on a shared file system): a younger temp file may be another
   * node's put in flight, which deleting would fail. Younger leftovers go at a later start.
   */
  static final long TEMP_LEFTOVER_AGE_MILLIS = 15 * 60_000L;

  /** Crash leftovers: temp files of puts that never reached their rename, older than {@link #TEMP_LEFTOVER_AGE_MILLIS}. */
  private void removeTempFiles() throws IOException {
    int removed = 0;
    long before = System.currentTimeMillis() - TEMP_LEFTOVER_AGE_MILLIS;
    try (DirectoryStream<Path> namespaces = Files.newDirectoryStream(root, Files::isDirectory)) {
      for (Path dir : namespaces) {
        try (DirectoryStream<Path> temps = Files.newDirectoryStream(dir, TEMP_PREFIX + "*")) {
          for (Path temp : temps) {
            try {
              if (Files.getLastModifiedTime(temp).toMillis() < before) {
                Files.deleteIfExists(temp);
                removed++;
              }
            } catch (NoSuchFileException e) {
              // its put finished (renamed or linked) meanwhile
            }
          }
        }
      }
    }
    if (removed > 0) {
      log.info("{}: removed {} temp files left by interrupted puts", this, removed);
    }
  }

  // ---- reads

  private FileChannel cachedChannel(String namespace, String name, Path file) throws IOException {
    try {
      return readChannels.get(file, f -> {
        try {
          return FileChannel.open(f, READ);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw openFailure(namespace, name, e.getCause());
    }
  }

  private FileChannel openForRead(String namespace, String name, Path file) throws IOException {
    try {
      return FileChannel.open(file, READ);
    } catch (IOException e) {
      throw openFailure(namespace, name, e);
    }
  }

  private IOException openFailure(String namespace, String name, IOException e) {
    return e instanceof NoSuchFileException ? missing(namespace, name) : failure("open", namespace, name, e);
  }

  private static void readFully(FileChannel channel, String namespace, String name, long offset, ByteBuffer dst)
      throws IOException {
    long position = offset;
    // Bounded: every pass reads at least one byte or ends (a regular file returns -1 at its end,
    // never 0 for a non-empty buffer).
    while (dst.hasRemaining()) {
      int n = channel.read(dst, position);
      if (n <= 0) {
        throw new EOFException("object '" + name + "' in namespace '" + namespace + "' ends at byte " + position
            + ", " + dst.remaining() + " bytes short of the range read from offset " + offset);
      }
      position += n;
    }
  }

  // ---- errors

  private NoSuchObjectException missing(String namespace, String name) {
    return Files.isDirectory(root.resolve(namespace))
        ? new NoSuchObjectException(namespace, name)
        : new NoSuchObjectException(namespace);
  }

  /** Names the namespace and object; passes through the exceptions callers act upon. */
  private IOException failure(String op, String namespace, String name, IOException e) {
    if (e instanceof NoSuchObjectException || e instanceof EOFException || e instanceof InterruptedIOException) {
      return e;
    }
    String what = name == null ? "namespace '" + namespace + "'" : "object '" + name + "' in namespace '" + namespace + "'";
    return new IOException(op + " " + what + " (store " + root + "): " + e, e);
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel == null) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      log.debug("closing a read channel failed", e);
    }
  }

  private static void deleteQuietly(Path temp) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException e) {
      log.warn("could not remove temp file {} (removed at the next start): {}", temp, e.toString());
    }
  }
}
