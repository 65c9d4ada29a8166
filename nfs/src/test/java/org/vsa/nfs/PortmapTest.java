package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * With {@link NfsConfig.Portmap#REGISTER_OR_EMBED} a client finds MOUNT and NFS through port 111
 * alone: an embedded portmapper when none runs (binding 111 needs root), or the system's.
 *
 * <p>Port 111 is machine-wide: another program registering or unregistering NFS there at the
 * same time (another vsa under test, say) can undo this server's registration, so the test
 * tries up to three times before it fails.
 */
class PortmapTest {
  @TempDir
  Path dir;

  @Test
  void aClientFindsTheServerThroughThePortmapper() throws Exception {
    try (Engine engine = TestEngines.start(dir.resolve("engine"))) {
      EngineCatalog catalog = new EngineCatalog(engine);
      catalog.create("demo", "default", 1L << 20);
      NfsConfig config = NfsConfig.defaults(dir.resolve("ns")).withPorts(0, 0);
      StringBuilder failures = new StringBuilder();
      for (int attempt = 1; attempt <= 3; attempt++) {
        try (NfsServer server = NfsServer.start(config, catalog)) {
          Tools.Result r = Tools.run(60, "nfs-ls", "nfs://127.0.0.1/default/?version=3");
          if (r.exit() == 0 && r.out().contains("demo.raw")) {
            return;
          }
          failures.append("attempt ").append(attempt).append(" (server ").append(server.localAddress())
              .append("): exit ").append(r.exit()).append(' ').append(r.err()).append(r.out()).append('\n');
        }
        Thread.sleep(2000);
      }
      fail("nfs-ls through the portmapper failed:\n" + failures);
    }
  }
}
