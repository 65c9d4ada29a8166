package org.vsa.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteBufferTest {
  /** Upper bound on waiting for another thread to reach a state; never reached when it works. */
  private static final long WAIT_SECONDS_MAX = 30;

  @TempDir Path tmp;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  @AfterEach
  void stopThreads() {
    pool.shutdownNow();
  }

  /** Polls a condition another thread will make true; bounded, fails instead of hanging. */
  private static void awaitTrue(BooleanSupplier condition, String what) {
    long deadlineNanos = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS_MAX);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadlineNanos > 0) {
        fail("timed out waiting until " + what);
      }
      LockSupport.parkNanos(100_000);
    }
  }

  @Test
  void noDelayBelowTheSlowBand() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp.resolve("wb"), 1000);
    assertTrue(Files.isDirectory(wb.dir()));
    wb.admit(100);
    wb.admit(649); // 749 < 750
    assertEquals(749, wb.usedBytes());
    assertEquals(0, wb.throttledCount());
    assertEquals(0, wb.delayNanosTotal());
    assertEquals(0, wb.heldCount());
    assertFalse(wb.isHolding());
  }

  @Test
  void delayGrowsLinearlyInTheSlowBand() {
    WriteBuffer wb = new WriteBuffer(tmp, 1000, 0.5, 1_000_000);
    assertEquals(0, wb.delayNanosFor(0));
    assertEquals(0, wb.delayNanosFor(499));
    assertEquals(0, wb.delayNanosFor(500));
    assertEquals(500_000, wb.delayNanosFor(750));
    assertEquals(998_000, wb.delayNanosFor(999));
    assertEquals(1_000_000, wb.delayNanosFor(1000));
    assertEquals(1_000_000, wb.delayNanosFor(5000));

    WriteBuffer noBand = new WriteBuffer(tmp, 1000, 1.0, 1_000_000);
    assertEquals(0, noBand.delayNanosFor(999));
    assertEquals(1_000_000, noBand.delayNanosFor(1000));
    assertEquals(0, new WriteBuffer(tmp, 1000, 0.5, 0).delayNanosFor(999));
  }

  @Test
  void admitInTheSlowBandIsDelayedAndCounted() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp, 1000, 0.5, 100_000);
    wb.account(900);
    wb.admit(10);
    assertEquals(910, wb.usedBytes());
    assertEquals(1, wb.throttledCount());
    // The sleep runs to its deadline, so at least the policy's delay was spent.
    assertTrue(wb.delayNanosTotal() >= wb.delayNanosFor(900), "delay " + wb.delayNanosTotal());
    assertEquals(0, wb.heldCount());
  }

  @Test
  void writerAtCapacityIsHeldUntilReleaseBringsUsageBelowCapacity() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp, 1000, 0.75, 1000);
    wb.account(1000);
    Future<?> writer = pool.submit(() -> {
      wb.admit(10);
      return null;
    });
    awaitTrue(wb::isHolding, "the writer is held");
    assertFalse(writer.isDone());
    assertEquals(1, wb.heldCount());
    assertEquals(1000, wb.usedBytes(), "a held writer is not accounted yet");

    wb.account(5);
    wb.release(5); // back to exactly capacity: still full, so still held
    assertTrue(wb.isHolding());
    assertFalse(writer.isDone());

    wb.release(1);
    writer.get(WAIT_SECONDS_MAX, TimeUnit.SECONDS);
    assertEquals(1009, wb.usedBytes());
    assertFalse(wb.isHolding());
    assertEquals(1, wb.heldCount());
  }

  @Test
  void interruptWhileHeldThrowsAndLeavesAccountingUnchanged() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp, 1000);
    wb.account(1000);
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread writer = new Thread(() -> {
      try {
        wb.admit(10);
        outcome.set("admitted");
      } catch (InterruptedException e) {
        outcome.set(e);
      }
    });
    writer.start();
    awaitTrue(wb::isHolding, "the writer is held");
    writer.interrupt();
    writer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS_MAX));
    assertFalse(writer.isAlive());
    assertInstanceOf(InterruptedException.class, outcome.get());
    assertEquals(1000, wb.usedBytes());
    assertFalse(wb.isHolding());
  }

  @Test
  void interruptWhileSlowedDownThrowsAndLeavesAccountingUnchanged() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp, 1000, 0.5, TimeUnit.HOURS.toNanos(1));
    wb.account(999);
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread writer = new Thread(() -> {
      try {
        wb.admit(10);
        outcome.set("admitted");
      } catch (InterruptedException e) {
        outcome.set(e);
      }
    });
    writer.start();
    awaitTrue(() -> LockSupport.getBlocker(writer) == wb, "the writer sleeps in the slow band");
    writer.interrupt();
    writer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS_MAX));
    assertFalse(writer.isAlive());
    assertInstanceOf(InterruptedException.class, outcome.get());
    assertEquals(999, wb.usedBytes());
    assertEquals(1, wb.throttledCount());
  }

  @Test
  void interruptedBeforeAdmitThrows() {
    WriteBuffer wb = new WriteBuffer(tmp, 1000);
    Thread.currentThread().interrupt();
    assertThrows(InterruptedException.class, () -> wb.admit(10));
    assertFalse(Thread.interrupted(), "the exception reports the interrupt, as Object.wait does");
    assertEquals(0, wb.usedBytes());
  }

  @Test
  void accountingInvariants() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp, 1000);
    wb.account(300);
    wb.admit(200);
    wb.release(100);
    assertEquals(400, wb.usedBytes());
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> wb.release(401));
    assertTrue(e.getMessage().contains("401"), e.getMessage());
    assertEquals(400, wb.usedBytes(), "a refused release changes nothing");
    assertThrows(IllegalArgumentException.class, () -> wb.admit(-1));
    assertThrows(IllegalArgumentException.class, () -> wb.account(-1));
    assertThrows(IllegalArgumentException.class, () -> wb.release(-1));
    wb.account(5000); // recovery may find more than capacity
    assertEquals(5400, wb.usedBytes());
    wb.release(5400);
    assertEquals(0, wb.usedBytes());
    assertEquals(1000, wb.capacityBytes());
  }

  @Test
  void constructorArgumentsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> new WriteBuffer(tmp, 0));
    assertThrows(IllegalArgumentException.class, () -> new WriteBuffer(tmp, -1));
    for (double bad : new double[] {-0.1, 1.1, Double.NaN}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> new WriteBuffer(tmp, 1000, bad, 1));
      assertTrue(e.getMessage().contains("slowDownFraction"), e.getMessage());
    }
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new WriteBuffer(tmp, 1000, 0.5, -1));
    assertTrue(e.getMessage().contains("delayNanosMax"), e.getMessage());
    assertThrows(NullPointerException.class, () -> new WriteBuffer(null, 1000));
  }

  @Test
  void directoryForCreatesTheNamespaceDirectory() throws Exception {
    WriteBuffer wb = new WriteBuffer(tmp.resolve("wb"), 1000);
    Path dir = wb.directoryFor("vdisk-1");
    assertEquals(tmp.resolve("wb").resolve("vdisk-1"), dir);
    assertTrue(Files.isDirectory(dir));
    assertEquals(dir, wb.directoryFor("vdisk-1"));
    for (String bad : new String[] {"..", ".", "a/b", "", "../x"}) {
      assertThrows(IllegalArgumentException.class, () -> wb.directoryFor(bad), bad);
    }
  }

  @Test
  void concurrentWritersOvershootAtMostByTheirAdmits() throws Exception {
    long capacityBytes = 10_000;
    int writers = 4;
    int admitsPerWriter = 500;
    long admitBytes = 100;
    long totalBytes = writers * admitsPerWriter * admitBytes;
    WriteBuffer wb = new WriteBuffer(tmp, capacityBytes, 0.75, 10_000);
    List<Future<?>> futures = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      futures.add(pool.submit(() -> {
        for (int i = 0; i < admitsPerWriter; i++) {
          wb.admit(admitBytes);
          long used = wb.usedBytes();
          if (used > capacityBytes + writers * admitBytes) {
            fail("usage " + used + " exceeds capacity + concurrent admits");
          }
        }
        return null;
      }));
    }
    // The uploader: releases what is used until everything written has left the buffer. Bounded
    // by totalBytes when the writers progress, and by the interrupt of shutdownNow otherwise.
    Future<?> uploader = pool.submit(() -> {
      long releasedBytes = 0;
      while (releasedBytes < totalBytes) {
        long used = wb.usedBytes();
        if (used == 0) {
          if (Thread.interrupted()) {
            throw new InterruptedException();
          }
          Thread.onSpinWait();
          continue;
        }
        long bytes = Math.min(used, 700);
        wb.release(bytes);
        releasedBytes += bytes;
      }
      return null;
    });
    for (Future<?> f : futures) {
      f.get(WAIT_SECONDS_MAX, TimeUnit.SECONDS);
    }
    uploader.get(WAIT_SECONDS_MAX, TimeUnit.SECONDS);
    assertEquals(0, wb.usedBytes());
    assertFalse(wb.isHolding());
  }
}
