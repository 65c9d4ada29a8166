package org.vsa.nfs;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.vsa.volume.BlockVolume;

/**
 * The vDisks the NFS front end may see and create, so that {@code nfs} never depends on the
 * engine's concrete lifecycle. The appliance implements it over its {@code Engine}; tests over a
 * real engine too.
 */
public interface VolumeCatalog {

  /** A vDisk as the catalog lists it: its name and the vPool it belongs to. */
  record Entry(String name, String vpool) {}

  Optional<BlockVolume> get(String name);

  /** Every vDisk of every vPool. */
  List<Entry> list();

  /**
   * Creates a thin vDisk of {@code sizeBytes} (a positive multiple of 4096) in {@code vpool}.
   * {@link IllegalStateException} if the name is taken.
   */
  BlockVolume create(String name, String vpool, long sizeBytes) throws IOException;

  /** Thin growth or shrink (the tail is discarded); {@code sizeBytes} a multiple of 4096. */
  BlockVolume resize(String name, long sizeBytes) throws IOException;

  void delete(String name) throws IOException;
}
