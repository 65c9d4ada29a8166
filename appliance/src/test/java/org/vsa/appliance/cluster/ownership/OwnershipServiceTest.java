package org.vsa.appliance.cluster.ownership;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.dtl.DtlState;

/**
 * Three ownership services on one local directory backend (each with its own store instance, as
 * three processes would have), with fake engine actions and a short lease (heartbeat 200 ms, lease
 * 1.2 s, margin 200 ms).
 */
class OwnershipServiceTest {
  private static final Timing FAST = Timing.of(Duration.ofMillis(200), Duration.ofMillis(1200), Duration.ofMillis(200));
  private static final Set<String> VDISKS = Set.of("alpha", "beta", "gamma", "delta");

  @TempDir Path dir;
  private final List<AutoCloseable> open = new ArrayList<>();

  /** What the engine was asked, in order. */
  static final class Recorder implements OwnershipActions {
    final List<String> calls = new CopyOnWriteArrayList<>();

    @Override
    public void adopt(String vdisk, long epoch, String oldOwner, String oldDtlNode, boolean forced) {
      calls.add("adopt " + vdisk + " " + epoch + " from " + oldOwner + " dtl " + oldDtlNode + (forced ? " forced" : ""));
    }

    @Override
    public void stopAcknowledging(String vdisk) {
      calls.add("stop " + vdisk);
    }

    @Override
    public void setDtlPeer(String vdisk, String node) {
      calls.add("dtl " + vdisk + " " + node);
    }

    @Override
    public void release(String vdisk) {
      calls.add("release " + vdisk);
    }

    @Override
    public void refused(String vdisk, String reason) {
      calls.add("refused " + vdisk);
    }
  }

  private OwnershipService service(String node, String faultDomain, Recorder r) throws Exception {
    LocalDirectoryObjectStore store = new LocalDirectoryObjectStore(dir);
    open.add(store);
    OwnershipService s = new OwnershipService(store, "cluster", node, faultDomain, FAST, r);
    open.add(0, s);
    s.start();
    s.setVdisks(VDISKS);
    return s;
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : open) {
      c.close();
    }
  }

  private static void await(String what, long timeoutMillis, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    // Bounded by the deadline.
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + timeoutMillis + " ms: " + what);
      }
      Thread.sleep(20);
    }
  }

  private static OwnershipService ownerOf(String v, List<OwnershipService> services) {
    OwnershipService owner = null;
    for (OwnershipService s : services) {
      if (s.mayAcknowledge(v)) {
        assertTrue(owner == null, v + " acknowledged by " + (owner == null ? "" : owner.node()) + " and " + s.node());
        owner = s;
      }
    }
    return owner;
  }

  private static void reportInSync(List<OwnershipService> services) {
    for (OwnershipService s : services) {
      for (String v : VDISKS) {
        long epoch = s.epoch(v);
        String dtl = s.dtlNode(v);
        if (epoch > 0 && dtl != null) {
          s.reportDtlState(v, epoch, dtl, DtlState.OK_SYNC);
        }
      }
    }
  }

  @Test
  void everyVdiskGetsOneOwnerAndAPausedOwnerLosesItsVdisksForGood() throws Exception {
    Recorder ra = new Recorder();
    Recorder rb = new Recorder();
    Recorder rc = new Recorder();
    OwnershipService a = service("node-a", "rack1", ra);
    OwnershipService b = service("node-b", "rack2", rb);
    OwnershipService c = service("node-c", "rack3", rc);
    List<OwnershipService> all = List.of(a, b, c);
    await("every vDisk served by exactly one node", 20_000, () -> {
      reportInSync(all);
      return VDISKS.stream().allMatch(v -> ownerOf(v, all) != null);
    });
    // The DTL of each vDisk is on another node.
    for (String v : VDISKS) {
      OwnershipService owner = ownerOf(v, all);
      Recorder r = owner == a ? ra : owner == b ? rb : rc;
      // the placement reaches the engine through the callbacks' own thread, just after the claim
      await(v + "'s DTL placed on another node than " + owner.node() + ": " + r.calls, 10_000,
          () -> r.calls.stream().anyMatch(call -> call.startsWith("dtl " + v + " node-")
              && !call.equals("dtl " + v + " " + owner.node())));
    }
    await("DTL states published as in sync", 10_000, () -> {
      reportInSync(all);
      return true;
    });
    Thread.sleep(3 * FAST.heartbeatNanos() / 1_000_000); // the OK_SYNC states reach the heartbeats

    // The owner of alpha can no longer write its heartbeat (cut from the backend, or stuck).
    OwnershipService victim = ownerOf("alpha", all);
    Recorder victimCalls = victim == a ? ra : victim == b ? rb : rc;
    long lostEpoch = victim.epoch("alpha");
    Set<String> victimsVdisks = new java.util.TreeSet<>();
    for (String v : VDISKS) {
      if (victim.mayAcknowledge(v)) {
        victimsVdisks.add(v);
      }
    }
    long cutAt = System.nanoTime();
    victim.pauseHeartbeats(true);
    await("the cut owner stops acknowledging within its lease", FAST.leaseNanos() / 1_000_000 + 1_000,
        () -> !victim.mayAcknowledge("alpha"));
    long stoppedAfterMillis = (System.nanoTime() - cutAt) / 1_000_000;
    assertTrue(stoppedAfterMillis < FAST.leaseNanos() / 1_000_000, "stopped after " + stoppedAfterMillis + " ms");
    List<OwnershipService> others = new ArrayList<>(all);
    others.remove(victim);
    await("another node serves every vDisk of the cut node", 20_000, () -> {
      reportInSync(others);
      return victimsVdisks.stream().allMatch(v -> ownerOf(v, others) != null);
    });
    long takeoverMillis = (System.nanoTime() - cutAt) / 1_000_000;
    assertTrue(takeoverMillis >= FAST.leaseNanos() / 1_000_000,
        "taken over after " + takeoverMillis + " ms: not before the lease");
    System.out.printf("lease %d ms: the cut owner stopped acknowledging after %d ms, its %d vDisks were served"
        + " elsewhere after %d ms%n", FAST.leaseNanos() / 1_000_000, stoppedAfterMillis, victimsVdisks.size(),
        takeoverMillis);
    for (String v : victimsVdisks) {
      OwnershipService owner = ownerOf(v, all);
      assertNotEquals(victim, owner);
      assertTrue(owner.epoch(v) > (v.equals("alpha") ? lostEpoch : 0), v + " at epoch " + owner.epoch(v));
    }
    assertTrue(victimCalls.calls.contains("stop alpha"), victimCalls.calls.toString());

    // It comes back: it learns it lost them and never serves them under an old epoch again.
    victim.pauseHeartbeats(false);
    await("the node that was cut releases alpha", 20_000, () -> victimCalls.calls.contains("release alpha"));
    for (int i = 0; i < 20; i++) {
      reportInSync(all);
      for (String v : victimsVdisks) {
        OwnershipService owner = ownerOf(v, all);
        assertTrue(owner == null || owner != victim, v + " served again by the node that lost it");
      }
      Thread.sleep(FAST.heartbeatNanos() / 1_000_000);
    }
    assertEquals(0, victim.epoch("alpha"));
    assertFalse(victimCalls.calls.stream().anyMatch(call -> call.startsWith("adopt alpha " + lostEpoch + " ")
        && victimCalls.calls.indexOf(call) > victimCalls.calls.indexOf("stop alpha")));
  }

  @Test
  void aProcessPausedPastTheLeaseStopsAcknowledgingAndAnotherTakesOver() throws Exception {
    Recorder ra = new Recorder();
    Recorder rb = new Recorder();
    OwnershipService a = service("node-a", "rack1", ra);
    OwnershipService b = service("node-b", "rack2", rb);
    List<OwnershipService> all = List.of(a, b);
    await("every vDisk served", 20_000, () -> {
      reportInSync(all);
      return VDISKS.stream().allMatch(v -> ownerOf(v, all) != null);
    });
    Thread.sleep(3 * FAST.heartbeatNanos() / 1_000_000);
    reportInSync(all);
    Thread.sleep(3 * FAST.heartbeatNanos() / 1_000_000);
    OwnershipService paused = ownerOf("beta", all);
    OwnershipService other = paused == a ? b : a;
    Recorder pausedCalls = paused == a ? ra : rb;
    paused.freezeFor(FAST.leaseNanos() / 1_000_000 * 3);
    paused.pauseHeartbeats(true); // its I/O threads would stop too
    await("the paused node's gate closes on its own clock", FAST.leaseNanos() / 1_000_000 + 1_000,
        () -> !paused.mayAcknowledge("beta"));
    await("the other node serves beta", 20_000, () -> {
      reportInSync(List.of(other));
      return other.mayAcknowledge("beta");
    });
    paused.pauseHeartbeats(false);
    await("the paused node releases beta once it runs again", 20_000, () -> pausedCalls.calls.contains("release beta"));
    assertFalse(paused.mayAcknowledge("beta"));
    assertTrue(other.mayAcknowledge("beta"));
  }
}
