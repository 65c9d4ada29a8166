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

  /** Every coefficient times every byte value, through the fast path, equals the product table. */
  @Test
  void fastPathMultipliesEveryByteByEveryCoefficient() {
    byte[] all = new byte[256 * 33 + 5]; // several longs, a tail of 5 bytes
    for (int i = 0; i < all.length; i++) {
      all[i] = (byte) i;
    }
    for (int c = 0; c < 256; c++) {
      byte[] out = new byte[all.length];
      ReedSolomon.codeRows(new byte[][] {{(byte) c}}, new byte[][] {all}, new byte[][] {out}, 0, all.length);
      for (int i = 0; i < all.length; i++) {
        assertEquals(slowMul(c, all[i] & 0xff), out[i] & 0xff, c + "*" + (all[i] & 0xff) + " at " + i);
      }
    }
  }

  /**
   * For every (k, m) of the matrix: the fast path's encode, its rebuild rows (random inverse-like
   * coefficient rows) and a range in the middle of the shards give the same bytes as the reference
   * byte-by-byte table path, on random data of lengths across block and long boundaries.
   */
  @Test
  void fastPathEqualsReferencePathForEveryShape() {
    Random rnd = new Random(4242);
    int[] lengths = {1, 7, 8, 9, 4095, 4096, 4097, 3 * 4096 + 13, 65536};
    for (int k = 1; k <= 8; k++) {
      for (int m = 0; m <= 4; m++) {
        ReedSolomon rs = new ReedSolomon(k, m);
        for (int len : lengths) {
          int offset = rnd.nextInt(3) * 5;
          byte[][] shards = new byte[k + m][offset + len + 3];
          for (int i = 0; i < k; i++) {
            rnd.nextBytes(shards[i]);
          }
          rs.encode(shards, offset, len);
          byte[][] reference = new byte[m][offset + len + 3];
          byte[][] rows = new byte[m][];
          for (int p = 0; p < m; p++) {
            rows[p] = rs.parityRow(p);
          }
          ReedSolomon.codeRowsReference(rows, java.util.Arrays.copyOf(shards, k), reference, offset, len);
          for (int p = 0; p < m; p++) {
            assertArrayEquals(java.util.Arrays.copyOfRange(reference[p], offset, offset + len),
                java.util.Arrays.copyOfRange(shards[k + p], offset, offset + len),
                "k=" + k + " m=" + m + " len=" + len + " parity " + p);
          }
          // arbitrary coefficients (zeros, ones and others), as the rebuild rows are
          int r = 1 + rnd.nextInt(4);
          byte[][] any = new byte[r][k];
          for (byte[] row : any) {
            for (int j = 0; j < k; j++) {
              int pick = rnd.nextInt(4);
              row[j] = (byte) (pick == 0 ? 0 : pick == 1 ? 1 : rnd.nextInt(256));
            }
          }
          byte[][] fast = new byte[r][offset + len + 3];
          byte[][] slow = new byte[r][offset + len + 3];
          for (int p = 0; p < r; p++) {
            rnd.nextBytes(fast[p]); // the fast path must overwrite, not XOR into, its outputs
          }
          byte[][] in = java.util.Arrays.copyOf(shards, k);
          ReedSolomon.codeRows(any, in, fast, offset, len);
          ReedSolomon.codeRowsReference(any, in, slow, offset, len);
          for (int p = 0; p < r; p++) {
            assertArrayEquals(java.util.Arrays.copyOfRange(slow[p], offset, offset + len),
                java.util.Arrays.copyOfRange(fast[p], offset, offset + len),
                "k=" + k + " m=" + m + " len=" + len + " row " + p);
          }
        }
      }
    }
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
