package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * What a front end holds for a vDisk (an iSCSI LUN, an NFS file): the engine's stable handle by
 * name. Every call goes to the vDisk the engine serves now, so a LUN or file bound while the vDisk
 * was offline serves again once it is brought online, and one bound before a rollback follows the
 * reopened vDisk. While the vDisk is offline, I/O fails with {@link VolumeOfflineException} and the
 * size and identity come from its record. A handle is bound to the vDisk's id: a vDisk deleted and
 * created again under the same name is another vDisk, which an old handle never reaches.
 */
final class VolumeHandle extends Volume {
  private final Engine engine;
  private final String name;
  private final UUID id;
  /** The spec last seen (the record's while offline); never null. */
  private volatile VolumeSpec lastSpec;

  VolumeHandle(Engine engine, String name, VolumeSpec spec, UUID id) {
    this.engine = engine;
    this.name = name;
    this.lastSpec = spec;
    this.id = id;
  }

  /** The vDisk served now; throws {@link VolumeOfflineException} (or "gone") otherwise. */
  private LocalVolume target() throws IOException {
    LocalVolume v = engine.online(name);
    if (v != null && v.id().equals(id)) {
      return v;
    }
    if (v != null) {
      throw new IOException("vDisk " + name + " was deleted (a vDisk of that name now is another one, id " + v.id()
          + ")");
    }
    throw engine.unavailable(name);
  }

  /** The vDisk served now under this handle's id, if any. */
  private Optional<LocalVolume> current() {
    LocalVolume v = engine.online(name);
    if (v == null || !v.id().equals(id)) {
      return Optional.empty();
    }
    lastSpec = v.spec();
    return Optional.of(v);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public UUID id() {
    return id;
  }

  @Override
  public long sizeBytes() {
    return spec().sizeBytes();
  }

  @Override
  public int blockSize() {
    return spec().blockSize();
  }

  @Override
  public VolumeSpec spec() {
    return current().map(LocalVolume::spec).orElse(lastSpec);
  }

  @Override
  public VolumeSettings settings() {
    return current().map(LocalVolume::settings).orElse(VolumeSettings.defaults(lastSpec));
  }

  @Override
  public boolean isTemplate() {
    return current().map(LocalVolume::isTemplate).orElse(false);
  }

  @Override
  public Optional<CloneSource> cloneSource() {
    return current().flatMap(LocalVolume::cloneSource);
  }

  @Override
  public Export export(String holder, boolean writable) {
    return current().orElseThrow(() -> new IllegalStateException(engine.unavailable(name).getMessage()))
        .export(holder, writable);
  }

  @Override
  public List<String> exportHolders() {
    return current().map(LocalVolume::exportHolders).orElse(List.of());
  }

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    target().read(offset, dst);
  }

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    target().write(offset, src, durability);
  }

  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    return target().writeDeferred(offset, src, durability);
  }

  @Override
  public long contentStamp() {
    LocalVolume v = engine.online(name);
    return v != null && v.id().equals(id) ? v.contentStamp() : 0;
  }

  @Override
  public boolean writesAtOnce(long bytes) {
    LocalVolume v = engine.online(name);
    return v != null && v.id().equals(id) && v.writesAtOnce(bytes);
  }

  @Override
  public void flush() throws IOException {
    target().flush();
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    target().unmap(offset, length);
  }

  @Override
  public boolean ready() {
    return current().isPresent();
  }

  @Override
  public boolean readOnly() {
    return current().map(LocalVolume::readOnly).orElse(false);
  }

  @Override
  public String toString() {
    return "vDisk " + name;
  }
}
