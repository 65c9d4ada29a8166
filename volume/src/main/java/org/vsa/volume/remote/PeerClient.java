package org.vsa.volume.remote;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's connection to another node's {@link RemoteVolumeServer}, shared by every
 * {@link RemoteVolume} of vDisks that node owns. Requests are pipelined on one TCP connection and
 * their replies matched by id, so many may be in flight at once (several threads, a write's
 * durability wait overlapping the next write).
 *
 * <p>Bounds: at most {@link Config#maxInFlight} requests and {@link Config#maxInFlightBytes} of
 * their data at once (a caller beyond that waits, at most {@link Config#requestTimeout}); every
 * request fails with an {@link IOException} once {@link Config#requestTimeout} passed without its
 * final reply, and the connection is then closed (a peer that stopped answering one request is not
 * trusted with the others); a lost connection fails every request in flight on it at once. The next
 * request connects again (at most one attempt per {@link Config#connectTimeout}: meanwhile
 * requests fail at once with the last attempt's error). The outcome of a request that failed so is
 * unknown: a write may or may not have been applied.
 */
public final class PeerClient implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(PeerClient.class);

  public record Config(Duration connectTimeout, Duration requestTimeout, int maxInFlight, long maxInFlightBytes) {
    public Config {
      if (connectTimeout.isNegative() || connectTimeout.isZero() || requestTimeout.isNegative()
          || requestTimeout.isZero() || maxInFlight < 1 || maxInFlightBytes < Wire.MAX_IO_BYTES) {
        throw new IllegalArgumentException("forward client: timeouts and bounds must be positive, maxInFlightBytes at "
            + "least " + Wire.MAX_IO_BYTES);
      }
    }

    public static Config defaults() {
      return new Config(Duration.ofSeconds(2), Duration.ofSeconds(30), 64, 32L << 20);
    }

    public Config withRequestTimeout(Duration d) {
      return new Config(connectTimeout, d, maxInFlight, maxInFlightBytes);
    }
  }

  /** What the owner reported of the vDisk with an OK reply. */
  record State(long session, long sizeBytes, int blockSize, boolean ready, boolean readOnly, boolean inUse,
      java.util.UUID id) {}

  /** A decoded visible or final reply: OK with the vDisk's state (and a READ's data), or an error and its message. */
  record Reply(Wire.Status status, State state, String message, byte[] data) {
    static Reply decode(int type, ByteBuf b) {
      Wire.Status st = Wire.Status.of(b.readUnsignedByte());
      if (st != Wire.Status.OK) {
        return new Reply(st, null, Wire.getString(b), null);
      }
      Wire.need(b, 37);
      State s = new State(b.readLong(), b.readLong(), b.readInt(), false, false, false, null);
      int fl = b.readUnsignedByte();
      s = new State(s.session(), s.sizeBytes(), s.blockSize(), (fl & 1) != 0, (fl & 2) != 0, (fl & 4) != 0,
          new java.util.UUID(b.readLong(), b.readLong()));
      byte[] data = null;
      if ((type & 0x7f) == Wire.READ) {
        data = new byte[b.readableBytes()];
        b.readBytes(data);
      }
      return new Reply(st, s, null, data);
    }
  }

  private final InetSocketAddress peer;
  private final Config config;
  private final EventLoopGroup group;
  private final Bootstrap bootstrap;
  private final Map<Long, Call> calls = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final Semaphore slots;
  private final Semaphore bytes; // in KiB
  private final ScheduledFuture<?> sweeper;
  private final Object connectLock = new Object();
  private volatile Channel channel;
  private long lastFailedConnectNanos;
  private PeerUnavailableException lastConnectError;
  private volatile boolean closed;

  /** A request in flight: its channel, when it expires, its visible and final replies. */
  static final class Call {
    final long id;
    final Channel channel;
    final long deadlineNanos;
    final CompletableFuture<Reply> visible = new CompletableFuture<>();
    final CompletableFuture<Reply> done = new CompletableFuture<>();

    Call(long id, Channel channel, long deadlineNanos) {
      this.id = id;
      this.channel = channel;
      this.deadlineNanos = deadlineNanos;
    }

    void fail(IOException e) {
      visible.completeExceptionally(e);
      done.completeExceptionally(e);
    }
  }

  public PeerClient(InetSocketAddress peer, Config config) {
    this.peer = peer;
    this.config = config;
    this.slots = new Semaphore(config.maxInFlight());
    this.bytes = new Semaphore((int) Math.min(Integer.MAX_VALUE, config.maxInFlightBytes() >> 10));
    this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new Wire.Decoder(), Wire.Encoder.INSTANCE, new Replies());
          }
        });
    this.sweeper = group.scheduleAtFixedRate(this::expire, 100, 100, TimeUnit.MILLISECONDS);
  }

  public InetSocketAddress peer() {
    return peer;
  }

  /** A handle on {@code vdisk} as served by this peer; asks the peer for its size and identity. */
  public RemoteVolume open(String vdisk) throws IOException {
    RemoteVolume v = new RemoteVolume(this, vdisk);
    v.refresh();
    return v;
  }

  /**
   * Sends a request; the payload (name and arguments, {@code ioBytes} of data) is released here.
   * Waits for room in the window, at most the request timeout.
   */
  Call send(int type, ByteBuf payload, int ioBytes) throws IOException {
    int kib = Math.max(1, ioBytes >> 10);
    boolean slot = false;
    boolean room = false;
    try {
      long waitNanos = config.requestTimeout().toNanos();
      long t0 = System.nanoTime();
      slot = slots.tryAcquire(waitNanos, TimeUnit.NANOSECONDS);
      room = slot && bytes.tryAcquire(kib, Math.max(0, waitNanos - (System.nanoTime() - t0)), TimeUnit.NANOSECONDS);
      if (!room) {
        throw new PeerUnavailableException("forwarding to " + peer + ": no room for the request in "
            + config.requestTimeout().toMillis() + " ms (" + config.maxInFlight() + " requests in flight)");
      }
      Channel ch = connect();
      Call c = new Call(ids.incrementAndGet(), ch, System.nanoTime() + config.requestTimeout().toNanos());
      calls.put(c.id, c);
      c.done.whenComplete((r, e) -> {
        calls.remove(c.id);
        slots.release();
        bytes.release(kib);
      });
      slot = false; // released when done
      room = false;
      ByteBuf p = payload;
      payload = null;
      ch.writeAndFlush(new Wire.Out(type, 0, c.id, p)).addListener(f -> {
        if (!f.isSuccess()) {
          c.fail(new PeerUnavailableException("forwarding to " + peer + ": send failed: " + f.cause(), f.cause()));
        }
      });
      if (!ch.isActive()) {
        c.fail(new PeerUnavailableException("forwarding to " + peer + ": connection lost"));
      }
      return c;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting to forward to " + peer);
    } finally {
      if (payload != null) {
        payload.release();
      }
      if (room) {
        bytes.release(kib);
      }
      if (slot) {
        slots.release();
      }
    }
  }

  /** Waits for a call's visible or final reply, at most the request timeout (the sweeper fails it first). */
  Reply await(CompletableFuture<Reply> f) throws IOException {
    try {
      return f.get(config.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for " + peer);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof PeerUnavailableException pu) {
        throw new PeerUnavailableException(pu.getMessage(), pu); // the caller's stack, the cause's message
      }
      if (c instanceof IOException io) {
        throw new IOException(io.getMessage(), io);
      }
      throw new IOException("forwarding to " + peer + ": " + c, c);
    } catch (TimeoutException e) {
      throw new PeerUnavailableException("forwarding to " + peer + ": no reply in " + config.requestTimeout().toMillis() + " ms");
    }
  }

  ByteBufAllocator alloc() {
    Channel c = channel;
    return c != null ? c.alloc() : ByteBufAllocator.DEFAULT;
  }

  private Channel connect() throws IOException {
    Channel c = channel;
    if (c != null && c.isActive()) {
      return c;
    }
    synchronized (connectLock) {
      if (closed) {
        throw new IOException("forwarding to " + peer + ": client closed");
      }
      c = channel;
      if (c != null && c.isActive()) {
        return c;
      }
      long now = System.nanoTime();
      if (lastConnectError != null && now - lastFailedConnectNanos < config.connectTimeout().toNanos()) {
        throw new PeerUnavailableException(lastConnectError.getMessage(), lastConnectError);
      }
      ChannelFuture f = bootstrap.connect(peer);
      boolean finished = f.awaitUninterruptibly(config.connectTimeout().toMillis() + 500);
      if (!finished || !f.isSuccess()) {
        f.cancel(false);
        f.channel().close();
        lastFailedConnectNanos = System.nanoTime();
        lastConnectError = new PeerUnavailableException("forwarding to " + peer + ": cannot connect: "
            + (finished ? String.valueOf(f.cause()) : "no answer in " + config.connectTimeout().toMillis() + " ms"));
        log.warn("{}", lastConnectError.getMessage());
        throw lastConnectError;
      }
      lastConnectError = null;
      channel = f.channel();
      Channel ch = channel;
      ch.closeFuture().addListener(x -> failAll(ch, new PeerUnavailableException("forwarding to " + peer + ": connection lost")));
      return ch;
    }
  }

  private void failAll(Channel ch, IOException e) {
    for (Call c : calls.values()) {
      if (c.channel == ch) {
        c.fail(e);
      }
    }
  }

  private void expire() {
    long now = System.nanoTime();
    for (Call c : calls.values()) {
      if (now - c.deadlineNanos > 0) {
        log.warn("forwarding to {}: request {} got no reply in {} ms; closing the connection", peer, c.id,
            config.requestTimeout().toMillis());
        c.fail(new PeerUnavailableException("forwarding to " + peer + ": no reply in " + config.requestTimeout().toMillis() + " ms"));
        c.channel.close();
      }
    }
  }

  /** Replies in: matched to their calls by id; one that matches none (timed out) is dropped. */
  private final class Replies extends SimpleChannelInboundHandler<Wire.Frame> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Wire.Frame f) {
      Call c = calls.get(f.id());
      Reply r;
      try {
        if (c == null) {
          return; // its request timed out, or a peer answering what was never asked
        }
        if ((f.type() & Wire.REPLY) == 0) {
          throw new IllegalArgumentException("a request (type " + f.type() + ") where a reply was expected");
        }
        r = Reply.decode(f.type(), f.payload());
      } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
        log.warn("forwarding to {}: malformed reply ({}); closing the connection", peer, e.getMessage());
        c.fail(new PeerUnavailableException("forwarding to " + peer + ": malformed reply: " + e.getMessage()));
        ctx.close();
        return;
      } finally {
        f.payload().release();
      }
      if ((f.flags() & Wire.FLAG_FINAL) != 0) {
        c.visible.complete(r); // the final reply stands for the visible one too
        c.done.complete(r);
      } else {
        c.visible.complete(r);
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("forwarding to {}: closing the connection: {}", peer, cause.toString());
      ctx.close();
    }
  }

  @Override
  public void close() {
    synchronized (connectLock) {
      closed = true;
    }
    Channel c = channel;
    if (c != null) {
      c.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    for (Call call : calls.values()) {
      call.fail(new IOException("forwarding to " + peer + ": client closed"));
    }
    sweeper.cancel(false);
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }
}
