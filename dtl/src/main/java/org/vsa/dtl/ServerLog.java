package org.vsa.dtl;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The DTL server's logic for one vDisk, as a state machine without I/O: {@link #step} takes a
 * request and the disk space left, updates this state and returns the actions (append these bytes
 * to the log file, force it, reply, compact) that the shell ({@link DtlServer}, or the simulator)
 * carries out in order. Replies marked {@code afterSync} leave only once the log is forced.
 *
 * <p>Rules: the highest epoch ever seen is kept (on disk before any reply that depends on it);
 * a request with a lower epoch is refused as STALE. The log holds one stream: entries
 * (baseSeq, lastSeq] written under {@code streamEpoch}. Appends must follow lastSeq (overlaps are
 * duplicates and skipped); an append from another epoch must first reset the stream. A TRIM drops
 * the entries of SCOs the backend holds; when dead bytes outweigh live ones the file is rewritten.
 *
 * <p>Appends and trims are taken only on the connection of the latest Hello. Two runs of an
 * owner can share an epoch (a cluster node restarted under its ownership lease) and even a reset
 * generation (the new run picks one above what the DTL reported, before a dead run's last reset
 * arrived); the epoch and generation alone cannot tell the dead run's late requests from the new
 * run's, the connection can. Any other connection's Append or Trim at the current epoch is refused
 * and closed (the owner, should it be the live one, reconnects and says Hello again).
 */
public final class ServerLog {
  /** What the shell does, in list order. */
  public sealed interface Action {}

  /** Append these bytes at the end of the log file (the state already counts them). */
  public record Write(ByteBuffer bytes) implements Action {}

  /** Force the log file. */
  public record Sync() implements Action {}

  /** Send this reply; with {@code afterSync}, only once every earlier Write is forced. */
  public record Reply(Msg msg, boolean afterSync) implements Action {}

  /** Send the entries (fromSeq..toSeq], read from the log at their offsets, as an Entries reply (after sync). */
  public record SendEntries(long streamEpoch, long baseSeq, long lastSeq, long fromSeq, long toSeq, boolean more)
      implements Action {}

  /**
   * Rewrite the file atomically as {@code prefix} followed by the records at {@code offsets} /
   * {@code lengths} of the old file, in order.
   */
  public record Compact(ByteBuffer prefix, long[] offsets, int[] lengths) implements Action {}

  /** Close the connection after sending the reply before. */
  public record Close(String reason) implements Action {}

  public final UUID vdisk;
  private final long compactMinBytes;
  private long highestEpoch;
  private long streamEpoch;
  private long resetGen;
  private long baseSeq;
  private long lastSeq;
  private long trimmedSco = -1;
  /** The shell's id of the connection whose Hello came last ({@link #NO_CONN}: none since this state was built). */
  private long helloConn = NO_CONN;
  private long fileBytes;
  private long liveBytes;
  // entries (baseSeq, lastSeq]: index i holds seq baseSeq + 1 + i - head
  private long[] offsets = new long[64];
  private int[] lengths = new int[64];
  private long[] scos = new long[64];
  private int head;
  private int size;

  private ServerLog(UUID vdisk, long compactMinBytes) {
    this.vdisk = vdisk;
    this.compactMinBytes = compactMinBytes;
  }

  /** A new, empty log; the caller writes the returned header bytes first. */
  public static ServerLog create(UUID vdisk, long compactMinBytes, List<ByteBuffer> initialBytes) {
    ServerLog s = new ServerLog(vdisk, compactMinBytes);
    ByteBuffer h = LogCodec.fileHeader(vdisk);
    s.fileBytes = h.remaining();
    initialBytes.add(h);
    return s;
  }

  /**
   * Rebuilds the state from a scanned file. Returns the log; {@link #fileBytes()} tells where the
   * valid prefix ends (the shell truncates the file there).
   */
  public static ServerLog recover(UUID vdisk, long compactMinBytes, LogCodec.Scan scan) {
    ServerLog s = new ServerLog(vdisk, compactMinBytes);
    s.fileBytes = LogCodec.FILE_HEADER_BYTES;
    for (LogCodec.Rec r : scan.records()) {
      switch (r.type()) {
        case LogCodec.T_EPOCH -> s.highestEpoch = Math.max(s.highestEpoch, r.a());
        case LogCodec.T_RESET -> {
          if (r.a() != s.streamEpoch || r.b() != s.resetGen) {
            s.trimmedSco = -1; // a new stream (not the restart point after skipped entries)
          }
          s.streamEpoch = r.a();
          s.resetGen = r.b();
          s.clear(r.c());
        }
        case LogCodec.T_TRIM -> s.trim(r.a());
        case LogCodec.T_ENTRY -> {
          Entry e = r.entry();
          if (e.seq() != s.lastSeq + 1 || (s.size > 0 && e.sco() < s.scos[s.idx(s.size - 1)])) {
            return s; // cannot follow: keep the prefix before it
          }
          s.add(e.seq(), e.sco(), r.offset(), r.length());
        }
        default -> throw new IllegalStateException("unknown record type " + r.type());
      }
      s.fileBytes = r.offset() + r.length();
    }
    return s;
  }

  public long highestEpoch() {
    return highestEpoch;
  }

  public long streamEpoch() {
    return streamEpoch;
  }

  public long baseSeq() {
    return baseSeq;
  }

  public long lastSeq() {
    return lastSeq;
  }

  /** Length of the log file as this state knows it. */
  public long fileBytes() {
    return fileBytes;
  }

  /** Bytes of the entries still needed. */
  public long liveBytes() {
    return liveBytes;
  }

  /** File offset and length of the record of entry {@code seq} (baseSeq < seq <= lastSeq). */
  public long offsetOf(long seq) {
    return offsets[idx(pos(seq))];
  }

  public int lengthOf(long seq) {
    return lengths[idx(pos(seq))];
  }

  private int pos(long seq) {
    Verify.that(seq > baseSeq && seq <= lastSeq, "seq %d outside (%d, %d]", seq, baseSeq, lastSeq);
    return (int) (seq - baseSeq - 1);
  }

  private int idx(int i) {
    return (head + i) & (offsets.length - 1);
  }

  private void add(long seq, long sco, long offset, int length) {
    if (size == offsets.length) {
      grow();
    }
    int i = idx(size);
    offsets[i] = offset;
    lengths[i] = length;
    scos[i] = sco;
    size++;
    lastSeq = seq;
    liveBytes += length;
  }

  private void grow() {
    int n = offsets.length * 2;
    long[] o = new long[n];
    int[] l = new int[n];
    long[] s = new long[n];
    for (int i = 0; i < size; i++) {
      o[i] = offsets[idx(i)];
      l[i] = lengths[idx(i)];
      s[i] = scos[idx(i)];
    }
    offsets = o;
    lengths = l;
    scos = s;
    head = 0;
  }

  private void clear(long base) {
    head = 0;
    size = 0;
    baseSeq = base;
    lastSeq = base;
    liveBytes = 0;
  }

  private void trim(long sco) {
    trimmedSco = Math.max(trimmedSco, sco);
    while (size > 0 && scos[head] <= sco) {
      liveBytes -= lengths[head];
      head = (head + 1) & (offsets.length - 1);
      size--;
      baseSeq++;
    }
  }

  /** No connection has said Hello to this state (a new or recovered log: every earlier connection is gone). */
  public static final long NO_CONN = Long.MIN_VALUE;

  /** {@link #step(long, Msg, long)} for a shell with one connection at a time (conn 0). */
  public List<Action> step(Msg m, long freeBytes) {
    return step(0, m, freeBytes);
  }

  /**
   * One request from the vDisk's owner; {@code conn}: the shell's id of the connection it came on
   * (unique for the life of this state); {@code freeBytes}: the DTL's disk budget left.
   */
  public List<Action> step(long conn, Msg m, long freeBytes) {
    List<Action> out = new ArrayList<>(4);
    if (m instanceof Msg.Hello h) {
      if (fence(h.epoch(), out)) {
        helloConn = conn;
        out.add(new Reply(new Msg.HelloOk(streamEpoch, resetGen, baseSeq, lastSeq), true));
      }
    } else if (m instanceof Msg.Append a) {
      if (a.epoch() >= highestEpoch && !fromLatestHello(conn, out)) {
        return out;
      }
      append(a, freeBytes, out);
    } else if (m instanceof Msg.Trim t) {
      if (t.epoch() < highestEpoch) {
        // an old owner's: tell it at once that a newer one exists (it stops acknowledging writes)
        out.add(new Reply(reject(Msg.Code.STALE, "epoch " + t.epoch() + " is older than " + highestEpoch), false));
      } else if (!fromLatestHello(conn, out)) {
        return out;
      } else if (t.epoch() == highestEpoch && t.epoch() == streamEpoch) {
        if (t.sco() > trimmedSco) {
          write(LogCodec.trim(t.sco()), out);
          trim(t.sco());
          maybeCompact(out);
        }
        out.add(new Reply(new Msg.Ack(resetGen, lastSeq, trimmedSco), true));
      }
    } else if (m instanceof Msg.Fetch f) {
      if (fence(f.epoch(), out)) {
        long from = Math.max(f.afterSeq(), baseSeq);
        long to = from;
        long bytes = 0;
        while (to < lastSeq && to - from < WireCodec.ENTRIES_MAX && (to == from || bytes < f.maxBytes())) {
          to++;
          bytes += lengthOf(to);
        }
        out.add(new SendEntries(streamEpoch, baseSeq, lastSeq, from, to, to < lastSeq));
      }
    } else {
      out.add(new Reply(new Msg.Reject(Msg.Code.BAD, highestEpoch, lastSeq, streamEpoch, resetGen,
          "a client does not send " + m.getClass().getSimpleName()), false));
      out.add(new Close("unexpected " + m.getClass().getSimpleName()));
    }
    return out;
  }

  /**
   * Whether {@code conn} said the latest Hello; if not, refuses the request and closes the
   * connection: another run of this epoch (or this one, reconnected) has said Hello since.
   */
  private boolean fromLatestHello(long conn, List<Action> out) {
    if (conn == helloConn) {
      return true;
    }
    out.add(new Reply(reject(Msg.Code.BAD, helloConn == NO_CONN ? "say Hello first"
        : "another connection has said Hello for this vDisk since this one did"), false));
    out.add(new Close("superseded by a later Hello"));
    return false;
  }

  /** Refuses a lower epoch; records a higher one. Returns whether the request may go on. */
  private boolean fence(long epoch, List<Action> out) {
    if (epoch < highestEpoch) {
      out.add(new Reply(reject(Msg.Code.STALE, "epoch " + epoch + " is older than " + highestEpoch), false));
      return false;
    }
    if (epoch > highestEpoch) {
      highestEpoch = epoch;
      write(LogCodec.epoch(epoch), out);
      out.add(new Sync());
    }
    return true;
  }

  private Msg.Reject reject(Msg.Code code, String why) {
    return new Msg.Reject(code, highestEpoch, lastSeq, streamEpoch, resetGen, why);
  }

  private void append(Msg.Append a, long freeBytes, List<Action> out) {
    if (!fence(a.epoch(), out)) {
      return;
    }
    boolean newReset = a.reset() && (a.epoch() > streamEpoch || a.resetGen() > resetGen);
    if (!newReset && (a.epoch() != streamEpoch || a.resetGen() != resetGen)) {
      out.add(new Reply(reject(Msg.Code.GAP, "the stream is at epoch " + streamEpoch + " reset " + resetGen
          + ", not " + a.epoch() + " reset " + a.resetGen()), true));
      return;
    }
    if (!newReset && a.prevSeq() > lastSeq) {
      out.add(new Reply(reject(Msg.Code.GAP, "entries after " + a.prevSeq() + " do not follow " + lastSeq), true));
      return;
    }
    List<Entry> es = a.entries();
    if (!es.isEmpty() && es.get(0).seq() != a.prevSeq() + 1) {
      out.add(new Reply(reject(Msg.Code.BAD, "first entry " + es.get(0).seq() + " does not follow " + a.prevSeq()), false));
      out.add(new Close("malformed append"));
      return;
    }
    long after = newReset ? a.prevSeq() : lastSeq;
    long lastSco = newReset || size == 0 ? -1 : scos[idx(size - 1)];
    long bytes = 0;
    for (Entry e : es) {
      if (e.seq() > after) {
        if (e.sco() < lastSco) {
          out.add(new Reply(reject(Msg.Code.BAD, "entry " + e.seq() + " goes back to SCO " + e.sco()), false));
          out.add(new Close("malformed append"));
          return;
        }
        lastSco = e.sco();
        bytes += LogCodec.entryRecordBytes(e);
      }
    }
    if (bytes > 0 && bytes > freeBytes + (newReset ? liveBytes : 0)) {
      out.add(new Reply(reject(Msg.Code.FULL, "the DTL's disk budget is used up"), true));
      return;
    }
    if (newReset) {
      trimmedSco = -1;
      streamEpoch = a.epoch();
      resetGen = a.resetGen();
      write(LogCodec.reset(streamEpoch, resetGen, a.prevSeq()), out);
      clear(a.prevSeq());
    }
    boolean skipped = false;
    for (Entry e : es) {
      if (e.seq() > lastSeq && size == 0 && e.sco() <= trimmedSco) {
        // the backend already holds its SCO: nothing to keep but the stream's new start
        baseSeq = e.seq();
        lastSeq = e.seq();
        skipped = true;
      } else if (e.seq() > lastSeq) {
        if (skipped) {
          write(LogCodec.reset(streamEpoch, resetGen, lastSeq), out);
          skipped = false;
        }
        ByteBuffer rec = LogCodec.entry(e);
        long at = fileBytes;
        int len = rec.remaining();
        write(rec, out);
        add(e.seq(), e.sco(), at, len);
      }
    }
    if (skipped) {
      write(LogCodec.reset(streamEpoch, resetGen, lastSeq), out);
    }
    if (a.trimSco() > trimmedSco) {
      write(LogCodec.trim(a.trimSco()), out);
      trim(a.trimSco());
    }
    out.add(new Sync());
    out.add(new Reply(new Msg.Ack(resetGen, lastSeq, trimmedSco), true));
    maybeCompact(out);
  }

  private void write(ByteBuffer b, List<Action> out) {
    fileBytes += b.remaining();
    out.add(new Write(b));
  }

  private void maybeCompact(List<Action> out) {
    long dead = fileBytes - LogCodec.FILE_HEADER_BYTES - liveBytes;
    if (dead <= Math.max(liveBytes, compactMinBytes)) {
      return;
    }
    ByteBuffer h = LogCodec.fileHeader(vdisk);
    ByteBuffer e = LogCodec.epoch(highestEpoch);
    ByteBuffer r = LogCodec.reset(streamEpoch, resetGen, baseSeq);
    ByteBuffer prefix = ByteBuffer.allocate(h.remaining() + e.remaining() + r.remaining()).put(h).put(e).put(r).flip();
    long[] o = new long[size];
    int[] l = new int[size];
    long at = prefix.remaining();
    for (int i = 0; i < size; i++) {
      o[i] = offsets[idx(i)];
      l[i] = lengths[idx(i)];
      offsets[idx(i)] = at;
      at += l[i];
    }
    fileBytes = at;
    out.add(new Compact(prefix, o, l));
  }
}
