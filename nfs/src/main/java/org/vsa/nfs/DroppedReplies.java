package org.vsa.nfs;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.turbo.TurboFilter;
import ch.qos.logback.core.spi.FilterReply;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.Marker;

/**
 * Replies not sent because the client closed its connection while its calls were being served
 * (fio, nfs-cp and the kernel do so with requests in flight): one INFO line per connection, not
 * oncrpc4j's ERROR per reply. The client is gone; the server is fine. Replies to a connection
 * already closed are not sent at all ({@link #dropped}); those already queued when it closes fail
 * in oncrpc4j, whose "Failed to send RPC" ERROR a logback turbo filter turns into the same one
 * line ({@link #install}; without logback they stay as oncrpc4j logs them).
 */
final class DroppedReplies {
  private static final Logger log = LoggerFactory.getLogger(DroppedReplies.class);
  static final String ONCRPC_CALL_LOGGER = "org.dcache.oncrpc4j.rpc.RpcCall";
  private static final AtomicBoolean INSTALLED = new AtomicBoolean();
  /** Connections (client address and port) already logged; a port is reused only much later. */
  private static final Cache<String, Boolean> LOGGED = Caffeine.newBuilder()
      .maximumSize(4096)
      .expireAfterWrite(Duration.ofMinutes(10))
      .build();

  private DroppedReplies() {}

  /** A reply not sent since the connection is closed. */
  static void dropped(RpcCall call) {
    note(String.valueOf(call.getTransport().getRemoteSocketAddress()), "closed",
        "xid " + Integer.toUnsignedString(call.getXid()) + ", procedure " + call.getProcedure());
  }

  private static void note(String client, String why, String first) {
    if (LOGGED.asMap().putIfAbsent(client, Boolean.TRUE) == null) {
      log.info("RPC client {} left with calls in flight (connection {}); their replies are dropped, "
          + "logged once per connection (first: {})", client, why, first);
    }
  }

  /** Puts the filter into logback, once per JVM; a no-op if slf4j is not bound to logback. */
  static void install() {
    if (INSTALLED.getAndSet(true)) {
      return;
    }
    try {
      if (LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx) {
        SendFailures f = new SendFailures();
        f.start();
        ctx.addTurboFilter(f);
      }
    } catch (LinkageError e) {
      log.debug("logback is not there: oncrpc4j's send failures are logged as it logs them ({})", e.toString());
    }
  }

  /** Turns oncrpc4j's "Failed to send RPC to {} : {}" ERRORs into one INFO line per connection. */
  static final class SendFailures extends TurboFilter {
    @Override
    public FilterReply decide(Marker marker, ch.qos.logback.classic.Logger logger, Level level, String format,
        Object[] params, Throwable t) {
      if (format == null || !ONCRPC_CALL_LOGGER.equals(logger.getName()) || !format.startsWith("Failed to send RPC")) {
        return FilterReply.NEUTRAL;
      }
      String client = params != null && params.length > 0 ? String.valueOf(params[0]) : "?";
      String why = params != null && params.length > 1 ? String.valueOf(params[1]) : "?";
      note(client, why, "a reply already queued");
      return FilterReply.DENY;
    }
  }
}
