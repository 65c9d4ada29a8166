package org.vsa.volume;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit for one vDisk: one thread forces the write buffer for every durable writer that
 * waits, as BookKeeper's journal does. A commit starts when one of three named triggers fires:
 * <ul>
 *   <li><b>queue empty</b>: no writer is between entering {@code write} and waiting, so nobody
 *       else would join this commit;</li>
 *   <li><b>bytes</b>: at least {@code maxBytes} were appended since the last commit;</li>
 *   <li><b>wait time</b>: the oldest waiter has waited {@code maxWaitMicros}.</li>
 * </ul>
 * A failed force is fatal for the vDisk: every waiter and every later write gets the error,
 * because after a failed fsync the kernel may have dropped the dirty pages.
 */
final class GroupCommitter implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(GroupCommitter.class);

  /** Forces everything appended so far; returns the highest sequence number it made durable. */
  interface CommitAction {
    long commit() throws IOException;
  }

  private final String name;
  private final CommitAction action;
  private final long maxWaitNanos;
  private final long maxBytes;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition work = lock.newCondition();
  private final Condition done = lock.newCondition();
  private long requestedSeq;
  private long durableSeq;
  /** A commit through this seq is due by {@link #lazyDeadlineNanos} (writes acknowledged on the DTL's force). */
  private long lazySeq;
  private long lazyDeadlineNanos;
  private long oldestWaitStartNanos;
  private int waiters;
  private int inFlight;
  private long bytesSinceCommit;
  /** Written under the lock, read without it on every read and write of the vDisk. */
  private volatile IOException failure;
  private boolean stopped;
  private Thread thread;

  final LongAdder commits = new LongAdder();
  final LongAdder triggerQueueEmpty = new LongAdder();
  final LongAdder triggerBytes = new LongAdder();
  final LongAdder triggerWaitTime = new LongAdder();

  GroupCommitter(String name, CommitAction action, long maxWaitMicros, long maxBytes, long durableSeq) {
    this.name = name;
    this.action = action;
    this.maxWaitNanos = TimeUnit.MICROSECONDS.toNanos(maxWaitMicros);
    this.maxBytes = maxBytes;
    this.durableSeq = durableSeq;
  }

  void start() {
    thread = new Thread(this, "commit-" + name);
    thread.setDaemon(true);
    thread.start();
  }

  /** A writer enters the write path: a commit waits for it while the other triggers allow. */
  void enter() throws IOException {
    lock.lock();
    try {
      if (failure != null) {
        throw new IOException("vDisk " + name + " stopped after a write-buffer failure", failure);
      }
      inFlight++;
    } finally {
      lock.unlock();
    }
  }

  /** The writer has appended {@code bytes} (or gave up); it no longer holds back a commit. */
  void exit(long bytes) {
    lock.lock();
    try {
      inFlight--;
      bytesSinceCommit += bytes;
      if (inFlight == 0 || bytesSinceCommit >= maxBytes) {
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Returns once everything up to {@code seq} is durable. */
  void awaitDurable(long seq) throws IOException {
    lock.lock();
    try {
      if (durableSeq >= seq) {
        return;
      }
      if (waiters == 0) {
        oldestWaitStartNanos = System.nanoTime();
      }
      waiters++;
      requestedSeq = Math.max(requestedSeq, seq);
      work.signal();
      try {
        while (durableSeq < seq && failure == null && !stopped) {
          done.awaitUninterruptibly();
        }
      } finally {
        waiters--;
      }
      if (durableSeq < seq) {
        throw new IOException("vDisk " + name + ": write not made durable", failure);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Asks for a commit through {@code seq} soon, without waiting for it (a sealed SCO to force). */
  void request(long seq) {
    lock.lock();
    try {
      if (seq > requestedSeq) {
        if (waiters == 0 && requestedSeq <= durableSeq) {
          oldestWaitStartNanos = System.nanoTime();
        }
        requestedSeq = seq;
        work.signal();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Asks for a commit through {@code seq} within {@code delayNanos}, or sooner once
   * {@code maxBytes} were written since the last commit; nobody waits for it. For writes whose
   * acknowledgement rests on another copy (the DTL's force in sync mode): the local force follows
   * off the acknowledgement's path, in the background, batched.
   */
  void requestWithin(long seq, long delayNanos) {
    lock.lock();
    try {
      if (seq > lazySeq) {
        if (lazySeq <= durableSeq) {
          lazyDeadlineNanos = System.nanoTime() + delayNanos;
          work.signal();
        }
        lazySeq = seq;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Something else made everything up to {@code seq} durable. */
  void markDurable(long seq) {
    lock.lock();
    try {
      if (seq > durableSeq) {
        durableSeq = seq;
        done.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  long durableSeq() {
    lock.lock();
    try {
      return durableSeq;
    } finally {
      lock.unlock();
    }
  }

  void fail(IOException e) {
    lock.lock();
    try {
      if (failure == null) {
        failure = e;
      }
      done.signalAll();
    } finally {
      lock.unlock();
    }
  }

  IOException failure() {
    return failure;
  }

  @Override
  public void run() {
    while (true) {
      lock.lock();
      try {
        while (!stopped && failure == null && requestedSeq <= durableSeq) {
          if (lazySeq > durableSeq) {
            long left = lazyDeadlineNanos - System.nanoTime();
            if (left <= 0 || bytesSinceCommit >= maxBytes) {
              requestedSeq = lazySeq;
              oldestWaitStartNanos = System.nanoTime();
              break;
            }
            try {
              work.awaitNanos(left);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
          } else {
            work.awaitUninterruptibly();
          }
        }
        if (stopped || failure != null) {
          return;
        }
        // Let writers already in flight join this commit, within the triggers' bounds.
        while (true) {
          if (inFlight == 0) {
            triggerQueueEmpty.increment();
            break;
          }
          if (bytesSinceCommit >= maxBytes) {
            triggerBytes.increment();
            break;
          }
          long waitedNanos = System.nanoTime() - oldestWaitStartNanos;
          if (waitedNanos >= maxWaitNanos) {
            triggerWaitTime.increment();
            break;
          }
          try {
            work.awaitNanos(maxWaitNanos - waitedNanos);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
        bytesSinceCommit = 0;
        oldestWaitStartNanos = System.nanoTime();
      } finally {
        lock.unlock();
      }
      long target;
      try {
        target = action.commit();
      } catch (IOException | RuntimeException e) {
        IOException io = e instanceof IOException x ? x : new IOException(e);
        log.error("vDisk {}: forcing the write buffer failed; the vDisk stops accepting writes", name, io);
        fail(io);
        return;
      }
      commits.increment();
      markDurable(target);
    }
  }

  void stop() throws InterruptedException {
    lock.lock();
    try {
      stopped = true;
      work.signalAll();
      done.signalAll();
    } finally {
      lock.unlock();
    }
    if (thread != null) {
      thread.join(TimeUnit.SECONDS.toMillis(30));
    }
  }
}
