package org.vsa.appliance;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Engine;
import org.vsa.volume.VolumeSpec;

/**
 * The NFS gateway's view of the engine: vDisks it creates over NFS get their vPool's SCO size
 * and read-cache policy, and 512-byte blocks (what ESXi and Linux initiators expect of a LUN).
 * Every volume it hands out stamps its last use in {@link NfsUse}.
 */
final class EngineVolumeCatalog implements VolumeCatalog {
  private final Engine engine;
  private final ApplianceConfig config;
  private final NfsUse use;

  EngineVolumeCatalog(Engine engine, ApplianceConfig config, NfsUse use) {
    this.engine = engine;
    this.config = config;
    this.use = use;
  }

  @Override
  public Optional<BlockVolume> get(String name) {
    return engine.volume(name).map(use::track);
  }

  @Override
  public List<Entry> list() {
    return engine.volumes().stream().map(v -> new Entry(v.name(), v.spec().vpool())).toList();
  }

  @Override
  public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
    ApplianceConfig.Vpool pool = config.vpool(vpool)
        .orElseThrow(() -> new IOException("vPool " + vpool + " is not configured on this node"));
    return use.track(engine.create(new VolumeSpec(name, vpool, sizeBytes, 512, pool.scoSizeBytes(), pool.cachePolicy())));
  }

  @Override
  public BlockVolume resize(String name, long sizeBytes) throws IOException {
    engine.resize(name, sizeBytes);
    return use.track(engine.volume(name).orElseThrow(() -> new IOException("vDisk " + name + " vanished during a resize")));
  }

  @Override
  public void delete(String name) throws IOException {
    engine.delete(name);
    use.forget(name);
  }
}
