package org.vsa.nfs;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.vsa.volume.BlockVolume;

/**
 * The vDisks the NFS front end may see and create, so that {@code nfs} never depends on the
 * engine's concrete lifecycle. The appliance implements it over its {@code Engine}; tests over a
 * real engine too.
 *
 * <p>In a cluster a vDisk may be owned by another node: {@link #get} then hands out a volume that
 * forwards to the owner (an {@code org.vsa.volume.remote.RemoteVolume}). The NFS server calls
 * {@link #get} for every READ, WRITE and COMMIT, so it must be cheap (a lookup, not a round trip).
 * What the server assumes of the volumes it gets, local or not: a volume whose owner no longer
 * serves the vDisk throws {@code NotOwnerException}; the server then calls {@link #moved} and
 * {@link #get} again and retries, and changes its write verifier (UNSTABLE writes the old owner
 * acknowledged may be gone, so clients send again what they had not committed); a flush that
 * throws {@code WritesLostException} changes the verifier too. A volume that cannot tell whether
 * its content changed answers 0 to {@code contentStamp} (never read ahead), and a remote one
 * answers false to {@code writesAtOnce} (its writes never run on the selector thread).
 */
public interface VolumeCatalog {

  /** A vDisk as the catalog lists it: its name and the vPool it belongs to. */
  record Entry(String name, String vpool) {}

  Optional<BlockVolume> get(String name);

  /** No vDisks: a namespace of small files and directories only (tests, benchmarks); creating one fails. */
  VolumeCatalog NONE = new VolumeCatalog() {
    @Override
    public Optional<BlockVolume> get(String name) {
      return Optional.empty();
    }

    @Override
    public List<Entry> list() {
      return List.of();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      throw new IOException("no vDisks here");
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      throw new IOException("no vDisks here");
    }

    @Override
    public void delete(String name) {}
  };

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

  /**
   * Why the vDisk may not be deleted now because it is in use (e.g. an iSCSI initiator is logged in
   * to it), or empty: it may. An NFS REMOVE of its file is refused (ACCES) while it is; a
   * {@code PeerUnavailableException} (nobody can tell now) gets JUKEBOX. The default: never in use.
   */
  default java.util.Optional<String> inUse(String name) throws IOException {
    return java.util.Optional.empty();
  }

  /**
   * Grows the vDisk to at least {@code sizeBytes} (a multiple of 4096), never shrinks it: the size
   * the caller saw may be stale (another node's volume answers its owner's last reported size).
   */
  default BlockVolume grow(String name, long sizeBytes) throws IOException {
    BlockVolume v = get(name).orElseThrow(() -> new IOException("vDisk " + name + " is gone"));
    return v.sizeBytes() >= sizeBytes ? v : resize(name, sizeBytes);
  }

  /**
   * The NFS server got {@code NotOwnerException} from the vDisk's volume: its owner moved, and the
   * next {@link #get} should resolve it again. The default does nothing (a catalog that resolves
   * at every {@link #get}).
   */
  default void moved(String name) {}
}
