package org.vsa.appliance.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The HTTP server alone: raw bodies keep their content type; only public GETs skip the credential. */
class ManagementServerTest {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

  private HttpResponse<String> get(ManagementServer s, String path, String auth) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.localAddress().getPort() + path))
        .timeout(Duration.ofSeconds(30));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void rawBodiesAndPublicPaths() throws Exception {
    AdminCredential cred = new AdminCredential("admin", "a-long-enough-secret");
    ManagementServer.Handler h = new ManagementServer.Handler() {
      @Override
      public ManagementServer.Reply handle(String method, String path, Map<String, String> query, byte[] body) {
        return new ManagementServer.Reply(200, new ManagementServer.Raw(("got " + path).getBytes(StandardCharsets.UTF_8),
            "text/plain; version=0.0.4"));
      }

      @Override
      public boolean isPublic(String path) {
        return path.equals("/ui/login.html");
      }
    };
    try (ManagementServer s = ManagementServer.start(InetAddress.getLoopbackAddress(), 0, cred, h)) {
      HttpResponse<String> open = get(s, "/ui/login.html", null);
      assertEquals(200, open.statusCode());
      assertEquals("got /ui/login.html", open.body());
      assertEquals("text/plain; version=0.0.4", open.headers().firstValue("content-type").orElse(""));
      assertEquals(401, get(s, "/metrics", null).statusCode(), "not public: the credential is needed");
      assertEquals(401, get(s, "/ui/login.html/../secret", null).statusCode());
      HttpResponse<String> withAuth = get(s, "/metrics", cred.basicHeader());
      assertEquals(200, withAuth.statusCode());
      assertEquals("got /metrics", withAuth.body());
    }
  }
}
