package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** oncrpc4j's ERROR per unsent reply becomes one INFO line per connection; other lines pass. */
class DroppedRepliesTest {

  @Test
  void sendFailuresOfOneConnectionAreLoggedOnce() {
    DroppedReplies.install();
    LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
    ListAppender<ILoggingEvent> seen = new ListAppender<>();
    seen.setContext(ctx);
    seen.start();
    ctx.getLogger(Logger.ROOT_LOGGER_NAME).addAppender(seen);
    try {
      Logger rpc = LoggerFactory.getLogger(DroppedReplies.ONCRPC_CALL_LOGGER);
      for (int i = 0; i < 30; i++) {
        rpc.error("Failed to send RPC to {} : {}", "/127.0.0.1:60001", "Connection reset by peer");
        rpc.error("Failed to send RPC to {} : {}", "/127.0.0.1:60002", "Connection closed");
      }
      rpc.error("Failed send reply: {}", "something else");
      assertEquals(0, seen.list.stream().filter(e -> e.getFormattedMessage().startsWith("Failed to send RPC")).count());
      assertEquals(1, seen.list.stream().filter(e -> e.getFormattedMessage().contains("/127.0.0.1:60001")).count());
      assertEquals(1, seen.list.stream().filter(e -> e.getFormattedMessage().contains("/127.0.0.1:60002")).count());
      assertEquals(1, seen.list.stream().filter(e -> e.getFormattedMessage().contains("something else")).count());
    } finally {
      ctx.getLogger(Logger.ROOT_LOGGER_NAME).detachAppender(seen);
    }
  }
}
