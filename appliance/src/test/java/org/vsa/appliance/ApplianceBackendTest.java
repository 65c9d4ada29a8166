package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.backends.s3.S3ProxyServer;
import org.vsa.volume.Durability;
import org.vsa.volume.Volume;

/** The appliance built on the S3 and fragment backends from its configuration. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ApplianceBackendTest {
  @TempDir Path work;

  private ApplianceConfig config(String yaml) throws Exception {
    return new ConfigLoader(work).parse("node: {dataDir: data}\nmanagement: {port: 0}\ndtl: {port: 0}\niscsi: {enabled: false}\nnfs: {enabled: false}\n"
        + "writeBuffer: {capacity: 64MiB}\nreadCache: {capacity: 16MiB}\n"
        + "vpools: [{name: p, scoSize: 4MiB}]\nvdisks: [{name: d, vpool: p, size: 64MiB}]\n" + yaml,
        "test", ConfigOverrides.none());
  }

  /** Writes 12 MiB (three SCOs), waits until they are in the backend, restarts and reads them back. */
  private void writeUploadRestartRead(ApplianceConfig config) throws Exception {
    byte[] data = new byte[12 << 20];
    new Random(3).nextBytes(data);
    try (Appliance a = Appliance.start(config)) {
      Volume v = a.engine().volume("d").orElseThrow();
      v.write(0, ByteBuffer.wrap(data), Durability.DURABLE);
      a.engine().flushAll();
      for (int i = 0; i < 6000 && a.engine().scosAwaitingUpload() > 0; i++) {
        Thread.sleep(10);
      }
      assertEquals(0, a.engine().scosAwaitingUpload(), "sealed SCOs reached the backend");
    }
    try (Appliance a = Appliance.start(config)) {
      ByteBuffer got = ByteBuffer.allocate(data.length);
      a.engine().volume("d").orElseThrow().read(0, got);
      assertArrayEquals(data, got.array());
    }
  }

  @Test
  void fragmentBackendWithEncryptionFromTheConfig() throws Exception {
    byte[] key = new byte[32];
    new Random(1).nextBytes(key);
    Files.write(work.resolve("backend.key"), key);
    ApplianceConfig config = config("""
        backend:
          type: fragment
          stores: [{name: a, dir: s/a}, {name: b, dir: s/b}, {name: c, dir: s/c}, {name: d, dir: s/d}]
          presets:
            - name: safe
              policies: [{k: 2, m: 2, c: 3, x: 1}, {k: 2, m: 1, c: 3, x: 1}]
              fragmentSize: 64KiB
              compression: lz4
              encryption: aes-256-gcm
              keyFile: backend.key
        """);
    assertEquals(4, config.backend().stores().size());
    assertFalse(config.toString().contains(java.util.HexFormat.of().formatHex(key)), "the key is never shown");
    writeUploadRestartRead(config);
    for (String s : new String[] {"a", "b", "c", "d"}) {
      try (Stream<Path> files = Files.walk(work.resolve("s").resolve(s))) {
        assertTrue(files.anyMatch(f -> f.getFileName().toString().startsWith("sco_") && f.toString().endsWith(".vm")),
            "store " + s + " holds SCO manifests");
      }
    }
  }

  @Test
  void s3BackendFromTheConfigAndClearStartErrors() throws Exception {
    try (S3ProxyServer server = S3ProxyServer.start(work.resolve("blobs"), "vsa")) {
      String s3 = "backend:\n  type: s3\n  s3: {endpoint: '" + server.endpoint() + "', bucket: %s, pathStyle: true,"
          + " accessKey: " + S3ProxyServer.ACCESS_KEY + ", secretKey: %s}\n";
      writeUploadRestartRead(config(String.format(s3, "vsa", S3ProxyServer.SECRET_KEY)));

      StartupException wrong = assertThrows(StartupException.class,
          () -> Appliance.start(config(String.format(s3, "vsa", "not-the-secret-123"))));
      assertTrue(wrong.getMessage().contains("access denied"), wrong.getMessage());
      assertFalse(wrong.getMessage().contains("not-the-secret"), wrong.getMessage());
      StartupException missing = assertThrows(StartupException.class,
          () -> Appliance.start(config(String.format(s3, "other", S3ProxyServer.SECRET_KEY))));
      assertTrue(missing.getMessage().contains("bucket 'other' does not exist"), missing.getMessage());
    }
  }
}
