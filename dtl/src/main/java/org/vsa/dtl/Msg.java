package org.vsa.dtl;

import java.util.List;
import java.util.UUID;

/**
 * Messages between a vDisk's owner (client) and its DTL (server). One connection carries one
 * vDisk's stream: {@link Hello} binds it. Every message that changes the log carries the owner's
 * epoch; the server keeps the highest epoch it has seen per vDisk and refuses lower ones.
 */
public sealed interface Msg {

  /** Client: binds the connection to a vDisk and announces (and, if higher, records) the epoch. */
  record Hello(UUID vdisk, long epoch) implements Msg {}

  /**
   * Server: where the stream stands. {@code streamEpoch} is the epoch that last reset the stream;
   * the log holds entries (baseSeq, lastSeq].
   */
  record HelloOk(long streamEpoch, long resetGen, long baseSeq, long lastSeq) implements Msg {}

  /**
   * Client: entries following {@code prevSeq}. With {@code reset}, the server first drops
   * everything and restarts the stream after {@code prevSeq} (the backend holds everything up to
   * it); {@code resetGen} numbers resets within an epoch, so that a duplicate is not applied twice.
   * {@code trimSco} repeats the latest {@link Trim} (a lost or overtaken Trim costs nothing).
   */
  record Append(long epoch, long prevSeq, boolean reset, long resetGen, long trimSco, List<Entry> entries)
      implements Msg {}

  /**
   * Server: the log holds, on stable storage, everything of this stream up to {@code lastSeq};
   * it has dropped the entries of SCOs up to {@code trimmedSco}. {@code resetGen} names the reset
   * the stream is at, so that an answer overtaken by a reset is not mistaken for a later one.
   */
  record Ack(long resetGen, long lastSeq, long trimmedSco) implements Msg {}

  /** Client: the backend holds every SCO up to {@code sco}; their entries may go. */
  record Trim(long epoch, long sco) implements Msg {}

  /** Client (restoring a vDisk): entries after {@code afterSeq}, at most about {@code maxBytes}. */
  record Fetch(long epoch, long afterSeq, int maxBytes) implements Msg {}

  /** Server: entries answering a fetch; {@code more} when the log holds further ones. */
  record Entries(long streamEpoch, long baseSeq, long lastSeq, List<Entry> entries, boolean more) implements Msg {}

  /** Server: the request was refused; the connection stays usable unless the code says otherwise. */
  record Reject(Code code, long highestEpoch, long lastSeq, long streamEpoch, long resetGen, String message)
      implements Msg {}

  enum Code {
    /** The epoch is lower than one the server has seen: a newer owner exists. */
    STALE,
    /** The entries do not follow the log (or belong to another stream): resynchronise from lastSeq. */
    GAP,
    /** The DTL's disk budget is used up. */
    FULL,
    /** Malformed or out-of-protocol request; the server closes the connection. */
    BAD
  }
}
