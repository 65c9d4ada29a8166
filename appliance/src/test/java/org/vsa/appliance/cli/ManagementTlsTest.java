package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.StartupException;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigException;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.appliance.mgmt.AdminCredential;
import org.vsa.appliance.mgmt.PinnedTrust;

/**
 * The management API over HTTPS ({@code management.tls}) with a self-signed certificate made by
 * openssl here: the API and /metrics answer over https, the CLI finds and trusts the certificate
 * through the data directory, plain HTTP and garbage on the port fail cleanly, and a wrong
 * configuration is an error that names the key.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ManagementTlsTest {
  @TempDir
  Path work;

  static final String BASE = "node: {dataDir: data}\ndtl: {port: 0}\niscsi: {enabled: false}\nnfs: {enabled: false}\n"
      + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: [{name: demo, size: 16MiB}]\n"
      + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n";

  private ApplianceConfig config(String management) throws Exception {
    return new ConfigLoader(work).parse(BASE + management, "test", ConfigOverrides.none());
  }

  private void selfSigned(String cert, String key) throws Exception {
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=vsa-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert)
        .directory(work.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
  }

  @Test
  void httpsServesTheApiAndMetricsTheCliTrustsItAndPlainOrGarbageFailsCleanly() throws Exception {
    selfSigned("cert.pem", "key.pem");
    try (Appliance a = Appliance.start(config("management: {port: 0, tls: {certificate: cert.pem, key: key.pem}}\n"))) {
      int port = a.managementAddress().orElseThrow().getPort();
      Path data = work.resolve("data");
      assertEquals("https://127.0.0.1:" + port, Files.readString(data.resolve(Appliance.MANAGEMENT_URL_FILE)).strip());
      assertEquals(Files.readString(work.resolve("cert.pem")), Files.readString(data.resolve(PinnedTrust.FILE)));

      SSLContext trust = PinnedTrust.context(work.resolve("cert.pem"));
      HttpClient https = HttpClient.newBuilder().sslContext(trust).connectTimeout(Duration.ofSeconds(10)).build();
      String auth = AdminCredential.read(data).orElseThrow().basicHeader();
      HttpResponse<String> stats = https.send(get("https://127.0.0.1:" + port + "/api/v1/stats", auth),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, stats.statusCode(), stats.body());
      assertTrue(stats.body().contains("\"demo\""), stats.body());
      HttpResponse<String> metrics = https.send(get("https://127.0.0.1:" + port + "/metrics", auth),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.body().contains("vsa_vdisk_io_seconds_bucket"));
      assertEquals(401, https.send(get("https://127.0.0.1:" + port + "/metrics", null),
          HttpResponse.BodyHandlers.ofString()).statusCode());

      // the CLI: management.url says https, the certificate comes from the data directory
      CliRun list = CliRun.run(work, "vdisk", "list", "--data-dir", "data");
      assertEquals(0, list.exitCode(), list.err());
      assertTrue(list.out().contains("demo"), list.out());

      // plain HTTP to the TLS port: an I/O error, no answer, no hang
      HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      assertThrows(IOException.class, () -> plain.send(get("http://127.0.0.1:" + port + "/api/v1/stats", auth), HttpResponse.BodyHandlers.ofString()));
      // a client that does not trust the certificate refuses it
      HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
      assertThrows(IOException.class, () -> untrusting.send(get("https://127.0.0.1:" + port + "/api/v1/stats", auth), HttpResponse.BodyHandlers.ofString()));

      // garbage where a TLS record should be: the connection is closed, the server serves on
      for (int round = 0; round < 3; round++) {
        try (Socket s = new Socket("127.0.0.1", port)) {
          s.setSoTimeout(30_000);
          byte[] junk = new byte[8192];
          new Random(round).nextBytes(junk);
          if (round == 1) {
            junk[0] = 0x16; // a handshake record type, then nonsense
            junk[1] = 0x03;
            junk[2] = 0x03;
          }
          OutputStream o = s.getOutputStream();
          try {
            o.write(junk);
            o.flush();
          } catch (IOException closedAlready) {
            // the server may close before all of it is written: that is the clean failure
          }
          InputStream in = s.getInputStream();
          try {
            while (in.read(new byte[1024]) >= 0) {
              // drain what the server says (a TLS alert) until it closes
            }
          } catch (java.net.SocketException reset) {
            // closed by the server
          }
        }
      }
      assertEquals(200, https.send(get("https://127.0.0.1:" + port + "/api/v1/stats", auth),
          HttpResponse.BodyHandlers.ofString()).statusCode(), "still serving after garbage");
    }
    assertTrue(Files.notExists(work.resolve("data").resolve(PinnedTrust.FILE)), "the certificate copy goes at stop");
  }

  private static HttpRequest get(String url, String auth) {
    return getBuilder(url, auth).build();
  }

  private static HttpRequest.Builder getBuilder(String url, String auth) {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET();
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return b;
  }

  @Test
  void aWrongTlsConfigurationNamesTheKey() throws Exception {
    selfSigned("cert.pem", "key.pem");
    Files.writeString(work.resolve("not.pem"), "hello\n");
    assertError("management: {tls: {certificate: cert.pem}}\n", "management.tls.key");
    assertError("management: {tls: {key: key.pem}}\n", "management.tls.certificate");
    assertError("management: {tls: {certificate: nope.pem, key: key.pem}}\n", "management.tls.certificate");
    assertError("management: {tls: {certificate: not.pem, key: key.pem}}\n", "management.tls.certificate");
    assertError("management: {tls: {certificate: cert.pem, key: cert.pem}}\n", "management.tls.key");
    assertError("management: {tls: {certificate: cert.pem, key: key.pem, cipher: x}}\n", "management.tls.cipher");
    // PEM-shaped but not a usable key: refused at start with both keys named, nothing left running
    Files.writeString(work.resolve("bad-key.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    StartupException e = assertThrows(StartupException.class, () -> Appliance.start(
        config("management: {port: 0, tls: {certificate: cert.pem, key: bad-key.pem}}\n")));
    assertTrue(e.getMessage().contains("management.tls.key"), e.getMessage());
    try (Appliance a = Appliance.start(config("management: {port: 0}\n"))) {
      assertTrue(Files.readString(work.resolve("data").resolve(Appliance.MANAGEMENT_URL_FILE)).startsWith("http://"),
          "the data directory was released and plain HTTP is the default");
    }
  }

  private void assertError(String management, String key) {
    ConfigException e = assertThrows(ConfigException.class, () -> config(management), management);
    assertTrue(e.getMessage().contains(key), management + " -> " + e.getMessage());
  }
}
