package org.vsa.iscsi;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.VolumeSpec;

/**
 * The process {@link KillTest} kills: an engine on a data directory (vDisk demo created on first
 * start) behind an iSCSI target on an ephemeral port, which it prints as {@code PORT n}.
 */
public final class KillChild {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Engine engine = TestEngines.start(dir);
    if (engine.volume("demo").isEmpty()) {
      engine.create(new VolumeSpec("demo", "default", TargetFixture.SIZE_BYTES, 512, VolumeSpec.SCO_SIZE_MIN,
          CachePolicy.ON_READ));
    }
    IscsiTarget target = IscsiTarget.start(
        TargetFixture.config(dir, List.of(IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo")))), engine::volume);
    System.out.println("PORT " + target.localAddress().getPort());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE); // until killed
  }
}
