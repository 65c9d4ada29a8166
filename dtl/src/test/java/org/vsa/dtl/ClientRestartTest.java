package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The client and server machines wired directly (no network, no faults, a clock that moves only
 * when told): an owner that restarts with the same epoch, as a cluster node under its ownership
 * lease does, while the DTL keeps the stream its previous run reset (once or several times) under
 * that epoch. The new run's stream must restart at once, not wait out the ack timeout.
 */
class ClientRestartTest {
  private static final UUID VDISK = new UUID(3, 4);
  private static final long MS = 1_000_000L;
  private static final long EPOCH = 5;

  private final ClientConfig cfg = ClientConfig.defaults();
  private final List<ByteBuffer> init = new ArrayList<>();
  private final ServerLog server = ServerLog.create(VDISK, 0, init);
  private long now = 1;

  /** Carries out a machine's step and everything it leads to, in order, until nothing is left. */
  private void step(ClientMachine m, ClientMachine.Event first) {
    ArrayDeque<ClientMachine.Event> events = new ArrayDeque<>();
    events.add(first);
    for (int guard = 0; !events.isEmpty(); guard++) {
      assertTrue(guard < 100_000, "the machines keep talking");
      for (ClientMachine.Action a : m.step(events.poll(), now)) {
        if (a instanceof ClientMachine.Connect c) {
          events.add(new ClientMachine.Connected(c.conn()));
        } else if (a instanceof ClientMachine.Send s) {
          for (ServerLog.Action r : server.step(s.msg(), Long.MAX_VALUE / 4)) {
            if (r instanceof ServerLog.Reply reply) {
              events.add(new ClientMachine.Received(s.conn(), reply.msg()));
            }
          }
        }
      }
    }
  }

  /** Ticks for {@code millis} of machine time (well under the ack timeout). */
  private void run(ClientMachine m, long millis) {
    for (long t = 0; t < millis; t += 10) {
      now += 10 * MS;
      step(m, new ClientMachine.Tick());
    }
  }

  private static Entry entry(long seq, long sco) {
    return new Entry(seq, sco, new byte[] {1, (byte) seq}, new byte[] {(byte) (seq * 7)});
  }

  /** One run of the owner: its history ends at {@code lastSeq} in SCO {@code lastSco}, the backend holds SCO {@code inBackend}. */
  private ClientMachine start(long lastSeq, long lastSco, long inBackend) {
    ClientMachine m = new ClientMachine(cfg, new SplittableRandom(1), VDISK, DtlMode.SYNC, EPOCH, lastSeq, lastSco);
    step(m, new ClientMachine.BackendHolds(inBackend));
    run(m, 100);
    assertEquals(DtlState.OK_SYNC, m.state(), m.reason());
    assertEquals(EPOCH, server.streamEpoch());
    assertEquals(lastSeq, server.lastSeq(), "the DTL's stream restarts after the recovered history");
    return m;
  }

  /** Appends entries (lastSeq, to] of SCO {@code sco}; each is acknowledged by the DTL at once. */
  private void write(ClientMachine m, long to, long sco) {
    for (long s = m.lastSeq() + 1; s <= to; s++) {
      step(m, new ClientMachine.Appended(entry(s, sco)));
      assertEquals(s, m.heldSeq(), "entry " + s + " is on the DTL: " + m.state() + ", " + m.reason());
      assertEquals(s, server.lastSeq());
    }
    run(m, 50);
    assertEquals(DtlState.OK_SYNC, m.state(), m.reason());
  }

  @Test
  void anOwnerRestartedWithTheSameEpochStreamsAtOnce() {
    // run 1: a stream of this epoch, entries 1..10 in SCO 1
    ClientMachine run1 = start(0, 0, 0);
    write(run1, 10, 1);
    // run 2: recovery adds records the DTL never got (11, 12: the close's), the backend holds SCO 1
    ClientMachine run2 = start(12, 1, 1);
    write(run2, 20, 2);
    // run 3: the DTL's stream of this epoch was reset twice; this run continues past it
    ClientMachine run3 = start(21, 2, 2);
    write(run3, 30, 3);
    // run 4: the history ends where the DTL's does (a run that shipped everything)
    ClientMachine run4 = start(30, 3, 3);
    write(run4, 35, 4);
    assertEquals(30, server.baseSeq(), "the DTL keeps only what the backend lacks");
  }
}
