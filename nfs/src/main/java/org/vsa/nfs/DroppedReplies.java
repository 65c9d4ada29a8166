package org.vsa.nfs;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.net.InetSocketAddress;
import java.time.Duration;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replies not sent because the client closed its connection while its calls were being served
 * (fio, nfs-cp and the kernel do so with requests in flight). One INFO line per connection, not
 * oncrpc4j's ERROR per reply: the client is gone, the server is fine.
 */
final class DroppedReplies {
  private static final Logger log = LoggerFactory.getLogger(DroppedReplies.class);
  private final String service;
  /** Connections (client address and port) already logged; ports are reused only much later. */
  private final Cache<String, Boolean> logged = Caffeine.newBuilder()
      .maximumSize(4096)
      .expireAfterWrite(Duration.ofMinutes(10))
      .build();

  DroppedReplies(String service) {
    this.service = service;
  }

  void dropped(RpcCall call) {
    InetSocketAddress a = call.getTransport().getRemoteSocketAddress();
    String key = String.valueOf(a);
    if (logged.asMap().putIfAbsent(key, Boolean.TRUE) == null) {
      log.info("{} client {} closed its connection with calls in flight; their replies are dropped (xid {}, "
          + "procedure {} first)", service, key, Integer.toUnsignedString(call.getXid()), call.getProcedure());
    }
  }
}
