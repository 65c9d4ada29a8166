package org.vsa.volume;

/** A vDisk served by this node's engine. */
public abstract class Volume implements BlockVolume {
  /** What it was created with. */
  public abstract VolumeSpec spec();
}
