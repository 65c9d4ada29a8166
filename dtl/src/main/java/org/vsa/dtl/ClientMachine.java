package org.vsa.dtl;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.random.RandomGenerator;

/**
 * The owner side of one vDisk's DTL stream as a state machine: {@code step(event, now)} updates
 * the state held here and returns actions (connect, send, close, state changed, please seal an
 * SCO) for a shell to carry out. It does no I/O and reads no clock: time comes with every event,
 * randomness (reconnect jitter) from the generator it is given, so that a seeded simulator can
 * replay any history exactly. {@link DtlClient} is the Netty shell, {@code DtlSimulationTest} the
 * simulated one.
 *
 * <p><b>The stream.</b> Every log record of the vDisk is an {@link Entry} with a contiguous sequence
 * number. Entries the DTL has not acknowledged stay in memory (the queue, (baseSeq, lastSeq]);
 * {@code heldSeq} is the promise made to writers: every entry up to it is on the DTL's disk or in
 * the backend. A write may be acknowledged as protected only if its seq is at most heldSeq.
 *
 * <p><b>Gaps.</b> When the DTL lacks entries that are no longer in memory (a new or wiped DTL, a
 * restart of this owner, a stream of another epoch, or the queue overflowing while the DTL was
 * away), the client does not re-read them from the write buffer: it waits until the backend holds
 * every SCO up to the one of baseSeq (asking the engine to seal that SCO if it is still open),
 * then resets the DTL's stream to start after baseSeq and ships the queue. Until then the state is
 * CATCHING_UP and writes are acknowledged without the DTL.
 *
 * <p><b>Back-pressure.</b> While the DTL is connected and receiving the stream (no gap), the queue
 * of entries it has not acknowledged is bounded by {@link #admitMaxBytes()} (half the retain
 * bound): beyond it {@link #admits()} is false and the shell holds writers back before they append,
 * so that an async-mode vDisk runs at the DTL's pace and its unprotected window stays bounded,
 * instead of dropping the queue. The wait ends with an Ack that shrinks the queue, or when the DTL
 * stops answering (ack timeout: DEGRADED, and writers go on unprotected). The retain bound stays
 * as the last resort: it is reached only while the DTL is away (or by writers admitted together).
 *
 * <p><b>Never stall.</b> Writers wait ({@link #releasedSeq()}, {@link #admits()}) only while the
 * DTL is connected; when no answer comes within the ack timeout the link is dropped and the state
 * turns DEGRADED, releasing them.
 */
public final class ClientMachine {

  /** Inputs. */
  public sealed interface Event {}

  /** The engine appended this entry (seq = the previous one + 1). */
  public record Appended(Entry entry) implements Event {}

  /** A flush (async mode) wants everything up to seq on the DTL soon. */
  public record FlushRequested(long seq) implements Event {}

  public record Connected(int conn) implements Event {}

  public record Disconnected(int conn, String why) implements Event {}

  public record Received(int conn, Msg msg) implements Event {}

  /** The backend holds every SCO up to this one (and its TLog). */
  public record BackendHolds(long sco) implements Event {}

  /** Time passes. */
  public record Tick() implements Event {}

  /** Outputs, carried out in order. */
  public sealed interface Action {}

  public record Connect(int conn) implements Action {}

  public record Close(int conn, String why) implements Action {}

  public record Send(int conn, Msg msg) implements Action {}

  public record StateChanged(DtlState from, DtlState to, String why) implements Action {}

  /** The engine should seal its open SCO if its number is at most {@code sco}, so that it can be uploaded. */
  public record RequestSeal(long sco) implements Action {}

  private enum Link { DOWN, CONNECTING, HELLO, UP }

  private final ClientConfig cfg;
  private final RandomGenerator random;
  private final UUID vdisk;
  private final DtlMode mode;
  private final long epoch;

  private Link link = Link.DOWN;
  private int connId;
  private long linkSinceNanos;
  private long nextConnectNanos;
  private long backoffNanos;
  private boolean fenced;
  /** The link failed since the last successful handshake (DEGRADED rather than starting up). */
  private boolean linkFailed;

  private long lastSeq;
  private long lastSco;
  private final EntryQueue queue = new EntryQueue();
  private long baseSeq;
  private long baseSco;
  private long sentSeq;
  private long unsentBytes;
  private long heldSeq;
  private boolean gap;
  private boolean synced;
  private long catchupTarget;
  private long resetGen;
  /**
   * The highest reset generation the DTL has reported for a stream of this epoch. A restarted
   * owner keeps its epoch (a cluster node restarting under its ownership lease), while the DTL keeps
   * the stream its previous incarnation reset, possibly several times: a new stream must take a
   * generation above it, or the DTL takes the reset for a stale one of its current stream.
   */
  private long peerResetGen;
  private long sealRequested = -1;
  private long trimmedSco = -1;
  private long sentTrimSco = -1;
  private long serverTrimmedSco = -1;
  private long trimSentNanos;
  /** The last Trim went unanswered once and was sent again: a second silence takes the link down. */
  private boolean trimResent;
  private long flushSeq;
  private long waitingSinceNanos = -1;
  private long oldestUnsentNanos = -1;
  private DtlState state = DtlState.CATCHING_UP;
  private String why = "starting";
  private long overflows;

  /**
   * A stream starting after {@code lastSeq} (the last record this owner recovered, in SCO
   * {@code lastSco}); the DTL is assumed to lack everything up to it until the backend holds it.
   */
  public ClientMachine(ClientConfig cfg, RandomGenerator random, UUID vdisk, DtlMode mode, long epoch,
      long lastSeq, long lastSco) {
    Verify.that(mode != DtlMode.NONE, "mode none has no DTL client");
    this.cfg = cfg;
    this.random = random;
    this.vdisk = vdisk;
    this.mode = mode;
    this.epoch = epoch;
    this.lastSeq = lastSeq;
    this.lastSco = lastSco;
    this.baseSeq = lastSeq;
    this.baseSco = lastSco;
    this.sentSeq = lastSeq;
    this.gap = true;
    this.backoffNanos = cfg.reconnectMinNanos();
  }

  public DtlState state() {
    return state;
  }

  /** Why the state is what it is (for logs and the API). */
  public String reason() {
    return why;
  }

  public long epoch() {
    return epoch;
  }

  public long lastSeq() {
    return lastSeq;
  }

  /** Every entry up to this seq is on the DTL's disk or in the backend. */
  public long heldSeq() {
    return heldSeq;
  }

  /** Writers waiting for seq at most this may return (protected if also at most heldSeq). */
  public long releasedSeq() {
    return state == DtlState.OK_SYNC ? heldSeq : lastSeq;
  }

  /**
   * Whether a writer may append now. False while the DTL is connected and receiving the stream
   * but has not acknowledged {@link #admitMaxBytes()} of it: the writer waits (back-pressure).
   */
  public boolean admits() {
    return link != Link.UP || gap || fenced || queue.bytes() < admitMaxBytes();
  }

  /** The back-pressure bound: half the retain bound. */
  public long admitMaxBytes() {
    return cfg.retainMaxBytes() / 2;
  }

  /** How often the queue passed the retain bound and was dropped (catch-up through the backend). */
  public long overflows() {
    return overflows;
  }

  /** Bytes of entries kept in memory. */
  public long queuedBytes() {
    return queue.bytes();
  }

  public boolean fenced() {
    return fenced;
  }

  /** Carries out one event; returns the actions for the shell. */
  public List<Action> step(Event e, long now) {
    List<Action> out = new ArrayList<>(2);
    DtlState before = state;
    if (e instanceof Appended a) {
      appended(a.entry(), now, out);
    } else if (e instanceof FlushRequested f) {
      flushSeq = Math.max(flushSeq, f.seq());
    } else if (e instanceof Connected c) {
      if (c.conn() == connId && link == Link.CONNECTING) {
        link = Link.HELLO;
        linkSinceNanos = now;
        out.add(new Send(connId, new Msg.Hello(vdisk, epoch)));
      }
    } else if (e instanceof Disconnected d) {
      if (d.conn() == connId && link != Link.DOWN) {
        down(now, d.why(), out, false);
      }
    } else if (e instanceof Received r) {
      if (r.conn() == connId && link != Link.DOWN && link != Link.CONNECTING) {
        received(r.msg(), now, out);
      }
    } else if (e instanceof BackendHolds b) {
      trimmedSco = Math.max(trimmedSco, b.sco());
    } else if (e instanceof Tick t) {
      tick(now, out);
    }
    pump(now, out);
    updateState(before, out);
    return out;
  }

  private void appended(Entry en, long now, List<Action> out) {
    Verify.that(en.seq() == lastSeq + 1, "DTL entry %d does not follow %d", en.seq(), lastSeq);
    Verify.that(en.sco() >= lastSco, "DTL entry %d goes back from SCO %d to %d", en.seq(), lastSco, en.sco());
    lastSeq = en.seq();
    lastSco = en.sco();
    queue.add(en);
    unsentBytes += en.sizeBytes();
    if (oldestUnsentNanos < 0) {
      oldestUnsentNanos = now;
    }
    if (queue.bytes() > cfg.retainMaxBytes()) {
      // The DTL is too far behind to keep its backlog in memory: let the backend take it.
      overflows++;
      queue.clear();
      baseSeq = lastSeq;
      baseSco = lastSco;
      sentSeq = lastSeq;
      unsentBytes = 0;
      oldestUnsentNanos = -1;
      waitingSinceNanos = -1;
      gap = true;
      synced = false;
      why = "more than " + cfg.retainMaxBytes() + " bytes queued for the DTL; catching up through the backend";
    }
  }

  private void received(Msg m, long now, List<Action> out) {
    if (m instanceof Msg.HelloOk h) {
      if (link != Link.HELLO) {
        protocolError("HelloOk after the handshake", now, out);
        return;
      }
      link = Link.UP;
      linkFailed = false;
      backoffNanos = cfg.reconnectMinNanos();
      resync(h.streamEpoch(), h.resetGen(), h.lastSeq(), now);
    } else if (m instanceof Msg.Ack a) {
      if (link != Link.UP) {
        protocolError("Ack before the handshake", now, out);
        return;
      }
      if (a.resetGen() != resetGen) {
        return; // overtaken by a reset: says nothing about the stream since
      }
      acked(Math.min(a.lastSeq(), sentSeq), now);
      serverTrimmedSco = Math.max(serverTrimmedSco, a.trimmedSco());
      if (serverTrimmedSco >= sentTrimSco) {
        trimResent = false;
      }
    } else if (m instanceof Msg.Reject r) {
      switch (r.code()) {
        case STALE -> {
          fenced = true;
          why = "fenced: the DTL has seen epoch " + r.highestEpoch() + ", this owner has " + epoch;
          out.add(new Close(connId, why));
          link = Link.DOWN;
          synced = false;
        }
        case GAP -> {
          // a generation above this stream's is an earlier incarnation's stream of this epoch: start a new one
          boolean stale = r.streamEpoch() == epoch && r.resetGen() <= resetGen
              && (r.resetGen() != resetGen || r.lastSeq() < heldSeq);
          if (link == Link.UP && !stale) {
            resync(r.streamEpoch(), r.resetGen(), r.lastSeq(), now);
          }
        }
        case FULL -> down(now, "the DTL is full", out, true);
        case BAD -> down(now, "the DTL refused a request: " + r.message(), out, true);
      }
    } else {
      protocolError("unexpected " + m.getClass().getSimpleName(), now, out);
    }
  }

  private void protocolError(String what, long now, List<Action> out) {
    down(now, "protocol error from the DTL: " + what, out, true);
  }

  /** Where the server's stream stands: continue after it, or treat what it lacks as a gap. */
  private void resync(long streamEpoch, long serverGen, long serverLast, long now) {
    if (streamEpoch == epoch) {
      peerResetGen = Math.max(peerResetGen, serverGen);
    }
    if (!gap && streamEpoch == epoch && serverGen == resetGen && serverLast >= baseSeq && serverLast <= lastSeq) {
      acked(serverLast, now);
      sentSeq = serverLast;
      unsentBytes = queue.bytesAfter(sentSeq);
      oldestUnsentNanos = sentSeq < lastSeq ? now : -1;
      waitingSinceNanos = -1;
      catchupTarget = lastSeq;
      sentTrimSco = -1;
      serverTrimmedSco = -1;
      trimResent = false;
      synced = heldSeq >= catchupTarget;
      why = synced ? "the DTL holds every write" : "the DTL is receiving the writes it missed";
    } else {
      if (!gap) {
        why = "the DTL's stream (epoch " + streamEpoch + ", up to " + serverLast + ") does not continue this one;"
            + " catching up through the backend";
      }
      gap = true;
      synced = false;
      sentSeq = baseSeq;
      waitingSinceNanos = -1;
    }
  }

  private void acked(long upTo, long now) {
    if (upTo > heldSeq) {
      heldSeq = upTo;
      while (queue.size() > 0 && queue.first().seq() <= upTo) {
        Entry en = queue.removeFirst();
        baseSeq = en.seq();
        baseSco = en.sco();
      }
    }
    waitingSinceNanos = sentSeq > heldSeq ? now : -1;
    if (!synced && !gap && heldSeq >= catchupTarget) {
      synced = true;
      why = "the DTL holds every write";
    }
  }

  private void down(long now, String reason, List<Action> out, boolean close) {
    if (close) {
      out.add(new Close(connId, reason));
    }
    link = Link.DOWN;
    linkFailed = true;
    synced = false;
    waitingSinceNanos = -1;
    why = reason;
    long jitter = backoffNanos / 4 == 0 ? 0 : random.nextLong(backoffNanos / 4);
    nextConnectNanos = now + backoffNanos + jitter;
    backoffNanos = Math.min(cfg.reconnectMaxNanos(), backoffNanos * 2);
  }

  private void tick(long now, List<Action> out) {
    switch (link) {
      case DOWN -> {
        if (!fenced && now >= nextConnectNanos) {
          connId++;
          link = Link.CONNECTING;
          linkSinceNanos = now;
          out.add(new Connect(connId));
        }
      }
      case CONNECTING, HELLO -> {
        if (now - linkSinceNanos > cfg.ackTimeoutNanos()) {
          down(now, "the DTL did not answer within " + cfg.ackTimeoutNanos() / 1_000_000 + " ms", out, true);
        }
      }
      case UP -> {
        if (!gap && serverTrimmedSco < sentTrimSco && now - trimSentNanos > cfg.ackTimeoutNanos()) {
          if (trimResent) {
            // nothing else is outstanding to notice it by: a link that answers nothing is down
            down(now, "the DTL did not acknowledge a trim within " + cfg.ackTimeoutNanos() / 1_000_000 + " ms, twice",
                out, true);
            return;
          }
          trimResent = true;
          sentTrimSco = serverTrimmedSco; // the Trim got lost or overtaken by a reset: send it again
        }
        if (waitingSinceNanos >= 0 && now - waitingSinceNanos > cfg.ackTimeoutNanos()) {
          down(now, "the DTL did not acknowledge within " + cfg.ackTimeoutNanos() / 1_000_000 + " ms", out, true);
        }
      }
    }
  }

  /** Sends what is due. */
  private void pump(long now, List<Action> out) {
    if (link != Link.UP) {
      return;
    }
    if (gap) {
      if (trimmedSco < baseSco) {
        if (sealRequested < baseSco) {
          sealRequested = baseSco;
          out.add(new RequestSeal(baseSco));
        }
        return;
      }
      // The backend holds everything up to baseSeq: restart the DTL's stream after it, with a
      // generation the DTL has not seen for this epoch (so that it takes this for a new stream).
      gap = false;
      resetGen = Math.max(resetGen, peerResetGen) + 1;
      heldSeq = Math.max(heldSeq, baseSeq);
      catchupTarget = lastSeq;
      why = "the DTL is receiving the writes it missed";
      List<Entry> batch = queue.batchAfter(baseSeq, cfg.batchMaxBytes());
      out.add(new Send(connId, new Msg.Append(epoch, baseSeq, true, resetGen, trimmedSco, batch)));
      sentSeq = baseSeq + batch.size();
      unsentBytes = queue.bytesAfter(sentSeq);
      waitingSinceNanos = now;
      sentTrimSco = -1;
      serverTrimmedSco = -1;
      trimResent = false;
    }
    if (trimmedSco > sentTrimSco) {
      // before the appends, so that the DTL frees space first
      sentTrimSco = trimmedSco;
      trimSentNanos = now;
      out.add(new Send(connId, new Msg.Trim(epoch, trimmedSco)));
    }
    boolean due = mode == DtlMode.SYNC || unsentBytes >= cfg.asyncMaxBytes() || flushSeq > sentSeq
        || queue.bytes() >= admitMaxBytes() / 2
        || (oldestUnsentNanos >= 0 && now - oldestUnsentNanos >= cfg.asyncMaxAgeNanos()) || !synced;
    if (due) {
      while (sentSeq < lastSeq) {
        List<Entry> batch = queue.batchAfter(sentSeq, cfg.batchMaxBytes());
        Verify.that(!batch.isEmpty(), "entries after %d are not in memory (base %d)", sentSeq, baseSeq);
        out.add(new Send(connId, new Msg.Append(epoch, sentSeq, false, resetGen, trimmedSco, batch)));
        sentSeq += batch.size();
        if (waitingSinceNanos < 0) {
          waitingSinceNanos = now;
        }
      }
      unsentBytes = 0;
      oldestUnsentNanos = -1;
    }
  }

  private void updateState(DtlState before, List<Action> out) {
    DtlState now;
    if (fenced || link != Link.UP) {
      now = fenced || linkFailed ? DtlState.DEGRADED : DtlState.CATCHING_UP;
    } else {
      now = synced ? DtlState.OK_SYNC : DtlState.CATCHING_UP;
    }
    state = now;
    if (now != before) {
      out.add(new StateChanged(before, now, why));
    }
  }
}
