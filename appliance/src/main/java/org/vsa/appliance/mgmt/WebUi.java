package org.vsa.appliance.mgmt;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The web dashboard's static files: the page, its scripts and style (resources under
 * {@code org/vsa/appliance/ui/}) and uPlot's script and style from its WebJar
 * ({@code META-INF/resources/webjars/uplot/<version>/dist/}), all inside the appliance's jar, so
 * that the dashboard works without Internet access. These files are public (the login page must
 * load before there is a credential) and hold nothing secret; every data call the page makes goes
 * to the API with the credential.
 *
 * <p>{@code GET /} and {@code GET /ui/} answer the page itself; {@code /ui/<file>} a file of the UI;
 * {@code /ui/lib/uplot/<file>} a file of uPlot's {@code dist/}. Only names made of letters, digits,
 * '.', '-' and '_' are looked up (no '..', no sub-directory), so a request can never reach another
 * resource of the class path.
 */
final class WebUi {
  static final String UI_PREFIX = "/ui/";
  private static final String UI_RESOURCES = "org/vsa/appliance/ui/";
  private static final String UPLOT_PREFIX = UI_PREFIX + "lib/uplot/";
  private static final String UPLOT_POM = "META-INF/maven/org.webjars.npm/uplot/pom.properties";
  private static final Pattern FILE_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,100}");
  private static final Map<String, String> TYPES = Map.of(
      "html", "text/html; charset=utf-8",
      "js", "text/javascript; charset=utf-8",
      "css", "text/css; charset=utf-8",
      "svg", "image/svg+xml",
      "png", "image/png",
      "ico", "image/x-icon");

  private final ClassLoader loader = WebUi.class.getClassLoader();
  private final String uplotDist;
  private final Map<String, ManagementServer.Raw> cache = new ConcurrentHashMap<>();

  WebUi() {
    this.uplotDist = "META-INF/resources/webjars/uplot/" + uplotVersion() + "/dist/";
  }

  /** Whether the path is one of the UI's (whether it exists or not). */
  static boolean isUiPath(String path) {
    return path.equals("/") || path.equals("/ui") || path.startsWith(UI_PREFIX);
  }

  /** The file at {@code path}: 200 with its bytes, or 404. */
  ManagementServer.Reply get(String path) {
    String resource = resource(path);
    if (resource == null) {
      throw ApiException.notFound("no such file of the web UI: " + path);
    }
    ManagementServer.Raw raw = cache.computeIfAbsent(resource, this::load);
    if (raw == null) {
      throw ApiException.notFound("no such file of the web UI: " + path);
    }
    return new ManagementServer.Reply(200, raw);
  }

  /** The class-path resource a UI path names, or null if it names none that may be served. */
  private String resource(String path) {
    if (path.equals("/") || path.equals("/ui") || path.equals(UI_PREFIX)) {
      return UI_RESOURCES + "index.html";
    }
    if (path.startsWith(UPLOT_PREFIX)) {
      String name = path.substring(UPLOT_PREFIX.length());
      return FILE_NAME.matcher(name).matches() ? uplotDist + name : null;
    }
    String name = path.substring(UI_PREFIX.length());
    return FILE_NAME.matcher(name).matches() ? UI_RESOURCES + name : null;
  }

  /** The resource's bytes and type, or null if it is missing (not cached: the names are the client's). */
  private ManagementServer.Raw load(String resource) {
    String type = Optional.ofNullable(TYPES.get(resource.substring(resource.lastIndexOf('.') + 1)))
        .orElse("application/octet-stream");
    try (InputStream in = loader.getResourceAsStream(resource)) {
      if (in == null) {
        return null;
      }
      return new ManagementServer.Raw(in.readAllBytes(), type);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the web UI's file " + resource + ": " + e.getMessage(), e);
    }
  }

  /** uPlot's version, from its WebJar's Maven properties (the jar's path names it). */
  private String uplotVersion() {
    try (InputStream in = loader.getResourceAsStream(UPLOT_POM)) {
      if (in == null) {
        throw new IllegalStateException("uPlot's WebJar is not on the class path (" + UPLOT_POM + " missing)");
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + UPLOT_POM + ": " + e.getMessage(), e);
    }
  }
}
