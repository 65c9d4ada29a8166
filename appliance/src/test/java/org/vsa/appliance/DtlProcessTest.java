package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.vsa.iscsi.RawInitiator;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.dtl.DtlState;
import org.vsa.volume.LocalVolumes;

/**
 * Two appliance processes on 127.0.0.1: A serves vDisk {@code vd} over iSCSI with DTL mode sync,
 * its DTL on B. Writers log every WRITE the target acknowledged. Then either A is killed with
 * SIGKILL, its write buffer wiped and A restarted (the vDisk comes back from the backend plus B's
 * DTL, and every acknowledged write reads back), or B is killed mid-load (writes go on without an
 * error; A reports DEGRADED).
 */
class DtlProcessTest {
  private static final String RUNNING = "vsa running: ";
  private static final String IQN = "iqn.2026-11.org.vsa:default";
  private static final int BLOCKS = 8; // 4 KiB writes
  private static final int WRITERS = 2;
  private static final long SPAN_BLOCKS = 8192 * BLOCKS; // each writer's own 32 MiB

  @TempDir Path work;


  private Serve startB(int dtlPort) throws Exception {
    Path b = work.resolve("b");
    Files.createDirectories(b);
    Serve s = Serve.start(b, "serve", "--dtl-port", Integer.toString(dtlPort), "--iscsi-port", "0", "--nfs-port", "0",
        "--mount-port", "0", "--portmap", "none", "--data-dir", b.resolve("data").toString());
    s.awaitStdout(l -> l.contains(RUNNING), Serve.START_TIMEOUT);
    return s;
  }

  /** {@code ackTimeoutMillis}: long where a spurious DEGRADED would leave writes unprotected. */
  private Path configA(int iscsiPort, int dtlPortB, int ackTimeoutMillis) throws Exception {
    Path a = work.resolve("a");
    Files.createDirectories(a);
    Path cfg = a.resolve("vsa.yaml");
    Files.writeString(cfg, String.join("\n",
        "node: {dataDir: " + a.resolve("data") + "}",
        "management: {port: 0}",
        "dtl: {port: 0, ackTimeoutMillis: " + ackTimeoutMillis + "}",
        "iscsi: {port: " + iscsiPort + "}",
        "nfs: {enabled: false}",
        "vpools: [{name: default, scoSize: 4MiB}]",
        "vdisks: [{name: vd, vpool: default, size: 128MiB, blockSize: 512, dtlMode: sync, dtlPeer: 127.0.0.1:" + dtlPortB + "}]",
        ""));
    return cfg;
  }

  private Serve startA(Path cfg) throws Exception {
    Serve s = Serve.start(cfg.getParent(), "serve", "--config", cfg.toString());
    s.awaitStdout(l -> l.contains(RUNNING), Serve.START_TIMEOUT);
    return s;
  }

  static Map<String, String> ops() {
    Map<String, String> m = new java.util.LinkedHashMap<>();
    m.put("HeaderDigest", "None");
    m.put("DataDigest", "None");
    m.put("MaxRecvDataSegmentLength", "8192");
    m.put("InitialR2T", "Yes");
    m.put("ImmediateData", "Yes");
    m.put("FirstBurstLength", "16384");
    m.put("MaxBurstLength", "65536");
    m.put("ErrorRecoveryLevel", "0");
    m.put("MaxConnections", "1");
    return m;
  }

  static byte[] block(long lba, int round) {
    byte[] b = new byte[BLOCKS * 512];
    new Random(lba * 31 + round).nextBytes(b);
    return b;
  }

  /** Writers that log what was acknowledged: lba -> data of the last acknowledged write there. */
  private static final class Load {
    final Map<Long, byte[]> acked = new ConcurrentHashMap<>();
    final AtomicInteger acks = new AtomicInteger();
    final AtomicInteger acksAfterMark = new AtomicInteger();
    final AtomicBoolean mark = new AtomicBoolean();
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicReference<String> error = new AtomicReference<>();
    final Thread[] threads = new Thread[WRITERS];

    Load(int port, int round) {
      for (int t = 0; t < WRITERS; t++) {
        int w = t;
        threads[t] = new Thread(() -> {
          try (RawInitiator i = new RawInitiator(port)) {
            i.isid += w + 1; // one session per writer
            if (i.login(IQN, ops()).u8(36) != 0) {
              error.set("login refused");
              return;
            }
            for (long n = 0; n < SPAN_BLOCKS / BLOCKS && !stop.get(); n++) {
              long lba = w * SPAN_BLOCKS + n * BLOCKS;
              byte[] data = block(lba, round);
              RawInitiator.Result r = i.scsi(0, RawInitiator.write10(lba, BLOCKS, false), data, 0);
              if (r.status() != 0) {
                error.set("WRITE at " + lba + " failed with status " + r.status());
                return;
              }
              acked.put(lba, data);
              acks.incrementAndGet();
              if (mark.get()) {
                acksAfterMark.incrementAndGet();
              }
            }
          } catch (Exception e) {
            if (!stop.get()) {
              error.compareAndSet(null, e.toString());
            }
          }
        });
        threads[t].start();
      }
    }

    void awaitAcks(java.util.function.IntSupplier count, int n, String what) throws InterruptedException {
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (count.getAsInt() < n) {
        if (error.get() != null) {
          fail("a writer failed while waiting for " + what + ": " + error.get());
        }
        if (System.nanoTime() > deadline) {
          fail("only " + count.getAsInt() + " acknowledged writes within 90 s (" + what + ")");
        }
        Thread.sleep(5);
      }
    }

    void end() throws InterruptedException {
      stop.set(true);
      for (Thread t : threads) {
        t.join(30_000);
      }
    }
  }

  @Test
  void killNineOfTheOwnerAndLossOfItsWriteBufferLoseNoAcknowledgedWrite() throws Exception {
    int dtlB = FreePorts.next();
    int iscsiA = FreePorts.next();
    try (Serve b = startB(dtlB)) {
      Path cfg = configA(iscsiA, dtlB, 60_000);
      Load load;
      try (Serve a = startA(cfg)) {
        a.awaitStdoutSinceStart(l -> l.contains("vDisk vd: DTL state") && l.contains("-> OK_SYNC"), Serve.START_TIMEOUT);
        load = new Load(iscsiA, 1);
        try {
          load.awaitAcks(load.acks::get, 1500 + new Random().nextInt(1500), "load on A");
        } catch (AssertionError e) {
          throw new AssertionError(e.getMessage() + "\n" + a.report(), e);
        }
        a.killNine();
        load.end();
        assertTrue(a.stdout().stream().noneMatch(l -> l.contains("vDisk vd: DTL state OK_SYNC ->")),
            "the DTL stayed in sync while A was writing\n" + a.report());
      }
      assertTrue(load.acks.get() >= 1500);
      // A's flash is gone: its write buffer with it
      LocalVolumes.deleteTree(work.resolve("a").resolve("data").resolve("writebuffer"));
      try (Serve a = startA(cfg)) {
        assertTrue(a.stdout().stream().anyMatch(l -> l.contains("restoring it from the backend and its DTL")),
            "A restored vd from the backend and B's DTL\n" + a.report());
        try (RawInitiator r = new RawInitiator(iscsiA)) {
          assertEquals(0, r.login(IQN, ops()).u8(36));
          for (Map.Entry<Long, byte[]> e : load.acked.entrySet()) {
            RawInitiator.Result got = r.scsi(0, RawInitiator.read10(e.getKey(), BLOCKS), null, BLOCKS * 512);
            assertEquals(0, got.status());
            assertArrayEquals(e.getValue(), got.data(), "acknowledged write at LBA " + e.getKey());
          }
        }
        System.out.println(load.acked.size() + " acknowledged writes read back after kill -9 and restore");
      }
    }
  }

  @Test
  void killingTheDtlNodeMidLoadFailsNoWriteAndDegrades() throws Exception {
    int dtlB = FreePorts.next();
    int iscsiA = FreePorts.next();
    Serve b = startB(dtlB);
    try (Serve a = startA(configA(iscsiA, dtlB, 500))) {
      a.awaitStdoutSinceStart(l -> l.contains("vDisk vd: DTL state") && l.contains("-> OK_SYNC"), Serve.START_TIMEOUT);
      Load load = new Load(iscsiA, 2);
      load.awaitAcks(load.acks::get, 500, "load before the kill");
      b.killNine();
      load.mark.set(true);
      a.awaitStdout(l -> l.contains("vDisk vd: DTL state") && l.contains("-> DEGRADED"), Duration.ofSeconds(30));
      load.awaitAcks(load.acksAfterMark::get, 500, "load after the DTL died");
      load.end();
      assertEquals(null, load.error.get(), "no write failed");
    } finally {
      b.close();
    }
  }

  @Test
  void theApplianceReportsEachVdisksDtlState() throws Exception {
    int deadPort = FreePorts.next();
    String yaml = "node: {dataDir: data}\nmanagement: {port: 0}\ndtl: {port: 0, ackTimeoutMillis: 200}\niscsi: {enabled: false}\n"
        + "nfs: {enabled: false}\nvdisks: [{name: alone}, {name: guarded, dtlMode: async, dtlPeer: 127.0.0.1:" + deadPort
        + "}]\n";
    try (Appliance app = Appliance.start(new ConfigLoader(work).parse(yaml, "test", ConfigOverrides.none()))) {
      assertEquals(DtlState.OK_STANDALONE, app.dtlStates().get("alone"));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (app.dtlStates().get("guarded") != DtlState.DEGRADED) {
        assertTrue(System.nanoTime() < deadline, "guarded never DEGRADED: " + app.dtlStates());
        Thread.sleep(10);
      }
      assertTrue(app.dtlServer().isPresent());
    }
  }
}
