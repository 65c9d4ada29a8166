package org.vsa.nfs;

/** nfsstat3 (RFC 1813 section 2.6). */
public final class Status {
  private Status() {}

  public static final int OK = 0;
  public static final int PERM = 1;
  public static final int NOENT = 2;
  public static final int IO = 5;
  public static final int ACCES = 13;
  public static final int EXIST = 17;
  public static final int XDEV = 18;
  public static final int NOTDIR = 20;
  public static final int ISDIR = 21;
  public static final int INVAL = 22;
  public static final int FBIG = 27;
  public static final int NOSPC = 28;
  public static final int ROFS = 30;
  public static final int MLINK = 31;
  public static final int NAMETOOLONG = 63;
  public static final int NOTEMPTY = 66;
  public static final int STALE = 70;
  public static final int BADHANDLE = 10001;
  public static final int NOT_SYNC = 10002;
  public static final int BAD_COOKIE = 10003;
  public static final int NOTSUPP = 10004;
  public static final int TOOSMALL = 10005;
  public static final int SERVERFAULT = 10006;
  public static final int BADTYPE = 10007;
  /** "Try again later": the file's vDisk is fenced here or moving to another owner; the client retries. */
  public static final int JUKEBOX = 10008;

  static NfsException of(int status, String message) {
    return new NfsException(status, message);
  }
}
