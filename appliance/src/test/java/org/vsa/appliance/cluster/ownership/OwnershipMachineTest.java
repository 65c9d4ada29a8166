package org.vsa.appliance.cluster.ownership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.vsa.dtl.DtlState;

/** The machine alone, event by event: placement, the publish gate, refusal and force, the records. */
class OwnershipMachineTest {
  private static final long S = 1_000_000_000L;
  private static final Timing T = Timing.DEFAULT;

  private static <A extends Action> List<A> of(List<Action> actions, Class<A> type) {
    List<A> out = new ArrayList<>();
    for (Action a : actions) {
      if (type.isInstance(a)) {
        out.add(type.cast(a));
      }
    }
    return out;
  }

  /**
   * A vDisk name that placement gives to node a among a, b, c and d: a never-claimed vDisk is
   * claimed by the node placement picks, and these tests look at a.
   */
  private static final String V = vdiskPlacedOn("a", "b", "c", "d");

  private static String vdiskPlacedOn(String winner, String... others) {
    for (int i = 0; ; i++) {
      String name = "v" + i;
      long top = OwnershipMachine.rendezvousScore(winner, name);
      boolean wins = true;
      for (String o : others) {
        wins &= Long.compareUnsigned(top, OwnershipMachine.rendezvousScore(o, name)) > 0;
      }
      if (wins) {
        return name;
      }
    }
  }

  private static Heartbeat peer(String node, String fd, long seq, Heartbeat.Owned... owned) {
    return new Heartbeat(node, fd, 7, seq, List.of(owned));
  }

  /** A machine with a lease, that has just read the given heartbeats. */
  private static OwnershipMachine withLease(String self, String fd, long now, Map<String, Heartbeat> peers) {
    OwnershipMachine m = new OwnershipMachine(self, fd, 42, T);
    List<Action> first = m.on(new Event.Tick(now));
    long seq = of(first, Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + 1000, now, seq, true));
    m.on(new Event.HeartbeatsRead(now + 2000, now, peers, false));
    return m;
  }

  @Test
  void anUnclaimedVdiskIsClaimedAdoptedAndAcknowledgedOnlyOncePublished() {
    long now = 100 * S;
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 1)));
    assertTrue(m.leaseValid(now + 3000));
    assertFalse(m.leaseValid(now + T.leaseNanos() - T.marginNanos()));
    List<Action> out = m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    assertEquals(List.of(new Action.ReadClaims(V)), of(out, Action.ReadClaims.class));
    out = m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    assertEquals(new Claim(V, 1, "a", 42), of(out, Action.MakeClaim.class).get(0).claim());
    out = m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    assertEquals(new Action.Adopt(V, 1, null, null, false), of(out, Action.Adopt.class).get(0));
    assertEquals(new Action.SetDtlPeer(V, "b"), of(out, Action.SetDtlPeer.class).get(0));
    assertFalse(m.mayAcknowledge(V, now + 6000), "not before a heartbeat says it owns it");
    out = m.on(new Event.Tick(now + S));
    Heartbeat hb = of(out, Action.WriteHeartbeat.class).get(0).heartbeat();
    assertEquals(List.of(new Heartbeat.Owned(V, 1, "b", DtlState.CATCHING_UP)), hb.owned());
    m.on(new Event.HeartbeatWritten(now + S + 1000, now + S, hb.seq(), true));
    assertTrue(m.mayAcknowledge(V, now + S + 2000));
    // A heartbeat write that took longer than margin / 2 extends nothing.
    out = m.on(new Event.Tick(now + 2 * S));
    long seq = of(out, Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + 2 * S + T.heartbeatWriteMaxNanos() + 1, now + 2 * S, seq, true));
    assertEquals(now + S + T.leaseNanos() - T.marginNanos(), m.leaseUntil());
    assertFalse(m.mayAcknowledge(V, now + S + T.leaseNanos() - T.marginNanos()), "the lease ends on time");
    out = m.on(new Event.Tick(now + S + T.leaseNanos()));
    assertEquals(List.of(new Action.StopAcknowledging(V, "the lease of node a lapsed")),
        of(out, Action.StopAcknowledging.class));
  }

  @Test
  void aDtlFallingOutOfSyncHoldsAcknowledgementsUntilPublished() {
    long now = 100 * S;
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 1)));
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    m.on(new Event.DtlStateReported(now + 6000, V, DtlState.OK_SYNC));
    long seq = of(m.on(new Event.Tick(now + S)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + S + 1000, now + S, seq, true));
    assertTrue(m.mayAcknowledge(V, now + S + 2000));
    m.on(new Event.DtlStateReported(now + S + 3000, V, DtlState.CATCHING_UP));
    assertFalse(m.mayAcknowledge(V, now + S + 4000), "others still believe the DTL holds every write");
    seq = of(m.on(new Event.Tick(now + 2 * S)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + 2 * S + 1000, now + 2 * S, seq, true));
    assertTrue(m.mayAcknowledge(V, now + 2 * S + 2000));
  }

  @Test
  void dtlPlacementAvoidsTheOwnerPrefersAnotherFaultDomainAndMovesOffADegradedNode() {
    long now = 100 * S;
    Map<String, Heartbeat> peers = new TreeMap<>();
    peers.put("b", peer("b", "fd1", 1)); // same fault domain as a
    peers.put("c", peer("c", "fd2", 1));
    peers.put("d", peer("d", "fd3", 1));
    OwnershipMachine m = withLease("a", "fd1", now, peers);
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    List<Action> out = m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    String first = of(out, Action.SetDtlPeer.class).get(0).node();
    assertTrue(first.equals("c") || first.equals("d"), "another fault domain: " + first);
    String expected = Long.compareUnsigned(OwnershipMachine.rendezvousScore("c", V),
        OwnershipMachine.rendezvousScore("d", V)) > 0 ? "c" : "d";
    assertEquals(expected, first, "the rendezvous winner: the same on every node");
    out = m.on(new Event.DtlStateReported(now + 6000, V, DtlState.DEGRADED));
    String second = of(out, Action.SetDtlPeer.class).get(0).node();
    assertEquals(expected.equals("c") ? "d" : "c", second, "off the degraded node, still another fault domain");
    assertNotEquals("a", second);
  }

  @Test
  void aTakeoverFromAnOutOfSyncOwnerIsRefusedUntilForced() {
    long now = 100 * S;
    Heartbeat.Owned listed = new Heartbeat.Owned(V, 3, "a", DtlState.DEGRADED);
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 9, listed)));
    Claim held = new Claim(V, 3, "b", 7);
    // b is fresh: nothing to do; it goes silent; a is its DTL node, hence the target.
    long t = now;
    List<Action> all = new ArrayList<>(m.on(new Event.VdisksChanged(now + 3000, Set.of(V))));
    for (int i = 1; i <= 12; i++) {
      t = now + i * S;
      long seq = of(m.on(new Event.Tick(t)), Action.WriteHeartbeat.class).stream().findFirst()
          .map(w -> w.heartbeat().seq()).orElse(-1L);
      if (seq > 0) {
        m.on(new Event.HeartbeatWritten(t + 1000, t, seq, true));
      }
      all.addAll(m.on(new Event.HeartbeatsRead(t + 2000, t, Map.of("b", peer("b", "fd2", 9, listed)), false)));
      // Bounded: each answer yields at most one more read of the claims in the same second.
      for (int k = 0; k < 4 && !of(all, Action.ReadClaims.class).isEmpty(); k++) {
        List<Action.ReadClaims> reads = of(all, Action.ReadClaims.class);
        all.removeIf(a -> a instanceof Action.ReadClaims);
        for (Action.ReadClaims r : reads) {
          all.addAll(m.on(new Event.ClaimsRead(t + 3000 + k, r.vdisk(), t + 2500, held, false)));
        }
      }
    }
    assertTrue(of(all, Action.MakeClaim.class).isEmpty(), all.toString());
    assertEquals(1, of(all, Action.Refused.class).size(), all.toString());
    Action.Refused refused = of(all, Action.Refused.class).get(0);
    assertEquals("b", refused.owner());
    assertTrue(refused.reason().contains("DEGRADED"), refused.reason());
    assertTrue(m.refused(V));
    List<Action> forced = m.on(new Event.Force(t + 4000, V));
    assertEquals(new Claim(V, 4, "a", 42), of(forced, Action.MakeClaim.class).get(0).claim());
    forced = m.on(new Event.ClaimResult(t + 5000, V, 4, Event.Outcome.WON));
    assertEquals(new Action.Adopt(V, 4, "b", "a", true), of(forced, Action.Adopt.class).get(0));
  }

  @Test
  void recordsRoundTripAndRejectDamage() throws IOException {
    Heartbeat h = new Heartbeat("node-1", "rack-2", -5, 77, List.of(new Heartbeat.Owned("vd.a", 12, "node-2",
        DtlState.OK_SYNC), new Heartbeat.Owned("vd-b", 1, null, DtlState.OK_STANDALONE)));
    byte[] bytes = Records.encode(h);
    assertEquals(h, Records.decodeHeartbeat(bytes, "test"));
    Claim c = new Claim("vd.a", 12, "node-1", 99);
    assertEquals(c, Records.decodeClaim(Records.encode(c), "test"));
    for (int i = 0; i < bytes.length; i++) {
      byte[] bad = bytes.clone();
      bad[i] ^= 0x10;
      int at = i;
      assertThrows(IOException.class, () -> Records.decodeHeartbeat(bad, "flipped byte " + at));
    }
    assertThrows(IOException.class, () -> Records.decodeHeartbeat(java.util.Arrays.copyOf(bytes, 20), "short"));
    assertThrows(IOException.class, () -> Records.decodeClaim(bytes, "a heartbeat is no claim"));
    assertEquals("claim.vd.a.000000000012", Records.claimName("vd.a", 12));
    assertEquals(12, Records.claimEpoch("vd.a", "claim.vd.a.000000000012"));
    assertEquals(-1, Records.claimEpoch("vd", "claim.vd.a.000000000012"), "another vDisk's claim");
  }
}
