package org.vsa.appliance.mgmt;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The route table of the management API: method, path template ({@code /vdisks/{name}}) and a
 * short description per route. The request dispatch, the 401 test that walks every route and the
 * OpenAPI document are all made from this one table, so that a route cannot exist undocumented.
 */
public final class Routes {
  private static final Pattern PARAM = Pattern.compile("\\{([A-Za-z]+)}");

  /** What one route runs: the path's matched parameters, the query, the body. */
  public interface Handler {
    ManagementServer.Reply run(Matcher path, Map<String, String> query, byte[] body) throws IOException;
  }

  /**
   * What the OpenAPI document says of a route.
   *
   * @param summary one line
   * @param okStatus the status of success (200, 201, 202, 204)
   * @param body the fields of the JSON request body (empty: no body)
   * @param bodyRequired whether the body is required
   * @param query the query parameters
   * @param refusals the error statuses besides 400 and 401 it answers (404, 409)
   */
  public record Doc(String summary, int okStatus, List<String> body, boolean bodyRequired, List<String> query,
      List<Integer> refusals) {
    public static Doc of(String summary) {
      return new Doc(summary, 200, List.of(), false, List.of(), List.of());
    }

    public Doc status(int s) {
      return new Doc(summary, s, body, bodyRequired, query, refusals);
    }

    /** A required JSON body with these fields. */
    public Doc body(String... fields) {
      return new Doc(summary, okStatus, List.of(fields), true, query, refusals);
    }

    /** An optional JSON body with these fields. */
    public Doc optionalBody(String... fields) {
      return new Doc(summary, okStatus, List.of(fields), false, query, refusals);
    }

    public Doc query(String... names) {
      return new Doc(summary, okStatus, body, bodyRequired, List.of(names), refusals);
    }

    /** Also answers these error statuses (e.g. 404, 409). */
    public Doc refuses(Integer... statuses) {
      return new Doc(summary, okStatus, body, bodyRequired, query, List.of(statuses));
    }
  }

  /** One route; {@code template} is relative to {@code /api/v1}. */
  public record Route(String method, String template, Pattern pattern, Handler handler, Doc doc) {
    /** The names of the template's path parameters, in order. */
    public List<String> params() {
      List<String> out = new ArrayList<>();
      Matcher m = PARAM.matcher(template);
      while (m.find()) {
        out.add(m.group(1));
      }
      return out;
    }
  }

  private final List<Route> routes = new ArrayList<>();

  /** Adds a route; a parameter matches one path segment. */
  public synchronized Routes add(String method, String template, Doc doc, Handler handler) {
    StringBuilder regex = new StringBuilder();
    for (String seg : template.split("/", -1)) {
      if (seg.isEmpty()) {
        continue;
      }
      regex.append('/').append(PARAM.matcher(seg).matches() ? "([^/]+)" : Pattern.quote(seg));
    }
    for (Route r : routes) {
      if (r.method().equals(method) && r.template().equals(template)) {
        throw new IllegalStateException("route " + method + " " + template + " is defined twice");
      }
    }
    routes.add(new Route(method, template, Pattern.compile(regex.toString()), handler, doc));
    return this;
  }

  public synchronized List<Route> all() {
    return List.copyOf(routes);
  }
}
