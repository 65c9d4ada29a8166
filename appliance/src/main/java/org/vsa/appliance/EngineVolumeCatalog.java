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
  private final java.util.function.UnaryOperator<BlockVolume> meter;

  /** {@code meter}: the metering wrapper every volume handed out goes through (identity when not metered). */
  EngineVolumeCatalog(Engine engine, ApplianceConfig config, NfsUse use, java.util.function.UnaryOperator<BlockVolume> meter) {
    this.meter = meter;
    this.engine = engine;
    this.config = config;
    this.use = use;
  }

  /**
   * The engine's handle, for an offline vDisk too: its file stays in the namespace (never
   * forgotten as if the vDisk were gone) and its reads and writes fail with NFS3ERR_IO until it
   * is online again, when the same file serves.
   */
  @Override
  public Optional<BlockVolume> get(String name) {
    return engine.handle(name).map(v -> use.track(meter.apply(v)));
  }

  @Override
  public List<Entry> list() {
    List<Entry> out = new java.util.ArrayList<>();
    engine.volumes().forEach(v -> out.add(new Entry(v.name(), v.spec().vpool())));
    for (org.vsa.volume.OfflineVdisk o : engine.offlineVdisks()) {
      // one whose record is unreadable has no vPool to appear in (no vPool is named ""), but is listed so that the
      // NFS namespace keeps its file rather than forgetting it as a deleted vDisk's
      out.add(new Entry(o.name(), o.spec().map(s -> s.vpool()).orElse("")));
    }
    return out;
  }

  @Override
  public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
    ApplianceConfig.Vpool pool = config.vpool(vpool)
        .orElseThrow(() -> new IOException("vPool " + vpool + " is not configured on this node"));
    return use.track(meter.apply(engine.create(new VolumeSpec(name, vpool, sizeBytes, 512, pool.scoSizeBytes(), pool.cachePolicy()))));
  }

  @Override
  public BlockVolume resize(String name, long sizeBytes) throws IOException {
    offlineCheck(name);
    engine.resize(name, sizeBytes);
    return use.track(meter.apply(
        engine.volume(name).orElseThrow(() -> new IOException("vDisk " + name + " vanished during a resize"))));
  }

  @Override
  public void delete(String name) throws IOException {
    offlineCheck(name);
    engine.delete(name);
    use.forget(name);
  }

  /** An offline vDisk's file fails like its I/O (NFS3ERR_IO), not with an internal error. */
  private void offlineCheck(String name) throws IOException {
    var off = engine.offlineVdisk(name);
    if (off.isPresent()) {
      throw new org.vsa.volume.VolumeOfflineException(name, off.get().reason());
    }
  }
}
