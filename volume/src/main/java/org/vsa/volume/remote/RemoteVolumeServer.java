package org.vsa.volume.remote;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderException;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.VolumeOfflineException;

/**
 * Serves this node's vDisks to the other nodes of the cluster (see {@link Wire} for the format):
 * a node that does not own a vDisk forwards its front ends' I/O here, through a
 * {@link RemoteVolume}. The server answers for exactly the vDisks {@link Exports#lookup} gives
 * at the time of each request; for any other it answers {@link Wire.Status#NOT_OWNER}, and the
 * caller asks the cluster who owns it now.
 *
 * <p>Requests run on a bounded pool of worker threads, never on the event loops (a write may
 * wait for the write buffer, the group commit or the DTL). Memory is bounded: a connection has at
 * most {@link Config#maxInFlightPerConnection} requests in progress, and all connections together
 * at most about {@link Config#maxBufferedBytes} of request and reply data (a READ counts its reply
 * from its arrival); beyond either the server stops reading from the connection until some are
 * answered, and it also stops while a connection's unsent replies exceed 4 MiB (a client that does
 * not read). Each connection may overshoot by one frame ({@link Wire#MAX_PAYLOAD_BYTES}). A
 * {@code DURABLE} write and a flush are answered (final reply) only once the local vDisk has made
 * them durable.
 */
public final class RemoteVolumeServer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(RemoteVolumeServer.class);

  /** What the server exports: this node's vDisks, by name, as ownership says now. */
  public interface Exports {
    /** The vDisk if this node serves it now; empty answers NOT_OWNER. */
    Optional<BlockVolume> lookup(String vdisk);

    /**
     * Mixed into the session the server reports with each answer about {@code vdisk}: a value
     * that changes whenever the vDisk's unflushed writes may have been lost on this node although
     * the server kept running (e.g. the ownership epoch). The server's own random incarnation, new
     * at every start, is always in it.
     */
    default long generation(String vdisk) {
      return 0;
    }

    /**
     * Whether the vDisk is in use on this node (e.g. an initiator is logged in to it): said in
     * INFO replies, so that a deletion asked on another node can be refused while it is.
     */
    default boolean inUse(String vdisk) {
      return false;
    }

    /** Resizes the vDisk (thinly); the default refuses. */
    default BlockVolume resize(String vdisk, long sizeBytes) throws IOException {
      throw new IOException("resizing vDisk " + vdisk + " over the cluster is not supported by this node");
    }
  }

  /**
   * @param bindAddress where to listen (127.0.0.1 by default; a cluster sets the node's address)
   * @param port 0 for an ephemeral port (tests)
   */
  public record Config(String bindAddress, int port, int workerThreads, int maxConnections,
      int maxInFlightPerConnection, long maxBufferedBytes) {
    public static final int DEFAULT_PORT = 3270;

    public Config {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("forward port " + port + " is not in 0..65535");
      }
      if (workerThreads < 1 || maxConnections < 1 || maxInFlightPerConnection < 1
          || maxBufferedBytes < Wire.MAX_PAYLOAD_BYTES) {
        throw new IllegalArgumentException("forward server: workerThreads, maxConnections and "
            + "maxInFlightPerConnection must be positive, maxBufferedBytes at least " + Wire.MAX_PAYLOAD_BYTES);
      }
    }

    public static Config defaults() {
      return new Config("127.0.0.1", DEFAULT_PORT, 32, 64, 64, 256L << 20);
    }

    public Config withPort(int p) {
      return new Config(bindAddress, p, workerThreads, maxConnections, maxInFlightPerConnection, maxBufferedBytes);
    }

    public Config withBindAddress(String a) {
      return new Config(a, port, workerThreads, maxConnections, maxInFlightPerConnection, maxBufferedBytes);
    }
  }

  private final Config config;
  private final Exports exports;
  private final long incarnation;
  private final EventLoopGroup boss;
  private final EventLoopGroup loops;
  private final ExecutorService workers;
  private final Channel listener;
  private final AtomicInteger connections = new AtomicInteger();
  /** Bytes of the requests in progress, all connections together (see {@link Config#maxBufferedBytes}). */
  private final java.util.concurrent.atomic.AtomicLong bufferedBytes = new java.util.concurrent.atomic.AtomicLong();
  /** Connections that stopped reading because {@link #bufferedBytes} was over the bound. */
  private final java.util.Queue<ChannelHandlerContext> starved = new java.util.concurrent.ConcurrentLinkedQueue<>();
  private final io.netty.channel.group.ChannelGroup children =
      new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

  private RemoteVolumeServer(Config config, Exports exports) throws IOException {
    this.config = config;
    this.exports = exports;
    this.incarnation = new SecureRandom().nextLong() | 1;
    this.boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    this.loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    AtomicInteger n = new AtomicInteger();
    this.workers = new ThreadPoolExecutor(config.workerThreads(), config.workerThreads(), 60, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "forward-worker-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    ServerBootstrap b = new ServerBootstrap().group(boss, loops).channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new io.netty.channel.WriteBufferWaterMark(2 << 20, 4 << 20))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new Wire.Decoder(), Wire.Encoder.INSTANCE, new Conn());
          }
        });
    try {
      this.listener = b.bind(config.bindAddress(), config.port()).syncUninterruptibly().channel();
    } catch (RuntimeException e) {
      shutdownQuietly();
      throw new IOException("forward server: cannot listen on " + config.bindAddress() + ":" + config.port() + ": "
          + e.getMessage(), e);
    }
    log.info("forward server listening on {}", listener.localAddress());
  }

  public static RemoteVolumeServer start(Config config, Exports exports) throws IOException {
    return new RemoteVolumeServer(config, exports);
  }

  public InetSocketAddress localAddress() {
    return (InetSocketAddress) listener.localAddress();
  }

  /** One connection: frames in, work to the pool, replies out; reading pauses when full. */
  private final class Conn extends SimpleChannelInboundHandler<Wire.Frame> {
    private int inFlight; // on the event loop only

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
      children.add(ctx.channel());
      if (connections.incrementAndGet() > config.maxConnections()) {
        log.warn("forward server: closing connection from {}: more than {} connections",
            ctx.channel().remoteAddress(), config.maxConnections());
        ctx.close();
      }
      ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      connections.decrementAndGet();
      ctx.fireChannelInactive();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Wire.Frame f) {
      // the decoder's retained payload: the worker releases it
      inFlight++;
      long bytes = Wire.HEADER_BYTES + f.payload().readableBytes() + replyBytes(f);
      bufferedBytes.addAndGet(bytes);
      updateReading(ctx);
      try {
        workers.execute(() -> {
          try {
            serve(ctx, f);
          } finally {
            f.payload().release();
            bufferedBytes.addAndGet(-bytes);
            ctx.channel().eventLoop().execute(() -> {
              inFlight--;
              updateReading(ctx);
            });
            wakeStarved();
          }
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        f.payload().release();
        inFlight--;
        bufferedBytes.addAndGet(-bytes);
        ctx.close(); // the server is closing
      }
    }

    /**
     * Reads from the connection only while it has room for another request and its replies are
     * being taken by the client (a client that sends but never reads would otherwise make the
     * server queue replies without end).
     */
    private void updateReading(ChannelHandlerContext ctx) {
      boolean room = bufferedBytes.get() <= config.maxBufferedBytes();
      boolean read = inFlight < config.maxInFlightPerConnection() && ctx.channel().isWritable() && room;
      if (ctx.channel().config().isAutoRead() != read) {
        ctx.channel().config().setAutoRead(read);
      }
      if (!room) {
        starved.add(ctx);
        if (bufferedBytes.get() <= config.maxBufferedBytes()) {
          wakeStarved(); // freed meanwhile
        }
      }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
      updateReading(ctx);
      ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof DecoderException) {
        log.warn("forward server: closing connection from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
      } else if (cause instanceof IOException) {
        log.info("forward server: connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
      } else {
        log.warn("forward server: closing connection from {}", ctx.channel().remoteAddress(), cause);
      }
      ctx.close();
    }
  }

  /** The data a request's reply will carry (a READ's), counted against the bound from its arrival. */
  private static long replyBytes(Wire.Frame f) {
    ByteBuf p = f.payload();
    if (f.type() != Wire.READ || p.readableBytes() < 2) {
      return 64;
    }
    int at = p.readerIndex() + 2 + p.getUnsignedShort(p.readerIndex()) + 8;
    return at + 4 <= p.writerIndex() ? Math.max(64, Math.min(p.getInt(at), Wire.MAX_IO_BYTES)) : 64;
  }

  /** Lets the connections that stopped for the server-wide bound read again, once under it. */
  private void wakeStarved() {
    while (bufferedBytes.get() <= config.maxBufferedBytes()) {
      ChannelHandlerContext c = starved.poll();
      if (c == null) {
        return;
      }
      c.channel().eventLoop().execute(() -> ((Conn) c.handler()).updateReading(c));
    }
  }

  private void serve(ChannelHandlerContext ctx, Wire.Frame f) {
    ByteBuf p = f.payload();
    int type = f.type();
    String name = "?";
    try {
      if (type < Wire.INFO || type > Wire.RESIZE) {
        throw new IllegalArgumentException("unknown request type " + type);
      }
      name = Wire.getString(p);
      Optional<BlockVolume> found = exports.lookup(name);
      if (found.isEmpty()) {
        error(ctx, f, Wire.Status.NOT_OWNER, "vDisk " + name + " is not served by " + config.bindAddress() + ":"
            + localAddress().getPort());
        return;
      }
      BlockVolume v = found.get();
      switch (type) {
        case Wire.INFO -> ok(ctx, f, name, v, null, true, exports.inUse(name));
        case Wire.READ -> read(ctx, f, name, v, p);
        case Wire.WRITE -> write(ctx, f, name, v, p);
        case Wire.FLUSH -> {
          v.flush();
          ok(ctx, f, name, v, null, true);
        }
        case Wire.UNMAP -> {
          Wire.need(p, 16);
          long offset = p.readLong();
          long length = p.readLong();
          v.unmap(offset, length);
          ok(ctx, f, name, v, null, true);
        }
        case Wire.RESIZE -> {
          Wire.need(p, 9);
          long bytes = p.readLong();
          boolean growOnly = p.readByte() != 0;
          if (!growOnly || bytes > v.sizeBytes()) {
            v = exports.resize(name, bytes);
          }
          ok(ctx, f, name, v, null, true);
        }
        default -> throw new IllegalArgumentException("unknown request type " + type);
      }
    } catch (IllegalArgumentException e) {
      error(ctx, f, Wire.Status.BAD_REQUEST, "vDisk " + name + ": " + e.getMessage());
    } catch (VolumeOfflineException e) {
      error(ctx, f, Wire.Status.OFFLINE, e.getMessage());
    } catch (NotOwnerException e) {
      error(ctx, f, Wire.Status.NOT_OWNER, e.getMessage());
    } catch (IOException | RuntimeException e) {
      log.warn("forward server: request {} for vDisk {} from {} failed: {}", type, name,
          ctx.channel().remoteAddress(), e.toString());
      error(ctx, f, Wire.Status.IO_ERROR, "vDisk " + name + " on its owner: " + e);
    }
  }

  private void read(ChannelHandlerContext ctx, Wire.Frame f, String name, BlockVolume v, ByteBuf p)
      throws IOException {
    Wire.need(p, 12);
    long offset = p.readLong();
    int len = p.readInt();
    if (len < 0 || len > Wire.MAX_IO_BYTES) {
      throw new IllegalArgumentException("read of " + len + " bytes (at most " + Wire.MAX_IO_BYTES + " per request)");
    }
    ByteBuf data = ctx.alloc().heapBuffer(len);
    try {
      ByteBuffer dst = data.nioBuffer(0, len);
      v.read(offset, dst);
      data.writerIndex(len);
      ok(ctx, f, name, v, data.retain(), true);
    } finally {
      data.release();
    }
  }

  private void write(ChannelHandlerContext ctx, Wire.Frame f, String name, BlockVolume v, ByteBuf p)
      throws IOException {
    Wire.need(p, 9);
    long offset = p.readLong();
    int d = p.readUnsignedByte();
    if (d > 1) {
      throw new IllegalArgumentException("durability " + d);
    }
    Durability durability = d == 0 ? Durability.DURABLE : Durability.BUFFERED;
    ByteBuffer src = p.nioBuffer();
    BlockVolume.Pending pending = v.writeDeferred(offset, src, durability);
    if (pending == BlockVolume.Pending.NONE) {
      ok(ctx, f, name, v, null, true);
      return;
    }
    // visible to reads now: the caller may go on (its next write, a read of the same blocks)
    // while the owner waits for the durability asked
    ok(ctx, f, name, v, null, false);
    pending.await();
    ok(ctx, f, name, v, null, true);
  }

  private long session(String name) {
    return incarnation + 0x9E3779B97F4A7C15L * exports.generation(name);
  }

  private void ok(ChannelHandlerContext ctx, Wire.Frame f, String name, BlockVolume v, ByteBuf data, boolean last) {
    ok(ctx, f, name, v, data, last, false);
  }

  private void ok(ChannelHandlerContext ctx, Wire.Frame f, String name, BlockVolume v, ByteBuf data, boolean last,
      boolean inUse) {
    ByteBuf b = ctx.alloc().buffer(1 + 37 + (data == null ? 0 : data.readableBytes()));
    try {
      b.writeByte(Wire.Status.OK.ordinal());
      b.writeLong(session(name));
      b.writeLong(v.sizeBytes());
      b.writeInt(v.blockSize());
      b.writeByte((v.ready() ? 1 : 0) | (v.readOnly() ? 2 : 0) | (inUse ? 4 : 0));
      b.writeLong(v.id().getMostSignificantBits());
      b.writeLong(v.id().getLeastSignificantBits());
      if (data != null) {
        b.writeBytes(data);
      }
    } catch (RuntimeException e) {
      b.release();
      throw e;
    } finally {
      if (data != null) {
        data.release();
      }
    }
    ctx.writeAndFlush(new Wire.Out(f.type() | Wire.REPLY, last ? Wire.FLAG_FINAL : 0, f.id(), b));
  }

  private void error(ChannelHandlerContext ctx, Wire.Frame f, Wire.Status status, String message) {
    ByteBuf b = ctx.alloc().buffer(64);
    b.writeByte(status.ordinal());
    byte[] m = message.getBytes(StandardCharsets.UTF_8);
    int n = Math.min(m.length, Wire.MAX_NAME_BYTES);
    b.writeShort(n);
    b.writeBytes(m, 0, n);
    ctx.writeAndFlush(new Wire.Out((f.type() & 0x7f) | Wire.REPLY, Wire.FLAG_FINAL, f.id(), b));
  }

  private void shutdownQuietly() {
    workers.shutdownNow();
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS);
  }

  @Override
  public void close() {
    listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    // clients see the connections close at once and fail what they have in flight here
    children.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    workers.shutdown();
    try {
      if (!workers.awaitTermination(30, TimeUnit.SECONDS)) {
        log.warn("forward server: requests still running after 30 s at close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    log.info("forward server {} closed", config.bindAddress() + ":" + config.port());
  }
}
