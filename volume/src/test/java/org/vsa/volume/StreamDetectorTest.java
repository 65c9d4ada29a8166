package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class StreamDetectorTest {
  private static final int K64 = 64 << 10;

  @Test
  void aScanIsSequentialOnceItHasCoveredAMegabyte() {
    StreamDetector d = new StreamDetector();
    for (int i = 0; i < 15; i++) {
      assertFalse(d.sequential(1_000_000_000L + (long) i * K64, K64), "read " + i);
    }
    for (int i = 15; i < 200; i++) {
      assertTrue(d.sequential(1_000_000_000L + (long) i * K64, K64), "read " + i);
    }
  }

  @Test
  void readsArrivingSlightlyOutOfOrderStillContinueTheStream() {
    StreamDetector d = new StreamDetector();
    for (int i = 0; i < 32; i++) {
      d.sequential((long) i * K64, K64);
    }
    // with 32 commands in flight, a read may start behind the furthest end seen
    assertTrue(d.sequential(20L * K64, K64));
    assertTrue(d.sequential(40L * K64, K64));
  }

  @Test
  void randomReadsAreNeverAScan() {
    StreamDetector d = new StreamDetector();
    Random r = new Random(7);
    long disk = 100L << 30;
    for (int i = 0; i < 10_000; i++) {
      long offset = (Math.floorMod(r.nextLong(), disk)) & ~4095L;
      // a random read may land near an earlier one by chance; in 100 GiB that is rare enough to ignore
      if (d.sequential(offset, 4096)) {
        throw new AssertionError("random read " + i + " at " + offset + " taken for a scan");
      }
    }
  }

  @Test
  void severalInterleavedScansAreEachRecognised() {
    StreamDetector d = new StreamDetector();
    long[] bases = {0, 10L << 30, 20L << 30, 30L << 30};
    for (int i = 0; i < 64; i++) {
      for (long base : bases) {
        boolean seq = d.sequential(base + (long) i * K64, K64);
        if (i >= 16) {
          assertTrue(seq, "stream at " + base + " read " + i);
        }
      }
    }
  }

  @Test
  void oneLargeReadIsAScanByItself() {
    assertTrue(new StreamDetector().sequential(5L << 30, 4 << 20));
    assertFalse(new StreamDetector().sequential(5L << 30, 256 << 10));
  }
}
