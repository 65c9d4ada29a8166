package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class WriteLanesTest {
  private final ExecutorService laneThreads = Executors.newFixedThreadPool(4);
  private final ExecutorService workers = Executors.newFixedThreadPool(4);
  private final WriteLanes lanes = new WriteLanes(laneThreads, workers);

  @AfterEach
  void stop() throws InterruptedException {
    laneThreads.shutdownNow();
    workers.shutdownNow();
    assertTrue(laneThreads.awaitTermination(10, TimeUnit.SECONDS));
    assertTrue(workers.awaitTermination(10, TimeUnit.SECONDS));
  }

  /** A write that records its number and thread; {@code here}: whether it may run on the caller's thread. */
  private record Recorded(int n, boolean here, List<Integer> order, List<String> threads, AtomicInteger running,
      CountDownLatch gate) implements WriteLanes.Write {
    @Override
    public boolean tryHere() {
      if (!here) {
        return false;
      }
      run();
      return true;
    }

    @Override
    public void run() {
      assertEquals(1, running.incrementAndGet(), "two writes of one lane at once");
      try {
        if (gate != null) {
          gate.await(30, TimeUnit.SECONDS);
        }
        order.add(n);
        threads.add(Thread.currentThread().getName());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        running.decrementAndGet();
      }
    }
  }

  @Test
  void anIdleLaneRunsAWriteThatNeedsNoWaitOnTheCallersThread() {
    List<Integer> order = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    lanes.submit(new FileHandle(1, 1), 100, new Recorded(0, true, order, threads, new AtomicInteger(), null));
    assertEquals(List.of(0), order);
    assertEquals(List.of(Thread.currentThread().getName()), threads);
    assertEquals(0, lanes.queuedBytes());
  }

  @Test
  void writesOfOneFileRunOneAtATimeInArrivalOrderWhereverTheyRun() throws Exception {
    FileHandle file = new FileHandle(1, 7);
    List<Integer> order = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    AtomicInteger running = new AtomicInteger();
    CountDownLatch gate = new CountDownLatch(1);
    lanes.submit(file, 10, new Recorded(0, false, order, threads, running, gate)); // queued, held at the gate
    for (int i = 1; i < 500; i++) {
      lanes.submit(file, 10, new Recorded(i, i % 2 == 0, order, threads, running, null));
    }
    assertTrue(order.isEmpty(), "nothing may overtake the held write: " + order);
    gate.countDown();
    awaitSize(order, 500);
    for (int i = 0; i < 500; i++) {
      assertEquals(i, order.get(i));
    }
    assertFalse(threads.contains(Thread.currentThread().getName()), "ran on the caller while the lane was busy");
    // idle again: the next one that may runs here
    lanes.submit(file, 10, new Recorded(500, true, order, threads, running, null));
    assertEquals(Thread.currentThread().getName(), threads.get(500));
    assertEquals(0, lanes.queuedBytes());
  }

  @Test
  void queuedDataIsBoundedAndSubmitNeverWaits() throws Exception {
    FileHandle file = new FileHandle(2, 9);
    List<Integer> order = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    AtomicInteger running = new AtomicInteger();
    CountDownLatch gate = new CountDownLatch(1);
    int mib = 1 << 20;
    int calls = WriteLanes.QUEUED_BYTES_MAX / mib + 40;
    org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
      lanes.submit(file, mib, new Recorded(0, false, order, threads, running, gate));
      for (int i = 1; i < calls; i++) {
        lanes.submit(file, mib, new Recorded(i, false, order, threads, running, null));
      }
    });
    assertTrue(lanes.queuedBytes() <= WriteLanes.QUEUED_BYTES_MAX, "queued " + lanes.queuedBytes());
    assertEquals(WriteLanes.QUEUED_BYTES_MAX, lanes.queuedBytes(), "the bound is reached, the rest waits on workers");
    assertTrue(order.isEmpty());
    gate.countDown();
    awaitSize(order, calls);
    assertEquals(calls, new java.util.HashSet<>(order).size());
    for (int i = 0; i < WriteLanes.QUEUED_BYTES_MAX / mib; i++) {
      assertEquals(i, order.get(i), "the writes that found room run in arrival order");
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (lanes.queuedBytes() != 0 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    assertEquals(0, lanes.queuedBytes());
  }

  private static void awaitSize(List<Integer> list, int n) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (list.size() < n && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    assertEquals(n, list.size());
  }
}
