package org.vsa.iscsi;

import java.util.Optional;
import org.vsa.volume.BlockVolume;

/** How the target finds the vDisk behind a LUN; the appliance passes {@code engine::volume}. */
@FunctionalInterface
public interface VolumeLookup {
  Optional<? extends BlockVolume> volume(String name);
}
