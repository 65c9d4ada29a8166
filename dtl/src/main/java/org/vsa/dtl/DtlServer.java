package org.vsa.dtl;

import io.netty.bootstrap.ServerBootstrap;
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
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DTL server of one node: per-vDisk logs ({@code <vdisk id>.dtl}, see {@link LogCodec}) in
 * one directory on local flash, served over Netty. The logic is {@link ServerLog}'s; this class
 * reads frames, runs a request through it, appends and forces the file, and answers. Replies that
 * promise durability leave only after the force, one force per batch of requests read together.
 *
 * <p>Disk use is bounded by {@code capacityBytes} (appends beyond it are refused with FULL, so
 * the owner turns DEGRADED rather than the disk filling up); trimmed logs are rewritten once their
 * dead bytes outweigh the live ones. A malformed frame closes its connection only; a failing disk
 * makes that vDisk's log refuse requests, never the process stop.
 *
 * <p><b>Preallocation.</b> A log file is grown ahead of its end in chunks of
 * {@link #PREALLOC_CHUNK_BYTES}, written once with zeros, so that the {@code force(false)} before an
 * Ack is a data-only fdatasync: appending at the end of the file instead changes its size on every
 * request, and each fdatasync then also commits that change through the file system's journal,
 * where it queues behind every other fsync of the disk (measured with {@code DtlBench --stages}).
 * A chunk is zeroed and forced on a background thread once the log comes within half a chunk of it;
 * a burst that outruns it grows the file in line. The zero tail is not part of the log: a scan stops
 * at the first record without its magic, and recovery cuts the file back to its last valid record
 * (as it does a torn tail). Logs are preallocated only while the capacity leaves room for a chunk.
 */
public final class DtlServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DtlServer.class);
  static final String SUFFIX = ".dtl";
  /** A log file grows ahead of its end by this much (zeros, written once). */
  static final long PREALLOC_CHUNK_BYTES = 4L << 20;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(1 << 20);

  private final Path dir;
  private final long capacityBytes;
  private final long compactMinBytes;
  private final EventLoopGroup group;
  private final Channel channel;
  private final Map<UUID, VdiskLog> logs = new ConcurrentHashMap<>();
  private final AtomicLong usedBytes = new AtomicLong();
  /** Bytes of zeros beyond the logs' ends, over all logs. */
  private final AtomicLong preallocatedBytes = new AtomicLong();
  private final java.util.concurrent.ExecutorService preallocator;
  /**
   * Forces logs off the event loops, so that one vDisk's fsync does not delay the other
   * connections of its loop; a connection's replies still leave in order (see {@code Connection}).
   */
  private final java.util.concurrent.ExecutorService forcer;
  /** Open connections per event loop: a connection alone on its loop forces in line (no hand-off to pay). */
  private final Map<io.netty.channel.EventLoop, java.util.concurrent.atomic.AtomicInteger> connectionsPerLoop =
      new ConcurrentHashMap<>();

  /** One vDisk's log: its state machine and its file. All access under its monitor. */
  private final class VdiskLog {
    final UUID vdisk;
    final Path path;
    ServerLog state;
    FileChannel file;
    /** The file's length: the log's end ({@code state.fileBytes()}) plus zeros. */
    long allocated;
    /** Where the next record goes: the end of what was written of the log. */
    long written;
    boolean growing;
    /** Preallocating failed once (a full disk, say): this log grows with each record from now on. */
    boolean noPrealloc;
    /** Counts writes to the file; forcedGen: the count a completed force covered. */
    long writeGen;
    long forcedGen;
    String broken;

    VdiskLog(UUID vdisk, Path path, ServerLog state, FileChannel file) {
      this.vdisk = vdisk;
      this.path = path;
      this.state = state;
      this.file = file;
      this.allocated = state.fileBytes();
      this.written = state.fileBytes();
    }
  }

  private DtlServer(Path dir, long capacityBytes, long compactMinBytes, EventLoopGroup group, Channel channel) {
    this.dir = dir;
    this.capacityBytes = capacityBytes;
    this.compactMinBytes = compactMinBytes;
    this.group = group;
    this.channel = channel;
    this.preallocator = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "dtl-prealloc");
      t.setDaemon(true);
      return t;
    });
    this.forcer = java.util.concurrent.Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "dtl-force");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * Opens (recovering every log found) and serves on {@code bindAddress:port} (0: any free port).
   */
  public static DtlServer start(Path dir, String bindAddress, int port, long capacityBytes) throws IOException {
    return start(dir, bindAddress, port, capacityBytes, 8L << 20);
  }

  public static DtlServer start(Path dir, String bindAddress, int port, long capacityBytes, long compactMinBytes)
      throws IOException {
    Files.createDirectories(dir);
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    DtlServer[] self = new DtlServer[1];
    Channel ch;
    try {
      ServerBootstrap b = new ServerBootstrap()
          .group(group)
          .channel(NioServerSocketChannel.class)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel c) {
              c.pipeline().addLast(new FrameDecoder(), FrameEncoder.INSTANCE, self[0].new Connection());
            }
          });
      ch = b.bind(new InetSocketAddress(bindAddress, port)).syncUninterruptibly().channel();
    } catch (RuntimeException e) {
      group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS);
      throw new IOException("DTL server cannot listen on " + bindAddress + ":" + port + ": " + e.getMessage(), e);
    }
    DtlServer s = new DtlServer(dir, capacityBytes, compactMinBytes, group, ch);
    self[0] = s;
    try {
      s.recoverAll();
    } catch (IOException | RuntimeException e) {
      s.close();
      throw e;
    }
    log.info("DTL server listening on {} with {} vDisk logs in {} ({} of {} bytes used)", ch.localAddress(),
        s.logs.size(), dir, s.usedBytes.get(), capacityBytes);
    return s;
  }

  private void recoverAll() throws IOException {
    try (var files = Files.newDirectoryStream(dir, "*" + SUFFIX)) {
      for (Path p : files) {
        String name = p.getFileName().toString();
        UUID id;
        try {
          id = UUID.fromString(name.substring(0, name.length() - SUFFIX.length()));
        } catch (IllegalArgumentException e) {
          log.warn("DTL: {} is not named after a vDisk id; ignoring it", p);
          continue;
        }
        ByteBuffer bytes = ByteBuffer.wrap(Files.readAllBytes(p));
        String bad = LogCodec.checkHeader(bytes, id);
        if (bad != null) {
          Path aside = p.resolveSibling(name + ".bad-" + System.currentTimeMillis());
          log.error("DTL: log {} is unreadable ({}); moved to {}", p, bad, aside);
          Files.move(p, aside);
          continue;
        }
        LogCodec.Scan scan = LogCodec.scan(bytes.position(LogCodec.FILE_HEADER_BYTES));
        ServerLog state = ServerLog.recover(id, compactMinBytes, scan);
        FileChannel f = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (f.size() > state.fileBytes()) {
          if (zeros(bytes, state.fileBytes())) {
            log.debug("DTL: log of vDisk {}: cutting its preallocated tail of {} bytes", id, f.size() - state.fileBytes());
          } else {
            log.warn("DTL: log of vDisk {} ends in a torn or stray tail ({}); truncating {} bytes", id,
                scan.stopReason(), f.size() - state.fileBytes());
          }
          f.truncate(state.fileBytes());
          f.force(true);
        }
        logs.put(id, new VdiskLog(id, p, state, f));
        usedBytes.addAndGet(state.fileBytes());
        log.info("DTL: vDisk {}: entries ({}, {}] of epoch {}, highest epoch {}", id, state.baseSeq(),
            state.lastSeq(), state.streamEpoch(), state.highestEpoch());
      }
    }
  }

  private static boolean zeros(ByteBuffer file, long from) {
    for (int i = (int) from; i < file.limit(); i++) {
      if (file.get(i) != 0) {
        return false;
      }
    }
    return true;
  }

  public int port() {
    return ((InetSocketAddress) channel.localAddress()).getPort();
  }

  /** Bytes of all DTL log files. */
  public long usedBytes() {
    return usedBytes.get();
  }

  /** Bytes of zeros preallocated beyond the ends of the logs (not counted in {@link #usedBytes()}). */
  public long preallocatedBytes() {
    return preallocatedBytes.get();
  }

  public long capacityBytes() {
    return capacityBytes;
  }

  /** Per vDisk: entries held, live bytes, file bytes, highest epoch (diagnostics, tests, API). */
  public Map<UUID, Map<String, Long>> stats() {
    Map<UUID, Map<String, Long>> out = new TreeMap<>();
    for (VdiskLog v : logs.values()) {
      synchronized (v) {
        Map<String, Long> m = new TreeMap<>();
        m.put("entries", v.state.lastSeq() - v.state.baseSeq());
        m.put("baseSeq", v.state.baseSeq());
        m.put("lastSeq", v.state.lastSeq());
        m.put("liveBytes", v.state.liveBytes());
        m.put("fileBytes", v.state.fileBytes());
        m.put("allocatedBytes", v.allocated);
        m.put("highestEpoch", v.state.highestEpoch());
        m.put("streamEpoch", v.state.streamEpoch());
        out.put(v.vdisk, m);
      }
    }
    return out;
  }

  private VdiskLog open(UUID vdisk) throws IOException {
    VdiskLog v = logs.get(vdisk);
    if (v != null) {
      return v;
    }
    synchronized (logs) {
      v = logs.get(vdisk);
      if (v != null) {
        return v;
      }
      Path p = dir.resolve(vdisk + SUFFIX);
      List<ByteBuffer> init = new ArrayList<>();
      ServerLog state = ServerLog.create(vdisk, compactMinBytes, init);
      FileChannel f = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
      long at = 0;
      for (ByteBuffer b : init) {
        at += writeFully(f, b, at);
      }
      f.force(true);
      fsyncDirectory(dir);
      v = new VdiskLog(vdisk, p, state, f);
      usedBytes.addAndGet(state.fileBytes());
      logs.put(vdisk, v);
      log.info("DTL: new log for vDisk {}", vdisk);
      return v;
    }
  }

  /**
   * One client connection, bound to one vDisk by its Hello. The replies of a batch of requests
   * (what one read from the socket brought) leave at the end of the batch: those that promise
   * durability once a forcer thread has forced the log, the others right away unless an earlier
   * batch's replies still wait for their force (a connection's replies never overtake each other).
   * The event loop reads and writes the next batches meanwhile. A connection alone on its event
   * loop forces in line instead: it delays nobody, and two thread hand-offs per batch cost an
   * iodepth-1 writer more than the force itself on a busy machine.
   */
  /** Ids of connections, unique for the life of this server (ServerLog takes appends only on the latest Hello's). */
  private final AtomicLong connectionIds = new AtomicLong();

  private final class Connection extends SimpleChannelInboundHandler<Msg> {
    private final long id = connectionIds.incrementAndGet();
    private VdiskLog bound;
    private final List<Msg> immediate = new ArrayList<>();
    private final List<Msg> afterSync = new ArrayList<>();
    /** Completes once every reply of the batches so far has been written. */
    private java.util.concurrent.CompletableFuture<Void> tail = java.util.concurrent.CompletableFuture.completedFuture(null);
    private final List<ByteBuffer> pendingWrites = new ArrayList<>();

    private void flushWrites(VdiskLog v) throws IOException {
      if (!pendingWrites.isEmpty()) {
        writeAtEnd(v, pendingWrites.toArray(new ByteBuffer[0]));
        pendingWrites.clear();
      }
    }
    private boolean closeAfterFlush;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Msg m) throws IOException {
      if (bound == null) {
        if (!(m instanceof Msg.Hello h)) {
          reject(ctx, Msg.Code.BAD, "the first message must be Hello, not " + m.getClass().getSimpleName());
          return;
        }
        bound = open(h.vdisk());
      } else if (m instanceof Msg.Hello h && !h.vdisk().equals(bound.vdisk)) {
        reject(ctx, Msg.Code.BAD, "a connection serves one vDisk");
        return;
      }
      VdiskLog v = bound;
      long traceSeq = -1;
      if (m instanceof Msg.Append a && !a.entries().isEmpty() && DtlTrace.on()) {
        traceSeq = a.entries().get(a.entries().size() - 1).seq();
        DtlTrace.mark(DtlTrace.Stage.SERVER_DECODE, traceSeq);
      }
      synchronized (v) {
        if (v.broken != null) {
          reply(ctx, new Msg.Reject(Msg.Code.FULL, v.state.highestEpoch(), v.state.lastSeq(), v.state.streamEpoch(), 0,
              "the DTL log of this vDisk is unusable: " + v.broken));
          return;
        }
        long before = v.state.fileBytes();
        try {
          try {
            for (ServerLog.Action a : v.state.step(id, m, capacityBytes - usedBytes.get())) {
              execute(ctx, v, a);
            }
            flushWrites(v);
          } finally {
            pendingWrites.clear();
          }
          Verify.that(v.written == v.state.fileBytes(), "DTL log of %s ends at %d, its state says %d",
              v.vdisk, v.written, v.state.fileBytes());
        } catch (IOException e) {
          v.broken = e.toString();
          log.error("DTL: vDisk {}: writing its log failed; refusing its requests from now on", v.vdisk, e);
          afterSync.clear();
          reply(ctx, new Msg.Reject(Msg.Code.FULL, 0, 0, 0, 0, "DTL disk failure: " + e.getMessage()));
        } finally {
          usedBytes.addAndGet(v.state.fileBytes() - before);
        }
        if (traceSeq >= 0) {
          DtlTrace.mark(DtlTrace.Stage.SERVER_WRITTEN, traceSeq);
        }
      }
    }

    private void execute(ChannelHandlerContext ctx, VdiskLog v, ServerLog.Action a) throws IOException {
      if (a instanceof ServerLog.Write w) {
        pendingWrites.add(w.bytes()); // gathered into one write with the records that follow it
        v.writeGen++;
        return;
      }
      flushWrites(v);
      if (a instanceof ServerLog.Write) {
        throw new AssertionError("unreachable");
      } else if (a instanceof ServerLog.Sync) {
        v.writeGen++; // forced once for the whole batch, after channelReadComplete
      } else if (a instanceof ServerLog.Reply r) {
        if (r.afterSync()) {
          afterSync.add(r.msg());
        } else {
          reply(ctx, r.msg());
        }
      } else if (a instanceof ServerLog.SendEntries s) {
        List<Entry> es = new ArrayList<>();
        for (long q = s.fromSeq() + 1; q <= s.toSeq(); q++) {
          ByteBuffer rec = ByteBuffer.allocate(v.state.lengthOf(q));
          readFully(v.file, rec, v.state.offsetOf(q));
          LogCodec.Scan one = LogCodec.scan(rec.flip());
          if (one.records().size() != 1 || one.records().get(0).entry() == null) {
            throw new IOException("entry " + q + " of vDisk " + v.vdisk + " does not read back: " + one.stopReason());
          }
          es.add(one.records().get(0).entry());
        }
        afterSync.add(new Msg.Entries(s.streamEpoch(), s.baseSeq(), s.lastSeq(), es, s.more()));
      } else if (a instanceof ServerLog.Compact c) {
        compact(v, c);
      } else if (a instanceof ServerLog.Close c) {
        closeAfterFlush = true;
        log.warn("DTL: closing the connection of vDisk {}: {}", v.vdisk, c.reason());
      }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
      connectionsPerLoop.computeIfAbsent(ctx.channel().eventLoop(), k -> new java.util.concurrent.atomic.AtomicInteger())
          .incrementAndGet();
      super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      var n = connectionsPerLoop.get(ctx.channel().eventLoop());
      if (n != null) {
        n.decrementAndGet();
      }
      super.channelInactive(ctx);
    }

    private boolean aloneOnLoop(ChannelHandlerContext ctx) {
      var n = connectionsPerLoop.get(ctx.channel().eventLoop());
      return n != null && n.get() <= 1;
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      VdiskLog v = bound;
      List<Msg> now = immediate.isEmpty() ? List.of() : new ArrayList<>(immediate);
      List<Msg> synced = afterSync.isEmpty() ? List.of() : new ArrayList<>(afterSync);
      immediate.clear();
      afterSync.clear();
      boolean close = closeAfterFlush;
      java.util.concurrent.CompletableFuture<String> forced = NOTHING_TO_FORCE;
      if (v != null && !synced.isEmpty()) {
        boolean need;
        synchronized (v) {
          need = v.forcedGen < v.writeGen;
        }
        if (need && tail.isDone() && aloneOnLoop(ctx)) {
          forced = java.util.concurrent.CompletableFuture.completedFuture(force(v));
        } else if (need) {
          try {
            forced = java.util.concurrent.CompletableFuture.supplyAsync(() -> force(v), forcer);
          } catch (java.util.concurrent.RejectedExecutionException e) {
            forced = java.util.concurrent.CompletableFuture.completedFuture("the DTL server is closing");
          }
        }
      }
      if (tail.isDone() && forced.isDone()) {
        send(ctx, now, synced, forced.join(), close); // nothing to wait for: on this event loop, now
        return;
      }
      List<Msg> n = now;
      List<Msg> sy = synced;
      tail = tail.thenCombine(forced, (x, err) -> err)
          .thenAcceptAsync(err -> send(ctx, n, sy, err, close), ctx.executor())
          .exceptionally(t -> {
            log.debug("DTL: replies to {} dropped: {}", ctx.channel().remoteAddress(), t.toString());
            return null;
          });
    }

    /** Writes a batch's replies in order, with one flush; {@code failure}: the force failed, refuse instead. */
    private void send(ChannelHandlerContext ctx, List<Msg> now, List<Msg> synced, String failure, boolean close) {
      now.forEach(m -> write(ctx, m));
      if (failure == null) {
        synced.forEach(m -> write(ctx, m));
      } else if (!synced.isEmpty()) {
        write(ctx, new Msg.Reject(Msg.Code.FULL, 0, 0, 0, 0, "DTL disk failure: " + failure));
      }
      ctx.flush();
      if (close) {
        ctx.close();
      }
    }

    private void write(ChannelHandlerContext ctx, Msg m) {
      ctx.write(m).addListener(io.netty.channel.ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    /** Queues a reply of this batch; a reply that cannot be encoded or written closes the connection, with a log line. */
    private void reply(ChannelHandlerContext ctx, Msg m) {
      immediate.add(m);
    }

    private void reject(ChannelHandlerContext ctx, Msg.Code code, String why) {
      log.warn("DTL: refusing a request from {}: {}", ctx.channel().remoteAddress(), why);
      reply(ctx, new Msg.Reject(code, 0, 0, 0, 0, why));
      closeAfterFlush = true;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof DecoderException) {
        log.warn("DTL: closing the connection from {}: {}", ctx.channel().remoteAddress(), cause.getMessage());
        ctx.writeAndFlush(new Msg.Reject(Msg.Code.BAD, 0, 0, 0, 0, String.valueOf(cause.getMessage())))
            .addListener(f -> ctx.close());
      } else if (cause instanceof IOException) {
        log.debug("DTL: connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
      } else {
        log.error("DTL: unexpected failure on the connection from {}", ctx.channel().remoteAddress(), cause);
        ctx.close();
      }
    }
  }

  /**
   * Writes a record at the log's end; grows the file in line if the preallocated zeros do not
   * reach, and asks the background thread for the next chunk when the end comes within half a
   * chunk of the file's length. Caller holds v's monitor.
   */
  private void writeAtEnd(VdiskLog v, ByteBuffer[] bs) throws IOException {
    long n = 0;
    for (ByteBuffer b : bs) {
      n += b.remaining();
    }
    long end = v.written + n;
    if (end > v.allocated) {
      long before = v.allocated;
      v.allocated = end; // the record itself grows the file
      preallocatedBytes.addAndGet(-(before - v.written));
    } else {
      preallocatedBytes.addAndGet(-n);
    }
    writeFully(v.file, bs, v.written, n);
    v.written = end;
    if (!v.growing && !v.noPrealloc && v.allocated - end < PREALLOC_CHUNK_BYTES / 2
        && usedBytes.get() + preallocatedBytes.get() + PREALLOC_CHUNK_BYTES <= capacityBytes) {
      v.growing = true;
      FileChannel f = v.file;
      try {
        preallocator.execute(() -> grow(v, f));
      } catch (java.util.concurrent.RejectedExecutionException e) {
        v.growing = false; // closing
      }
    }
  }

  /** Appends a chunk of zeros at the end of the log's file (where it is when this runs) and forces it. */
  private void grow(VdiskLog v, FileChannel f) {
    try {
      synchronized (v) {
        if (v.file != f || v.broken != null) {
          v.growing = false; // compacted (a new file): ask again at the next write
          return;
        }
        // records may have grown the file in line since the request: the chunk goes after them
        long start = v.allocated;
        if (start - v.written >= PREALLOC_CHUNK_BYTES / 2) {
          return; // enough zeros ahead already
        }
        long at = start;
        while (at < start + PREALLOC_CHUNK_BYTES) {
          ByteBuffer z = ZEROS.duplicate();
          z.limit((int) Math.min(z.capacity(), start + PREALLOC_CHUNK_BYTES - at));
          at += writeFully(f, z, at);
        }
        v.allocated = at;
        preallocatedBytes.addAndGet(at - start);
      }
      // outside the monitor: the log's requests go on while the new length reaches the journal
      f.force(false);
    } catch (java.nio.channels.ClosedChannelException e) {
      // the log was compacted (a new file) or the server closed meanwhile: nothing to grow
    } catch (IOException e) {
      log.warn("DTL: vDisk {}: preallocating its log failed ({}); it grows with each record", v.vdisk, e.toString());
      synchronized (v) {
        v.noPrealloc = true;
      }
    } catch (RuntimeException e) {
      log.warn("DTL: vDisk {}: preallocating its log failed; it grows with each record", v.vdisk, e);
      synchronized (v) {
        v.noPrealloc = true;
      }
    } finally {
      synchronized (v) {
        v.growing = false;
      }
    }
  }

  private static final java.util.concurrent.CompletableFuture<String> NOTHING_TO_FORCE =
      java.util.concurrent.CompletableFuture.completedFuture(null);

  /**
   * Forces a log's file (on a forcer thread, outside its monitor: its requests go on meanwhile).
   * Returns null once every write made before the call is on disk, or why not.
   */
  private String force(VdiskLog v) {
    long target;
    FileChannel f;
    synchronized (v) {
      if (v.broken != null) {
        return v.broken;
      }
      if (v.forcedGen >= v.writeGen) {
        return null;
      }
      target = v.writeGen;
      f = v.file;
    }
    try {
      f.force(false);
    } catch (java.nio.channels.ClosedChannelException e) {
      synchronized (v) {
        if (v.forcedGen >= target) {
          return null; // compacted meanwhile: the new file was forced with everything in it
        }
      }
      return "the log of vDisk " + v.vdisk + " was closed";
    } catch (IOException e) {
      synchronized (v) {
        v.broken = e.toString();
      }
      log.error("DTL: vDisk {}: forcing its log failed; refusing its requests from now on", v.vdisk, e);
      return e.getMessage();
    }
    synchronized (v) {
      v.forcedGen = Math.max(v.forcedGen, target);
      if (DtlTrace.on()) {
        DtlTrace.mark(DtlTrace.Stage.SERVER_FORCED, v.state.lastSeq());
      }
    }
    return null;
  }

  /** Rewrites a log as the prefix and its live records: a temp file, forced, renamed, directory forced. */
  private void compact(VdiskLog v, ServerLog.Compact c) throws IOException {
    Path tmp = v.path.resolveSibling(v.path.getFileName() + ".compact");
    try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      long at = writeFully(out, c.prefix().duplicate(), 0);
      for (int i = 0; i < c.offsets().length; i++) {
        ByteBuffer rec = ByteBuffer.allocate(c.lengths()[i]);
        readFully(v.file, rec, c.offsets()[i]);
        at += writeFully(out, rec.flip(), at);
      }
      Verify.that(at == v.state.fileBytes(), "compacted log of %s has %d bytes, expected %d", v.vdisk, at,
          v.state.fileBytes());
      out.force(true);
    }
    v.file.close();
    Files.move(tmp, v.path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(dir);
    v.file = FileChannel.open(v.path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    preallocatedBytes.addAndGet(-(v.allocated - v.written));
    v.allocated = v.state.fileBytes();
    v.written = v.state.fileBytes();
    v.forcedGen = v.writeGen;
    log.debug("DTL: vDisk {}: log compacted to {} bytes", v.vdisk, v.state.fileBytes());
  }

  static long writeFully(FileChannel ch, ByteBuffer src, long pos) throws IOException {
    long n = 0;
    while (src.hasRemaining()) {
      n += ch.write(src, pos + n);
    }
    return n;
  }

  /** One gathering write of {@code n} bytes at {@code pos} (the channel's position is used and moved). */
  static void writeFully(FileChannel ch, ByteBuffer[] src, long pos, long n) throws IOException {
    ch.position(pos);
    long done = 0;
    while (done < n) {
      done += ch.write(src);
    }
  }

  static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    long at = pos;
    while (dst.hasRemaining()) {
      int n = ch.read(dst, at);
      if (n < 0) {
        throw new IOException("unexpected end of file at " + at);
      }
      at += n;
    }
  }

  static void fsyncDirectory(Path d) throws IOException {
    try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    forcer.shutdown();
    preallocator.shutdown();
    try {
      preallocator.awaitTermination(10, java.util.concurrent.TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    for (VdiskLog v : logs.values()) {
      synchronized (v) {
        try {
          v.file.force(false);
          v.file.close();
        } catch (IOException e) {
          log.warn("DTL: closing the log of vDisk {}: {}", v.vdisk, e.toString());
        }
      }
    }
  }
}
