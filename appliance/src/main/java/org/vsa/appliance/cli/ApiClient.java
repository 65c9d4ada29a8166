package org.vsa.appliance.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.mgmt.AdminCredential;

/**
 * The CLI's side of the management API: where it is ({@code --url}, {@code VSA_URL}, or the
 * {@code management.url} the running appliance wrote in its data directory, else
 * http://127.0.0.1:8080) and who asks ({@code --user}/{@code --password}, {@code VSA_USER}/
 * {@code VSA_PASSWORD}, or the admin credential file in the data directory).
 */
final class ApiClient {
  static final ObjectMapper JSON = new ObjectMapper();

  /** A refused or failed call, with the CLI exit status it maps to. */
  static final class Failure extends Exception {
    final int exitCode;

    Failure(int exitCode, String message) {
      super(message);
      this.exitCode = exitCode;
    }
  }

  private final HttpClient http;
  private final String base;
  private final String authorization;

  ApiClient(String base, String user, String password) {
    this(base, user, password, null);
  }

  /** {@code ssl}: the trust for an https URL, or null for the JVM's default (CA-signed certificates). */
  ApiClient(String base, String user, String password, javax.net.ssl.SSLContext ssl) {
    HttpClient.Builder hb = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
    if (ssl != null) {
      hb.sslContext(ssl);
    }
    this.http = hb.build();
    this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    this.authorization = "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** Resolves the URL and credential from the options, the environment and the data directory. */
  static ApiClient of(String url, String user, String password, Path dataDir) throws Failure {
    String u = url != null ? url : System.getenv("VSA_URL");
    if (u == null) {
      Path f = dataDir.resolve(Appliance.MANAGEMENT_URL_FILE);
      try {
        u = Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8).strip() : "http://127.0.0.1:8080";
      } catch (IOException e) {
        throw new Failure(Cli.EXIT_FAILURE, "cannot read " + f + ": " + e.getMessage());
      }
    }
    String p = password != null ? password : System.getenv("VSA_PASSWORD");
    String name = user != null ? user : System.getenv("VSA_USER");
    if (p == null) {
      try {
        AdminCredential c = AdminCredential.read(dataDir).orElseThrow(() -> new Failure(Cli.EXIT_AUTH,
            "no credential: give --password (or VSA_PASSWORD), or --data-dir of the appliance (its "
                + AdminCredential.FILE + ")"));
        p = c.password();
        name = name != null ? name : c.user();
      } catch (java.nio.file.AccessDeniedException e) {
        throw new Failure(Cli.EXIT_AUTH, "cannot read the admin credential " + e.getFile()
            + " (permission denied: run as its owner or give --password)");
      } catch (IOException e) {
        throw new Failure(Cli.EXIT_AUTH, e.getMessage());
      }
    }
    return new ApiClient(u + "/api/v1", name != null ? name : "admin", p, trust(u, dataDir));
  }

  /**
   * For an https URL: the certificate to trust, from {@code VSA_CACERT} (a PEM file) or else the
   * copy of its certificate the local appliance keeps in its data directory; without either, the
   * JVM's default trust (a certificate signed by a known CA).
   */
  private static javax.net.ssl.SSLContext trust(String url, Path dataDir) throws Failure {
    if (!url.regionMatches(true, 0, "https:", 0, 6)) {
      return null;
    }
    String env = System.getenv("VSA_CACERT");
    Path pem = env != null && !env.isBlank() ? Path.of(env) : dataDir.resolve(org.vsa.appliance.mgmt.PinnedTrust.FILE);
    if (!Files.exists(pem)) {
      if (env != null && !env.isBlank()) {
        throw new Failure(Cli.EXIT_FAILURE, "VSA_CACERT: " + pem + " does not exist");
      }
      return null;
    }
    try {
      return org.vsa.appliance.mgmt.PinnedTrust.context(pem);
    } catch (IOException e) {
      throw new Failure(Cli.EXIT_FAILURE, "cannot use the certificate " + pem + ": " + e.getMessage());
    }
  }

  JsonNode get(String path) throws Failure {
    return call("GET", path, null);
  }

  JsonNode call(String method, String path, Object body) throws Failure {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path))
        .timeout(Duration.ofMinutes(10))
        .header("Authorization", authorization)
        .header("Accept", "application/json");
    try {
      if (body == null) {
        b.method(method, HttpRequest.BodyPublishers.noBody());
      } else {
        b.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
      }
      HttpResponse<byte[]> r = http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
      JsonNode n = r.body().length == 0 ? null : JSON.readTree(r.body());
      if (r.statusCode() / 100 == 2) {
        return n;
      }
      String why = n != null && n.has("error") ? n.get("error").asText() : "HTTP " + r.statusCode();
      throw new Failure(exitCodeOf(r.statusCode()), why);
    } catch (IOException e) {
      String why = e instanceof java.net.ConnectException ? "connection refused (is the appliance running?)"
          : e instanceof java.net.http.HttpTimeoutException ? "timed out"
          : e.getMessage() == null ? "I/O error" : e.getMessage();
      throw new Failure(Cli.EXIT_FAILURE, "cannot reach the management API at " + base + ": " + why);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Cli.EXIT_FAILURE, "interrupted");
    } catch (IllegalArgumentException e) {
      throw new Failure(Cli.EXIT_USAGE, "bad URL " + base + path + ": " + e.getMessage());
    }
  }

  static int exitCodeOf(int status) {
    return switch (status) {
      case 400, 405, 413 -> Cli.EXIT_USAGE;
      case 401, 403, 429 -> Cli.EXIT_AUTH;
      case 404 -> Cli.EXIT_NOT_FOUND;
      case 409 -> Cli.EXIT_CONFLICT;
      default -> Cli.EXIT_FAILURE;
    };
  }
}
