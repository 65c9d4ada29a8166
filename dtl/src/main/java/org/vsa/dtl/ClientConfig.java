package org.vsa.dtl;

import java.util.concurrent.TimeUnit;

/**
 * Knobs of a vDisk's DTL client.
 *
 * @param asyncMaxBytes async mode ships once this many bytes are queued
 * @param asyncMaxAgeNanos async mode ships once the oldest queued write is this old
 * @param retainMaxBytes writes kept in memory until the DTL holds them; beyond this the client
 *     drops them and catches up by letting the backend take the window (see {@link ClientMachine})
 * @param ackTimeoutNanos no answer for this long: the DTL counts as unreachable (DEGRADED); this
 *     is the longest a sync-mode write waits for an unreachable DTL
 * @param reconnectMinNanos first delay before reconnecting; doubles up to reconnectMaxNanos
 * @param reconnectMaxNanos longest delay between reconnection attempts
 * @param batchMaxBytes largest Append message
 */
public record ClientConfig(
    long asyncMaxBytes,
    long asyncMaxAgeNanos,
    long retainMaxBytes,
    long ackTimeoutNanos,
    long reconnectMinNanos,
    long reconnectMaxNanos,
    int batchMaxBytes) {

  public ClientConfig {
    if (asyncMaxBytes < 1 || asyncMaxAgeNanos < 0 || retainMaxBytes < 64 * 1024 || ackTimeoutNanos < 1
        || reconnectMinNanos < 1 || reconnectMaxNanos < reconnectMinNanos || batchMaxBytes < 64 * 1024) {
      throw new IllegalArgumentException("DTL client settings out of range: " + this);
    }
  }

  public static ClientConfig defaults() {
    return new ClientConfig(1 << 20, TimeUnit.MILLISECONDS.toNanos(5), 32L << 20, TimeUnit.SECONDS.toNanos(2),
        TimeUnit.MILLISECONDS.toNanos(100), TimeUnit.SECONDS.toNanos(5), 1 << 20);
  }

  public ClientConfig withAsync(long maxBytes, long maxAgeNanos) {
    return new ClientConfig(maxBytes, maxAgeNanos, retainMaxBytes, ackTimeoutNanos, reconnectMinNanos,
        reconnectMaxNanos, batchMaxBytes);
  }

  public ClientConfig withRetainMaxBytes(long bytes) {
    return new ClientConfig(asyncMaxBytes, asyncMaxAgeNanos, bytes, ackTimeoutNanos, reconnectMinNanos,
        reconnectMaxNanos, batchMaxBytes);
  }

  public ClientConfig withAckTimeoutNanos(long nanos) {
    return new ClientConfig(asyncMaxBytes, asyncMaxAgeNanos, retainMaxBytes, nanos, reconnectMinNanos,
        reconnectMaxNanos, batchMaxBytes);
  }
}
