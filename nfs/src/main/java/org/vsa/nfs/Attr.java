package org.vsa.nfs;

/**
 * A file's attributes as the namespace reports them (times in nanoseconds since the epoch).
 *
 * @param type {@link #REG}, {@link #DIR} or {@link #LNK} (ftype3 values)
 * @param vdisk whether a vDisk backs the file's bytes
 */
public record Attr(int type, int mode, int nlink, int uid, int gid, long size, long usedBytes, long fileId,
    long atimeNanos, long mtimeNanos, long ctimeNanos, boolean vdisk) {
  public static final int REG = 1;
  public static final int DIR = 2;
  public static final int LNK = 5;
}
