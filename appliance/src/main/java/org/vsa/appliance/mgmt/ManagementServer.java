package org.vsa.appliance.mgmt;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The management API's HTTP server on Netty's HTTP codec: JSON in and out, HTTP Basic
 * authentication on every request, requests of at most 1 MiB, handled on a small bounded pool
 * (the calls block on the engine) so that a slow call never stalls the event loop. Failed logins
 * are logged, and an address with {@value #FAILURES_MAX} failures within a minute gets 429 until
 * that minute is over.
 */
public final class ManagementServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ManagementServer.class);
  static final int BODY_BYTES_MAX = 1 << 20;
  static final int FAILURES_MAX = 10;
  private static final long FAILURE_WINDOW_NANOS = TimeUnit.MINUTES.toNanos(1);
  static final ObjectMapper JSON = new ObjectMapper();
  private static final String X_REQUESTED_WITH = "X-Requested-With";

  /** What the server routes to. */
  public interface Handler {
    /** Handles one authenticated request; throws {@link ApiException} to refuse it. */
    Reply handle(String method, String path, Map<String, String> query, byte[] body) throws IOException;

    /**
     * Whether a GET of {@code path} is answered without the credential (static files of the web
     * UI's login page: nothing secret). The default: none is.
     */
    default boolean isPublic(String path) {
      return false;
    }
  }

  /** A response: status and a JSON body (a Map, List, record or null), or a {@link Raw} body. */
  public record Reply(int status, Object body) {}

  /** A body sent as it is (the Prometheus text format, the web UI's files), with its content type. */
  public record Raw(byte[] bytes, String contentType) {}

  private final EventLoopGroup boss;
  private final EventLoopGroup loops;
  private final ThreadPoolExecutor workers;
  private final Channel server;
  private final AdminCredential credential;
  private final Handler handler;
  private final SslContext tls;
  private final Map<InetAddress, long[]> failures = new ConcurrentHashMap<>();

  private ManagementServer(InetAddress bind, int port, AdminCredential credential, Handler handler,
      SslContext tls) throws IOException {
    this.credential = credential;
    this.tls = tls;
    this.handler = handler;
    this.workers = new ThreadPoolExecutor(4, 4, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(64),
        new DefaultThreadFactory("mgmt-worker", true));
    this.boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("mgmt-accept", true), NioIoHandler.newFactory());
    this.loops = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("mgmt-io", true), NioIoHandler.newFactory());
    ServerBootstrap b = new ServerBootstrap()
        .group(boss, loops)
        .channel(NioServerSocketChannel.class)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new ReadTimeoutHandler(120));
            if (tls != null) {
              // a client that speaks plain HTTP or garbage fails the handshake: logged, connection closed
              ch.pipeline().addLast(tls.newHandler(ch.alloc()));
            }
            ch.pipeline().addLast(new HttpServerCodec(4096, 16384, 16384));
            ch.pipeline().addLast(new HttpObjectAggregator(BODY_BYTES_MAX));
            ch.pipeline().addLast(new RequestHandler());
          }
        });
    var bound = b.bind(bind, port).awaitUninterruptibly();
    if (!bound.isSuccess()) {
      shutdown();
      throw new IOException("management API: cannot listen on " + bind.getHostAddress() + ":" + port + ": "
          + bound.cause().getMessage(), bound.cause());
    }
    this.server = bound.channel();
  }

  public static ManagementServer start(InetAddress bind, int port, AdminCredential credential, Handler handler)
      throws IOException {
    return start(bind, port, credential, handler, null);
  }

  /**
   * @param tls the certificate and key to serve HTTPS with ({@code management.tls}), or null for
   *     plain HTTP
   * @throws IOException if the port cannot be bound or the certificate and key cannot be used (the
   *     message names the configuration keys)
   */
  public static ManagementServer start(InetAddress bind, int port, AdminCredential credential, Handler handler,
      org.vsa.appliance.config.ApplianceConfig.Tls tls) throws IOException {
    SslContext ssl = tls == null ? null : sslContext(tls);
    ManagementServer s = new ManagementServer(bind, port, credential, handler, ssl);
    log.info("management API listening on {}://{}:{}/api/v1 (HTTP Basic, user {})", ssl == null ? "http" : "https",
        bind.getHostAddress(), s.localAddress().getPort(), credential.user());
    return s;
  }

  private static SslContext sslContext(org.vsa.appliance.config.ApplianceConfig.Tls tls) throws IOException {
    try {
      return SslContextBuilder.forServer(tls.certificate().toFile(), tls.key().toFile())
          .sslProvider(SslProvider.JDK)
          .build();
    } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
      Throwable root = e;
      while (root.getCause() != null && root.getCause() != root) {
        root = root.getCause();
      }
      throw new IOException("management API: management.tls.certificate " + tls.certificate()
          + " and management.tls.key " + tls.key() + " cannot be used: "
          + (root.getMessage() == null ? root.toString() : root.getMessage()), e);
    }
  }

  /** True if it serves HTTPS. */
  public boolean tls() {
    return tls != null;
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) server.localAddress();
  }

  private final class RequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
      boolean keepAlive = HttpUtil.isKeepAlive(req);
      if (!req.decoderResult().isSuccess()) {
        send(ctx, false, new Reply(400, error("malformed HTTP request: " + req.decoderResult().cause(), null)));
        return;
      }
      InetAddress from = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
      if (lockedOut(from)) {
        send(ctx, false, new Reply(429, error("too many failed logins from " + from.getHostAddress()
            + "; try again in a minute", null)));
        return;
      }
      boolean open = req.method().name().equals("GET")
          && handler.isPublic(new QueryStringDecoder(req.uri(), StandardCharsets.UTF_8).path());
      if (!open && !authenticated(req.headers().get(HttpHeaderNames.AUTHORIZATION))) {
        failed(from, req.method().name() + " " + req.uri());
        FullHttpResponse r = response(new Reply(401, error("authentication required (HTTP Basic with the admin credential)", null)));
        // Not to a script (the web dashboard sends X-Requested-With): the challenge would make the
        // browser open its own login dialog over the page's, or hold the request for it.
        if (!req.headers().contains(X_REQUESTED_WITH)) {
          r.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, "Basic realm=\"vsa\", charset=\"UTF-8\"");
        }
        write(ctx, keepAlive, r);
        return;
      }
      QueryStringDecoder q = new QueryStringDecoder(req.uri(), StandardCharsets.UTF_8);
      Map<String, String> query = new LinkedHashMap<>();
      q.parameters().forEach((k, v) -> query.put(k, v.isEmpty() ? "" : v.get(0)));
      byte[] body = new byte[req.content().readableBytes()];
      req.content().readBytes(body);
      String method = req.method().name();
      String path = q.path();
      try {
        workers.execute(() -> send(ctx, keepAlive, call(method, path, query, body)));
      } catch (RejectedExecutionException e) {
        send(ctx, false, new Reply(503, error("the management API is busy; retry", null)));
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (tls != null && (cause instanceof io.netty.handler.ssl.NotSslRecordException
          || cause.getCause() instanceof javax.net.ssl.SSLException)) {
        // plain HTTP or garbage on the HTTPS port: one line, the connection closed
        log.info("management API: TLS with {} failed: {}", ctx.channel().remoteAddress(),
            cause.getCause() != null ? cause.getCause().toString() : cause.toString());
      } else {
        log.debug("management API connection {}: {}", ctx.channel().remoteAddress(), cause.toString());
      }
      ctx.close();
    }
  }

  private Reply call(String method, String path, Map<String, String> query, byte[] body) {
    try {
      return handler.handle(method, path, query, body);
    } catch (ApiException e) {
      return new Reply(e.status(), error(e.getMessage(), e.field()));
    } catch (IOException e) {
      log.warn("management API {} {} failed: {}", method, path, e.toString());
      return new Reply(500, error(e.getMessage() == null ? e.toString() : e.getMessage(), null));
    } catch (RuntimeException e) {
      log.error("management API {} {} failed", method, path, e);
      return new Reply(500, error("internal error: " + e, null));
    }
  }

  static Map<String, Object> error(String message, String field) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("error", message);
    if (field != null) {
      m.put("field", field);
    }
    return m;
  }

  private boolean authenticated(String header) {
    if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
      return false;
    }
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return false;
    }
    int colon = decoded.indexOf(':');
    return colon > 0 && credential.matches(decoded.substring(0, colon), decoded.substring(colon + 1));
  }

  private boolean lockedOut(InetAddress from) {
    long[] f = failures.get(from);
    return f != null && f[0] >= FAILURES_MAX && System.nanoTime() - f[1] < FAILURE_WINDOW_NANOS;
  }

  private void failed(InetAddress from, String what) {
    long now = System.nanoTime();
    long[] f = failures.compute(from, (k, old) -> old == null || now - old[1] >= FAILURE_WINDOW_NANOS
        ? new long[] {1, now} : new long[] {old[0] + 1, old[1]});
    log.warn("management API: failed login from {} ({}); {} in this minute", from.getHostAddress(), what, f[0]);
    if (failures.size() > 10_000) {
      failures.entrySet().removeIf(e -> now - e.getValue()[1] >= FAILURE_WINDOW_NANOS);
    }
  }

  private static void send(ChannelHandlerContext ctx, boolean keepAlive, Reply reply) {
    write(ctx, keepAlive, response(reply));
  }

  private static FullHttpResponse response(Reply reply) {
    if (reply.body() instanceof Raw raw) {
      FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(reply.status()),
          Unpooled.wrappedBuffer(raw.bytes()));
      r.headers().set(HttpHeaderNames.CONTENT_TYPE, raw.contentType());
      r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, raw.bytes().length);
      return r;
    }
    byte[] bytes;
    try {
      bytes = reply.body() == null ? new byte[0] : JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(reply.body());
    } catch (IOException e) {
      bytes = ("{\"error\": \"cannot encode the response\"}").getBytes(StandardCharsets.UTF_8);
      reply = new Reply(500, null);
    }
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(reply.status()),
        Unpooled.wrappedBuffer(bytes));
    r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    return r;
  }

  private static void write(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse r) {
    if (keepAlive) {
      r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(r);
    } else {
      ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
    }
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().awaitUninterruptibly();
    }
    shutdown();
    log.info("management API stopped");
  }

  private void shutdown() {
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    workers.shutdown();
    try {
      workers.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
