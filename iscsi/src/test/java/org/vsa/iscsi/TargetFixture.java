package org.vsa.iscsi;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Engine;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.TestEngines;

/** A real engine in a temp dir with vDisk {@code demo}, and a target on 127.0.0.1, ephemeral port. */
final class TargetFixture implements AutoCloseable {
  static final String IQN = IscsiConfig.DEFAULT_IQN;
  static final long SIZE_BYTES = 64L << 20;

  final Engine engine;
  final IscsiTarget target;

  TargetFixture(Path dir) throws IOException, InterruptedException {
    this(dir, List.of(IscsiConfig.Target.of(IQN, Map.of(0, "demo"))));
  }

  TargetFixture(Path dir, List<IscsiConfig.Target> targets) throws IOException, InterruptedException {
    this(dir, targets, 512);
  }

  TargetFixture(Path dir, List<IscsiConfig.Target> targets, int blockSize) throws IOException, InterruptedException {
    engine = TestEngines.start(dir);
    engine.create(new VolumeSpec("demo", "default", SIZE_BYTES, blockSize, VolumeSpec.SCO_SIZE_MIN, CachePolicy.ON_READ));
    target = IscsiTarget.start(config(dir, targets), engine::volume);
  }

  static IscsiConfig config(Path dir, List<IscsiConfig.Target> targets) {
    return IscsiConfig.of("127.0.0.1", 0, targets).withReservationsDir(dir.resolve("iscsi"));
  }

  int port() {
    return target.localAddress().getPort();
  }

  String portal() {
    return "iscsi://127.0.0.1:" + port();
  }

  String lunUrl(int lun) {
    return portal() + "/" + IQN + "/" + lun;
  }

  @Override
  public void close() throws IOException {
    target.close();
    engine.close();
  }
}
