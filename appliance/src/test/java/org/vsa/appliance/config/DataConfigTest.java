package org.vsa.appliance.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.appliance.config.Sizes.GiB;
import static org.vsa.appliance.config.Sizes.MiB;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.CachePolicy;
import org.vsa.dtl.DtlMode;
import org.vsa.volume.SnapshotRetention;
import org.vsa.volume.VolumeSettings;

/** Per-vDisk settings and the snapshot and scrub schedules in the configuration. */
class DataConfigTest {
  @TempDir
  Path work;

  private ApplianceConfig parse(String yaml) throws ConfigException {
    return new ConfigLoader(work).parse(yaml, "test.yaml", ConfigOverrides.none());
  }

  @Test
  void defaultsAreHourlySnapshotsWithTieredRetentionAndADailyScrub() throws Exception {
    ApplianceConfig c = new ConfigLoader(work).loadDefault(ConfigOverrides.none());
    assertTrue(c.snapshots().enabled());
    assertEquals(Duration.ofHours(1), c.snapshots().schedule().interval());
    assertEquals(SnapshotRetention.Policy.defaults(), c.snapshots().schedule().retention());
    assertTrue(c.scrub().enabled());
    assertEquals(Duration.ofDays(1), c.scrub().interval());
    assertEquals(0.5, c.scrub().options().fillRatioMax());
    assertEquals(new VolumeSettings(DtlMode.NONE, CachePolicy.ON_READ, 0, false),
        c.volumeSettings(c.vdisks().get(0)));
  }

  @Test
  void vdiskSettingsAndSchedulesAreRead() throws Exception {
    ApplianceConfig c = parse("""
        vpools: [{name: fast, scoSize: 8MiB, cachePolicy: on-write}]
        vdisks:
          - {name: db, vpool: fast, size: 10GiB, scoSize: 16MiB, dtlMode: sync, readCacheQuota: 256MiB, dedupe: true}
        snapshots:
          every: 30m
          vpool: fast
          vdisks: [db]
          retention: [{every: 30m, for: 12h}, {every: 1d, for: 2w}]
        scrub: {enabled: false, every: 12h, fillPercent: 30, rate: 0}
        """);
    assertEquals(16 * MiB, c.volumeSpec(c.vdisks().get(0)).scoSizeBytes());
    assertEquals(10 * GiB, c.volumeSpec(c.vdisks().get(0)).sizeBytes());
    assertEquals(new VolumeSettings(DtlMode.SYNC, CachePolicy.ON_WRITE, 256 * MiB, true), c.volumeSettings(c.vdisks().get(0)));
    assertEquals(Duration.ofMinutes(30), c.snapshots().schedule().interval());
    assertEquals("fast", c.snapshots().schedule().vpool());
    assertEquals(List.of("db"), c.snapshots().schedule().vdisks());
    assertEquals(List.of(new SnapshotRetention.Tier(Duration.ofMinutes(30), Duration.ofHours(12)),
        new SnapshotRetention.Tier(Duration.ofDays(1), Duration.ofDays(14))), c.snapshots().schedule().retention().tiers());
    assertFalse(c.scrub().enabled());
    assertEquals(Duration.ofHours(12), c.scrub().interval());
    assertEquals(0.3, c.scrub().options().fillRatioMax(), 1e-9);
    assertEquals(0, c.scrub().options().bytesPerSecondMax());
    // a vDisk without scoSize takes its vPool's
    ApplianceConfig d = parse("vpools: [{name: p, scoSize: 8MiB}]\nvdisks: [{name: x, vpool: p}]\n");
    assertEquals(8 * MiB, d.volumeSpec(d.vdisks().get(0)).scoSizeBytes());
  }
}
