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
    m.on(new Event.DtlStateReported(now + 6000, V, 1, "b", DtlState.OK_SYNC));
    long seq = of(m.on(new Event.Tick(now + S)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + S + 1000, now + S, seq, true));
    assertTrue(m.mayAcknowledge(V, now + S + 2000));
    m.on(new Event.DtlStateReported(now + S + 3000, V, 1, "b", DtlState.CATCHING_UP));
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
    out = m.on(new Event.DtlStateReported(now + 6000, V, 1, first, DtlState.DEGRADED));
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

  /** Node a holds V at epoch 1 and acknowledges (heartbeat stored); the clock is at {@code now + S + 2000}. */
  private static OwnershipMachine owning(long now) {
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 1)));
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    long seq = of(m.on(new Event.Tick(now + S)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + S + 1000, now + S, seq, true));
    assertTrue(m.mayAcknowledge(V, now + S + 2000));
    return m;
  }

  @Test
  void theOwnerOfAVdiskBeingDeletedStopsAcknowledgingDeletesItClosesTheNameAndForgetsIt() {
    long now = 100 * S;
    OwnershipMachine m = owning(now);
    long t = now + S + 3000;
    List<Action> out = m.on(new Event.VdisksChanged(t, Set.of(V), Set.of(V)));
    assertFalse(m.mayAcknowledge(V, t), "no acknowledgement once it is being deleted");
    assertEquals(List.of(new Action.Delete(V, 1)), of(out, Action.Delete.class));
    assertTrue(of(out, Action.Adopt.class).isEmpty());
    assertTrue(m.mayDelete(V, 1, t));
    assertFalse(m.mayDelete(V, 2, t), "only at the epoch it holds");
    out = m.on(new Event.DataDeleted(t + 1000, V, 1, true));
    assertEquals(new Claim(V, 2, "a", 42, true), of(out, Action.MakeClaim.class).get(0).claim());
    assertFalse(m.mayDelete(V, 1, t + 1000), "done deleting");
    out = m.on(new Event.ClaimResult(t + 2000, V, 2, Event.Outcome.WON));
    assertEquals(List.of(new Action.Closed(V, 2)), of(out, Action.Closed.class));
    assertTrue(m.held().isEmpty());
    assertEquals(0, m.epoch(V));
    out = m.on(new Event.Tick(now + 2 * S));
    assertEquals(List.of(), of(out, Action.WriteHeartbeat.class).get(0).heartbeat().owned(), "no longer published");
    assertTrue(of(out, Action.ReadClaims.class).isEmpty(), "nothing to watch: the name is gone here");
  }

  @Test
  void aFailedDeletionIsRetriedAndALostLeaseDeletesNothing() {
    long now = 100 * S;
    OwnershipMachine m = owning(now);
    long t = now + S + 3000;
    m.on(new Event.VdisksChanged(t, Set.of(V), Set.of(V)));
    List<Action> out = m.on(new Event.DataDeleted(t + 1000, V, 1, false));
    assertTrue(of(out, Action.Delete.class).isEmpty(), "not at once");
    long seq = of(m.on(new Event.Tick(now + 2 * S)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    m.on(new Event.HeartbeatWritten(now + 2 * S + 1000, now + 2 * S, seq, true));
    out = m.on(new Event.Tick(now + 3 * S + 4000));
    assertEquals(List.of(new Action.Delete(V, 1)), of(out, Action.Delete.class), "asked again");
    // the lease runs out while the engine deletes: it may delete nothing from then on
    assertFalse(m.mayDelete(V, 1, now + 2 * S + T.leaseNanos()), "not past the lease");
  }

  @Test
  void aNodePausedWhileItsVdiskWasDeletedElsewhereReleasesItAndNeverServesItAgain() {
    long now = 100 * S;
    OwnershipMachine m = owning(now);
    // a pause of 30 s: node b took the vDisk (epoch 2), deleted it and closed its name at epoch 3
    long t = now + 31 * S;
    List<Action> out = new ArrayList<>(m.on(new Event.Tick(t)));
    assertEquals(List.of(new Action.StopAcknowledging(V, "the lease of node a lapsed")),
        of(out, Action.StopAcknowledging.class));
    out.addAll(m.on(new Event.VdisksChanged(t + 1, Set.of(), Set.of())));
    m.on(new Event.HeartbeatsRead(t + 500, t, Map.of("b", peer("b", "fd2", 3)), false));
    long seq = of(out, Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    out = m.on(new Event.HeartbeatWritten(t + 1000, t, seq, true));
    out.addAll(m.on(new Event.Tick(t + 2000)));
    assertEquals(List.of(new Action.ReadClaims(V)), of(out, Action.ReadClaims.class), "a re-claim reads the claims");
    out = m.on(new Event.ClaimsRead(t + 3000, V, t + 2000, new Claim(V, 3, "b", 7, true), false));
    assertTrue(of(out, Action.MakeClaim.class).isEmpty(), "never claims past a closed name it does not know");
    assertEquals(1, of(out, Action.Release.class).size(), out.toString());
    assertTrue(m.held().isEmpty());
    // from then on: no claim, no adoption, no acknowledgement, whatever time brings
    for (int i = 1; i <= 20; i++) {
      long at = t + i * S;
      out = m.on(new Event.Tick(at));
      of(out, Action.WriteHeartbeat.class).forEach(w -> m.on(new Event.HeartbeatWritten(at + 1000, at,
          w.heartbeat().seq(), true)));
      out.addAll(m.on(new Event.HeartbeatsRead(at + 2000, at, Map.of("b", peer("b", "fd2", 100 + i)), false)));
      assertTrue(of(out, Action.MakeClaim.class).isEmpty() && of(out, Action.Adopt.class).isEmpty()
          && of(out, Action.ReadClaims.class).isEmpty(), out.toString());
      assertFalse(m.mayAcknowledge(V, at + 3000));
    }
  }

  @Test
  void aClosedNameIsClaimedAfreshAndAVdiskBeingDeletedIsTakenOverWithoutRefusal() {
    long now = 100 * S;
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 1)));
    // a new vDisk of a deleted name: its highest claim is the closed one; claimed at once, nothing inherited
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    List<Action> out = m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, new Claim(V, 5, "b", 7, true), false));
    assertEquals(new Claim(V, 6, "a", 42), of(out, Action.MakeClaim.class).get(0).claim());
    out = m.on(new Event.ClaimResult(now + 5000, V, 6, Event.Outcome.WON));
    assertEquals(new Action.Adopt(V, 6, null, null, false), of(out, Action.Adopt.class).get(0));

    // b holds W, lists it out of sync, goes silent: a takeover would be refused, a deletion is not
    String w = vdiskPlacedOn("a", "b");
    Heartbeat.Owned listed = new Heartbeat.Owned(w, 3, "a", DtlState.DEGRADED);
    OwnershipMachine n = withLease("a", "fd1", now, Map.of("b", peer("b", "fd2", 9, listed)));
    List<Action> all = new ArrayList<>(n.on(new Event.VdisksChanged(now + 3000, Set.of(w), Set.of(w))));
    long t = now;
    // Bounded: 12 simulated seconds.
    for (int i = 1; i <= 12 && of(all, Action.MakeClaim.class).isEmpty(); i++) {
      t = now + i * S;
      long at = t;
      of(n.on(new Event.Tick(t)), Action.WriteHeartbeat.class).forEach(x -> n.on(new Event.HeartbeatWritten(at + 1000,
          at, x.heartbeat().seq(), true)));
      all.addAll(n.on(new Event.HeartbeatsRead(t + 2000, t, Map.of("b", peer("b", "fd2", 9, listed)), false)));
      for (Action.ReadClaims r : of(all, Action.ReadClaims.class)) {
        all.remove(r);
        all.addAll(n.on(new Event.ClaimsRead(t + 3000, r.vdisk(), t + 2500, new Claim(w, 3, "b", 7), false)));
      }
    }
    assertTrue(of(all, Action.Refused.class).isEmpty(), all.toString());
    assertEquals(new Claim(w, 4, "a", 42), of(all, Action.MakeClaim.class).get(0).claim());
    out = n.on(new Event.ClaimResult(t + 4000, w, 4, Event.Outcome.WON));
    assertTrue(of(out, Action.Adopt.class).isEmpty(), "held to be deleted, never served");
    assertEquals(List.of(new Action.Delete(w, 4)), of(out, Action.Delete.class));
    assertFalse(n.mayAcknowledge(w, t + 5000));
    // the lead calls the deletion off (a vDisk of that name exists, not being deleted): adopted as it would have been
    out = n.on(new Event.DataDeleted(t + 6000, w, 4, false));
    out.addAll(n.on(new Event.VdisksChanged(t + 7000, Set.of(w), Set.of())));
    assertEquals(List.of(new Action.Adopt(w, 4, "b", "a", false)), of(out, Action.Adopt.class));
  }

  /** Stores every heartbeat the actions ask for (at {@code t + 1000}); returns the last one written, or null. */
  private static Heartbeat storeHeartbeats(OwnershipMachine m, List<Action> out, long t) {
    Heartbeat last = null;
    for (Action.WriteHeartbeat w : of(out, Action.WriteHeartbeat.class)) {
      m.on(new Event.HeartbeatWritten(t + 1000, t, w.heartbeat().seq(), true));
      last = w.heartbeat();
    }
    return last;
  }

  /** The time of the last event {@link #watchTakeover} gave (its lease holds a little longer). */
  private static long watchedUntil;

  /**
   * The machine watches V, whose claim {@code held} is its holder's, for at most {@code seconds}
   * simulated seconds in which the holder's stored heartbeat stays {@code holderHb}, until it claims;
   * every action.
   */
  private static List<Action> watchTakeover(OwnershipMachine m, long now, Heartbeat holderHb, Claim held,
      int seconds) {
    List<Action> all = new ArrayList<>(m.on(new Event.VdisksChanged(now + 3000, Set.of(V))));
    // Bounded: `seconds` simulated seconds, each answering at most 4 rounds of claim reads.
    for (int i = 1; i <= seconds && of(all, Action.MakeClaim.class).isEmpty(); i++) {
      long t = now + i * S;
      storeHeartbeats(m, m.on(new Event.Tick(t)), t);
      all.addAll(m.on(new Event.HeartbeatsRead(t + 2000, t, Map.of(holderHb.node(), holderHb), false)));
      for (int k = 0; k < 4 && !of(all, Action.ReadClaims.class).isEmpty(); k++) {
        List<Action.ReadClaims> reads = of(all, Action.ReadClaims.class);
        all.removeIf(a -> a instanceof Action.ReadClaims);
        for (Action.ReadClaims r : reads) {
          all.addAll(m.on(new Event.ClaimsRead(t + 3000 + k, r.vdisk(), t + 2500, held, false)));
        }
      }
      watchedUntil = t + 3010;
    }
    return all;
  }

  @Test
  void aDtlStateReportCountsOnlyForThePlacementAndEpochItIsAbout() {
    long now = 100 * S;
    Map<String, Heartbeat> peers = new TreeMap<>();
    peers.put("b", peer("b", "fd2", 1));
    peers.put("c", peer("c", "fd3", 1));
    OwnershipMachine m = withLease("a", "fd1", now, peers);
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    List<Action> out = m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    String first = of(out, Action.SetDtlPeer.class).get(0).node();
    String second = first.equals("b") ? "c" : "b";
    m.on(new Event.DtlStateReported(now + 6000, V, 1, first, DtlState.OK_SYNC));
    Heartbeat hb = storeHeartbeats(m, m.on(new Event.Tick(now + S)), now + S);
    assertEquals(List.of(new Heartbeat.Owned(V, 1, first, DtlState.OK_SYNC)), hb.owned());
    // the first DTL degrades: the DTL moves to the other node
    out = m.on(new Event.DtlStateReported(now + S + 2000, V, 1, first, DtlState.DEGRADED));
    assertEquals(List.of(new Action.SetDtlPeer(V, second)), of(out, Action.SetDtlPeer.class));
    // late reports of the replaced stream: its OK_SYNC is not the new DTL's, its DEGRADED not against it
    out = m.on(new Event.DtlStateReported(now + S + 3000, V, 1, first, DtlState.OK_SYNC));
    out.addAll(m.on(new Event.DtlStateReported(now + S + 4000, V, 1, first, DtlState.DEGRADED)));
    assertTrue(of(out, Action.SetDtlPeer.class).isEmpty(), out.toString());
    assertEquals(second, m.dtlNode(V));
    // nor a report about the new DTL made under another epoch
    m.on(new Event.DtlStateReported(now + S + 5000, V, 2, second, DtlState.OK_SYNC));
    hb = storeHeartbeats(m, m.on(new Event.Tick(now + 2 * S)), now + 2 * S);
    assertEquals(List.of(new Heartbeat.Owned(V, 1, second, DtlState.CATCHING_UP)), hb.owned(),
        "not in sync until the new DTL's own stream says so");
    m.on(new Event.DtlStateReported(now + 2 * S + 2000, V, 1, second, DtlState.OK_SYNC));
    hb = storeHeartbeats(m, m.on(new Event.Tick(now + 3 * S)), now + 3 * S);
    assertEquals(List.of(new Heartbeat.Owned(V, 1, second, DtlState.OK_SYNC)), hb.owned());
  }

  @Test
  void anEpochWonBackAfterALapsedLeaseIsInSyncOnlyOnceItsOwnStreamSaysSo() {
    long now = 100 * S;
    OwnershipMachine m = owning(now); // V at epoch 1, DTL on b
    m.on(new Event.DtlStateReported(now + S + 3000, V, 1, "b", DtlState.OK_SYNC));
    Heartbeat hb = storeHeartbeats(m, m.on(new Event.Tick(now + 2 * S)), now + 2 * S);
    assertEquals(List.of(new Heartbeat.Owned(V, 1, "b", DtlState.OK_SYNC)), hb.owned());
    // the lease lapses (heartbeats unstored for a while), then a heartbeat is stored again
    long t = now + 2 * S + T.leaseNanos();
    // b lives on; a's heartbeat write (asked for here) does not answer
    List<Action> out = new ArrayList<>(m.on(new Event.HeartbeatsRead(t - 3 * S, t - 3 * S - 500, Map.of("b",
        peer("b", "fd2", 2)), false)));
    out.addAll(m.on(new Event.Tick(t)));
    assertEquals(1, of(out, Action.StopAcknowledging.class).size(), out.toString());
    m.on(new Event.HeartbeatsRead(t + 500, t, Map.of("b", peer("b", "fd2", 3)), false));
    long seq = of(out, Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    out = m.on(new Event.HeartbeatWritten(t + 1000, t, seq, true));
    assertEquals(List.of(new Action.ReadClaims(V)), of(out, Action.ReadClaims.class), "a re-claim reads the claims");
    out = m.on(new Event.ClaimsRead(t + 3000, V, t + 2000, new Claim(V, 1, "a", 42), false));
    assertEquals(new Claim(V, 2, "a", 42), of(out, Action.MakeClaim.class).get(0).claim());
    out = m.on(new Event.ClaimResult(t + 4000, V, 2, Event.Outcome.WON));
    assertEquals(List.of(new Action.Adopt(V, 2, "a", "b", false)), of(out, Action.Adopt.class));
    m.on(new Event.DtlStateReported(t + 5000, V, 1, "b", DtlState.OK_SYNC)); // the stream of epoch 1: late
    hb = storeHeartbeats(m, m.on(new Event.Tick(t + S)), t + S);
    assertEquals(List.of(new Heartbeat.Owned(V, 2, "b", DtlState.CATCHING_UP)), hb.owned());
    m.on(new Event.DtlStateReported(t + S + 2000, V, 2, "b", DtlState.OK_SYNC));
    hb = storeHeartbeats(m, m.on(new Event.Tick(t + 2 * S)), t + 2 * S);
    assertEquals(List.of(new Heartbeat.Owned(V, 2, "b", DtlState.OK_SYNC)), hb.owned());
  }

  @Test
  void aTakerTrustsOkSyncOnlyWithTheDtlNodeItIsAbout() {
    long now = 100 * S;
    Claim held = new Claim(V, 3, "b", 7);
    // b lists V in sync but names no DTL node: which DTL holds its writes is unknown
    Heartbeat noNode = peer("b", "fd2", 9, new Heartbeat.Owned(V, 3, null, DtlState.OK_SYNC));
    OwnershipMachine m = withLease("a", "fd1", now, Map.of("b", noNode));
    List<Action> all = watchTakeover(m, now, noNode, held, 12);
    assertTrue(of(all, Action.MakeClaim.class).isEmpty(), all.toString());
    assertEquals(1, of(all, Action.Refused.class).size(), all.toString());
    assertTrue(of(all, Action.Refused.class).get(0).reason().contains("without a DTL node"), all.toString());
    // in sync with its DTL on c: taken over, restored from c
    Heartbeat onC = peer("b", "fd2", 9, new Heartbeat.Owned(V, 3, "c", DtlState.OK_SYNC));
    OwnershipMachine n = withLease("a", "fd1", now, Map.of("b", onC));
    all = watchTakeover(n, now, onC, held, 12);
    assertTrue(of(all, Action.Refused.class).isEmpty(), all.toString());
    assertEquals(new Claim(V, 4, "a", 42), of(all, Action.MakeClaim.class).get(0).claim());
    List<Action> out = n.on(new Event.ClaimResult(watchedUntil + 1000, V, 4, Event.Outcome.WON));
    assertEquals(new Action.Adopt(V, 4, "b", "c", false), of(out, Action.Adopt.class).get(0));
  }

  @Test
  void placementPicksOnlyNodesWithADtlEndpointAndSaysWhyWhenNoneQualifies() {
    long now = 100 * S;
    Map<String, Heartbeat> peers = new TreeMap<>();
    peers.put("b", peer("b", "fd2", 1));
    peers.put("c", peer("c", "fd3", 1));
    OwnershipMachine m = withLease("a", "fd1", now, peers);
    String unpicked = Long.compareUnsigned(OwnershipMachine.rendezvousScore("b", V),
        OwnershipMachine.rendezvousScore("c", V)) > 0 ? "c" : "b";
    String other = unpicked.equals("b") ? "c" : "b";
    m.on(new Event.DtlNodes(now + 2500, Set.of(unpicked, "a")));
    m.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    m.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    List<Action> out = m.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    assertEquals(List.of(new Action.SetDtlPeer(V, unpicked)), of(out, Action.SetDtlPeer.class),
        "the node the rendezvous prefers publishes no DTL endpoint: not picked");
    assertEquals(null, m.noDtlReason(V));
    // its endpoint goes away too: no DTL, and why
    out = m.on(new Event.DtlNodes(now + 6000, Set.of("a")));
    List<Action.SetDtlPeer> set = of(out, Action.SetDtlPeer.class);
    assertEquals(1, set.size(), out.toString());
    assertEquals(null, set.get(0).node());
    assertEquals("no other live node publishes a DTL endpoint (alive: b, c)", set.get(0).noDtlReason());
    assertEquals(set.get(0).noDtlReason(), m.noDtlReason(V));
    assertTrue(of(m.on(new Event.Tick(now + 7000)), Action.SetDtlPeer.class).isEmpty(), "said once");
    // one comes back: the DTL goes there
    out = m.on(new Event.DtlNodes(now + 8000, Set.of(other)));
    assertEquals(List.of(new Action.SetDtlPeer(V, other)), of(out, Action.SetDtlPeer.class));
    assertEquals(null, m.noDtlReason(V));

    // nothing is decided before the heartbeats were read once: then the DTL goes to the node found
    OwnershipMachine early = new OwnershipMachine("a", "fd1", 42, T);
    long seq = of(early.on(new Event.Tick(now)), Action.WriteHeartbeat.class).get(0).heartbeat().seq();
    early.on(new Event.HeartbeatWritten(now + 1000, now, seq, true));
    early.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    early.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    out = early.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    assertEquals(1, of(out, Action.Adopt.class).size(), out.toString());
    assertTrue(of(out, Action.SetDtlPeer.class).isEmpty(), "no heartbeat read yet: " + out);
    out = early.on(new Event.HeartbeatsRead(now + 6000, now + 5500, Map.of("b", peer("b", "fd2", 1)), false));
    assertEquals(List.of(new Action.SetDtlPeer(V, "b")), of(out, Action.SetDtlPeer.class));

    // a node alone: no other node is alive
    OwnershipMachine solo = withLease("a", "fd1", now, Map.of());
    solo.on(new Event.VdisksChanged(now + 3000, Set.of(V)));
    solo.on(new Event.ClaimsRead(now + 4000, V, now + 3000, null, false));
    out = solo.on(new Event.ClaimResult(now + 5000, V, 1, Event.Outcome.WON));
    assertEquals(List.of(new Action.SetDtlPeer(V, null, "no other node is alive")), of(out, Action.SetDtlPeer.class));
  }

  @Test
  void aVdiskHandedOverIsPublishedNoMoreNeverClaimedBackAndTakenOverWithoutRefusal() {
    long now = 100 * S;
    OwnershipMachine a = owning(now);
    // its only DTL node degrades: V runs without a DTL, published DEGRADED (a takeover would be refused)
    a.on(new Event.DtlStateReported(now + S + 3000, V, 1, "b", DtlState.DEGRADED));
    Heartbeat before = storeHeartbeats(a, a.on(new Event.Tick(now + 2 * S)), now + 2 * S);
    assertEquals(List.of(new Heartbeat.Owned(V, 1, null, DtlState.DEGRADED)), before.owned());
    // a clean stop: the engine handed V over through the backend
    long t = now + 2 * S + 5000;
    assertTrue(a.handOversPublished());
    a.on(new Event.HandedOver(t, V, 2)); // not the epoch it holds: nothing
    assertEquals(Set.of(V), a.held());
    List<Action> out = a.on(new Event.HandedOver(t, V, 1));
    assertEquals(Set.of(), a.held());
    assertFalse(a.mayAcknowledge(V, t));
    assertFalse(a.handOversPublished(), "not before a heartbeat without it is stored");
    Heartbeat last = of(out, Action.WriteHeartbeat.class).get(0).heartbeat();
    assertEquals(List.of(), last.owned(), "the heartbeat without it goes out at once");
    List<Action> since = new ArrayList<>(out);
    since.addAll(a.on(new Event.HeartbeatWritten(t + 1000, t, last.seq(), true)));
    assertTrue(a.handOversPublished());
    // a lives on (stopping) and placement would pick it: it does not look for V's claims nor claim it back
    for (int i = 1; i <= 20; i++) {
      long at = t + i * S;
      out = a.on(new Event.Tick(at));
      storeHeartbeats(a, out, at);
      since.addAll(out);
      since.addAll(a.on(new Event.HeartbeatsRead(at + 2000, at, Map.of("b", peer("b", "fd2", 1 + i)), false)));
      for (Action.ReadClaims r : of(since, Action.ReadClaims.class)) {
        since.addAll(a.on(new Event.ClaimsRead(at + 3000, r.vdisk(), at + 2500, new Claim(V, 1, "a", 42), false)));
      }
      assertTrue(of(since, Action.ReadClaims.class).isEmpty() && of(since, Action.MakeClaim.class).isEmpty(),
          since.toString());
    }
    // b reads a's last heartbeat (V no longer listed) and, once a is silent, takes V over: no refusal, no DTL
    OwnershipMachine b = withLease("b", "fd2", now, Map.of("a", last));
    List<Action> all = watchTakeover(b, now, last, new Claim(V, 1, "a", 42), 15);
    assertTrue(of(all, Action.Refused.class).isEmpty(), all.toString());
    assertEquals(new Claim(V, 2, "b", 42), of(all, Action.MakeClaim.class).get(0).claim());
    out = b.on(new Event.ClaimResult(watchedUntil + 1000, V, 2, Event.Outcome.WON));
    assertEquals(new Action.Adopt(V, 2, "a", null, false), of(out, Action.Adopt.class).get(0));
    // the heartbeat a published before the hand-over would have had it refused
    OwnershipMachine c = withLease("b", "fd2", now, Map.of("a", before));
    all = watchTakeover(c, now, before, new Claim(V, 1, "a", 42), 15);
    assertEquals(1, of(all, Action.Refused.class).size(), all.toString());
  }

  @Test
  void closedClaimsRoundTripAndOwningClaimsStayVersionOne() throws IOException {
    Claim closed = new Claim("vd.a", 13, "node-1", 99, true);
    byte[] bytes = Records.encode(closed);
    assertEquals(2, bytes[4]);
    assertEquals(closed, Records.decodeClaim(bytes, "test"));
    assertEquals(1, Records.encode(new Claim("vd.a", 12, "node-1", 99))[4], "readable by the previous release");
    for (int i = 0; i < bytes.length; i++) {
      byte[] bad = bytes.clone();
      bad[i] ^= 0x10;
      int at = i;
      assertThrows(IOException.class, () -> Records.decodeClaim(bad, "flipped byte " + at));
    }
  }
}
