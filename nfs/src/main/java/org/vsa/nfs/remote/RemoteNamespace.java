package org.vsa.nfs.remote;

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
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.nfs.Attr;
import org.vsa.nfs.Namespace;
import org.vsa.nfs.NfsException;
import org.vsa.nfs.SetAttr;
import org.vsa.nfs.Status;
import org.vsa.volume.Durability;
import org.vsa.volume.remote.Wire;

/**
 * A vPool's namespace held by another node (its owner), reached through that node's
 * {@link NamespaceServer}: every {@link Namespace} call is forwarded and returns with the owner's
 * answer, so that directories and small files are the same whichever node an NFS client uses.
 *
 * <ul>
 *   <li>The namespace id and the root's and every file's id are the owner's: file handles made by
 *       one node are valid on any other.
 *   <li>An {@link NfsException} of the owner is thrown here with the same status.
 *   <li>A write asked {@code DURABLE}, and a {@link #commit}, return only once the owner's
 *       namespace has made them durable; metadata changes are durable on the owner when they
 *       return (as on a local namespace).
 *   <li>{@link NamespaceUnavailableException} (status JUKEBOX, retryable): the owner could not be
 *       reached, stopped answering within the request timeout, or does not serve the namespace any
 *       more, or serves another namespace under the vPool's name (one recreated: other ids); the
 *       caller asks the cluster for the owner again. After a lost connection the next call
 *       connects again (at most one attempt per connect timeout).
 *   <li>{@link #writeEpoch} grows whenever the owner's answers come from another incarnation of its
 *       server (it restarted) or its namespace's own write epoch changed: UNSTABLE writes acknowledged
 *       before may be gone, and the NFS verifiers change with it.
 *   <li>{@link #contentStamp} is 0 (unknown): no read-ahead on a forwarded namespace.
 * </ul>
 *
 * <p>Requests are pipelined on one connection and matched to their replies by id; at most
 * {@link Config#maxInFlight} at once (a caller beyond that waits, at most the request timeout). A
 * request without an answer within the request timeout fails, and the connection is closed (a peer
 * that stopped answering one request is not trusted with the others).
 */
public final class RemoteNamespace implements Namespace {
  private static final Logger log = LoggerFactory.getLogger(RemoteNamespace.class);
  private static final Wire.Encoder ENCODER = new Wire.Encoder(NsWire.MAGIC);

  public record Config(Duration connectTimeout, Duration requestTimeout, int maxInFlight) {
    public Config {
      if (connectTimeout.isNegative() || connectTimeout.isZero() || requestTimeout.isNegative()
          || requestTimeout.isZero() || maxInFlight < 1) {
        throw new IllegalArgumentException("namespace forward client: timeouts and maxInFlight must be positive");
      }
    }

    public static Config defaults() {
      return new Config(Duration.ofSeconds(2), Duration.ofSeconds(30), 64);
    }
  }

  private final InetSocketAddress owner;
  private final String vpool;
  private final Config config;
  private final EventLoopGroup group;
  private final Bootstrap bootstrap;
  private final Map<Long, Call> calls = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final Semaphore slots;
  private final ScheduledFuture<?> sweeper;
  private final Object connectLock = new Object();
  private volatile Channel channel;
  private long lastFailedConnectNanos;
  private NamespaceUnavailableException lastConnectError;
  private volatile boolean closed;
  private volatile long namespaceId;
  private volatile long rootId;
  /** The owner's (incarnation, writeEpoch) of the last answer, and how often it changed. */
  private long seenIncarnation;
  private long seenEpoch;
  private long writeEpoch;
  private volatile long[] lastCapacity = {0, 0};

  private static final class Call {
    final long id;
    final Channel channel;
    final long deadlineNanos;
    final CompletableFuture<ByteBuf> reply = new CompletableFuture<>();

    Call(long id, Channel channel, long deadlineNanos) {
      this.id = id;
      this.channel = channel;
      this.deadlineNanos = deadlineNanos;
    }
  }

  private RemoteNamespace(InetSocketAddress owner, String vpool, Config config) {
    this.owner = owner;
    this.vpool = vpool;
    this.config = config;
    this.slots = new Semaphore(config.maxInFlight());
    this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new Wire.Decoder(NsWire.MAGIC), ENCODER, new Replies());
          }
        });
    this.sweeper = group.scheduleAtFixedRate(this::expire, 100, 100, TimeUnit.MILLISECONDS);
  }

  /**
   * The namespace of {@code vpool} as served by the node at {@code owner}; asks it for the
   * namespace id and root. Throws (and holds nothing) if the owner cannot be reached or does not
   * serve it.
   */
  public static RemoteNamespace open(InetSocketAddress owner, String vpool, Config config) throws NfsException {
    RemoteNamespace r = new RemoteNamespace(owner, vpool, config);
    try {
      r.hello();
      return r;
    } catch (NfsException | RuntimeException e) {
      r.close();
      throw e;
    }
  }

  private void hello() throws NfsException {
    ByteBuf b = call(NsWire.HELLO, x -> { });
    try {
      Wire.need(b, 16);
      namespaceId = b.readLong();
      rootId = b.readLong();
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  /** The owner this namespace is forwarded to. */
  public InetSocketAddress owner() {
    return owner;
  }

  public String vpool() {
    return vpool;
  }

  @Override
  public long namespaceId() {
    return namespaceId;
  }

  @Override
  public long rootId() {
    return rootId;
  }

  @Override
  public Attr getattr(long fileId) throws NfsException {
    return attrCall(NsWire.GETATTR, b -> b.writeLong(fileId));
  }

  @Override
  public long lookup(long dirId, String name) throws NfsException {
    return idCall(NsWire.LOOKUP, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
    });
  }

  @Override
  public Attr setattr(long fileId, SetAttr change) throws NfsException {
    return attrCall(NsWire.SETATTR, b -> {
      b.writeLong(fileId);
      NsWire.putSetAttr(b, change);
    });
  }

  @Override
  public long create(long dirId, String name, int uid, int gid, SetAttr attrs, boolean exclusive)
      throws NfsException {
    return idCall(NsWire.CREATE, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
      b.writeInt(uid);
      b.writeInt(gid);
      NsWire.putSetAttr(b, attrs);
      b.writeByte(exclusive ? 1 : 0);
    });
  }

  @Override
  public long createExclusive(long dirId, String name, int uid, int gid, long verifier) throws NfsException {
    return idCall(NsWire.CREATE_EXCLUSIVE, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
      b.writeInt(uid);
      b.writeInt(gid);
      b.writeLong(verifier);
    });
  }

  @Override
  public long mkdir(long dirId, String name, int uid, int gid, SetAttr attrs) throws NfsException {
    return idCall(NsWire.MKDIR, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
      b.writeInt(uid);
      b.writeInt(gid);
      NsWire.putSetAttr(b, attrs);
    });
  }

  @Override
  public long symlink(long dirId, String name, String target, int uid, int gid, SetAttr attrs)
      throws NfsException {
    return idCall(NsWire.SYMLINK, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
      NsWire.putString(b, target);
      b.writeInt(uid);
      b.writeInt(gid);
      NsWire.putSetAttr(b, attrs);
    });
  }

  @Override
  public Layout layout(long fileId) throws NfsException {
    ByteBuf b = call(NsWire.LAYOUT, x -> x.writeLong(fileId));
    try {
      Wire.need(b, 1);
      if (b.readUnsignedByte() == 0) {
        return null;
      }
      String vdisk = NsWire.getString(b);
      long size = NsWire.getLong(b);
      return new Layout(vdisk, size, NsWire.getAttr(b));
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  @Override
  public String readlink(long fileId) throws NfsException {
    ByteBuf b = call(NsWire.READLINK, x -> x.writeLong(fileId));
    try {
      return NsWire.getString(b);
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  @Override
  public void remove(long dirId, String name) throws NfsException {
    call(NsWire.REMOVE, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
    }).release();
  }

  @Override
  public void rmdir(long dirId, String name) throws NfsException {
    call(NsWire.RMDIR, b -> {
      b.writeLong(dirId);
      NsWire.putString(b, name);
    }).release();
  }

  @Override
  public void rename(long fromDirId, String fromName, long toDirId, String toName) throws NfsException {
    call(NsWire.RENAME, b -> {
      b.writeLong(fromDirId);
      NsWire.putString(b, fromName);
      b.writeLong(toDirId);
      NsWire.putString(b, toName);
    }).release();
  }

  @Override
  public List<Entry> readdir(long dirId, long cookie, int max) throws NfsException {
    ByteBuf b = call(NsWire.READDIR, x -> {
      x.writeLong(dirId);
      x.writeLong(cookie);
      x.writeInt(max);
    });
    try {
      int n = NsWire.getInt(b);
      if (n < 0 || n > max) {
        throw new IllegalArgumentException(n + " entries where at most " + max + " were asked");
      }
      List<Entry> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        String name = NsWire.getString(b);
        out.add(new Entry(name, NsWire.getLong(b), NsWire.getLong(b)));
      }
      return out;
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  @Override
  public boolean hasMoreAfter(long dirId, long cookie) throws NfsException {
    ByteBuf b = call(NsWire.HAS_MORE, x -> {
      x.writeLong(dirId);
      x.writeLong(cookie);
    });
    try {
      Wire.need(b, 1);
      return b.readUnsignedByte() != 0;
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  @Override
  public synchronized long writeEpoch() {
    return writeEpoch;
  }

  @Override
  public Read read(long fileId, long offset, ByteBuffer dst) throws NfsException {
    int total = 0;
    Attr after = null;
    while (dst.hasRemaining()) {
      int len = Math.min(dst.remaining(), NsWire.MAX_IO_BYTES);
      long at = offset + total;
      ByteBuf b = call(NsWire.READ, x -> {
        x.writeLong(fileId);
        x.writeLong(at);
        x.writeInt(len);
      });
      int n;
      try {
        n = NsWire.getInt(b);
        after = NsWire.getAttr(b);
        if (n < 0 || n > len || b.readableBytes() != n) {
          throw new IllegalArgumentException("a read of " + len + " bytes answered " + n + " with "
              + b.readableBytes() + " bytes of data");
        }
        ByteBuffer part = dst.duplicate();
        part.limit(part.position() + n);
        b.readBytes(part);
        dst.position(dst.position() + n);
      } catch (IllegalArgumentException e) {
        throw malformed(e);
      } finally {
        b.release();
      }
      total += n;
      if (n < len) {
        break; // end of file
      }
    }
    return new Read(total, after != null ? after : getattr(fileId));
  }

  @Override
  public Written write(long fileId, long offset, ByteBuffer data, Durability durability) throws NfsException {
    int total = 0;
    boolean durable = true;
    Attr after = null;
    do {
      int len = Math.min(data.remaining(), NsWire.MAX_IO_BYTES);
      ByteBuffer part = data.duplicate();
      part.limit(part.position() + len);
      long at = offset + total;
      ByteBuf b = call(NsWire.WRITE, x -> {
        x.writeLong(fileId);
        x.writeLong(at);
        x.writeByte(durability == Durability.DURABLE ? 0 : 1);
        x.writeBytes(part);
      });
      data.position(data.position() + len);
      try {
        int n = NsWire.getInt(b);
        Wire.need(b, 1);
        durable &= b.readUnsignedByte() != 0;
        after = NsWire.getAttr(b);
        if (n != len) {
          throw new IllegalArgumentException("a write of " + len + " bytes answered " + n);
        }
        total += n;
      } catch (IllegalArgumentException e) {
        throw malformed(e);
      } finally {
        b.release();
      }
    } while (data.hasRemaining());
    return new Written(total, durable, after, Settle.NONE);
  }

  @Override
  public void commit(long fileId) throws NfsException {
    call(NsWire.COMMIT, b -> b.writeLong(fileId)).release();
  }

  /** The owner's; the last known (zeros before any) when it cannot be asked. */
  @Override
  public long[] capacity() {
    try {
      ByteBuf b = call(NsWire.CAPACITY, x -> { });
      try {
        Wire.need(b, 16);
        lastCapacity = new long[] {b.readLong(), b.readLong()};
      } finally {
        b.release();
      }
    } catch (NfsException | IllegalArgumentException e) {
      log.info("namespace {} at {}: capacity unknown ({}); the last known is given", vpool, owner, e.getMessage());
    }
    return lastCapacity.clone();
  }

  private Attr attrCall(int type, Consumer<ByteBuf> args) throws NfsException {
    ByteBuf b = call(type, args);
    try {
      return NsWire.getAttr(b);
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  private long idCall(int type, Consumer<ByteBuf> args) throws NfsException {
    ByteBuf b = call(type, args);
    try {
      return NsWire.getLong(b);
    } catch (IllegalArgumentException e) {
      throw malformed(e);
    } finally {
      b.release();
    }
  }

  private NfsException malformed(Exception e) {
    log.warn("namespace {} at {}: malformed reply: {}", vpool, owner, e.getMessage());
    return new NfsException(Status.SERVERFAULT, "namespace " + vpool + " at " + owner + ": malformed reply: "
        + e.getMessage());
  }

  /**
   * Sends one request (the vPool's name, then what {@code args} writes) and waits for its reply:
   * an OK reply's payload positioned at the method's result, which the caller releases; any other
   * answer thrown.
   */
  private ByteBuf call(int type, Consumer<ByteBuf> args) throws NfsException {
    Call c = send(type, args);
    ByteBuf b;
    try {
      b = c.reply.get(config.requestTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("interrupted while waiting for the answer");
    } catch (ExecutionException e) {
      Throwable t = e.getCause();
      throw t instanceof NamespaceUnavailableException u ? new NamespaceUnavailableException(u.getMessage(), false)
          : unavailable(String.valueOf(t));
    } catch (TimeoutException e) {
      throw unavailable("no answer in " + config.requestTimeout().toMillis() + " ms");
    }
    boolean ok = false;
    try {
      ok = status(b);
      return b;
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      throw malformed(e);
    } finally {
      if (!ok) {
        b.release();
      }
    }
  }

  /** Reads a reply's status: true for OK (then positioned at the result), otherwise throws. */
  private boolean status(ByteBuf b) throws NfsException {
    Wire.need(b, 1);
    int st = b.readUnsignedByte();
    switch (st) {
      case NsWire.OK -> {
        Wire.need(b, 16);
        saw(b.readLong(), b.readLong());
        return true;
      }
      case NsWire.NFS_ERROR -> {
        int nfs = NsWire.getInt(b);
        throw new NfsException(nfs, NsWire.getString(b));
      }
      case NsWire.NOT_OWNER -> throw new NamespaceUnavailableException(NsWire.getString(b), true);
      case NsWire.WRONG_NAMESPACE -> {
        String m = NsWire.getString(b);
        log.warn("namespace {} at {}: {}", vpool, owner, m);
        throw new NamespaceUnavailableException(m, true);
      }
      case NsWire.BAD_REQUEST -> {
        String m = NsWire.getString(b);
        log.warn("namespace {} at {}: the owner refused a request as malformed: {}", vpool, owner, m);
        throw new NfsException(Status.SERVERFAULT, m);
      }
      case NsWire.SERVER_ERROR -> throw new NfsException(Status.IO, NsWire.getString(b));
      default -> throw new IllegalArgumentException("reply status " + st);
    }
  }

  private synchronized void saw(long incarnation, long epoch) {
    if (seenIncarnation == 0) {
      seenIncarnation = incarnation;
      seenEpoch = epoch;
    } else if (incarnation != seenIncarnation || epoch != seenEpoch) {
      log.info("namespace {} at {}: the owner's incarnation or write epoch changed; UNSTABLE writes "
          + "acknowledged before may be lost", vpool, owner);
      seenIncarnation = incarnation;
      seenEpoch = epoch;
      writeEpoch++;
    }
  }

  private NamespaceUnavailableException unavailable(String why) {
    return new NamespaceUnavailableException("namespace " + vpool + " at " + owner + ": " + why, false);
  }

  private Call send(int type, Consumer<ByteBuf> args) throws NfsException {
    boolean slot = false;
    ByteBuf p = ByteBufAllocator.DEFAULT.buffer(256);
    try {
      NsWire.putString(p, vpool);
      p.writeLong(type == NsWire.HELLO ? 0 : namespaceId);
      args.accept(p);
      if (p.readableBytes() > Wire.MAX_PAYLOAD_BYTES) {
        throw new NfsException(Status.INVAL, "a request of " + p.readableBytes() + " bytes is too large to forward");
      }
      slot = slots.tryAcquire(config.requestTimeout().toNanos(), TimeUnit.NANOSECONDS);
      if (!slot) {
        throw unavailable("no room for the request in " + config.requestTimeout().toMillis() + " ms ("
            + config.maxInFlight() + " requests in flight)");
      }
      Channel ch = connect();
      Call c = new Call(ids.incrementAndGet(), ch, System.nanoTime() + config.requestTimeout().toNanos());
      calls.put(c.id, c);
      c.reply.whenComplete((r, e) -> {
        calls.remove(c.id);
        slots.release();
      });
      slot = false;
      ByteBuf out = p;
      p = null;
      ch.writeAndFlush(new Wire.Out(type, 0, c.id, out)).addListener(f -> {
        if (!f.isSuccess()) {
          c.reply.completeExceptionally(unavailable("send failed: " + f.cause()));
        }
      });
      if (!ch.isActive()) {
        c.reply.completeExceptionally(unavailable("connection lost"));
      }
      return c;
    } catch (IllegalArgumentException e) {
      throw new NfsException(Status.INVAL, "cannot forward: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unavailable("interrupted while waiting to send");
    } finally {
      if (p != null) {
        p.release();
      }
      if (slot) {
        slots.release();
      }
    }
  }

  private Channel connect() throws NamespaceUnavailableException {
    Channel c = channel;
    if (c != null && c.isActive()) {
      return c;
    }
    synchronized (connectLock) {
      if (closed) {
        throw unavailable("client closed");
      }
      c = channel;
      if (c != null && c.isActive()) {
        return c;
      }
      long now = System.nanoTime();
      if (lastConnectError != null && now - lastFailedConnectNanos < config.connectTimeout().toNanos()) {
        throw new NamespaceUnavailableException(lastConnectError.getMessage(), false);
      }
      ChannelFuture f = bootstrap.connect(owner);
      boolean finished = f.awaitUninterruptibly(config.connectTimeout().toMillis() + 500);
      if (!finished || !f.isSuccess()) {
        f.cancel(false);
        f.channel().close();
        lastFailedConnectNanos = System.nanoTime();
        lastConnectError = unavailable("cannot connect: "
            + (finished ? String.valueOf(f.cause()) : "no answer in " + config.connectTimeout().toMillis() + " ms"));
        log.warn("{}", lastConnectError.getMessage());
        throw lastConnectError;
      }
      lastConnectError = null;
      Channel ch = f.channel();
      channel = ch;
      ch.closeFuture().addListener(x -> failAll(ch, "connection lost"));
      return ch;
    }
  }

  private void failAll(Channel ch, String why) {
    for (Call c : calls.values()) {
      if (c.channel == ch) {
        c.reply.completeExceptionally(unavailable(why));
      }
    }
  }

  private void expire() {
    long now = System.nanoTime();
    for (Call c : calls.values()) {
      if (now - c.deadlineNanos > 0) {
        log.warn("namespace {} at {}: request {} got no answer in {} ms; closing the connection", vpool, owner, c.id,
            config.requestTimeout().toMillis());
        c.reply.completeExceptionally(unavailable("no answer in " + config.requestTimeout().toMillis() + " ms"));
        c.channel.close();
      }
    }
  }

  /** Replies in, matched to their calls by id; one that matches none (timed out) is dropped. */
  private final class Replies extends SimpleChannelInboundHandler<Wire.Frame> {
    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Wire.Frame f) {
      Call c = calls.get(f.id());
      if (c == null || (f.type() & NsWire.REPLY) == 0 || (f.type() & 0x7f) == 0) {
        f.payload().release();
        if (c != null) {
          log.warn("namespace {} at {}: a request where a reply was expected; closing the connection", vpool, owner);
          c.reply.completeExceptionally(unavailable("malformed reply"));
          ctx.close();
        }
        return;
      }
      if (!c.reply.complete(f.payload())) {
        f.payload().release(); // failed meanwhile (timed out)
      }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.warn("namespace {} at {}: closing the connection: {}", vpool, owner, cause.toString());
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
      call.reply.completeExceptionally(unavailable("client closed"));
    }
    sweeper.cancel(false);
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
  }
}
