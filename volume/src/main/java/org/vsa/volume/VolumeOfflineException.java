package org.vsa.volume;

import java.io.IOException;

/**
 * I/O on a vDisk that is offline: the engine could not open it safely at start (see
 * {@link Engine#offlineVdisks()}), so it serves no reads or writes until it is brought online
 * ({@link Engine#retryOpen}). Front ends answer "not ready" rather than a medium error.
 */
public final class VolumeOfflineException extends IOException {
  private final String vdisk;

  public VolumeOfflineException(String vdisk, String reason) {
    super("vDisk " + vdisk + " is offline: " + reason);
    this.vdisk = vdisk;
  }

  /** The vDisk's name. */
  public String vdisk() {
    return vdisk;
  }
}
