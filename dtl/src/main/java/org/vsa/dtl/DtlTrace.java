package org.vsa.dtl;

/**
 * Optional per-stage timestamps of the DTL path, for benchmarks ({@code DtlBench --stages}): a
 * sink gets (stage, seq, System.nanoTime()) at each point an entry passes. Off by default: one
 * volatile read per stage. Client and server must run in one JVM for the times to compare.
 */
public final class DtlTrace {
  /** The points an entry passes, in order. */
  public enum Stage {
    /** The engine handed the entry to the client (writer thread). */
    CLIENT_APPEND,
    /** The client's event loop encoded the Append carrying it (last entry of the batch). */
    CLIENT_ENCODE,
    /** The server decoded the Append (its event loop). */
    SERVER_DECODE,
    /** The server wrote the entry to its log file. */
    SERVER_WRITTEN,
    /** The server forced the log file (before the Ack). */
    SERVER_FORCED,
    /** The client's event loop received the Ack. */
    CLIENT_ACK,
    /** The writer waiting for the entry woke up. */
    WRITER_WOKE
  }

  /** Receives the timestamps; must be cheap and thread-safe. */
  public interface Sink {
    void mark(Stage stage, long seq, long nanos);
  }

  private static volatile Sink sink;

  private DtlTrace() {}

  public static void install(Sink s) {
    sink = s;
  }

  static boolean on() {
    return sink != null;
  }

  static void mark(Stage stage, long seq) {
    Sink s = sink;
    if (s != null) {
      s.mark(stage, seq, System.nanoTime());
    }
  }
}
