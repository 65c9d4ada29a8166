package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.nfs.remote.NamespaceUnavailableException;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.Durability;
import org.vsa.volume.TestEngines;

/**
 * The namespace's owner is a child JVM, killed with SIGKILL under a stream of DURABLE writes and
 * metadata changes forwarded to it: the forwarding node gets the retryable error (JUKEBOX), then,
 * the owner restarted on its port, reconnects by itself and finds every acknowledged write and
 * change, under the same file ids.
 */
class NamespaceOwnerKillTest {
  @TempDir
  Path dir;

  record Child(Process process, int port) {}

  Child start(int port) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        NamespaceOwnerChild.class.getName(), dir.toString(), Integer.toString(port));
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    for (String line; (line = r.readLine()) != null; ) {
      if (line.startsWith("PORT ")) {
        return new Child(p, Integer.parseInt(line.substring(5).trim()));
      }
    }
    p.destroyForcibly();
    throw new AssertionError("the owner process did not start");
  }

  @Test
  void acknowledgedWritesSurviveTheOwnersKill9AndTheClientReconnects() throws Exception {
    Child owner = start(0);
    int port = owner.port();
    RemoteNamespace.Config config = new RemoteNamespace.Config(Duration.ofMillis(500), Duration.ofSeconds(20), 16);
    AtomicInteger acked = new AtomicInteger(-1);
    long file;
    long dirId;
    Throwable failure;
    try (RemoteNamespace remote = RemoteNamespace.open(new InetSocketAddress("127.0.0.1", port), "default", config)) {
      long nsId = remote.namespaceId();
      dirId = remote.mkdir(remote.rootId(), "vm", 0, 0, SetAttr.NONE);
      file = remote.create(dirId, "log.txt", 0, 0, SetAttr.NONE, true);
      CompletableFuture<Throwable> writer = CompletableFuture.supplyAsync(() -> {
        try {
          for (int i = 0; i < 1_000_000; i++) {
            remote.write(file, (long) i * 4096, ByteBuffer.wrap(TestEngines.pattern(i, 4096)), Durability.DURABLE);
            if (i % 16 == 0) {
              remote.create(dirId, "f" + i, 0, 0, SetAttr.NONE, true);
            }
            acked.set(i);
          }
          return null;
        } catch (Throwable t) {
          return t;
        }
      });
      for (int i = 0; i < 600 && acked.get() < 64 && !writer.isDone(); i++) {
        Thread.sleep(50);
      }
      assertTrue(acked.get() >= 64, "writes acknowledged before the kill: " + acked.get());
      owner.process().destroyForcibly(); // SIGKILL
      assertTrue(owner.process().waitFor(30, TimeUnit.SECONDS));
      failure = writer.get(60, TimeUnit.SECONDS);
      assertNotNull(failure, "the writer went on without its owner");
      assertTrue(failure instanceof NamespaceUnavailableException, String.valueOf(failure));
      assertEquals(Status.JUKEBOX, ((NfsException) failure).status());
      int last = acked.get();

      owner = start(port);
      Attr a = null;
      for (int i = 0; i < 200 && a == null; i++) {
        try {
          a = remote.getattr(file);
        } catch (NamespaceUnavailableException e) {
          Thread.sleep(100); // at most one connection attempt per connect timeout
        }
      }
      assertNotNull(a, "reconnected to the restarted owner");
      assertEquals(nsId, remote.namespaceId());
      assertTrue(a.size() >= (long) (last + 1) * 4096, "size " + a.size() + " for " + (last + 1) + " writes");
      for (int i = 0; i <= last; i++) {
        ByteBuffer b = ByteBuffer.allocate(4096);
        remote.read(file, (long) i * 4096, b);
        assertArrayEquals(TestEngines.pattern(i, 4096), b.array(), "acknowledged write " + i);
        if (i % 16 == 0) {
          remote.lookup(dirId, "f" + i); // NOENT would throw
        }
      }
      assertEquals(file, remote.lookup(dirId, "log.txt"));
    } finally {
      owner.process().destroyForcibly();
      owner.process().waitFor(30, TimeUnit.SECONDS);
    }
  }
}
