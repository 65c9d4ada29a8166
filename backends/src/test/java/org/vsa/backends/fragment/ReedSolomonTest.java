package org.vsa.backends.fragment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ReedSolomonTest {
  /** Sum over k in [1, 8], m in [0, 4], j in [0, m] of C(k+m, j). */
  private static final int EXPECTED_PATTERNS = 3410;

  @Test
  void fieldArithmeticIsAFieldExhaustively() {
    for (int a = 0; a < 256; a++) {
      for (int b = 0; b < 256; b++) {
        int p = ReedSolomon.mul(a, b) & 0xff;
        assertEquals(p, ReedSolomon.mul(b, a) & 0xff);
        assertEquals(slowMul(a, b), p, a + "*" + b);
        if (b != 0) {
          assertEquals(a, ReedSolomon.div(p, b) & 0xff, a + "*" + b + "/" + b);
        }
      }
    }
    assertThrows(ArithmeticException.class, () -> ReedSolomon.div(1, 0));
  }

  /** Carry-less multiplication reduced by 0x11d: the definition, bit by bit. */
  private static int slowMul(int a, int b) {
    int r = 0;
    for (int i = 0; i < 8; i++) {
      if ((b & (1 << i)) != 0) {
        r ^= a << i;
      }
    }
    for (int bit = 15; bit >= 8; bit--) {
      if ((r & (1 << bit)) != 0) {
        r ^= 0x11d << (bit - 8);
      }
    }
    return r;
  }

  @Test
  void everyErasurePatternOfUpToMShardsIsRebuilt() {
    Random rnd = new Random(42);
    int patterns = 0;
    for (int k = 1; k <= 8; k++) {
      for (int m = 0; m <= 4; m++) {
        ReedSolomon rs = new ReedSolomon(k, m);
        int n = k + m;
        int len = 1 + rnd.nextInt(300);
        byte[][] original = new byte[n][len];
        for (int i = 0; i < k; i++) {
          rnd.nextBytes(original[i]);
        }
        rs.encode(original, 0, len);
        // parity is systematic: the data shards are untouched by encode
        for (int mask = 0; mask < (1 << n); mask++) {
          int lost = Integer.bitCount(mask);
          byte[][] shards = new byte[n][];
          boolean[] present = new boolean[n];
          for (int i = 0; i < n; i++) {
            present[i] = (mask & (1 << i)) == 0;
            shards[i] = present[i] ? original[i].clone() : new byte[len];
          }
          if (lost > m) {
            byte[][] s = shards;
            assertThrows(IllegalArgumentException.class, () -> rs.decode(s, present, 0, len));
            continue;
          }
          rs.decode(shards, present, 0, len);
          for (int i = 0; i < n; i++) {
            assertArrayEquals(original[i], shards[i], "k=" + k + " m=" + m + " lost mask " + mask + " shard " + i);
          }
          patterns++;
        }
      }
    }
    assertEquals(EXPECTED_PATTERNS, patterns, "every pattern of at most m erasures was tried");
  }

  @Test
  void encodesARangeOnly() {
    ReedSolomon rs = new ReedSolomon(3, 2);
    byte[][] a = new byte[5][100];
    byte[][] b = new byte[5][40];
    Random rnd = new Random(7);
    for (int i = 0; i < 3; i++) {
      rnd.nextBytes(a[i]);
      System.arraycopy(a[i], 30, b[i], 0, 40);
    }
    rs.encode(a, 30, 40);
    rs.encode(b, 0, 40);
    for (int i = 3; i < 5; i++) {
      for (int j = 0; j < 40; j++) {
        assertEquals(a[i][30 + j], b[i][j]);
      }
    }
  }

  @Test
  void badShapesAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new ReedSolomon(0, 1));
    assertThrows(IllegalArgumentException.class, () -> new ReedSolomon(200, 56));
    ReedSolomon rs = new ReedSolomon(2, 1);
    assertThrows(IllegalArgumentException.class, () -> rs.encode(new byte[2][4], 0, 4));
  }
}
