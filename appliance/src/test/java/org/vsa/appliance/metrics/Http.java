package org.vsa.appliance.metrics;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import javax.net.ssl.SSLContext;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.mgmt.AdminCredential;

/** GETs on the management port (not only under /api/v1), with or without the admin credential. */
final class Http {
  private final HttpClient http;
  private final String base;
  private final String auth;

  Http(String base, String auth, SSLContext ssl) {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10));
    if (ssl != null) {
      b.sslContext(ssl);
    }
    this.http = b.build();
    this.base = base;
    this.auth = auth;
  }

  static Http admin(Appliance a, String scheme, SSLContext ssl) throws Exception {
    return new Http(scheme + "://127.0.0.1:" + a.managementAddress().orElseThrow().getPort(),
        AdminCredential.read(a.config().node().dataDir()).orElseThrow().basicHeader(), ssl);
  }

  static Http anonymous(Appliance a) {
    return new Http("http://127.0.0.1:" + a.managementAddress().orElseThrow().getPort(), null, null);
  }

  HttpResponse<String> get(String path) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60)).GET());
  }

  HttpResponse<String> post(String path) throws Exception {
    return send(HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
        .POST(HttpRequest.BodyPublishers.noBody()));
  }

  private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
