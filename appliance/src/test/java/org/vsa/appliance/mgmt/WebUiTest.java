package org.vsa.appliance.mgmt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The dashboard's static files through the management server: served without the credential
 * with their content types (uPlot from its WebJar), nothing outside the UI's files reachable,
 * every other path still behind the credential, and no Basic challenge to the page's scripts.
 */
class WebUiTest {
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
  private final AdminCredential cred = new AdminCredential("admin", "a-long-enough-secret");

  private HttpResponse<byte[]> get(ManagementServer s, String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.localAddress().getPort() + path))
        .timeout(Duration.ofSeconds(30));
    if (headers.length > 0) {
      b.headers(headers);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private ManagementServer server() throws Exception {
    WebUi ui = new WebUi();
    ManagementServer.Handler h = new ManagementServer.Handler() {
      @Override
      public ManagementServer.Reply handle(String method, String path, Map<String, String> query, byte[] body) {
        return WebUi.isUiPath(path) ? ui.get(path) : new ManagementServer.Reply(200, Map.of("path", path));
      }

      @Override
      public boolean isPublic(String path) {
        return WebUi.isUiPath(path);
      }
    };
    return ManagementServer.start(InetAddress.getLoopbackAddress(), 0, cred, h);
  }

  @Test
  void theUiFilesArePublicWithTheirTypesAndNothingElseIs() throws Exception {
    try (ManagementServer s = server()) {
      for (String page : List.of("/", "/ui", "/ui/", "/ui/index.html")) {
        HttpResponse<byte[]> r = get(s, page);
        assertEquals(200, r.statusCode(), page);
        assertEquals("text/html; charset=utf-8", r.headers().firstValue("content-type").orElse(""), page);
        assertTrue(new String(r.body()).contains("<title>vsa dashboard</title>"), page);
      }
      Map<String, String> types = Map.of("/ui/app.js", "text/javascript; charset=utf-8",
          "/ui/api.js", "text/javascript; charset=utf-8", "/ui/app.css", "text/css; charset=utf-8",
          "/ui/lib/uplot/uPlot.iife.min.js", "text/javascript; charset=utf-8",
          "/ui/lib/uplot/uPlot.min.css", "text/css; charset=utf-8");
      for (Map.Entry<String, String> e : types.entrySet()) {
        HttpResponse<byte[]> r = get(s, e.getKey());
        assertEquals(200, r.statusCode(), e.getKey());
        assertEquals(e.getValue(), r.headers().firstValue("content-type").orElse(""), e.getKey());
        assertTrue(r.body().length > 100, e.getKey());
      }
      assertTrue(new String(get(s, "/ui/lib/uplot/uPlot.iife.min.js").body()).contains("uPlot"));

      // only file names of the UI's own directory or uPlot's dist/: no way out of them
      for (String bad : List.of("/ui/nope.js", "/ui/../ui/index.html", "/ui/lib/uplot/../../../../logback.xml",
          "/ui/lib/uplot/../package.json", "/ui/%2e%2e/version.properties", "/ui/.hidden", "/ui/lib/uplot/",
          "/ui/org/vsa/appliance/version.properties", "/ui/lib/uplot/LICENSE/x")) {
        assertEquals(404, get(s, bad).statusCode(), bad);
      }
      // everything else still needs the credential
      assertEquals(401, get(s, "/api/v1/vdisks").statusCode());
      assertEquals(200, get(s, "/api/v1/vdisks", "Authorization", cred.basicHeader()).statusCode());
    }
  }

  @Test
  void aScriptsFailedLoginGetsNoBasicChallenge() throws Exception {
    try (ManagementServer s = server()) {
      HttpResponse<byte[]> plain = get(s, "/api/v1/vdisks", "Authorization", "Basic YWRtaW46d3Jvbmc=");
      assertEquals(401, plain.statusCode());
      assertTrue(plain.headers().firstValue("www-authenticate").orElse("").startsWith("Basic"));
      HttpResponse<byte[]> script = get(s, "/api/v1/vdisks", "Authorization", "Basic YWRtaW46d3Jvbmc=",
          "X-Requested-With", "vsa-dashboard");
      assertEquals(401, script.statusCode());
      assertFalse(script.headers().firstValue("www-authenticate").isPresent());
    }
  }
}
