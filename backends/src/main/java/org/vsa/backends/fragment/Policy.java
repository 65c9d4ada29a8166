package org.vsa.backends.fragment;

/**
 * One erasure-coding policy of a preset, after Open vStorage's ALBA.
 *
 * @param k data fragments per stripe
 * @param m parity fragments per stripe: any m may be lost
 * @param c fragments that must be stored before a write counts as done, in [k, k+m]
 * @param x at most this many fragments of a stripe on one store ("disk" or node)
 */
public record Policy(int k, int m, int c, int x) {
  public Policy {
    if (k < 1 || k > 32) {
      throw new IllegalArgumentException("policy k (data fragments) must be in [1, 32]; got " + k);
    }
    if (m < 0 || m > 16) {
      throw new IllegalArgumentException("policy m (parity fragments) must be in [0, 16]; got " + m);
    }
    if (c < k || c > k + m) {
      throw new IllegalArgumentException("policy c (fragments stored before a write is done) must be in [k, k+m] = ["
          + k + ", " + (k + m) + "]; got " + c);
    }
    if (x < 1) {
      throw new IllegalArgumentException("policy x (max fragments per store) must be >= 1; got " + x);
    }
  }

  public int fragments() {
    return k + m;
  }

  /** Stores needed to place all k+m fragments with at most x on each. */
  public int storesNeeded() {
    return (k + m + x - 1) / x;
  }

  @Override
  public String toString() {
    return "(" + k + "," + m + "," + c + "," + x + ")";
  }
}
