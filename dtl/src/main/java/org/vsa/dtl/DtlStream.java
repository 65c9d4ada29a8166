package org.vsa.dtl;

/**
 * What the engine's write path sees of a vDisk's DTL. Calls never block for long: an
 * unreachable DTL turns the stream DEGRADED within the ack timeout and releases every waiter.
 */
public interface DtlStream extends AutoCloseable {

  /**
   * Ships one log record (and, for a write, the cluster's data) to the DTL; {@code seq} follows
   * the previous one. Copies nothing it keeps: the caller must not change the arrays afterwards.
   * Cheap: called under the engine's append lock.
   */
  void append(long seq, long sco, byte[] record, byte[] data);

  /**
   * Waits until the DTL holds every entry up to {@code seq}, or until it is known not to (the
   * stream is not OK_SYNC). Returns whether it holds them. In async mode this also asks for the
   * queue to be shipped now (a flush).
   */
  boolean awaitHeld(long seq) throws java.io.InterruptedIOException;

  /**
   * Back-pressure: waits, before a write appends, while the DTL is connected but has not yet
   * acknowledged as much of the stream as the client may keep in memory. Returns at once when
   * there is room, when there is no DTL, or when it is unreachable (it then turns DEGRADED within
   * the ack timeout and releases every waiter). Not under any engine lock.
   */
  default void awaitRoom() throws java.io.InterruptedIOException {}

  /** Whether {@link #awaitRoom()} would return at once now (a hint). */
  default boolean hasRoom() {
    return true;
  }

  /** Writes held back by {@link #awaitRoom()} so far, and the nanoseconds they waited in all. */
  default long[] heldBack() {
    return new long[2];
  }

  /** The backend holds every SCO up to {@code sco}: the DTL may drop their entries. */
  void backendHolds(long sco);

  DtlState state();

  /** Why the state is what it is. */
  String reason();

  DtlMode mode();

  /** The ownership epoch this stream writes with (0: no DTL). */
  default long epoch() {
    return 0;
  }

  /** Where this stream's DTL is (null: none, the stream is standalone); its state is about that DTL. */
  default java.net.InetSocketAddress peer() {
    return null;
  }

  @Override
  void close();

  /** The stream of a vDisk without a DTL (mode none, or no peer). */
  static DtlStream standalone(DtlMode mode, String why) {
    return new DtlStream() {
      @Override
      public void append(long seq, long sco, byte[] record, byte[] data) {}

      @Override
      public boolean awaitHeld(long seq) {
        return false;
      }

      @Override
      public void backendHolds(long sco) {}

      @Override
      public DtlState state() {
        return DtlState.OK_STANDALONE;
      }

      @Override
      public String reason() {
        return why;
      }

      @Override
      public DtlMode mode() {
        return mode;
      }

      @Override
      public void close() {}
    };
  }
}
