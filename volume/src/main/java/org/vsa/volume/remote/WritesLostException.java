package org.vsa.volume.remote;

import java.io.IOException;

/**
 * A flush could not cover every write it should: some {@code BUFFERED} writes or unmaps
 * acknowledged since the last flush were acknowledged by another incarnation of the vDisk's owner
 * (it restarted, or the vDisk moved to another node), which may have lost them before they were
 * durable. The caller must treat them as lost (an NFS server changes its write verifier, so that
 * its clients send their uncommitted writes again). Writes acknowledged as {@code DURABLE} are not
 * concerned.
 */
public final class WritesLostException extends IOException {
  private final String vdisk;

  public WritesLostException(String vdisk, String message) {
    super(message);
    this.vdisk = vdisk;
  }

  /** The vDisk's name. */
  public String vdisk() {
    return vdisk;
  }
}
