package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/** Tests of the DTL's back-pressure: is a writer thread held back in {@code DtlStream.awaitRoom}? */
public final class HeldBack {

  private HeldBack() {}

  /**
   * Waits until {@code writer} sits in {@code awaitRoom} with {@code count} (its writes done)
   * unchanged over two looks, and returns that count; fails after {@code timeout}, or if the
   * writer ends first.
   */
  public static long await(Thread writer, AtomicLong count, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long before = count.get();
      boolean waiting = writer.getState() == Thread.State.TIMED_WAITING
          && Arrays.stream(writer.getStackTrace()).anyMatch(f -> f.getMethodName().equals("awaitRoom"));
      if (waiting && count.get() == before) {
        return before;
      }
      if (System.nanoTime() > deadline || !writer.isAlive()) {
        fail("the writer was not held back; " + before + " writes done, state " + writer.getState());
      }
      Thread.sleep(5);
    }
  }
}
