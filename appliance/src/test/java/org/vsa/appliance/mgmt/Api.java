package org.vsa.appliance.mgmt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.vsa.appliance.Appliance;

/** A small HTTP client of the management API for tests. */
public final class Api {
  static final ObjectMapper JSON = new ObjectMapper();
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final String base;
  private final String auth;

  public record Response(int status, JsonNode body, java.net.http.HttpHeaders headers) {
    String error() {
      return body == null ? null : body.path("error").asText(null);
    }

    String field() {
      return body == null ? null : body.path("field").asText(null);
    }
  }

  public Api(Appliance a, String auth) {
    this.base = "http://127.0.0.1:" + a.managementAddress().orElseThrow().getPort() + "/api/v1";
    this.auth = auth;
  }

  public static Api admin(Appliance a) throws Exception {
    String h = AdminCredential.read(a.config().node().dataDir()).orElseThrow().basicHeader();
    return new Api(a, h);
  }

  public Response call(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode n = r.body().isEmpty() ? null : JSON.readTree(r.body());
    return new Response(r.statusCode(), n, r.headers());
  }

  public Response get(String path) throws Exception {
    return call("GET", path, null);
  }
}
