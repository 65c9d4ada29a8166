package org.vsa.nfs;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Engine;
import org.vsa.volume.Volume;
import org.vsa.volume.VolumeSpec;

/** {@link VolumeCatalog} over a real engine, as the appliance would implement it. */
final class EngineCatalog implements VolumeCatalog {
  private final Engine engine;

  EngineCatalog(Engine engine) {
    this.engine = engine;
  }

  @Override
  public Optional<BlockVolume> get(String name) {
    return engine.volume(name).map(v -> v);
  }

  @Override
  public List<Entry> list() {
    return engine.volumes().stream().map(v -> new Entry(v.name(), v.spec().vpool())).toList();
  }

  @Override
  public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
    return engine.create(new VolumeSpec(name, vpool, sizeBytes, 512, VolumeSpec.SCO_SIZE_MIN, CachePolicy.ON_READ));
  }

  @Override
  public BlockVolume resize(String name, long sizeBytes) throws IOException {
    engine.resize(name, sizeBytes);
    return engine.volume(name).orElseThrow();
  }

  @Override
  public void delete(String name) throws IOException {
    engine.delete(name);
  }

  Volume volume(String name) {
    return engine.volume(name).orElseThrow();
  }
}
