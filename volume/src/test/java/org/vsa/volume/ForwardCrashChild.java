package org.vsa.volume;

import java.nio.file.Path;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * The owner the forwarding crash test kills: opens (recovering) the engine in a data directory,
 * creates vDisk {@code fwd} if it is not there, serves it with a {@link RemoteVolumeServer} on an
 * ephemeral port of 127.0.0.1, prints {@code PORT n} and {@code READY}, and serves until killed.
 */
public final class ForwardCrashChild {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long size = Long.parseLong(args[1]);
    Engine e = TestEngines.start(dir);
    if (e.volume("fwd").isEmpty()) {
      e.create(TestEngines.spec("fwd", size));
    }
    RemoteVolumeServer s = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
        name -> e.handle(name).map(v -> v));
    System.out.println("PORT " + s.localAddress().getPort());
    System.out.println("READY");
    System.out.flush();
    new java.util.concurrent.CountDownLatch(1).await();
  }
}
