package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * MNT while the export's namespace is unavailable (JUKEBOX: a cluster takeover under way, or this
 * node not yet knowing the new owner): MOUNT has no retryable error, so the server waits for the
 * namespace (bounded) rather than failing the client's mount at once. With libnfs's nfs-ls.
 */
class MountWaitTest {
  @TempDir
  Path dir;

  /** The namespace, refusing with JUKEBOX (as a cluster namespace without an owner does) while {@code open} is false. */
  private static Namespace gated(Namespace inner, AtomicBoolean open, AtomicInteger refusals) {
    return (Namespace) Proxy.newProxyInstance(Namespace.class.getClassLoader(), new Class<?>[] {Namespace.class},
        (proxy, m, args) -> {
          if (m.getName().equals("close")) {
            return null; // the test closes the inner one
          }
          if (m.getName().equals("getattr") && !open.get()) {
            refusals.incrementAndGet();
            throw new NamespaceUnavailableException("vPool default: no node serves its namespace now", false);
          }
          try {
            return m.invoke(inner, args);
          } catch (InvocationTargetException e) {
            throw e.getCause();
          }
        });
  }

  @Test
  void aMountWaitsForTheNamespaceAndFailsOnlyAfterTheBound() throws Exception {
    Tools.requireInstalled();
    try (Engine engine = TestEngines.start(dir.resolve("engine"));
        LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), new EngineCatalog(engine),
            NfsConfig.DEFAULT_VDISK_PATTERNS)) {
      ns.create(ns.rootId(), "before.txt", 0, 0, SetAttr.NONE, true);
      AtomicBoolean open = new AtomicBoolean();
      AtomicInteger refusals = new AtomicInteger();
      NfsConfig config = NfsConfig.defaults(dir.resolve("front")).withPorts(0, 0).withPortmap(NfsConfig.Portmap.NONE)
          .withExports(List.of(Export.open("default")));
      try (NfsServer server = NfsServer.start(config, new EngineCatalog(engine), v -> gated(ns, open, refusals))) {
        String url = "nfs://127.0.0.1/default/?nfsport=" + server.localAddress().getPort() + "&mountport="
            + server.mountAddress().getPort() + "&version=3";
        // the namespace comes back while the MNT waits: the mount succeeds
        CompletableFuture<Tools.Result> ls = CompletableFuture.supplyAsync(() -> run(url));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (refusals.get() < 3) {
          assertTrue(System.nanoTime() < deadline && !ls.isDone(), "the MNT keeps asking while it waits: "
              + refusals.get() + " refusals" + (ls.isDone() ? ", nfs-ls ended: " + ls.join() : ""));
          Thread.sleep(10);
        }
        open.set(true);
        Tools.Result r = ls.get(60, TimeUnit.SECONDS);
        assertEquals(0, r.exit(), r.toString());
        assertTrue(r.out().contains("before.txt"), r.out());
        // it never comes back: the mount fails after the bound, not before, and no later than the tool's timeout
        open.set(false);
        int before = refusals.get();
        long t0 = System.nanoTime();
        Tools.Result failed = run(url);
        long waitedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertNotEquals(0, failed.exit(), failed.toString());
        assertTrue(failed.toString().contains("SERVERFAULT"), failed.toString());
        assertTrue(waitedMillis >= MountProgram.UNAVAILABLE_WAIT_MILLIS - 1000, "refused after " + waitedMillis + " ms");
        assertTrue(refusals.get() - before > 10, "asked again while waiting: " + (refusals.get() - before));
      }
    }
  }

  private static Tools.Result run(String url) {
    try {
      return Tools.run(60, "nfs-ls", url);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
