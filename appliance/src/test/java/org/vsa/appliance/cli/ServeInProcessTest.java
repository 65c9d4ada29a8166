package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.StopSignals;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;

/** {@code vsa serve} start to stop in-process, with a stop request that is already there. Needs the engine. */
class ServeInProcessTest {

  @TempDir
  Path work;

  @Test
  @Timeout(60)
  void servesUntilAskedToStopThenExitsZero() throws Exception {
    AtomicInteger installs = new AtomicInteger();
    CompletableFuture<Void> stoppedSeen = new CompletableFuture<>();
    StopSignals stopAtOnce = (requestStop, stopped) -> {
      installs.incrementAndGet();
      requestStop.run();
      requestStop.run(); // a second signal while stopping changes nothing
      stopped.whenComplete((v, e) -> stoppedSeen.complete(null));
    };

    CliRun run = CliRun.run(work, stopAtOnce, "serve", "--mgmt-port", "0", "--dtl-port", "0", "--iscsi-port", "0", "--nfs-port", "0", "--mount-port", "0", "--portmap", "none", "--data-dir", "data");

    assertEquals(0, run.exitCode(), run.err());
    assertEquals("", run.err());
    assertEquals(1, installs.get());
    assertTrue(stoppedSeen.isDone(), "serve completes 'stopped' so that a fallback shutdown hook can return");
    Path data = work.resolve("data");
    for (String dir : List.of("writebuffer", "metadata", "readcache", "backend")) {
      assertTrue(Files.isDirectory(data.resolve(dir)), dir);
    }

    // The demo vDisk is there for the next start, which creates nothing.
    try (Appliance again = Appliance.start(
        new ConfigLoader(work).loadDefault(new ConfigOverrides().set("node.dataDir", "--data-dir", "data").set("iscsi.port", "--iscsi-port", 0).set("nfs.port", "--nfs-port", 0).set("nfs.mountPort", "--mount-port", 0).set("nfs.portmap", "--portmap", "none").set("dtl.port", "--dtl-port", 0).set("management.port", "--mgmt-port", 0)))) {
      assertEquals(List.of(), again.createdVdisks());
      assertTrue(again.engine().volume("demo").isPresent());
    }
  }
}
