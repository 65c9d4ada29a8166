package org.vsa.appliance.metrics;

import java.io.IOException;
import java.util.Map;
import org.vsa.appliance.mgmt.ApiException;
import org.vsa.appliance.mgmt.ManagementServer.Handler;
import org.vsa.appliance.mgmt.ManagementServer.Raw;
import org.vsa.appliance.mgmt.ManagementServer.Reply;

/**
 * {@code GET /metrics} (Prometheus text format) and {@code GET /api/v1/stats} (JSON) in front of
 * the management API; every other request goes to it. Both need the admin credential like the
 * rest of the API (neither is {@link Handler#isPublic}).
 */
public final class MetricsRoutes implements Handler {
  public static final String METRICS_PATH = "/metrics";
  public static final String STATS_PATH = "/api/v1/stats";

  private final ApplianceMetrics metrics;
  private final Handler next;

  public MetricsRoutes(ApplianceMetrics metrics, Handler next) {
    this.metrics = metrics;
    this.next = next;
  }

  @Override
  public Reply handle(String method, String path, Map<String, String> query, byte[] body) throws IOException {
    String p = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    if (p.equals(METRICS_PATH) || p.equals(STATS_PATH)) {
      if (!method.equals("GET")) {
        throw new ApiException(405, method + " " + p + " is not allowed (only GET)", null);
      }
      return p.equals(METRICS_PATH)
          ? new Reply(200, new Raw(metrics.scrape(), ApplianceMetrics.PROMETHEUS_TEXT))
          : new Reply(200, metrics.stats());
    }
    return next.handle(method, path, query, body);
  }

  @Override
  public boolean isPublic(String path) {
    return next.isPublic(path) && !path.startsWith(METRICS_PATH) && !path.startsWith(STATS_PATH);
  }
}
