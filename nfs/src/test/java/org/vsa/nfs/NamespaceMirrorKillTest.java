package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.SharedObjects;

/**
 * The owner of a mirrored namespace (a child JVM) is killed with SIGKILL while it creates files and
 * makes DURABLE writes; its local directory is then ignored (as if the node were lost) and the
 * namespace restored from the backend into another directory: every file and byte it acknowledged
 * is there.
 */
class NamespaceMirrorKillTest {
  @TempDir
  Path dir;

  @Test
  void everyAcknowledgedCreateAndWriteSurvivesTheOwnersKill9() throws Exception {
    for (int round = 0; round < 2; round++) {
      killAndRestore(dir.resolve("round" + round), 60 + round * 150);
    }
  }

  private void killAndRestore(Path d, int acksBeforeKill) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        NamespaceMirrorChild.class.getName(), d.toString());
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    int threads = NamespaceMirrorChild.THREADS;
    AtomicIntegerArray acked = new AtomicIntegerArray(threads);
    for (int t = 0; t < threads; t++) {
      acked.set(t, -1);
    }
    AtomicInteger total = new AtomicInteger();
    CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          String[] f = line.split(" ");
          if (f.length == 3 && f[0].equals("A")) {
            int t = Integer.parseInt(f[1]);
            int i = Integer.parseInt(f[2]);
            assertEquals(acked.get(t) + 1, i, "thread " + t + " acknowledges in order");
            acked.set(t, i);
            total.incrementAndGet();
          }
        }
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (total.get() < acksBeforeKill && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(5); // polling the child's progress, bounded by the deadline
      }
      assertTrue(p.isAlive(), "the child died by itself (exit " + (p.isAlive() ? "" : p.exitValue()) + ")");
      assertTrue(total.get() >= acksBeforeKill, "acknowledged before the kill: " + total.get());
    } finally {
      p.destroyForcibly(); // SIGKILL
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    }
    reader.get(30, TimeUnit.SECONDS); // every line the child printed before it died

    try (LocalDirectoryObjectStore store = new LocalDirectoryObjectStore(d.resolve("backend"))) {
      NamespaceMirror.restore(SharedObjects.over(store), "default", d.resolve("restored"));
    }
    try (LocalNamespace ns = LocalNamespace.open("default", d.resolve("restored"), JournalTest.NONE, List.of())) {
      for (int t = 0; t < threads; t++) {
        int last = acked.get(t);
        for (int i = 0; i <= last; i++) {
          long f = ns.lookup(ns.rootId(), "t" + t + "-" + i);
          assertArrayEquals(NamespaceMirrorChild.file(t, i), read(ns, f, NamespaceMirrorChild.file(t, i).length),
              "file t" + t + "-" + i);
        }
        long log = ns.lookup(ns.rootId(), "log" + t);
        int len = (last + 1) * NamespaceMirrorChild.LOG_WRITE_BYTES;
        assertTrue(ns.getattr(log).size() >= len, "log" + t + " is " + ns.getattr(log).size() + " bytes");
        byte[] got = read(ns, log, len);
        for (int i = 0; i <= last; i++) {
          int at = i * NamespaceMirrorChild.LOG_WRITE_BYTES;
          assertArrayEquals(NamespaceMirrorChild.logWrite(t, i),
              Arrays.copyOfRange(got, at, at + NamespaceMirrorChild.LOG_WRITE_BYTES), "log" + t + " write " + i);
        }
      }
    }
  }

  private static byte[] read(LocalNamespace ns, long id, int len) throws NfsException {
    assertEquals(len, Math.min(len, ns.getattr(id).size()));
    ByteBuffer b = ByteBuffer.allocate(len);
    while (b.hasRemaining()) {
      if (ns.read(id, b.position(), b).count() == 0) {
        break;
      }
    }
    return b.array();
  }
}
