package org.vsa.volume;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a crash may leave in one 4 KiB cluster: the state after some prefix of the writes that
 * touched it, never a mix. Built from the cluster's state before the writes and its writes in
 * order; {@link #newestMatch} says which prefix a recovered cluster equals.
 */
final class ClusterHistory {
  private static final int CLUSTER = Layout.CLUSTER_BYTES;

  private final int at;
  private final List<byte[]> states = new ArrayList<>();
  private byte[] state;

  /** @param at the cluster's byte offset; @param disk the vDisk before the writes */
  ClusterHistory(byte[] disk, int at) {
    this.at = at;
    this.state = Arrays.copyOfRange(disk, at, at + CLUSTER);
    states.add(state.clone());
  }

  /** Applies one write (its bytes at {@code offset}; an unmap writes zeros) that touches the cluster. */
  void apply(long offset, byte[] data) {
    long from = Math.max(offset, at);
    long to = Math.min(offset + data.length, at + CLUSTER);
    System.arraycopy(data, (int) (from - offset), state, (int) (from - at), (int) (to - from));
    states.add(state.clone());
  }

  /** The longest prefix (number of writes) whose state equals the cluster in {@code disk}, or -1. */
  int newestMatch(byte[] disk) {
    byte[] actual = Arrays.copyOfRange(disk, at, at + CLUSTER);
    for (int s = states.size() - 1; s >= 0; s--) {
      if (Arrays.equals(states.get(s), actual)) {
        return s;
      }
    }
    return -1;
  }
}
