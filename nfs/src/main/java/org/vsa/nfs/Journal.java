package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.Verify;

/**
 * The namespace's crash-safe metadata log on local flash.
 *
 * <p>Format, version 1: a 32-byte header (magic {@code VNSJ}, version, namespace id, reserved,
 * CRC32C of the first 28 bytes), then records, each {@code [magic VNSR][payload length][CRC32C of
 * payload][payload]}. A payload is one atomic change: {@code [sequence][next file id][puts: count,
 * inodes][entry changes: count, (1 link: dir, child, cookie, name | 2 unlink: dir, name)][deletes:
 * count, file ids]}; a put carries a directory's entries only in a snapshot, so a change costs the
 * same in a directory of ten entries or of a million. Recovery applies records in order and stops at the first
 * torn or corrupt one, truncating the file there (nothing after it was acknowledged as durable,
 * since a record is fsynced before the change it holds is acknowledged). Compaction writes the
 * whole namespace as one record into a new file, fsyncs it and renames it over the journal.
 *
 * <p>Changelog: 1 - first version.
 */
final class Journal implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Journal.class);
  static final int MAGIC = 0x564E534A; // VNSJ
  static final int RECORD_MAGIC = 0x564E5352; // VNSR
  static final int VERSION = 1;
  static final int HEADER_BYTES = 32;
  static final int RECORD_HEADER_BYTES = 12;
  /** A record larger than this is corrupt (a directory of ~1M entries). */
  static final int RECORD_BYTES_MAX = 256 << 20;

  /** An inode written by a change; {@code full}: with its directory entries (a snapshot). */
  record Put(Inode inode, boolean full) {}

  /** A directory entry added ({@code link}) or removed. */
  record EntryOp(boolean link, long dir, String name, long child, long cookie) {
    static EntryOp link(long dir, String name, long child, long cookie) {
      return new EntryOp(true, dir, name, child, cookie);
    }

    static EntryOp unlink(long dir, String name) {
      return new EntryOp(false, dir, name, 0, 0);
    }
  }

  /** One decoded change: apply puts, then entry changes in order, then deletes. */
  record Change(long seq, long nextId, List<Put> puts, List<EntryOp> entries, long[] deletes) {}

  private final Path file;
  private final long namespaceId;
  private FileChannel ch;
  private long writtenBytes;
  private long syncedBytes;
  private final Object syncLock = new Object();

  private Journal(Path file, long namespaceId, FileChannel ch, long writtenBytes) {
    this.file = file;
    this.namespaceId = namespaceId;
    this.ch = ch;
    this.writtenBytes = writtenBytes;
    this.syncedBytes = writtenBytes;
  }

  long namespaceId() {
    return namespaceId;
  }

  long sizeBytes() {
    return writtenBytes;
  }

  /** Creates a new empty journal (fsynced, directory too). */
  static Journal create(Path file, long namespaceId) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".new");
    writeFile(tmp, namespaceId);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDir(file.getParent());
    return open(file, new ArrayList<>());
  }

  /** Opens the journal, appending its intact changes to {@code out}; truncates a torn tail. */
  static Journal open(Path file, List<Change> out) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
    try {
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
      readFully(ch, h, 0);
      h.flip();
      if (h.remaining() < HEADER_BYTES || h.getInt(0) != MAGIC) {
        throw new IOException(file + " is not a namespace journal (bad magic)");
      }
      CRC32C crc = new CRC32C();
      crc.update(h.array(), 0, 28);
      if ((int) crc.getValue() != h.getInt(28)) {
        throw new IOException(file + ": journal header CRC mismatch");
      }
      int version = h.getInt(4);
      if (version != VERSION) {
        throw new IOException(file + ": journal version " + version + " is not supported (max " + VERSION + ")");
      }
      long nsId = h.getLong(8);
      long pos = HEADER_BYTES;
      long size = ch.size();
      ByteBuffer rh = ByteBuffer.allocate(RECORD_HEADER_BYTES);
      while (pos + RECORD_HEADER_BYTES <= size) {
        rh.clear();
        readFully(ch, rh, pos);
        int magic = rh.getInt(0);
        int len = rh.getInt(4);
        if (magic != RECORD_MAGIC || len < 0 || len > RECORD_BYTES_MAX || pos + RECORD_HEADER_BYTES + len > size) {
          break;
        }
        ByteBuffer p = ByteBuffer.allocate(len);
        readFully(ch, p, pos + RECORD_HEADER_BYTES);
        crc.reset();
        crc.update(p.array(), 0, len);
        if ((int) crc.getValue() != rh.getInt(8)) {
          break;
        }
        try {
          out.add(decode(p.flip()));
        } catch (RuntimeException e) {
          break;
        }
        pos += RECORD_HEADER_BYTES + len;
      }
      if (pos != size) {
        log.warn("{}: torn or corrupt record at byte {} of {}; keeping the {} bytes before it", file, pos, size, pos);
        ch.truncate(pos);
        ch.force(true);
      }
      return new Journal(file, nsId, ch, pos);
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  static ByteBuffer encode(long seq, long nextId, List<Inode> puts, boolean full, List<EntryOp> ops,
      long[] deletes) {
    long size = 8 + 8 + 4 + 4 + 4 + deletes.length * 8L;
    for (Inode n : puts) {
      size += n.encodedSizeMax(full);
    }
    for (EntryOp o : ops) {
      size += 1 + 8 * 3 + 4 + o.name().length() * 3L;
    }
    Verify.that(size <= RECORD_BYTES_MAX, "journal record of up to %d bytes exceeds the maximum", size);
    ByteBuffer b = ByteBuffer.allocate(RECORD_HEADER_BYTES + (int) size);
    b.position(RECORD_HEADER_BYTES);
    b.putLong(seq).putLong(nextId).putInt(puts.size());
    for (Inode n : puts) {
      n.encode(b, full);
    }
    b.putInt(ops.size());
    for (EntryOp o : ops) {
      b.put((byte) (o.link() ? 1 : 2)).putLong(o.dir());
      if (o.link()) {
        b.putLong(o.child()).putLong(o.cookie());
      }
      Inode.putString(b, o.name());
    }
    b.putInt(deletes.length);
    for (long d : deletes) {
      b.putLong(d);
    }
    int len = b.position() - RECORD_HEADER_BYTES;
    Verify.that(len <= RECORD_BYTES_MAX, "journal record of %d bytes exceeds the maximum", len);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), RECORD_HEADER_BYTES, len);
    b.putInt(0, RECORD_MAGIC).putInt(4, len).putInt(8, (int) crc.getValue());
    return b.flip();
  }

  private static Change decode(ByteBuffer p) {
    long seq = p.getLong();
    long nextId = p.getLong();
    int n = p.getInt();
    List<Put> puts = new ArrayList<>(Math.min(Math.max(n, 0), 1024));
    boolean[] full = new boolean[1];
    for (int i = 0; i < n; i++) {
      Inode inode = Inode.decode(p, full);
      puts.add(new Put(inode, full[0]));
    }
    int e = p.getInt();
    List<EntryOp> ops = new ArrayList<>(Math.min(Math.max(e, 0), 1024));
    for (int i = 0; i < e; i++) {
      byte type = p.get();
      long dir = p.getLong();
      if (type == 1) {
        long child = p.getLong();
        long cookie = p.getLong();
        ops.add(EntryOp.link(dir, Inode.getString(p), child, cookie));
      } else if (type == 2) {
        ops.add(EntryOp.unlink(dir, Inode.getString(p)));
      } else {
        throw new IllegalArgumentException("entry change type " + type);
      }
    }
    int d = p.getInt();
    if (d < 0 || d > p.remaining() / 8) {
      throw new IllegalArgumentException("bad delete count");
    }
    long[] deletes = new long[d];
    for (int i = 0; i < d; i++) {
      deletes[i] = p.getLong();
    }
    return new Change(seq, nextId, puts, ops, deletes);
  }

  /** Appends an encoded record (callers serialise appends); returns the offset a sync must reach. */
  long append(ByteBuffer record) throws IOException {
    long pos = writtenBytes;
    while (record.hasRemaining()) {
      pos += ch.write(record, pos);
    }
    writtenBytes = pos;
    return pos;
  }

  /** Forces the journal at least up to {@code offset}; concurrent callers share one fsync. */
  void syncTo(long offset) throws IOException {
    synchronized (syncLock) {
      if (syncedBytes >= offset) {
        return;
      }
      long target = writtenBytes;
      ch.force(false);
      syncedBytes = Math.max(syncedBytes, target);
    }
  }

  /** Replaces the journal with one record holding {@code snapshot}; callers hold off appends. */
  void compact(ByteBuffer snapshot) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".new");
    writeFile(tmp, namespaceId, snapshot);
    synchronized (syncLock) {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      fsyncDir(file.getParent());
      ch.close();
      ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      writtenBytes = ch.size();
      syncedBytes = writtenBytes;
    }
  }

  /**
   * Writes a journal holding {@code records} (encoded records, as {@link #encode} makes them), in
   * place of {@code file}: temp file, fsync, rename, fsync of the directory. A namespace restored
   * from its mirror starts from it.
   */
  static void writeRestored(Path file, long namespaceId, List<ByteBuffer> records) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".new");
    writeFile(tmp, namespaceId, records.toArray(new ByteBuffer[0]));
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDir(file.getParent());
  }

  private static void writeFile(Path path, long namespaceId, ByteBuffer... records) throws IOException {
    try (FileChannel c = FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES);
      h.putInt(MAGIC).putInt(VERSION).putLong(namespaceId).putLong(0).putInt(0);
      CRC32C crc = new CRC32C();
      crc.update(h.array(), 0, 28);
      h.putInt(28, (int) crc.getValue());
      h.position(0).limit(HEADER_BYTES);
      long pos = 0;
      while (h.hasRemaining()) {
        pos += c.write(h, pos);
      }
      for (ByteBuffer record : records) {
        if (record == null) {
          continue;
        }
        ByteBuffer r = record.duplicate();
        while (r.hasRemaining()) {
          pos += c.write(r, pos);
        }
      }
      c.force(true);
    }
  }

  static void fsyncDir(Path dir) throws IOException {
    try (FileChannel c = FileChannel.open(dir, StandardOpenOption.READ)) {
      c.force(true);
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        return;
      }
      pos += n;
    }
  }

  @Override
  public void close() throws IOException {
    synchronized (syncLock) {
      ch.close();
    }
  }
}
