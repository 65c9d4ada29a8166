package org.vsa.nfs;

import java.nio.ByteBuffer;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read-ahead for sequential READ streams of vDisk-backed files. A client that reads a file in
 * order, one READ at a time (nfs-cp, cp, a VM booting or copying a disk), waits for each READ's
 * disk read, checksum and send in turn; once a file's READs follow each other, the next range is
 * read into a pooled buffer by a worker while the client handles the reply, and the READ that asks
 * for exactly that range is answered from the buffer, on the selector thread, with no read and no
 * thread hand-off.
 *
 * <p>A buffer is served only if the file's contents cannot have changed since it was read: the
 * namespace's {@link Namespace#contentStamp} (the vDisk's mapping stamp, which every write, unmap
 * or reopen changes, whether it came over NFS or iSCSI) is the one taken before the read, and the
 * file's size is the same. Otherwise the READ is done as usual and the buffer dropped.
 *
 * <p>Bounded: at most {@link #STREAMS_MAX} files are followed and one range of at most rtmax is
 * held for each; a range not asked for within {@link #MAX_AGE_NANOS} is let go.
 */
final class ReadAhead {
  private static final Logger log = LoggerFactory.getLogger(ReadAhead.class);

  /**
   * READs smaller than this are not read ahead: for them the hand-off to a worker costs about what
   * the read does (64 KiB READs at iodepth 1 were slower with it).
   */
  static final int MIN_BYTES = 256 << 10;
  static final int STREAMS_MAX = 32;
  static final long MAX_AGE_NANOS = 2_000_000_000L;

  private static final int PENDING = 0;
  private static final int READY = 1;
  private static final int TAKEN = 2;
  private static final int DROPPED = 3;

  /** One range read ahead. Its buffer belongs to it until taken (then to the reply) or dropped. */
  static final class Range {
    final Namespace ns;
    final long fileId;
    final long offset;
    final int count;
    private final AtomicInteger state = new AtomicInteger(PENDING);
    private ByteBuffer buf;
    private long stamp;
    private Attr after;
    private int got;

    Range(Namespace ns, long fileId, long offset, int count) {
      this.ns = ns;
      this.fileId = fileId;
      this.offset = offset;
      this.count = count;
    }

    /** The buffer (position 0, limit the bytes read), once taken. */
    ByteBuffer buffer() {
      return buf;
    }

    /** The bytes read (less than count at the end of the file). */
    int got() {
      return got;
    }

    /** The file's attributes after the read. */
    Attr after() {
      return after;
    }
  }

  /** A followed file: where its next READ is expected to start, and the range read ahead for it. */
  private static final class Stream {
    long nextOffset = -1;
    Range ahead;
    long touched;
    /** Large READs of the file between their arrival and their reply. */
    int inFlight;
    /** The furthest end of a READ of the file seen arriving. */
    long arrivedEnd;
    /** Ranges read ahead for nothing in a row; from 2 on, only one chance in 32 is taken. */
    int wasteStreak;
    int skipped;
  }

  private final DirectBuffers buffers;
  private final Executor workers;
  private final Map<Long, Stream> streams = new ConcurrentHashMap<>();
  private volatile long lastSweep = System.nanoTime();
  private final LongAdder served = new LongAdder();
  private final LongAdder wasted = new LongAdder();
  private final AtomicInteger filling = new AtomicInteger();

  ReadAhead(DirectBuffers buffers, Executor workers) {
    this.buffers = buffers;
    this.workers = workers;
  }

  private static long key(Namespace ns, long fileId) {
    return ns.namespaceId() * 0x9E3779B97F4A7C15L ^ fileId;
  }

  /**
   * A READ of {@code count} bytes of the file has arrived; {@link #left} must follow with the
   * ticket returned (null: not followed). Only a client that waits for each READ before it sends the next one
   * (nothing else of that file in flight) is read ahead for: with several READs in flight the next
   * range is usually asked for already, and reading it ahead would read it twice.
   */
  Ticket arrived(Namespace ns, long fileId, long offset, int count) {
    if (count < MIN_BYTES) {
      return null;
    }
    long k = key(ns, fileId);
    Stream s = streams.get(k);
    if (s == null) {
      long now = System.nanoTime();
      if (streams.size() >= STREAMS_MAX && !sweep(now)) {
        return null;
      }
      s = streams.computeIfAbsent(k, x -> new Stream());
    }
    synchronized (s) {
      s.inFlight++;
      s.arrivedEnd = Math.max(s.arrivedEnd, offset + count);
      s.touched = System.nanoTime();
    }
    return new Ticket(s);
  }

  /** One READ counted in its stream's {@code inFlight} until {@link #left} (once, whoever calls first). */
  static final class Ticket {
    private final Stream stream;
    private final java.util.concurrent.atomic.AtomicBoolean left = new java.util.concurrent.atomic.AtomicBoolean();

    private Ticket(Stream stream) {
      this.stream = stream;
    }
  }

  /**
   * The READ announced by {@link #arrived} no longer counts as in flight: called before its reply
   * is sent (so a client that sends its next READ on the reply never finds this one still counted),
   * and again, harmlessly, when it is over in any way. Null tickets are ignored.
   */
  void left(Ticket t) {
    if (t != null && t.left.compareAndSet(false, true)) {
      synchronized (t.stream) {
        t.stream.inFlight = Math.max(0, t.stream.inFlight - 1);
      }
    }
  }

  /**
   * Whether a READ of [offset, offset+count) of the file would probably be answered from a range
   * read ahead (for the selector thread to decide whether to answer it itself).
   */
  boolean likelyHit(Namespace ns, long fileId, long offset, int count) {
    Stream s = streams.get(key(ns, fileId));
    if (s == null) {
      return false;
    }
    synchronized (s) {
      Range r = s.ahead;
      return r != null && r.ns == ns && r.fileId == fileId && r.offset == offset && r.count == count
          && r.state.get() == READY;
    }
  }

  /**
   * The range read ahead for exactly this READ, if it is ready and still current (content stamp
   * and size as when it was read); the caller then owns its buffer and must give it back to the
   * pool once sent. Null otherwise; a range that does not match is let go.
   */
  Range take(Namespace ns, long fileId, long offset, int count, long sizeNow) {
    Stream s = streams.get(key(ns, fileId));
    if (s == null) {
      return null;
    }
    Range r;
    synchronized (s) {
      r = s.ahead;
      if (r == null || r.ns != ns || r.fileId != fileId) {
        return null;
      }
      s.ahead = null;
    }
    if (r.offset != offset || r.count != count || !r.state.compareAndSet(READY, TAKEN)) {
      drop(r);
      wasted.increment();
      synchronized (s) {
        s.wasteStreak++;
      }
      return null;
    }
    synchronized (s) {
      s.wasteStreak = 0;
    }
    long stampNow = ns.contentStamp(fileId);
    if (stampNow == 0 || stampNow != r.stamp || r.after.size() != sizeNow) {
      release(r);
      wasted.increment();
      return null;
    }
    served.increment();
    return r;
  }

  /**
   * Notes a READ of the file that returned {@code got} bytes at {@code offset} (file size
   * {@code size}): when it continues the file's previous READ and was large, the next range of the
   * same length is read ahead on a worker.
   */
  void after(Ticket ticket, Namespace ns, long fileId, long offset, int count, int got, long size) {
    left(ticket);
    if (ticket == null || got < count || offset + got >= size) {
      return;
    }
    long now = System.nanoTime();
    if (now - lastSweep > MAX_AGE_NANOS) {
      lastSweep = now;
      sweep(now);
    }
    Stream s = streams.get(key(ns, fileId));
    if (s == null) {
      return; // not followed (too many streams)
    }
    Range next;
    Range old;
    synchronized (s) {
      boolean sequential = s.nextOffset == offset;
      s.nextOffset = offset + got;
      s.touched = now;
      // no other READ of the file in flight (this one has left), none beyond this one arrived:
      // the client waits for this reply before it asks for more
      if (!sequential || s.inFlight != 0 || s.arrivedEnd > offset + got || ns.contentStamp(fileId) == 0) {
        return;
      }
      if (s.wasteStreak >= 2 && ++s.skipped % 32 != 0) {
        return;
      }
      old = s.ahead;
      next = new Range(ns, fileId, offset + got, count);
      s.ahead = next;
    }
    if (old != null) {
      drop(old);
    }
    filling.incrementAndGet();
    try {
      workers.execute(() -> {
        try {
          fill(next);
        } finally {
          filled();
        }
      });
    } catch (RejectedExecutionException e) {
      filled();
      drop(next); // shutting down
    }
  }

  private void filled() {
    if (filling.decrementAndGet() == 0) {
      synchronized (filling) {
        filling.notifyAll();
      }
    }
  }

  /** Waits until no range is being read (tests); whether that happened within the time. */
  boolean awaitFilled(long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
    synchronized (filling) {
      while (filling.get() > 0) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        filling.wait(Math.max(1, left / 1_000_000));
      }
    }
    return true;
  }

  private void fill(Range r) {
    if (r.state.get() != PENDING) {
      return;
    }
    ByteBuffer b = buffers.take(r.count);
    try {
      long stamp = r.ns.contentStamp(r.fileId); // before the read: see Namespace.contentStamp
      Namespace.Read got = r.ns.read(r.fileId, r.offset, b);
      b.flip();
      r.buf = b;
      r.stamp = stamp;
      r.after = got.after();
      r.got = got.count();
    } catch (NfsException | RuntimeException e) {
      // not an error of any client's: the READ that asks for this range reads it itself
      log.debug("read-ahead of file {} at {}: {}", r.fileId, r.offset, e.toString());
      buffers.give(b);
      r.state.set(DROPPED);
      return;
    }
    if (!r.state.compareAndSet(PENDING, READY)) {
      buffers.give(b); // dropped while it was read
      r.buf = null;
    }
  }

  /** Lets a range go; its buffer goes back to the pool now or when its read finishes. */
  private void drop(Range r) {
    int st = r.state.getAndSet(DROPPED);
    if (st == READY) {
      release(r);
    }
  }

  private void release(Range r) {
    ByteBuffer b = r.buf;
    r.buf = null;
    if (b != null) {
      buffers.give(b);
    }
  }

  /** Forgets streams not read for {@link #MAX_AGE_NANOS}; whether any went. */
  private boolean sweep(long now) {
    boolean any = false;
    for (Iterator<Map.Entry<Long, Stream>> it = streams.entrySet().iterator(); it.hasNext(); ) {
      Stream s = it.next().getValue();
      Range r;
      synchronized (s) {
        if (now - s.touched < MAX_AGE_NANOS || s.inFlight > 0 && now - s.touched < 30 * MAX_AGE_NANOS) {
          continue;
        }
        r = s.ahead;
        s.ahead = null;
      }
      it.remove();
      any = true;
      if (r != null) {
        drop(r);
      }
    }
    return any;
  }

  /** Lets every range go (the server is closing). */
  void close() {
    for (Stream s : streams.values()) {
      Range r;
      synchronized (s) {
        r = s.ahead;
        s.ahead = null;
      }
      if (r != null) {
        drop(r);
      }
    }
    streams.clear();
  }

  /** READs answered from a range read ahead (tests, logs). */
  long served() {
    return served.sum();
  }

  /** Ranges read ahead and then not used: asked for otherwise, or stale (tests, logs). */
  long wasted() {
    return wasted.sum();
  }
}
