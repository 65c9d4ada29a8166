package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.appliance.config.Sizes.GiB;
import static org.vsa.appliance.config.Sizes.MiB;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.VolumeSpec;

/** The lifecycle against the real engine (needs the engine). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ApplianceTest {

  @TempDir
  Path work;

  private ApplianceConfig config(String yaml) throws Exception {
    return new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\nmanagement: {port: 0}\niscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n" + yaml, "test", ConfigOverrides.none());
  }

  @Test
  void createsMissingVdisksOnceAndARestartFindsThem() throws Exception {
    ApplianceConfig config = config("""
        vpools: [{name: p, scoSize: 8MiB, cachePolicy: on-write}]
        vdisks: [{name: a, vpool: p, size: 16MiB, blockSize: 4096}, {name: b, vpool: p, size: 1GiB}]
        writeBuffer: {capacity: 64MiB}
        readCache: {capacity: 16MiB}
        """);

    try (Appliance first = Appliance.start(config)) {
      assertEquals(List.of("a", "b"), first.createdVdisks());
      assertEquals(new VolumeSpec("a", "p", 16 * MiB, 4096, 8 * MiB, CachePolicy.ON_WRITE),
          first.engine().volume("a").orElseThrow().spec());
      assertEquals(GiB, first.engine().volume("b").orElseThrow().sizeBytes());
    }
    Path data = work.resolve("data");
    for (String dir : List.of("writebuffer", "metadata", "readcache", "backend")) {
      assertTrue(Files.isDirectory(data.resolve(dir)), dir);
    }

    try (Appliance second = Appliance.start(config)) {
      assertEquals(List.of(), second.createdVdisks());
      assertEquals(List.of("a", "b"), second.engine().volumes().stream().map(v -> v.name()).toList());
    }
  }

  @Test
  void anExistingVdiskIsLeftAsItIsWhenTheConfigSaysOtherwise() throws Exception {
    try (Appliance first = Appliance.start(config("vdisks: [{name: d, size: 1GiB}]"))) {
      assertEquals(List.of("d"), first.createdVdisks());
    }
    try (Appliance second = Appliance.start(config("vdisks: [{name: d, size: 2GiB}]"))) {
      assertEquals(List.of(), second.createdVdisks());
      assertEquals(GiB, second.engine().volume("d").orElseThrow().sizeBytes());
    }
  }

  @Test
  void stopIsDoneOnceAndEveryCallerGetsItsOutcome() throws Exception {
    Appliance appliance = Appliance.start(config("vdisks: [{name: d}]"));
    CyclicBarrier together = new CyclicBarrier(2);
    CompletableFuture<Boolean> other = CompletableFuture.supplyAsync(() -> {
      try {
        together.await(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      return appliance.stop();
    });
    together.await(10, TimeUnit.SECONDS);
    assertTrue(appliance.stop());
    assertTrue(other.get(30, TimeUnit.SECONDS));
    assertTrue(appliance.stop());
    appliance.close();
  }

  @Test
  void aSecondApplianceOnTheSameDataDirIsRefusedAndTheFirstRunsOn() throws Exception {
    ApplianceConfig config = config("vdisks: [{name: d}]");
    try (Appliance first = Appliance.start(config)) {
      StartupException e = assertThrows(StartupException.class, () -> Appliance.start(config));
      assertTrue(e.getMessage().contains("is in use by another vsa process"), e.getMessage());
      assertTrue(first.engine().volume("d").isPresent());
    }
    // Released at stop: the next start succeeds.
    Appliance.start(config).stop();
  }

  @Test
  void startsWithTheReadCacheDisabled() throws Exception {
    try (Appliance appliance = Appliance.start(config("readCache: {capacity: 0}\nvdisks: [{name: d}]"))) {
      assertEquals(List.of("d"), appliance.createdVdisks());
      assertTrue(appliance.engine().volume("d").isPresent());
      assertFalse(appliance.config().readCache().enabled());
    }
  }
}
