package org.vsa.nfs;

/** A failed namespace operation carrying its NFSv3 status (nfsstat3). */
public class NfsException extends Exception {
  private final int status;

  public NfsException(int status, String message) {
    super(message, null, false, false);
    this.status = status;
  }

  public int status() {
    return status;
  }
}
