package org.vsa.backends.fragment;

import java.util.Arrays;

/**
 * Systematic Reed-Solomon erasure code over GF(2^8) (polynomial x^8+x^4+x^3+x^2+1, 0x11d): k data
 * shards, m parity shards, and any k of the k+m shards rebuild the rest.
 *
 * <p>The encoding matrix is a (k+m) x k Vandermonde matrix multiplied by the inverse of its top
 * k x k square, so that its top is the identity (data shards are stored as they are) while every
 * k x k submatrix stays invertible (any k shards suffice). The same construction as Backblaze's
 * and Klaus Post's coders; written here because no maintained Java coder is on Maven Central.
 * Exhaustive tests over every erasure pattern of small (k, m) check the "any k" property.
 *
 * <p>Instances are immutable and thread-safe. k + m is at most 255.
 */
public final class ReedSolomon {
  static final int POLY = 0x11d;
  static final byte[] EXP = new byte[512];
  static final int[] LOG = new int[256];
  /** MUL[a][b] = a * b in GF(2^8): a 64 KiB table that makes the inner loops a lookup. */
  static final byte[][] MUL = new byte[256][256];

  static {
    int x = 1;
    for (int i = 0; i < 255; i++) {
      EXP[i] = (byte) x;
      LOG[x] = i;
      x <<= 1;
      if (x >= 256) {
        x ^= POLY;
      }
    }
    for (int i = 255; i < 512; i++) {
      EXP[i] = EXP[i - 255];
    }
    for (int a = 0; a < 256; a++) {
      for (int b = 0; b < 256; b++) {
        MUL[a][b] = (a == 0 || b == 0) ? 0 : EXP[LOG[a] + LOG[b]];
      }
    }
  }

  private final int k;
  private final int m;
  /** (k+m) x k; rows k.. are the parity rows. */
  private final byte[][] matrix;

  public ReedSolomon(int k, int m) {
    if (k < 1 || m < 0 || k + m > 255) {
      throw new IllegalArgumentException("Reed-Solomon needs k >= 1, m >= 0 and k + m <= 255; got k=" + k + " m=" + m);
    }
    this.k = k;
    this.m = m;
    byte[][] vandermonde = new byte[k + m][k];
    for (int r = 0; r < k + m; r++) {
      for (int c = 0; c < k; c++) {
        vandermonde[r][c] = power(r, c);
      }
    }
    byte[][] top = new byte[k][];
    for (int r = 0; r < k; r++) {
      top[r] = vandermonde[r].clone();
    }
    this.matrix = multiply(vandermonde, invert(top));
  }

  public int dataShards() {
    return k;
  }

  public int parityShards() {
    return m;
  }

  static byte mul(int a, int b) {
    return MUL[a & 0xff][b & 0xff];
  }

  static byte div(int a, int b) {
    a &= 0xff;
    b &= 0xff;
    if (b == 0) {
      throw new ArithmeticException("division by zero in GF(2^8)");
    }
    if (a == 0) {
      return 0;
    }
    return EXP[LOG[a] - LOG[b] + 255];
  }

  /** a^n in GF(2^8), with 0^0 = 1. */
  static byte power(int a, int n) {
    if (n == 0) {
      return 1;
    }
    if (a == 0) {
      return 0;
    }
    return EXP[(LOG[a] * n) % 255];
  }

  /**
   * Computes the m parity shards from the k data shards. All shards have the same length; data
   * shards are read from {@code shards[0..k)}, parity written to {@code shards[k..k+m)}.
   */
  public void encode(byte[][] shards, int offset, int length) {
    checkShards(shards, offset, length);
    byte[][] data = Arrays.copyOf(shards, k);
    for (int p = 0; p < m; p++) {
      codeRow(matrix[k + p], data, shards[k + p], offset, length);
    }
  }

  /**
   * Rebuilds every missing shard ({@code present[i] == false}) from any k present ones.
   *
   * @throws IllegalArgumentException when fewer than k shards are present
   */
  public void decode(byte[][] shards, boolean[] present, int offset, int length) {
    checkShards(shards, offset, length);
    int have = 0;
    for (boolean b : present) {
      have += b ? 1 : 0;
    }
    if (have < k) {
      throw new IllegalArgumentException("need " + k + " shards to rebuild, have " + have);
    }
    boolean dataMissing = false;
    for (int i = 0; i < k; i++) {
      dataMissing |= !present[i];
    }
    if (dataMissing) {
      byte[][] sub = new byte[k][];
      byte[][] in = new byte[k][];
      for (int i = 0, row = 0; i < k + m && row < k; i++) {
        if (present[i]) {
          sub[row] = matrix[i];
          in[row] = shards[i];
          row++;
        }
      }
      byte[][] inverse = invert(sub);
      for (int i = 0; i < k; i++) {
        if (!present[i]) {
          codeRow(inverse[i], in, shards[i], offset, length);
        }
      }
    }
    byte[][] data = Arrays.copyOf(shards, k);
    for (int p = 0; p < m; p++) {
      if (!present[k + p]) {
        codeRow(matrix[k + p], data, shards[k + p], offset, length);
      }
    }
  }

  private void checkShards(byte[][] shards, int offset, int length) {
    if (shards.length != k + m) {
      throw new IllegalArgumentException("expected " + (k + m) + " shards, got " + shards.length);
    }
    for (byte[] s : shards) {
      if (s == null || s.length < offset + length) {
        throw new IllegalArgumentException("every shard needs " + (offset + length) + " bytes");
      }
    }
  }

  /** out = sum over c of row[c] * in[c], byte by byte. */
  private static void codeRow(byte[] row, byte[][] in, byte[] out, int offset, int length) {
    byte[] t0 = MUL[row[0] & 0xff];
    byte[] src0 = in[0];
    for (int i = offset; i < offset + length; i++) {
      out[i] = t0[src0[i] & 0xff];
    }
    for (int c = 1; c < row.length; c++) {
      byte[] t = MUL[row[c] & 0xff];
      byte[] src = in[c];
      for (int i = offset; i < offset + length; i++) {
        out[i] ^= t[src[i] & 0xff];
      }
    }
  }

  static byte[][] multiply(byte[][] a, byte[][] b) {
    int rows = a.length;
    int inner = b.length;
    int cols = b[0].length;
    byte[][] out = new byte[rows][cols];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        int v = 0;
        for (int i = 0; i < inner; i++) {
          v ^= mul(a[r][i], b[i][c]);
        }
        out[r][c] = (byte) v;
      }
    }
    return out;
  }

  /** Gauss-Jordan inversion of a square matrix; throws if singular. */
  static byte[][] invert(byte[][] src) {
    int n = src.length;
    byte[][] a = new byte[n][];
    byte[][] inv = new byte[n][n];
    for (int i = 0; i < n; i++) {
      a[i] = src[i].clone();
      inv[i][i] = 1;
    }
    for (int col = 0; col < n; col++) {
      int pivot = col;
      while (pivot < n && a[pivot][col] == 0) {
        pivot++;
      }
      if (pivot == n) {
        throw new ArithmeticException("singular matrix");
      }
      byte[] t = a[col];
      a[col] = a[pivot];
      a[pivot] = t;
      t = inv[col];
      inv[col] = inv[pivot];
      inv[pivot] = t;
      int scale = a[col][col] & 0xff;
      if (scale != 1) {
        for (int c = 0; c < n; c++) {
          a[col][c] = div(a[col][c], scale);
          inv[col][c] = div(inv[col][c], scale);
        }
      }
      for (int r = 0; r < n; r++) {
        int f = a[r][col] & 0xff;
        if (r != col && f != 0) {
          for (int c = 0; c < n; c++) {
            a[r][c] ^= mul(f, a[col][c]);
            inv[r][c] ^= mul(f, inv[col][c]);
          }
        }
      }
    }
    return inv;
  }
}
