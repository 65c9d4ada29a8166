package org.vsa.nfs;

/**
 * What a SETATTR (or the attributes of CREATE/MKDIR/SYMLINK) asks to change; {@code null} or
 * {@link #DONT_CHANGE}: leave as is.
 */
public record SetAttr(Integer mode, Integer uid, Integer gid, Long sizeBytes, long atimeNanos, long mtimeNanos) {
  public static final long DONT_CHANGE = -1;
  public static final long SERVER_TIME = -2;
  public static final SetAttr NONE = new SetAttr(null, null, null, null, DONT_CHANGE, DONT_CHANGE);
}
