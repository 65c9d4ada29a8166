package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The iSCSI durability promise across SIGKILL: a WRITE with FUA, and a WRITE without FUA
 * followed by SYNCHRONIZE CACHE, are on the LUN after the target process is killed and
 * restarted; iscsi-ls sees the LUN again.
 */
class KillTest {
  @TempDir Path dir;

  @Test
  void fuaAndSynchronizedWritesSurviveKillNine() throws Exception {
    Random rnd = new Random(11);
    byte[] fua = new byte[64 * 512];
    byte[] synced = new byte[128 * 512];
    byte[] after = new byte[8 * 512];
    rnd.nextBytes(fua);
    rnd.nextBytes(synced);
    rnd.nextBytes(after);

    Process p = start();
    try (RawInitiator r = new RawInitiator(port(p))) {
      assertEquals(0, r.login(TargetFixture.IQN, Map.of()).u8(36), "login");
      assertEquals(0, r.scsi(0, RawInitiator.write10(5000, 128, false), synced, 0).status(), "write");
      assertEquals(0, r.scsi(0, new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, null, 0).status(), "SYNCHRONIZE CACHE");
      // acknowledged but neither FUA nor synchronized: may or may not survive
      assertEquals(0, r.scsi(0, RawInitiator.write10(9000, 8, false), after, 0).status(), "write");
      // last, so that nothing after it could make it durable but its own FUA
      assertEquals(0, r.scsi(0, RawInitiator.write10(1000, 64, true), fua, 0).status(), "FUA write");
    }
    p.toHandle().destroyForcibly(); // SIGKILL, without closing our end of its pipes
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));

    Process again = start();
    try (RawInitiator r = new RawInitiator(port(again))) {
      assertEquals(0, r.login(TargetFixture.IQN, Map.of()).u8(36), "login after restart");
      RawInitiator.Result a = r.scsi(0, RawInitiator.read10(1000, 64), null, fua.length);
      assertEquals(0, a.status());
      assertArrayEquals(fua, a.data(), "the FUA write survived");
      RawInitiator.Result b = r.scsi(0, RawInitiator.read10(5000, 128), null, synced.length);
      assertEquals(0, b.status());
      assertArrayEquals(synced, b.data(), "the synchronized write survived");
      RawInitiator.Result c = r.scsi(0, RawInitiator.read10(9000, 8), null, after.length);
      assertTrue(java.util.Arrays.equals(after, c.data()) || java.util.Arrays.equals(new byte[after.length], c.data()),
          "an unsynchronized write is either all there or not at all");
      Tools.Result ls = Tools.run(60, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + port(again));
      assertEquals(0, ls.exit(), ls.out());
    } finally {
      again.toHandle().destroyForcibly();
      again.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /**
   * The same promise with libiscsi as the initiator (a small C client over libiscsi's API, built
   * here with gcc): WRITE(16) with FUA, and WRITE(16) + SYNCHRONIZE CACHE(16), each through its own
   * session; SIGKILL; the bytes read back with libiscsi's READ(16) after the restart.
   */
  @Test
  void libiscsiWritesWithFuaOrSynchronizeCacheSurviveKillNine() throws Exception {
    String io = LibiscsiIo.build();
    Random rnd = new Random(12);
    byte[] fua = new byte[256 * 512];
    byte[] synced = new byte[2048 * 512]; // 1 MiB: several Data-Out bursts
    rnd.nextBytes(fua);
    rnd.nextBytes(synced);
    java.nio.file.Files.write(dir.resolve("fua.bin"), fua);
    java.nio.file.Files.write(dir.resolve("synced.bin"), synced);

    Process p = start();
    String url = "iscsi://127.0.0.1:" + port(p) + "/" + TargetFixture.IQN + "/0";
    Tools.ok(60, io, "write", url, "20000", dir.resolve("synced.bin").toString(), "sync");
    Tools.ok(60, io, "write", url, "3000", dir.resolve("fua.bin").toString(), "fua");
    p.toHandle().destroyForcibly(); // SIGKILL
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));

    Process again = start();
    try {
      String url2 = "iscsi://127.0.0.1:" + port(again) + "/" + TargetFixture.IQN + "/0";
      Tools.ok(60, io, "read", url2, "3000", "256", dir.resolve("fua.out").toString());
      Tools.ok(60, io, "read", url2, "20000", "2048", dir.resolve("synced.out").toString());
      assertArrayEquals(fua, java.nio.file.Files.readAllBytes(dir.resolve("fua.out")), "the FUA write survived");
      assertArrayEquals(synced, java.nio.file.Files.readAllBytes(dir.resolve("synced.out")),
          "the synchronized write survived");
    } finally {
      again.toHandle().destroyForcibly();
      again.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private final java.util.Map<Process, CompletableFuture<Integer>> ports = new java.util.HashMap<>();

  private Process start() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        KillChild.class.getName(), dir.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    CompletableFuture<Integer> port = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          if (line.startsWith("PORT ")) {
            port.complete(Integer.parseInt(line.substring(5).trim()));
          }
        }
      } catch (java.io.IOException ignored) {
        // the child died
      }
      port.completeExceptionally(new IllegalStateException("the target process ended without a port"));
    });
    reader.setDaemon(true);
    reader.start();
    ports.put(p, port);
    return p;
  }

  private int port(Process p) throws Exception {
    return ports.get(p).get(60, TimeUnit.SECONDS);
  }
}
