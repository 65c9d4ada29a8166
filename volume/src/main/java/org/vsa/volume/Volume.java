package org.vsa.volume;

import java.util.List;
import java.util.Optional;

/** A vDisk served by this node's engine. */
public abstract class Volume implements BlockVolume {
  /** What it was created with. */
  public abstract VolumeSpec spec();

  /** Its current settings (DTL mode, read-cache policy and quota, dedupe). */
  public abstract VolumeSettings settings();

  /** A template can only be cloned: no writes, no writable export, no snapshots, no rollback. */
  public abstract boolean isTemplate();

  /** For a clone: the vDisk and snapshot it was cloned from. */
  public abstract Optional<CloneSource> cloneSource();

  /**
   * Registers a front end's export of this vDisk (an iSCSI LUN, an NFS file). While any export
   * is registered the vDisk is in use: a rollback is refused. A template refuses a writable
   * export. Close the handle when the export goes away.
   *
   * @param holder who exports it, for messages: e.g. {@code iscsi iqn...:lun 0}
   */
  public abstract Export export(String holder, boolean writable);

  /** The holders of the current exports (empty when not in use). */
  public abstract List<String> exportHolders();

  @Override
  public boolean readOnly() {
    return isTemplate();
  }

  /** Where a clone came from. */
  public record CloneSource(String parent, String snapshot) {}

  /** A registered export; {@link #close} removes it (idempotent). */
  public interface Export extends AutoCloseable {
    @Override
    void close();
  }
}
