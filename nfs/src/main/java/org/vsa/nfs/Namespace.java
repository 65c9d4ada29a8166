package org.vsa.nfs;

import java.io.Closeable;
import java.nio.ByteBuffer;
import java.util.List;
import org.vsa.volume.Durability;

/**
 * The one seam between the NFS protocol and a vPool's files (nfs4j's VirtualFileSystem idea):
 * directories, small files, symlinks, and files whose bytes live in a vDisk. Files are named by
 * their file id, stable across restarts and never reused. Every method that changes metadata is
 * durable when it returns (NFSv3 makes them synchronous); a write is durable on return when asked
 * {@link Durability#DURABLE}, otherwise at the next {@link #commit}. Failures are
 * {@link NfsException}s carrying an nfsstat3. Permission checks and export rules are not here:
 * they wrap this seam in the protocol layer.
 */
public interface Namespace extends Closeable {

  /** A directory entry; {@code cookie} is stable while the entry exists and never reused in its directory. */
  record Entry(String name, long fileId, long cookie) {}

  /**
   * What a write did: bytes written, whether they are durable once {@code settle} has returned, the
   * file's attributes after it, and the wait left before it may be acknowledged (see
   * {@link #writeDeferred}; {@link Settle#NONE} from {@link #write}).
   */
  record Written(int count, boolean durable, Attr after, Settle settle) {}

  /** The durability wait left of a write. */
  @FunctionalInterface
  interface Settle {
    Settle NONE = () -> { };

    void await() throws NfsException;
  }

  /** What a read did: bytes read (less at end of file), the file's attributes after it. */
  record Read(int count, Attr after) {}

  /** Random per namespace, fixed at its creation: the fsid, and part of every file handle. */
  long namespaceId();

  long rootId();

  Attr getattr(long fileId) throws NfsException;

  long lookup(long dirId, String name) throws NfsException;

  Attr setattr(long fileId, SetAttr change) throws NfsException;

  /** Creates a regular file (a vDisk-backed one if its name matches the patterns). EXIST if the name is taken and {@code exclusive}. */
  long create(long dirId, String name, int uid, int gid, SetAttr attrs, boolean exclusive) throws NfsException;

  /**
   * CREATE EXCLUSIVE: creates the file remembering {@code verifier}; if the name exists and was
   * created with the same verifier (a retransmission), returns it; otherwise EXIST.
   */
  long createExclusive(long dirId, String name, int uid, int gid, long verifier) throws NfsException;

  long mkdir(long dirId, String name, int uid, int gid, SetAttr attrs) throws NfsException;

  long symlink(long dirId, String name, String target, int uid, int gid, SetAttr attrs) throws NfsException;

  String readlink(long fileId) throws NfsException;

  void remove(long dirId, String name) throws NfsException;

  void rmdir(long dirId, String name) throws NfsException;

  void rename(long fromDirId, String fromName, long toDirId, String toName) throws NfsException;

  /** Entries after {@code cookie} (0: from the start), at most {@code max}; "." and ".." included. */
  List<Entry> readdir(long dirId, long cookie, int max) throws NfsException;

  /** Whether the directory has entries after {@code cookie}. */
  boolean hasMoreAfter(long dirId, long cookie) throws NfsException;

  /**
   * A value that changes whenever the file's contents may have, whoever changed them (NFS, iSCSI
   * on the same vDisk, a rollback): bytes read after it returned s are current while it still
   * returns s. 0 (the default, and for files that are not vDisks): unknown, never read ahead.
   */
  default long contentStamp(long fileId) {
    return 0;
  }

  /**
   * Grows whenever writes this namespace acknowledged as UNSTABLE may have been lost although the
   * server kept running (a file's vDisk moved to another owner, whose flush could not cover what
   * the old owner held). The WRITE and COMMIT verifiers change with it, so that clients send their
   * uncommitted writes again. 0 (the default) for a namespace whose vDisks never move.
   */
  default long writeEpoch() {
    return 0;
  }

  /**
   * Where a file's bytes are when they are a vDisk's (byte i of the file is byte i of the vDisk):
   * the vDisk's name, the file's logical size and attributes now. Null for every other file, and by
   * default. A node that does not hold the namespace reads and writes such a file's vDisk directly
   * (without a detour through the namespace's owner) where the layout allows it.
   */
  record Layout(String vdisk, long sizeBytes, Attr attr) {}

  default Layout layout(long fileId) throws NfsException {
    return null;
  }

  /** Reads into {@code dst} at {@code offset}. */
  Read read(long fileId, long offset, ByteBuffer dst) throws NfsException;

  Written write(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException;

  /**
   * {@link #write}, except that the wait for the asked durability (the group commit, the DTL) may
   * be left in the result's {@code settle}, for the caller to do, on another thread if it likes,
   * before acknowledging the write. {@code data} is consumed before this returns.
   */
  default Written writeDeferred(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    return write(fileId, offset, data, durability);
  }

  /**
   * {@link #writeDeferred} if it can be done now without waiting for a lock, room or a disk
   * (a whole-block write inside a vDisk-backed file's vDisk, which has room); otherwise null,
   * with nothing changed and {@code data} untouched. The default always answers null.
   */
  default Written writeAtOnce(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    return null;
  }

  /** Makes every write to the file that returned before this call durable. */
  void commit(long fileId) throws NfsException;

  /** Bytes total and free where this namespace keeps its data (FSSTAT). */
  long[] capacity();
}
