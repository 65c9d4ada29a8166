package org.vsa.dtl;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Netty shell around one vDisk's {@link ClientMachine}: feeds it appends, network events and
 * a 10 ms tick (with {@code System.nanoTime()} as its clock), and carries out its actions. Every
 * step runs under this object's monitor; writers waiting for the DTL wait on it too.
 */
final class DtlClient implements DtlStream {
  private static final Logger log = LoggerFactory.getLogger(DtlClient.class);
  private static final long TICK_MILLIS = 10;

  private final String name;
  private final ClientMachine machine;
  private final ClientConfig cfg;
  private final InetSocketAddress peer;
  private final EventLoopGroup group;
  private final Bootstrap bootstrap;
  private final LongConsumer sealRequest;
  private final java.util.function.Consumer<DtlState> leftSync;
  private final DtlEvents events;
  /** Told once when the DTL refuses this stream's epoch (a newer owner exists). */
  private final Runnable onFenced;
  private boolean toldFenced;
  private final ScheduledFuture<?> ticker;
  private final DtlMode mode;
  private Channel channel;
  private int liveConn = -1;
  private boolean closed;
  private final java.util.ArrayDeque<Msg> outbox = new java.util.ArrayDeque<>();
  private boolean drainScheduled;
  private long backpressureWaits;
  private long backpressureNanos;

  DtlClient(String name, UUID vdisk, DtlMode mode, long epoch, long lastSeq, long lastSco, ClientConfig cfg,
      InetSocketAddress peer, EventLoopGroup group, LongConsumer sealRequest,
      java.util.function.Consumer<DtlState> leftSync, Runnable fenced, DtlEvents events) {
    this.name = name;
    this.onFenced = fenced;
    this.leftSync = leftSync;
    this.mode = mode;
    this.cfg = cfg;
    this.peer = peer;
    this.group = group;
    this.sealRequest = sealRequest;
    this.events = events;
    this.machine = new ClientMachine(cfg, new SplittableRandom(), vdisk, mode, epoch, lastSeq, lastSco);
    this.bootstrap = new Bootstrap().group(group).channel(NioSocketChannel.class)
        .option(ChannelOption.TCP_NODELAY, true)
        .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(100, cfg.ackTimeoutNanos() / 1_000_000));
    log.info("vDisk {}: DTL {} to {} with epoch {}, after seq {} (SCO {})", name, mode.configName(), peer, epoch,
        lastSeq, lastSco);
    this.ticker = group.scheduleAtFixedRate(() -> step(new ClientMachine.Tick()), 0, TICK_MILLIS, TimeUnit.MILLISECONDS);
  }

  private synchronized void step(ClientMachine.Event e) {
    if (closed) {
      return;
    }
    long releasedBefore = machine.releasedSeq();
    boolean admittedBefore = machine.admits();
    List<ClientMachine.Action> actions;
    try {
      actions = machine.step(e, System.nanoTime());
    } catch (RuntimeException ex) {
      log.error("vDisk {}: DTL client step failed on {}", name, e, ex);
      throw ex;
    }
    for (ClientMachine.Action a : actions) {
      execute(a);
    }
    if (machine.releasedSeq() != releasedBefore || (!admittedBefore && machine.admits())) {
      notifyAll();
    }
  }

  private void execute(ClientMachine.Action a) {
    if (a instanceof ClientMachine.Send s) {
      if (s.conn() == liveConn && channel != null) {
        // coalesced: one task on the event loop and one flush (one syscall) for the messages that
        // queued up meanwhile, instead of a task and a flush per message
        outbox.add(s.msg());
        if (!drainScheduled) {
          drainScheduled = true;
          channel.eventLoop().execute(this::drain);
        }
      }
    } else if (a instanceof ClientMachine.Connect c) {
      liveConn = c.conn();
      channel = null;
      outbox.clear();
      connect(c.conn());
    } else if (a instanceof ClientMachine.Close c) {
      if (c.conn() == liveConn) {
        liveConn = -1;
        outbox.clear();
        if (channel != null) {
          channel.close();
          channel = null;
        }
      }
    } else if (a instanceof ClientMachine.StateChanged s) {
      if (s.to() == DtlState.DEGRADED) {
        log.warn("vDisk {}: DTL state {} -> {}: {}", name, s.from(), s.to(), s.why());
      } else {
        log.info("vDisk {}: DTL state {} -> {}: {}", name, s.from(), s.to(), s.why());
      }
      if (machine.fenced() && !toldFenced) {
        toldFenced = true;
        try {
          onFenced.run(); // inline, before any writer is released: must not block
        } catch (RuntimeException ex) {
          log.error("vDisk {}: the engine's reaction to being fenced failed", name, ex);
        }
      }
      if (s.from() == DtlState.OK_SYNC) {
        try {
          leftSync.accept(s.to()); // inline, before any writer is released: must not block
        } catch (RuntimeException ex) {
          log.error("vDisk {}: the engine's reaction to leaving OK_SYNC failed", name, ex);
        }
      }
      try {
        events.stateChanged(name, peer, machine.epoch(), s.from(), s.to(), s.why());
      } catch (RuntimeException ex) {
        log.warn("vDisk {}: DTL state listener failed: {}", name, ex.toString());
      }
    } else if (a instanceof ClientMachine.RequestSeal r) {
      // not under this monitor: sealing takes the engine's append lock, which calls into us
      group.execute(() -> {
        try {
          sealRequest.accept(r.sco());
        } catch (RuntimeException ex) {
          log.warn("vDisk {}: sealing SCO {} for the DTL failed: {}", name, r.sco(), ex.toString());
        }
      });
    }
  }

  /** Writes the queued messages to the live channel, in order, with one flush (on its event loop). */
  private synchronized void drain() {
    drainScheduled = false;
    if (channel == null || closed) {
      outbox.clear();
      return;
    }
    for (Msg m = outbox.poll(); m != null; m = outbox.poll()) {
      channel.write(m, channel.voidPromise());
    }
    channel.flush();
  }

  private void connect(int conn) {
    ChannelFuture f = bootstrap.clone().handler(new ChannelInitializer<SocketChannel>() {
      @Override
      protected void initChannel(SocketChannel c) {
        c.pipeline().addLast(new FrameDecoder(), FrameEncoder.INSTANCE, new Handler(conn));
      }
    }).connect(peer);
    f.addListener(done -> {
      if (!done.isSuccess()) {
        step(new ClientMachine.Disconnected(conn, "cannot connect to " + peer + ": " + done.cause().getMessage()));
        return;
      }
      boolean current;
      synchronized (this) {
        current = conn == liveConn && !closed;
        if (current) {
          channel = f.channel();
        }
      }
      if (current) {
        step(new ClientMachine.Connected(conn));
      } else {
        f.channel().close();
      }
    });
  }

  private final class Handler extends SimpleChannelInboundHandler<Msg> {
    private final int conn;

    Handler(int conn) {
      this.conn = conn;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, Msg msg) {
      if (msg instanceof Msg.Ack a && DtlTrace.on()) {
        DtlTrace.mark(DtlTrace.Stage.CLIENT_ACK, a.lastSeq());
      }
      step(new ClientMachine.Received(conn, msg));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      step(new ClientMachine.Disconnected(conn, "connection to " + peer + " closed"));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      log.debug("vDisk {}: DTL connection failed: {}", name, cause.toString());
      ctx.close();
    }
  }

  @Override
  public void append(long seq, long sco, byte[] record, byte[] data) {
    DtlTrace.mark(DtlTrace.Stage.CLIENT_APPEND, seq);
    step(new ClientMachine.Appended(new Entry(seq, sco, record, data)));
  }

  @Override
  public synchronized boolean awaitHeld(long seq) throws InterruptedIOException {
    if (mode == DtlMode.ASYNC && machine.releasedSeq() < seq) {
      step(new ClientMachine.FlushRequested(seq));
    }
    // the machine releases within the ack timeout; this bound only guards against a stuck shell
    long deadline = System.nanoTime() + 3 * cfg.ackTimeoutNanos() + TimeUnit.SECONDS.toNanos(1);
    while (machine.releasedSeq() < seq && !closed) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        log.warn("vDisk {}: the DTL client released no writer for {} ms; acknowledging seq {} unprotected", name,
            TimeUnit.NANOSECONDS.toMillis(3 * cfg.ackTimeoutNanos()) + 1000, seq);
        break;
      }
      try {
        TimeUnit.NANOSECONDS.timedWait(this, left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for the DTL");
      }
    }
    DtlTrace.mark(DtlTrace.Stage.WRITER_WOKE, seq);
    return seq <= machine.heldSeq();
  }

  @Override
  public synchronized boolean hasRoom() {
    return machine.admits() || closed;
  }

  @Override
  public synchronized void awaitRoom() throws InterruptedIOException {
    if (machine.admits()) {
      return;
    }
    long t0 = System.nanoTime();
    // the machine admits within the ack timeout; this bound only guards against a stuck shell
    long deadline = t0 + 3 * cfg.ackTimeoutNanos() + TimeUnit.SECONDS.toNanos(1);
    while (!machine.admits() && !closed) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        log.warn("vDisk {}: the DTL client held writers back for {} ms; letting them go", name,
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        break;
      }
      try {
        TimeUnit.NANOSECONDS.timedWait(this, left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for room in the DTL queue");
      }
    }
    backpressureWaits++;
    backpressureNanos += System.nanoTime() - t0;
  }

  @Override
  public synchronized long[] heldBack() {
    return new long[] {backpressureWaits, backpressureNanos};
  }

  @Override
  public void backendHolds(long sco) {
    step(new ClientMachine.BackendHolds(sco));
  }

  @Override
  public synchronized DtlState state() {
    return machine.state();
  }

  @Override
  public synchronized String reason() {
    return machine.reason();
  }

  @Override
  public DtlMode mode() {
    return mode;
  }

  @Override
  public long epoch() {
    return machine.epoch();
  }

  @Override
  public InetSocketAddress peer() {
    return peer;
  }

  synchronized long heldSeq() {
    return machine.heldSeq();
  }

  @Override
  public void close() {
    ticker.cancel(false);
    synchronized (this) {
      closed = true;
      if (channel != null) {
        channel.close();
        channel = null;
      }
      notifyAll();
    }
  }
}
