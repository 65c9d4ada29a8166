package org.vsa.volume.remote;

import java.io.IOException;

/**
 * The node asked does not serve the vDisk (any more): its ownership moved, or it never had it.
 * Nothing was done. The caller resolves the vDisk's owner again and retries there.
 */
public final class NotOwnerException extends IOException {
  private final String vdisk;

  public NotOwnerException(String vdisk, String message) {
    super(message);
    this.vdisk = vdisk;
  }

  /** The vDisk's name. */
  public String vdisk() {
    return vdisk;
  }
}
