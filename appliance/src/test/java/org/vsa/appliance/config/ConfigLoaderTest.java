package org.vsa.appliance.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.appliance.config.Sizes.GiB;
import static org.vsa.appliance.config.Sizes.KiB;
import static org.vsa.appliance.config.Sizes.MiB;
import static org.vsa.appliance.config.Sizes.TiB;

import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.vsa.appliance.config.ApplianceConfig.BackendType;
import org.vsa.appliance.config.ApplianceConfig.Vdisk;
import org.vsa.appliance.config.ApplianceConfig.Vpool;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.VolumeSpec;

class ConfigLoaderTest {

  @TempDir
  Path work;

  private ConfigLoader loader() {
    return new ConfigLoader(work);
  }

  private ApplianceConfig parse(String yaml) throws ConfigException {
    return loader().parse(yaml, "test.yaml", ConfigOverrides.none());
  }

  @Test
  void embeddedDefaultIsOneNodeUnderVsaDataWithTheDemoVdisk() throws Exception {
    ApplianceConfig c = loader().loadDefault(ConfigOverrides.none());
    Path data = work.resolve("vsa-data");

    assertEquals(ConfigLoader.defaultNodeName(), c.node().name());
    assertEquals(data, c.node().dataDir());
    assertEquals(InetAddress.getByName("127.0.0.1"), c.node().bindAddress());
    assertEquals(data.resolve("writebuffer"), c.writeBuffer().dir());
    assertEquals(8 * GiB, c.writeBuffer().capacityBytes());
    assertEquals(data.resolve("readcache/readcache.bin"), c.readCache().file());
    assertEquals(GiB, c.readCache().capacityBytes());
    assertEquals(data.resolve("metadata"), c.metadata().dir());
    assertEquals(64 * MiB, c.metadata().cacheSizeBytes());
    assertEquals(BackendType.LOCAL, c.backend().type());
    assertEquals(data.resolve("backend"), c.backend().dir());
    assertEquals(200, c.groupCommit().maxWaitMicros());
    assertEquals(4 * MiB, c.groupCommit().maxBytes());
    assertEquals(2, c.upload().threads());
    assertEquals(List.of(new Vpool("default", 64 * MiB, CachePolicy.ON_READ)), c.vpools());
    assertEquals(List.of(new Vdisk("demo", "default", GiB, 512)), c.vdisks());

    // The defaults agree with the engine's own and with a thin vDisk's.
    assertEquals(EngineConfig.underDataDir(data, null), c.engineConfig(null));
    assertEquals(VolumeSpec.thin("demo", "default", GiB), c.volumeSpec(c.vdisks().get(0)));
  }

  @Test
  void anEmptyFileIsEveryDefaultButCreatesNoVdisk() throws Exception {
    ApplianceConfig empty = parse("");
    ApplianceConfig comments = parse("# nothing here\n");
    ApplianceConfig emptySections = parse("node:\nwriteBuffer:\nreadCache: {}\nvpools:\nvdisks:\n");
    ApplianceConfig dflt = loader().loadDefault(ConfigOverrides.none());

    assertEquals(List.of(), empty.vdisks());
    assertEquals(dflt.node(), empty.node());
    assertEquals(dflt.engineConfig(null), empty.engineConfig(null));
    assertEquals(dflt.vpools(), empty.vpools());
    assertEquals(empty, comments);
    assertEquals(empty, emptySections);
  }

  @Test
  void theExampleFileLoadsCleanlyAndSaysWhatTheDefaultIs() throws Exception {
    Path file = work.resolve("vsa.yaml");
    try (InputStream in = ConfigLoader.class.getResourceAsStream("/vsa.example.yaml")) {
      Files.copy(in, file);
    }
    ApplianceConfig example = loader().load(file, ConfigOverrides.none());
    assertEquals(loader().loadDefault(ConfigOverrides.none()), example);
  }

  @Test
  void everyKeySetReadsBackAsWritten() throws Exception {
    ApplianceConfig c = parse("""
        node:
          name: storage-1
          dataDir: /srv/vsa
          bindAddress: "::1"
        writeBuffer:
          dir: /flash/wb
          capacity: 512MiB
        readCache:
          file: /flash/rc/cache.bin
          capacity: 0
        metadata:
          dir: /flash/md
          cacheSize: 1GiB
        backend:
          type: local
          dir: /disk/backend
        groupCommit:
          maxWaitMicros: 0
          maxBytes: 64KiB
        upload:
          threads: 64
        vpools:
          - name: fast
            scoSize: 4MiB
            cachePolicy: on-write
          - name: cold
            scoSize: 128MiB
            cachePolicy: none
        vdisks:
          - name: db
            vpool: fast
            size: 10GiB
            blockSize: 4096
          - name: archive.1
            vpool: cold
            size: 64TiB
          - name: small
            vpool: cold
            size: 1MiB
        """);

    assertEquals("storage-1", c.node().name());
    assertEquals(Path.of("/srv/vsa"), c.node().dataDir());
    assertEquals(InetAddress.getByName("::1"), c.node().bindAddress());
    assertEquals(new ApplianceConfig.WriteBuffer(Path.of("/flash/wb"), 512 * MiB), c.writeBuffer());
    assertEquals(new ApplianceConfig.ReadCache(Path.of("/flash/rc/cache.bin"), 0), c.readCache());
    assertFalse(c.readCache().enabled());
    assertEquals(new ApplianceConfig.Metadata(Path.of("/flash/md"), GiB), c.metadata());
    assertEquals(new ApplianceConfig.Backend(BackendType.LOCAL, Path.of("/disk/backend")), c.backend());
    assertEquals(new ApplianceConfig.GroupCommit(0, 64 * KiB), c.groupCommit());
    assertEquals(64, c.upload().threads());
    assertEquals(List.of(
        new Vpool("fast", 4 * MiB, CachePolicy.ON_WRITE),
        new Vpool("cold", 128 * MiB, CachePolicy.NONE)), c.vpools());
    assertEquals(List.of(
        new Vdisk("db", "fast", 10 * GiB, 4096),
        new Vdisk("archive.1", "cold", 64 * TiB, 512),
        new Vdisk("small", "cold", MiB, 512)), c.vdisks());
    assertEquals(new VolumeSpec("db", "fast", 10 * GiB, 4096, 4 * MiB, CachePolicy.ON_WRITE),
        c.volumeSpec(c.vdisks().get(0)));
    assertEquals(new EngineConfig(Path.of("/flash/wb"), 512 * MiB, Path.of("/flash/md"), GiB,
        Path.of("/flash/rc/cache.bin"), 0, null, 0, 64 * KiB, 64), c.engineConfig(null));
  }

  @ParameterizedTest(name = "capacity: {0}")
  @CsvSource({
    "1073741824", "1048576KiB", "1048576K", "1048576KB", "1024MiB", "1024M", "1024MB",
    "1GiB", "1G", "1GB", "1 GiB", "1gib", "0.0009765625TiB", "'\"1GiB\"'"
  })
  void sizesAcceptAByteCountAndEveryUnit(String written) throws Exception {
    ApplianceConfig c = parse("writeBuffer:\n  capacity: " + written + "\n");
    assertEquals(GiB, c.writeBuffer().capacityBytes());
  }

  @Test
  void sizesWithUnitsWorkInEverySizeKey() throws Exception {
    ApplianceConfig c = parse("""
        writeBuffer: {capacity: 2T}
        readCache: {capacity: 16MB}
        metadata: {cacheSize: 1048576}
        groupCommit: {maxBytes: 4K}
        vpools: [{scoSize: 4096KiB}]
        vdisks: [{size: 3G}]
        """);
    assertEquals(2 * TiB, c.writeBuffer().capacityBytes());
    assertEquals(16 * MiB, c.readCache().capacityBytes());
    assertEquals(MiB, c.metadata().cacheSizeBytes());
    assertEquals(4 * KiB, c.groupCommit().maxBytes());
    assertEquals(4 * MiB, c.vpools().get(0).scoSizeBytes());
    assertEquals(3 * GiB, c.vdisks().get(0).sizeBytes());
  }

  @Test
  void listEntriesTakeTheDefaultsShown() throws Exception {
    ApplianceConfig c = parse("vpools: [{}]\nvdisks: [{}]\n");
    assertEquals(List.of(new Vpool("default", 64 * MiB, CachePolicy.ON_READ)), c.vpools());
    assertEquals(List.of(new Vdisk("demo", "default", GiB, 512)), c.vdisks());
  }

  @Test
  void rangeEndsAreAllowed() throws Exception {
    parse("writeBuffer: {capacity: 64TiB}\nreadCache: {capacity: 16TiB}\nmetadata: {cacheSize: 64GiB}\n"
        + "groupCommit: {maxWaitMicros: 100000, maxBytes: 1GiB}\nupload: {threads: 1}\n");
    parse("writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\nmetadata: {cacheSize: 1MiB}\n"
        + "vpools: [{scoSize: 128MiB}]\n");
    parse("writeBuffer: {capacity: 64MiB}\nvpools: [{scoSize: 32MiB}]\n");
  }

  @Test
  void relativePathsResolveAgainstTheWorkingDirectoryAndFollowTheDataDir() throws Exception {
    ApplianceConfig c = parse("""
        node: {dataDir: data}
        metadata: {dir: ./md/../meta}
        """);
    assertEquals(work.resolve("data"), c.node().dataDir());
    assertEquals(work.resolve("data/writebuffer"), c.writeBuffer().dir());
    assertEquals(work.resolve("data/readcache/readcache.bin"), c.readCache().file());
    assertEquals(work.resolve("data/backend"), c.backend().dir());
    assertEquals(work.resolve("meta"), c.metadata().dir());
  }

  @Test
  void dataDirOverrideReplacesTheFilesDataDirAndMovesWhatDerivesFromIt() throws Exception {
    Path file = work.resolve("conf/vsa.yaml");
    Files.createDirectories(file.getParent());
    Files.writeString(file, "node: {dataDir: /somewhere/else}\nmetadata: {dir: /fixed/md}\n");
    ConfigOverrides overrides = new ConfigOverrides().set("node.dataDir", "--data-dir", "moved");

    ApplianceConfig c = loader().load(Path.of("conf/vsa.yaml"), overrides);

    assertEquals(work.resolve("moved"), c.node().dataDir());
    assertEquals(work.resolve("moved/writebuffer"), c.writeBuffer().dir());
    assertEquals(work.resolve("moved/backend"), c.backend().dir());
    assertEquals(Path.of("/fixed/md"), c.metadata().dir());
  }

  @Test
  void dataDirOverrideWorksWithoutANodeSectionAndOnTheDefault() throws Exception {
    ConfigOverrides overrides = new ConfigOverrides().set("node.dataDir", "--data-dir", "/d");
    assertEquals(Path.of("/d"), loader().parse("node:\n", "t", overrides).node().dataDir());
    assertEquals(Path.of("/d"), loader().parse("upload: {threads: 3}\n", "t", overrides).node().dataDir());
    ApplianceConfig dflt = loader().loadDefault(overrides);
    assertEquals(Path.of("/d/writebuffer"), dflt.writeBuffer().dir());
    assertEquals(List.of("demo"), dflt.vdisks().stream().map(Vdisk::name).toList());
  }

  @Test
  void anOverriddenValueIsCheckedLikeTheKeyAndTheErrorNamesTheFlag() {
    ConfigOverrides overrides = new ConfigOverrides().set("node.dataDir", "--data-dir", "");
    ConfigException e = assertThrows(ConfigException.class, () -> loader().loadDefault(overrides));
    assertEquals("node.dataDir = \"\" (from --data-dir) must not be empty", e.getMessage());
    assertEquals("node.dataDir", e.keyPath().orElseThrow());
  }

  @Test
  void bindAddressAcceptsIpLiteralsOnly() throws Exception {
    for (String ok : List.of("0.0.0.0", "10.1.2.3", "255.255.255.255", "::", "::1", "fe80::1", "2001:db8::7",
        "::ffff:127.0.0.1")) {
      InetAddress a = parse("node: {bindAddress: \"" + ok + "\"}\n").node().bindAddress();
      assertEquals(InetAddress.getByName(ok), a, ok);
    }
  }

  @Test
  void aMissingFileIsAnErrorNamingIt() {
    ConfigException e = assertThrows(ConfigException.class,
        () -> loader().load(Path.of("nope.yaml"), ConfigOverrides.none()));
    assertEquals("config file " + work.resolve("nope.yaml") + " does not exist", e.getMessage());
    assertTrue(e.keyPath().isEmpty());
  }

  @Test
  void aDirectoryOrNonUtf8FileIsAnError() throws Exception {
    Files.createDirectory(work.resolve("dir.yaml"));
    ConfigException dir = assertThrows(ConfigException.class,
        () -> loader().load(Path.of("dir.yaml"), ConfigOverrides.none()));
    assertTrue(dir.getMessage().endsWith("dir.yaml is not a regular file"), dir.getMessage());

    Files.write(work.resolve("latin1.yaml"), new byte[] {'a', ':', ' ', (byte) 0xe9, '\n'});
    ConfigException latin = assertThrows(ConfigException.class,
        () -> loader().load(Path.of("latin1.yaml"), ConfigOverrides.none()));
    assertTrue(latin.getMessage().endsWith("latin1.yaml is not UTF-8 text"), latin.getMessage());
  }

  @Test
  void clusterIsOffByDefaultAndItsValuesAreChecked() throws Exception {
    ApplianceConfig.Cluster c = parse("{}").cluster();
    assertEquals(ApplianceConfig.Cluster.single(), c);
    ApplianceConfig.Cluster on = parse("cluster: {enabled: true, name: prod, port: 5800, members: ['10.0.0.1:5800',"
        + " '[::1]:5801'], faultDomain: rack-2, heartbeatMillis: 500, leaseMillis: 3000, leaseMarginMillis: 700}").cluster();
    assertEquals(new ApplianceConfig.Cluster(true, "prod", 5800, java.util.List.of("10.0.0.1:5800", "[::1]:5801"),
        "rack-2", 500, 3000, 700), on);
    assertEquals(ApplianceConfig.Cluster.DEFAULT_VOLUME_PORT, on.volumePort());
    assertEquals(3300, parse("cluster: {volumePort: 3300}").cluster().volumePort());
    assertEquals(0, parse("cluster: {volumePort: 0}").cluster().volumePort(), "0: any free port (tests)");
    assertEquals(ApplianceConfig.Cluster.DEFAULT_NAMESPACE_PORT, on.namespacePort());
    assertEquals(3301, parse("cluster: {namespacePort: 3301}").cluster().namespacePort());
    String[][] bad = {
        {"cluster: {members: ['10.0.0.1']}", "cluster.members"},
        {"cluster: {members: ['h:70000']}", "cluster.members"},
        {"cluster: {name: 'a b'}", "cluster.name"},
        {"cluster: {port: 0}", "cluster.port"},
        {"cluster: {faultDomain: ''}", "cluster.faultDomain"},
        {"cluster: {heartbeatMillis: 3000, leaseMillis: 6000}", "cluster.leaseMillis"},
        {"cluster: {leaseMillis: 4000, leaseMarginMillis: 2500}", "cluster.leaseMarginMillis"},
        {"cluster: {leaseMillis: 500}", "cluster.leaseMillis"},
        {"cluster: {enable: true}", "cluster.enable"},
        {"cluster: {volumePort: 70000}", "cluster.volumePort"},
        {"cluster: {volumePort: -1}", "cluster.volumePort"},
        {"cluster: {volumePort: x}", "cluster.volumePort"},
        {"cluster: {port: 5800, volumePort: 5800}", "cluster.volumePort"},
        {"cluster: {namespacePort: 70000}", "cluster.namespacePort"},
        {"cluster: {volumePort: 3300, namespacePort: 3300}", "cluster.namespacePort"},
        {"cluster: {port: 5800, namespacePort: 5800}", "cluster.namespacePort"},
    };
    for (String[] b : bad) {
      ConfigException e = assertThrows(ConfigException.class, () -> parse(b[0]), b[0]);
      assertEquals(b[1], e.keyPath().orElse(""), b[0] + ": " + e.getMessage());
    }
  }
}
