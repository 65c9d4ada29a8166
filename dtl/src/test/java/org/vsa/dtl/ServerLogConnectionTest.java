package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The DTL takes appends and trims only on the connection of the latest Hello. Two runs of an owner
 * restarted under one ownership lease share the epoch, and can share a reset generation: the new
 * run picks one above what the DTL reported, before the dead run's last reset arrived. In the
 * simulator's schedule that found it (seed -8959825736320169819), the dead run's reset took the
 * stream, the new run's Trim was acknowledged on it, the new run took that for its own stream and
 * went OK_SYNC, its own reset was then a duplicate, and a restore lost writes acknowledged as
 * protected.
 */
class ServerLogConnectionTest {
  private static final UUID VDISK = new UUID(9, 9);
  private static final long E = 4;
  private final ServerLog log = ServerLog.create(VDISK, 0, new ArrayList<ByteBuffer>());

  private static List<Entry> entries(long from, long to, long sco, int run) {
    List<Entry> es = new ArrayList<>();
    for (long s = from; s <= to; s++) {
      es.add(new Entry(s, sco, new byte[] {1}, new byte[] {(byte) run, (byte) s}));
    }
    return es;
  }

  private Msg reply(long conn, Msg m) {
    Msg r = null;
    for (ServerLog.Action a : log.step(conn, m, Long.MAX_VALUE / 4)) {
      if (a instanceof ServerLog.Reply x) {
        r = x.msg();
      }
    }
    return r;
  }

  private boolean closes(long conn, Msg m) {
    return log.step(conn, m, Long.MAX_VALUE / 4).stream().anyMatch(a -> a instanceof ServerLog.Close);
  }

  @Test
  void aDeadRunsLateResetUnderTheSameEpochIsRefused() {
    // the previous epoch's stream: entries 1..5
    assertInstanceOf(Msg.HelloOk.class, reply(1, new Msg.Hello(VDISK, E - 1)));
    assertInstanceOf(Msg.Ack.class, reply(1, new Msg.Append(E - 1, 0, true, 1, -1, entries(1, 5, 1, 0))));
    // run A of epoch E says Hello, sends its reset (generation 1: the DTL's stream is of epoch E-1) and dies
    Msg.HelloOk a = (Msg.HelloOk) reply(2, new Msg.Hello(VDISK, E));
    assertEquals(E - 1, a.streamEpoch());
    Msg.Append lateReset = new Msg.Append(E, 5, true, 1, -1, entries(6, 8, 2, 1));
    Msg.Append lateNext = new Msg.Append(E, 8, false, 1, -1, entries(9, 9, 2, 1));
    // run B of epoch E says Hello before A's reset arrives, and so picks generation 1 as well
    Msg.HelloOk b = (Msg.HelloOk) reply(3, new Msg.Hello(VDISK, E));
    assertEquals(E - 1, b.streamEpoch());
    assertEquals(5, b.lastSeq());
    // A's requests arrive now: refused, its connection closed, the stream untouched
    Msg r = reply(2, lateReset);
    assertInstanceOf(Msg.Reject.class, r);
    assertEquals(Msg.Code.BAD, ((Msg.Reject) r).code());
    assertTrue(closes(2, lateNext));
    assertTrue(closes(2, new Msg.Trim(E, 1)));
    assertEquals(E - 1, log.streamEpoch());
    assertEquals(5, log.lastSeq());
    // B's reset takes the stream: its entries, not A's
    Msg.Ack ack = (Msg.Ack) reply(3, new Msg.Append(E, 5, true, 1, -1, entries(6, 10, 3, 2)));
    assertEquals(1, ack.resetGen());
    assertEquals(10, ack.lastSeq());
    assertEquals(E, log.streamEpoch());
    // an older epoch still learns it is fenced, whatever its connection
    assertEquals(Msg.Code.STALE, ((Msg.Reject) reply(1, new Msg.Append(E - 1, 5, false, 1, -1, entries(6, 6, 1, 0))))
        .code());
    // B reconnects (a new connection, a new Hello): its old connection's late requests are refused too
    assertInstanceOf(Msg.HelloOk.class, reply(4, new Msg.Hello(VDISK, E)));
    assertTrue(closes(3, new Msg.Append(E, 10, false, 1, -1, entries(11, 11, 3, 2))));
    assertEquals(10, log.lastSeq());
    assertEquals(11, ((Msg.Ack) reply(4, new Msg.Append(E, 10, false, 1, -1, entries(11, 11, 3, 2)))).lastSeq());
  }

  @Test
  void aRecoveredLogTakesAppendsOnlyAfterAHello() {
    ServerLog fresh = ServerLog.create(VDISK, 0, new ArrayList<ByteBuffer>());
    List<ServerLog.Action> as = fresh.step(7, new Msg.Append(E, 0, true, 1, -1, entries(1, 1, 1, 0)), Long.MAX_VALUE);
    assertTrue(as.stream().anyMatch(a -> a instanceof ServerLog.Close), as.toString());
    assertEquals(0, fresh.lastSeq());
  }
}
