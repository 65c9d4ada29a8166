package org.vsa.nfs;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/** One file of a namespace; guarded by the namespace's lock (data I/O by {@link #io}). */
final class Inode {
  final long id;
  int type;
  int mode;
  int uid;
  int gid;
  /** Regular files: logical size. Symlinks: target length. */
  long size;
  long atimeNanos;
  long mtimeNanos;
  long ctimeNanos;
  /** Directories: the parent ("..", itself for the root). Others: unused. */
  long parent;
  /** Regular file backed by a vDisk: its name; otherwise null. */
  String volume;
  /** Symlink target. */
  String target;
  /** Directories: name -> child, and cookie -> name for stable READDIR positions. */
  Map<String, long[]> entries;
  TreeMap<Long, String> byCookie;
  long nextCookie;
  /** Aligned vDisk I/O shares it; read-modify-write of partial blocks and resizes take it exclusively. */
  final transient ReentrantReadWriteLock io = new ReentrantReadWriteLock();

  Inode(long id, int type) {
    this.id = id;
    this.type = type;
    if (type == Attr.DIR) {
      entries = new HashMap<>();
      byCookie = new TreeMap<>();
      nextCookie = 3; // 1 and 2 are "." and ".."
    }
  }

  boolean isDir() {
    return type == Attr.DIR;
  }

  /** Adds an entry; returns its cookie. */
  long addEntry(String name, long child) {
    long cookie = nextCookie++;
    putEntry(name, child, cookie);
    return cookie;
  }

  void putEntry(String name, long child, long cookie) {
    entries.put(name, new long[] {child, cookie});
    byCookie.put(cookie, name);
    nextCookie = Math.max(nextCookie, cookie + 1);
  }

  long removeEntry(String name) {
    long[] e = entries.remove(name);
    byCookie.remove(e[1]);
    return e[0];
  }

  /**
   * Encodes the inode; a directory's entries only if {@code full} (a snapshot), since changes
   * journal entries one by one.
   */
  void encode(ByteBuffer b, boolean full) {
    b.put((byte) (full ? 1 : 0));
    b.putLong(id).putInt(type).putInt(mode).putInt(uid).putInt(gid).putLong(size)
        .putLong(atimeNanos).putLong(mtimeNanos).putLong(ctimeNanos).putLong(parent);
    putString(b, volume);
    putString(b, target);
    if (isDir()) {
      b.putLong(nextCookie);
    }
    if (isDir() && full) {
      b.putInt(entries.size());
      for (Map.Entry<String, long[]> e : entries.entrySet()) {
        putString(b, e.getKey());
        b.putLong(e.getValue()[0]).putLong(e.getValue()[1]);
      }
    }
  }

  int encodedSizeMax(boolean full) {
    int n = 1 + 8 + 4 * 4 + 8 * 5 + 2 * 4 + len(volume) + len(target) + 8;
    if (isDir() && full) {
      n += 4;
      for (String name : entries.keySet()) {
        n += 4 + name.length() * 3 + 16;
      }
    }
    return n;
  }

  /** Decodes an inode; {@code full[0]} tells whether it carried its entries (a snapshot). */
  static Inode decode(ByteBuffer b, boolean[] full) {
    full[0] = b.get() == 1;
    long id = b.getLong();
    Inode n = new Inode(id, b.getInt());
    n.mode = b.getInt();
    n.uid = b.getInt();
    n.gid = b.getInt();
    n.size = b.getLong();
    n.atimeNanos = b.getLong();
    n.mtimeNanos = b.getLong();
    n.ctimeNanos = b.getLong();
    n.parent = b.getLong();
    n.volume = getString(b);
    n.target = getString(b);
    if (n.isDir()) {
      n.nextCookie = b.getLong();
    }
    if (n.isDir() && full[0]) {
      int count = b.getInt();
      if (count < 0 || count > b.remaining() / 20) {
        throw new IllegalArgumentException("bad entry count " + count);
      }
      for (int i = 0; i < count; i++) {
        String name = getString(b);
        long child = b.getLong();
        long cookie = b.getLong();
        n.entries.put(name, new long[] {child, cookie});
        n.byCookie.put(cookie, name);
      }
    }
    return n;
  }

  /** Copies the attributes (not the entries) of {@code o}, a decoded version of this inode. */
  void copyAttrs(Inode o) {
    type = o.type;
    mode = o.mode;
    uid = o.uid;
    gid = o.gid;
    size = o.size;
    atimeNanos = o.atimeNanos;
    mtimeNanos = o.mtimeNanos;
    ctimeNanos = o.ctimeNanos;
    parent = o.parent;
    volume = o.volume;
    target = o.target;
    nextCookie = Math.max(nextCookie, o.nextCookie);
  }

  private static int len(String s) {
    return s == null ? 0 : s.length() * 3;
  }

  static void putString(ByteBuffer b, String s) {
    if (s == null) {
      b.putInt(-1);
      return;
    }
    byte[] u = s.getBytes(StandardCharsets.UTF_8);
    b.putInt(u.length).put(u);
  }

  static String getString(ByteBuffer b) {
    int len = b.getInt();
    if (len < 0) {
      return null;
    }
    if (len > b.remaining()) {
      throw new IllegalArgumentException("string length " + len + " exceeds record");
    }
    byte[] u = new byte[len];
    b.get(u);
    return new String(u, StandardCharsets.UTF_8);
  }
}
