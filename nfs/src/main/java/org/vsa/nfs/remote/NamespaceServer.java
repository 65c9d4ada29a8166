package org.vsa.nfs.remote;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.nfs.Attr;
import org.vsa.nfs.Namespace;
import org.vsa.nfs.NfsException;
import org.vsa.volume.Durability;
import org.vsa.volume.remote.Wire;

/**
 * Serves this node's vPool namespaces to the other nodes ({@link RemoteNamespace}), so that one
 * node (the namespace's owner) holds each vPool's directories and small files and every other node
 * forwards its NFS clients' namespace calls there. See {@link NsWire} for the format.
 *
 * <p>The server answers for exactly the namespaces {@link Exports#lookup} gives at the time of each
 * request; for any other it answers NOT_OWNER (the client throws a retryable
 * {@link NamespaceUnavailableException}). An {@link NfsException} of the local namespace goes back
 * with its status unchanged. Calls run on a bounded pool of worker threads, never on the event
 * loops; a write asked DURABLE and a COMMIT are answered only once the local namespace has returned
 * from them (durable). Memory is bounded as in the block-forwarding server: at most
 * {@link Config#maxInFlightPerConnection} requests per connection and about
 * {@link Config#maxBufferedBytes} of request and reply data over all connections (a READ counts its
 * reply from its arrival), beyond which the server stops reading until some are answered; it also
 * stops reading a connection whose unsent replies exceed 4 MiB.
 */
public final class NamespaceServer implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(NamespaceServer.class);
  private static final Wire.Encoder ENCODER = new Wire.Encoder(NsWire.MAGIC);
  /** Room kept in a READDIR reply for the header fields and one more entry. */
  private static final int READDIR_REPLY_BYTES_MAX = Wire.MAX_PAYLOAD_BYTES - 2048;

  /** What the server exports: the namespaces this node owns now, by vPool. */
  @FunctionalInterface
  public interface Exports {
    /** The vPool's namespace if this node serves it now; empty answers NOT_OWNER. */
    Optional<Namespace> lookup(String vpool);
  }

  /**
   * @param bindAddress where to listen
   * @param port 0 for an ephemeral port (tests)
   */
  public record Config(String bindAddress, int port, int workerThreads, int maxConnections,
      int maxInFlightPerConnection, long maxBufferedBytes) {
    public static final int DEFAULT_PORT = 3271;

    public Config {
      if (port < 0 || port > 65535) {
        throw new IllegalArgumentException("namespace forward port " + port + " is not in 0..65535");
      }
      if (workerThreads < 1 || maxConnections < 1 || maxInFlightPerConnection < 1
          || maxBufferedBytes < Wire.MAX_PAYLOAD_BYTES) {
        throw new IllegalArgumentException("namespace forward server: workerThreads, maxConnections and "
            + "maxInFlightPerConnection must be positive, maxBufferedBytes at least " + Wire.MAX_PAYLOAD_BYTES);
      }
    }

    public static Config defaults() {
      return new Config("127.0.0.1", DEFAULT_PORT, 16, 64, 64, 128L << 20);
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
  private final AtomicLong bufferedBytes = new AtomicLong();
  private final Queue<ChannelHandlerContext> starved = new ConcurrentLinkedQueue<>();
  private final ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

  private NamespaceServer(Config config, Exports exports) throws IOException {
    this.config = config;
    this.exports = exports;
    this.incarnation = new SecureRandom().nextLong() | 1;
    this.boss = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    this.loops = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    AtomicInteger n = new AtomicInteger();
    this.workers = new ThreadPoolExecutor(config.workerThreads(), config.workerThreads(), 60, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "ns-forward-worker-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
    ServerBootstrap b = new ServerBootstrap().group(boss, loops).channel(NioServerSocketChannel.class)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(2 << 20, 4 << 20))
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new Wire.Decoder(NsWire.MAGIC), ENCODER, new Conn());
          }
        });
    try {
      this.listener = b.bind(config.bindAddress(), config.port()).syncUninterruptibly().channel();
    } catch (RuntimeException e) {
      workers.shutdownNow();
      boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
      loops.shutdownGracefully(0, 2, TimeUnit.SECONDS);
      throw new IOException("namespace forward server: cannot listen on " + config.bindAddress() + ":"
          + config.port() + ": " + e.getMessage(), e);
    }
    log.info("namespace forward server listening on {}", listener.localAddress());
  }

  public static NamespaceServer start(Config config, Exports exports) throws IOException {
    return new NamespaceServer(config, exports);
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
        log.warn("namespace forward server: closing connection from {}: more than {} connections",
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
      } catch (RejectedExecutionException e) {
        f.payload().release();
        inFlight--;
        bufferedBytes.addAndGet(-bytes);
        ctx.close(); // closing
      }
    }

    void updateReading(ChannelHandlerContext ctx) {
      boolean room = bufferedBytes.get() <= config.maxBufferedBytes();
      boolean read = inFlight < config.maxInFlightPerConnection() && ctx.channel().isWritable() && room;
      if (ctx.channel().config().isAutoRead() != read) {
        ctx.channel().config().setAutoRead(read);
      }
      if (!room) {
        starved.add(ctx);
        if (bufferedBytes.get() <= config.maxBufferedBytes()) {
          wakeStarved();
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
        log.warn("namespace forward server: closing connection from {}: {}", ctx.channel().remoteAddress(),
            cause.getMessage());
      } else if (cause instanceof IOException) {
        log.info("namespace forward server: connection from {} failed: {}", ctx.channel().remoteAddress(),
            cause.toString());
      } else {
        log.warn("namespace forward server: closing connection from {}", ctx.channel().remoteAddress(), cause);
      }
      ctx.close();
    }
  }

  /** The data a READ's reply will carry, counted from its arrival. */
  private static long replyBytes(Wire.Frame f) {
    if (f.type() == NsWire.READDIR) {
      return READDIR_REPLY_BYTES_MAX;
    }
    ByteBuf p = f.payload();
    if (f.type() != NsWire.READ || p.readableBytes() < 2) {
      return 128;
    }
    int at = p.readerIndex() + 2 + p.getUnsignedShort(p.readerIndex()) + 16;
    return at + 4 <= p.writerIndex() ? Math.max(128, Math.min(p.getInt(at), NsWire.MAX_IO_BYTES)) : 128;
  }

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
    String vpool = "?";
    ByteBuf out = ctx.alloc().buffer(256);
    try {
      if (type < NsWire.HELLO || type > NsWire.LAST_TYPE) {
        throw new IllegalArgumentException("unknown request type " + type);
      }
      vpool = NsWire.getString(p);
      Optional<Namespace> found = exports.lookup(vpool);
      if (found.isEmpty()) {
        error(ctx, f, out, NsWire.NOT_OWNER, 0, "the namespace of vPool " + vpool + " is not served by "
            + localAddress());
        out = null;
        return;
      }
      Namespace ns = found.get();
      long known = NsWire.getLong(p);
      if (type != NsWire.HELLO && known != ns.namespaceId()) {
        log.warn("namespace forward server: a request from {} for namespace {} of vPool {}, which is now namespace {}",
            ctx.channel().remoteAddress(), Long.toHexString(known), vpool, Long.toHexString(ns.namespaceId()));
        error(ctx, f, out, NsWire.WRONG_NAMESPACE, 0, "vPool " + vpool + " is another namespace (" + Long.toHexString(
            ns.namespaceId()) + ") than the one asked for (" + Long.toHexString(known) + ") on " + localAddress());
        out = null;
        return;
      }
      out.writeByte(NsWire.OK);
      out.writeLong(incarnation);
      int epochAt = out.writerIndex();
      out.writeLong(0); // the writeEpoch, read after the call
      call(ns, type, p, out);
      if (p.isReadable()) {
        throw new IllegalArgumentException(p.readableBytes() + " bytes left over in a request of type " + type);
      }
      out.setLong(epochAt, ns.writeEpoch());
      reply(ctx, f, out);
      out = null;
    } catch (NfsException e) {
      out.clear();
      error(ctx, f, out, NsWire.NFS_ERROR, e.status(), e.getMessage());
      out = null;
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      out.clear();
      error(ctx, f, out, NsWire.BAD_REQUEST, 0, "vPool " + vpool + ": " + e.getMessage());
      out = null;
    } catch (RuntimeException | IOException e) {
      log.warn("namespace forward server: request {} for vPool {} from {} failed", type, vpool,
          ctx.channel().remoteAddress(), e);
      out.clear();
      error(ctx, f, out, NsWire.SERVER_ERROR, 0, "vPool " + vpool + " on its owner: " + e);
      out = null;
    } finally {
      if (out != null) {
        out.release();
      }
    }
  }

  /** Runs one namespace method with the arguments in {@code p}, its result appended to {@code out}. */
  private static void call(Namespace ns, int type, ByteBuf p, ByteBuf out) throws NfsException, IOException {
    switch (type) {
      case NsWire.HELLO -> {
        out.writeLong(ns.namespaceId());
        out.writeLong(ns.rootId());
      }
      case NsWire.GETATTR -> NsWire.putAttr(out, ns.getattr(NsWire.getLong(p)));
      case NsWire.LOOKUP -> {
        long dir = NsWire.getLong(p);
        out.writeLong(ns.lookup(dir, NsWire.getString(p)));
      }
      case NsWire.SETATTR -> {
        long id = NsWire.getLong(p);
        NsWire.putAttr(out, ns.setattr(id, NsWire.getSetAttr(p)));
      }
      case NsWire.CREATE -> {
        long dir = NsWire.getLong(p);
        String name = NsWire.getString(p);
        int uid = NsWire.getInt(p);
        int gid = NsWire.getInt(p);
        var attrs = NsWire.getSetAttr(p);
        Wire.need(p, 1);
        boolean exclusive = p.readUnsignedByte() != 0;
        out.writeLong(ns.create(dir, name, uid, gid, attrs, exclusive));
      }
      case NsWire.CREATE_EXCLUSIVE -> {
        long dir = NsWire.getLong(p);
        String name = NsWire.getString(p);
        int uid = NsWire.getInt(p);
        int gid = NsWire.getInt(p);
        out.writeLong(ns.createExclusive(dir, name, uid, gid, NsWire.getLong(p)));
      }
      case NsWire.MKDIR -> {
        long dir = NsWire.getLong(p);
        String name = NsWire.getString(p);
        int uid = NsWire.getInt(p);
        int gid = NsWire.getInt(p);
        out.writeLong(ns.mkdir(dir, name, uid, gid, NsWire.getSetAttr(p)));
      }
      case NsWire.SYMLINK -> {
        long dir = NsWire.getLong(p);
        String name = NsWire.getString(p);
        String target = NsWire.getString(p);
        int uid = NsWire.getInt(p);
        int gid = NsWire.getInt(p);
        out.writeLong(ns.symlink(dir, name, target, uid, gid, NsWire.getSetAttr(p)));
      }
      case NsWire.READLINK -> NsWire.putString(out, ns.readlink(NsWire.getLong(p)));
      case NsWire.REMOVE -> {
        long dir = NsWire.getLong(p);
        ns.remove(dir, NsWire.getString(p));
      }
      case NsWire.RMDIR -> {
        long dir = NsWire.getLong(p);
        ns.rmdir(dir, NsWire.getString(p));
      }
      case NsWire.RENAME -> {
        long from = NsWire.getLong(p);
        String fromName = NsWire.getString(p);
        long to = NsWire.getLong(p);
        ns.rename(from, fromName, to, NsWire.getString(p));
      }
      case NsWire.READDIR -> readdir(ns, p, out);
      case NsWire.HAS_MORE -> {
        long dir = NsWire.getLong(p);
        out.writeByte(ns.hasMoreAfter(dir, NsWire.getLong(p)) ? 1 : 0);
      }
      case NsWire.READ -> read(ns, p, out);
      case NsWire.WRITE -> write(ns, p, out);
      case NsWire.COMMIT -> ns.commit(NsWire.getLong(p));
      case NsWire.CAPACITY -> {
        long[] c = ns.capacity();
        out.writeLong(c[0]);
        out.writeLong(c[1]);
      }
      case NsWire.LAYOUT -> {
        Namespace.Layout l = ns.layout(NsWire.getLong(p));
        if (l == null) {
          out.writeByte(0);
        } else {
          out.writeByte(1);
          NsWire.putString(out, l.vdisk());
          out.writeLong(l.sizeBytes());
          NsWire.putAttr(out, l.attr());
        }
      }
      default -> throw new IllegalArgumentException("unknown request type " + type);
    }
  }

  /** Entries as the namespace gives them, cut short (a later READDIR goes on) to fit one frame. */
  private static void readdir(Namespace ns, ByteBuf p, ByteBuf out) throws NfsException {
    long dir = NsWire.getLong(p);
    long cookie = NsWire.getLong(p);
    int max = NsWire.getInt(p);
    if (max < 1) {
      throw new IllegalArgumentException("readdir of at most " + max + " entries");
    }
    List<Namespace.Entry> entries = ns.readdir(dir, cookie, max);
    int countAt = out.writerIndex();
    out.writeInt(0);
    int n = 0;
    for (Namespace.Entry e : entries) {
      if (out.writerIndex() > READDIR_REPLY_BYTES_MAX) {
        break;
      }
      NsWire.putString(out, e.name());
      out.writeLong(e.fileId());
      out.writeLong(e.cookie());
      n++;
    }
    out.setInt(countAt, n);
  }

  private static void read(Namespace ns, ByteBuf p, ByteBuf out) throws NfsException {
    long id = NsWire.getLong(p);
    long offset = NsWire.getLong(p);
    int len = NsWire.getInt(p);
    if (len < 0 || len > NsWire.MAX_IO_BYTES) {
      throw new IllegalArgumentException("read of " + len + " bytes (at most " + NsWire.MAX_IO_BYTES + ")");
    }
    ByteBuffer dst = ByteBuffer.allocate(len);
    Namespace.Read r = ns.read(id, offset, dst);
    if (r.count() < 0 || r.count() > len) {
      throw new IllegalStateException("the namespace read " + r.count() + " bytes of " + len);
    }
    out.writeInt(r.count());
    NsWire.putAttr(out, r.after());
    out.writeBytes(dst.array(), 0, r.count());
  }

  private static void write(Namespace ns, ByteBuf p, ByteBuf out) throws NfsException {
    long id = NsWire.getLong(p);
    long offset = NsWire.getLong(p);
    Wire.need(p, 1);
    int d = p.readUnsignedByte();
    if (d > 1) {
      throw new IllegalArgumentException("durability " + d);
    }
    ByteBuffer data = p.nioBuffer();
    p.skipBytes(p.readableBytes());
    // write, not writeDeferred: the reply says the write is done with the durability asked
    Namespace.Written w = ns.write(id, offset, data, d == 0 ? Durability.DURABLE : Durability.BUFFERED);
    w.settle().await();
    out.writeInt(w.count());
    out.writeByte(w.durable() ? 1 : 0);
    NsWire.putAttr(out, w.after());
  }

  private static void reply(ChannelHandlerContext ctx, Wire.Frame f, ByteBuf out) {
    ctx.writeAndFlush(new Wire.Out(f.type() | NsWire.REPLY, 1, f.id(), out))
        .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
  }

  private static void error(ChannelHandlerContext ctx, Wire.Frame f, ByteBuf out, int status, int nfsStatus,
      String message) {
    out.writeByte(status);
    if (status == NsWire.NFS_ERROR) {
      out.writeInt(nfsStatus);
    }
    NsWire.putMessage(out, message);
    ctx.writeAndFlush(new Wire.Out((f.type() & 0x7f) | NsWire.REPLY, 1, f.id(), out))
        .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
  }

  @Override
  public void close() {
    listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    children.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    workers.shutdown();
    try {
      if (!workers.awaitTermination(30, TimeUnit.SECONDS)) {
        log.warn("namespace forward server: requests still running after 30 s at close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
    log.info("namespace forward server {} closed", config.bindAddress() + ":" + config.port());
  }
}
