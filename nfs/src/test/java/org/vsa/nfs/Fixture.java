package org.vsa.nfs;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/** An engine with vDisk {@code demo} and an NFS server on ephemeral ports, no portmapper. */
final class Fixture implements AutoCloseable {
  final Path dir;
  final Engine engine;
  final EngineCatalog catalog;
  NfsServer server;

  Fixture(Path dir, List<Export> exports) throws IOException {
    this.dir = dir;
    this.engine = TestEngines.start(dir.resolve("engine"));
    this.catalog = new EngineCatalog(engine);
    if (engine.volume("demo").isEmpty()) {
      catalog.create("demo", "default", 16L << 20);
    }
    this.server = NfsServer.start(config(exports), catalog);
  }

  Fixture(Path dir) throws IOException {
    this(dir, List.of(Export.open("default")));
  }

  NfsConfig config(List<Export> exports) {
    return NfsConfig.defaults(dir.resolve("namespace")).withPorts(0, 0).withPortmap(NfsConfig.Portmap.NONE)
        .withExports(exports);
  }

  /** Stops and starts the NFS server (not the engine): a new write verifier, the same namespace. */
  void restartServer(List<Export> exports) throws IOException {
    server.close();
    server = NfsServer.start(config(exports), catalog);
  }

  int nfsPort() {
    return server.localAddress().getPort();
  }

  int mountPort() {
    return server.mountAddress().getPort();
  }

  /** A libnfs URL for {@code path} (e.g. {@code /default/demo.raw}). */
  String url(String path) {
    return "nfs://127.0.0.1" + path + "?nfsport=" + nfsPort() + "&mountport=" + mountPort() + "&version=3";
  }

  @Override
  public void close() throws IOException {
    try {
      server.close();
    } finally {
      engine.close();
    }
  }
}
