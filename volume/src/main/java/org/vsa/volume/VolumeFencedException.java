package org.vsa.volume;

import java.io.IOException;

/**
 * This node no longer owns the vDisk (its ownership lease ran out or was revoked, or the vDisk is
 * being released): the write, flush or unmap was not acknowledged. The front ends turn it into an
 * error like any IOException; another node serves the vDisk now (or will, once it took it over).
 */
public final class VolumeFencedException extends IOException {
  private final String vdisk;

  public VolumeFencedException(String vdisk, String why) {
    super("vDisk " + vdisk + " is fenced on this node (" + why + "): not acknowledged; its owner is another node"
        + " now, or will be");
    this.vdisk = vdisk;
  }

  public String vdisk() {
    return vdisk;
  }
}
