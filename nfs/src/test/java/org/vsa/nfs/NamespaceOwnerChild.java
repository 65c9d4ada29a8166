package org.vsa.nfs;

import java.nio.file.Path;
import java.util.Optional;
import org.vsa.nfs.remote.NamespaceServer;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/** The owner process of {@link NamespaceOwnerKillTest}: serves vPool default's namespace, prints its port, waits to be killed. */
public final class NamespaceOwnerChild {
  private NamespaceOwnerChild() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    Engine engine = TestEngines.start(dir.resolve("engine"));
    LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
        NfsConfig.DEFAULT_VDISK_PATTERNS);
    NamespaceServer server = NamespaceServer.start(NamespaceServer.Config.defaults().withPort(Integer.parseInt(args[1])),
        v -> v.equals("default") ? Optional.of(ns) : Optional.empty());
    System.out.println("PORT " + server.localAddress().getPort());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
