package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.CachePolicy;

/**
 * Two iSCSI targets in one JVM, as two nodes: A (no vDisk of its own) and B (serves vDisk
 * {@code demo} as its own target). A's locator says B serves it, so libiscsi's tools pointed at
 * A are redirected to B and talk to B's LUN.
 */
@org.junit.jupiter.api.extension.ExtendWith(org.vsa.iscsi.LeakCheck.class)
class RedirectTest {
  static final String IQN = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "demo");
  static final long SIZE_BYTES = 64L << 20;

  @TempDir
  Path dir;
  Engine engine;
  IscsiTarget a;
  IscsiTarget b;
  /** What A's locator answers, by target name (absent: unknown). */
  final Map<String, TargetLocator.Location> aSays = new ConcurrentHashMap<>();
  final Gate gate = new Gate();

  @BeforeEach
  void start() throws Exception {
    engine = TestEngines.start(dir.resolve("b"));
    engine.create(new VolumeSpec("demo", "default", SIZE_BYTES, 512, VolumeSpec.SCO_SIZE_MIN, CachePolicy.ON_READ));
    IscsiConfig bConfig = IscsiConfig.of("127.0.0.1", 0, List.of())
        .withVdiskTargets(IscsiConfig.VDISK_TARGET_PREFIX, List.of("demo"));
    b = IscsiTarget.start(bConfig, name -> engine.volume(name).map(v -> gate.wrap(v)));
    a = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0, List.of()), name -> Optional.empty(), new TargetLocator() {
      @Override
      public Location locate(String iqn) {
        return aSays.getOrDefault(iqn.toLowerCase(), UNKNOWN);
      }

      @Override
      public Map<String, Location> directory() {
        return Map.copyOf(aSays);
      }
    });
    aSays.put(IQN, new TargetLocator.Elsewhere("127.0.0.1", b.localAddress().getPort(), 1));
  }

  @AfterEach
  void stop() throws IOException {
    gate.open();
    a.close();
    b.close();
    engine.close();
  }

  String url(IscsiTarget t, String iqn) {
    return "iscsi://127.0.0.1:" + t.localAddress().getPort() + "/" + iqn + "/0";
  }

  @Test
  void inquiryAndCapacityThroughTheOtherNodesPortal() throws Exception {
    Tools.Result viaA = Tools.ok(30, "iscsi-inq", url(a, IQN));
    Tools.Result viaB = Tools.ok(30, "iscsi-inq", url(b, IQN));
    assertTrue(viaA.out().contains("Vendor:VSA"), viaA.out());
    assertEquals(viaB.out(), viaA.out(), "the same LU answers through either portal");
    String serial = engine.volume("demo").orElseThrow().id().toString().replace("-", "");
    Tools.Result vpd80 = Tools.ok(30, "iscsi-inq", "-e", "1", "-c", "128", url(a, IQN));
    assertTrue(vpd80.out().contains(serial), "B's vDisk serial through A: " + vpd80.out());
    Tools.Result cap = Tools.ok(30, "iscsi-readcapacity16", url(a, IQN));
    assertTrue(cap.out().contains("Total size:" + SIZE_BYTES), cap.out());
  }

  @Test
  void writeThroughTheFirstPortalLandsOnTheSecond() throws Exception {
    String io = LibiscsiIo.build();
    byte[] data = TestEngines.pattern(7, 64 << 10);
    Path in = dir.resolve("in.bin");
    Files.write(in, data);
    Tools.ok(60, io, "write", url(a, IQN), "2048", in.toString(), "fua");
    ByteBuffer back = ByteBuffer.allocate(data.length);
    engine.volume("demo").orElseThrow().read(2048L * 512, back);
    assertArrayEquals(data, back.array(), "the write landed in B's vDisk");
    Path out = dir.resolve("out.bin");
    Tools.ok(60, io, "read", url(b, IQN), "2048", Integer.toString(data.length / 512), out.toString());
    assertArrayEquals(data, Files.readAllBytes(out), "read back through B's portal");
    Path out2 = dir.resolve("out2.bin");
    Tools.ok(60, io, "read", url(a, IQN), "2048", Integer.toString(data.length / 512), out2.toString());
    assertArrayEquals(data, Files.readAllBytes(out2), "read back through A's portal (redirected)");
  }

  @Test
  void discoveryOnAnyNodeListsEveryTargetWhereItIsServed() throws Exception {
    String other = IscsiConfig.vdiskTargetName(IscsiConfig.VDISK_TARGET_PREFIX, "Other_Disk");
    aSays.put(other, new TargetLocator.Elsewhere("127.0.0.2", 3260, 7));
    String local = "iqn.2026-11.org.vsa:local";
    a.addTarget(IscsiConfig.Target.of(local, Map.of()));
    aSays.put(local, TargetLocator.HERE);
    aSays.put("iqn.2026-11.org.vsa:gone", TargetLocator.UNKNOWN);
    int pa = a.localAddress().getPort();
    int pb = b.localAddress().getPort();
    Tools.Result ls = Tools.ok(30, "iscsi-ls", "iscsi://127.0.0.1:" + pa);
    assertTrue(ls.out().contains("Target:" + IQN + " Portal:127.0.0.1:" + pb + ",1"), ls.out());
    assertTrue(ls.out().contains("Target:" + other + " Portal:127.0.0.2:3260,7"), ls.out());
    assertTrue(ls.out().contains("Target:" + local + " Portal:127.0.0.1:" + pa + ",1"), ls.out());
    assertFalse(ls.out().contains(":gone"), ls.out());
    // with LUNs: iscsi-ls logs in to each target it found; B's answers with B's LUN 0
    aSays.remove(other);
    aSays.remove(local);
    a.removeTarget(local);
    Tools.Result lss = Tools.ok(30, "iscsi-ls", "-s", "iscsi://127.0.0.1:" + pa);
    assertTrue(lss.out().contains("Lun:0") && lss.out().contains("Type:DIRECT_ACCESS"), lss.out());
  }

  @Test
  void unknownTargetIsNotFoundAndARedirectIsWellFormed() throws Exception {
    Tools.Result r = Tools.run(30, "iscsi-inq", url(a, "iqn.2026-11.org.vsa:nope"));
    assertNotEquals(0, r.exit(), r.out());
    assertTrue(r.out().contains("Target not found"), r.out());
    try (RawInitiator raw = new RawInitiator(a.localAddress().getPort())) {
      RawInitiator.Frame resp = raw.login(IQN, IscsiInitiatorTest.ops(false));
      assertEquals(Opcode.LOGIN_RESPONSE, resp.opcode());
      assertEquals(0x01, resp.u8(36), "status class: redirection");
      assertEquals(0x01, resp.u8(37), "detail: target moved temporarily");
      assertEquals("127.0.0.1:" + b.localAddress().getPort() + ",1",
          RawInitiator.parse(resp.data()).get("TargetAddress"));
      assertEquals(-1, raw.in.read(), "the target closes the connection after a redirect");
    }
  }

  @Test
  void aTargetServedByNoNodeRightNowIsServiceUnavailableAndNotDiscovered() throws Exception {
    aSays.put(IQN, TargetLocator.UNAVAILABLE);
    Tools.Result r = Tools.run(30, "iscsi-inq", url(a, IQN));
    assertNotEquals(0, r.exit(), r.out());
    assertTrue(r.out().contains("Service unavailable"), "retryable, not 'not found': " + r.out());
    try (RawInitiator raw = new RawInitiator(a.localAddress().getPort())) {
      RawInitiator.Frame resp = raw.login(IQN, IscsiInitiatorTest.ops(false));
      assertEquals(0x0301, resp.u8(36) << 8 | resp.u8(37), "service unavailable");
      assertEquals(-1, raw.in.read(), "the target closes the connection");
    }
    Tools.Result ls = Tools.ok(30, "iscsi-ls", "iscsi://127.0.0.1:" + a.localAddress().getPort());
    assertFalse(ls.out().contains(IQN), ls.out());
    // even where the target is configured: the locator's word wins
    a.addTarget(IscsiConfig.Target.forVdisk(IscsiConfig.VDISK_TARGET_PREFIX, "demo"));
    Tools.Result again = Tools.run(30, "iscsi-inq", url(a, IQN));
    assertTrue(again.out().contains("Service unavailable"), again.out());
    assertFalse(Tools.ok(30, "iscsi-ls", "iscsi://127.0.0.1:" + a.localAddress().getPort()).out().contains(IQN));
  }

  @Test
  void aRedirectLoopEndsInALoginErrorWithinABound() throws Exception {
    // B now believes A serves the target, A that B does: libiscsi would bounce for ever.
    b.locator(iqn -> new TargetLocator.Elsewhere("127.0.0.1", a.localAddress().getPort(), 1));
    long t0 = System.nanoTime();
    Tools.Result r = Tools.run(60, "iscsi-inq", url(a, IQN));
    long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
    assertNotEquals(124, r.exit(), "the client hung in the loop: " + r.out());
    assertNotEquals(0, r.exit(), r.out());
    assertTrue(r.out().contains("Service unavailable"), r.out());
    assertTrue(seconds < 30, "the loop took " + seconds + " s to end");
    // an initiator that follows redirects without a limit of its own is stopped too
    int port = a.localAddress().getPort();
    int hops = 0;
    RawInitiator.Frame last;
    while (true) {
      try (RawInitiator raw = new RawInitiator(port)) {
        raw.isid = 0x023d00000077L;
        last = raw.login(IQN, IscsiInitiatorTest.ops(false));
      }
      if (last.u8(36) != 0x01) {
        break;
      }
      String to = RawInitiator.parse(last.data()).get("TargetAddress");
      port = Integer.parseInt(to.substring(to.indexOf(':') + 1, to.indexOf(',')));
      assertTrue(++hops <= 2 * RedirectGuard.MAX_REDIRECTS, "still redirected after " + hops + " hops");
    }
    assertEquals(0x0301, last.u8(36) << 8 | last.u8(37), "service unavailable");
    // a node sent to itself refuses at once
    aSays.put(IQN, new TargetLocator.Elsewhere("127.0.0.1", a.localAddress().getPort(), 1));
    Tools.Result self = Tools.run(30, "iscsi-inq", url(a, IQN));
    assertNotEquals(0, self.exit(), self.out());
    assertTrue(self.out().contains("Target error"), self.out());
  }

  @Test
  void aLocatorThatThrowsGivesTargetErrorAndTheNodeServesOn() throws Exception {
    a.locator(new TargetLocator() {
      @Override
      public Location locate(String iqn) {
        throw new IllegalStateException("control plane not ready");
      }

      @Override
      public Map<String, Location> directory() {
        throw new IllegalStateException("control plane not ready");
      }
    });
    a.addTarget(IscsiConfig.Target.of("iqn.2026-11.org.vsa:local", Map.of()));
    Tools.Result r = Tools.run(30, "iscsi-inq", url(a, IQN));
    assertNotEquals(0, r.exit(), r.out());
    assertTrue(r.out().contains("Target error"), r.out());
    Tools.Result ls = Tools.ok(30, "iscsi-ls", "iscsi://127.0.0.1:" + a.localAddress().getPort());
    assertTrue(ls.out().contains("Target:iqn.2026-11.org.vsa:local"), "discovery lists the local targets: " + ls.out());
    a.locator(iqn -> new TargetLocator.Elsewhere("127.0.0.1", b.localAddress().getPort(), 1));
    Tools.ok(30, "iscsi-inq", url(a, IQN));
  }

  @Test
  void droppedSessionsNeverAnswerTheirCommandsAndTheInitiatorIsSentToTheNewNode() throws Exception {
    byte[] first = TestEngines.pattern(1, 4096);
    byte[] second = TestEngines.pattern(2, 4096);
    try (RawInitiator raw = new RawInitiator(b.localAddress().getPort())) {
      assertEquals(0, raw.login(IQN, IscsiInitiatorTest.ops(false)).u8(36));
      assertEquals(0, raw.scsi(0, RawInitiator.write10(0, 8, true), first, 0).status());
      assertEquals(List.of(), a.sessionsOf(IQN));
      assertEquals(1, b.sessionsOf(IQN).size());
      // a write that the volume holds when B stops serving the vDisk
      gate.close();
      int tag = raw.itt++;
      raw.send(RawInitiator.scsiCommand(0, RawInitiator.write10(8, 8, true), second, 0, tag, raw.cmdSn++), second);
      assertTrue(gate.entered.await(30, TimeUnit.SECONDS), "the write reached the volume");
      // failover: A takes the vDisk over (same engine here), B redirects to A, then drops its sessions
      IscsiTarget takeover = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0, List.of())
          .withVdiskTargets(IscsiConfig.VDISK_TARGET_PREFIX, List.of("demo")), name -> engine.volume(name));
      try {
        b.locator(iqn -> iqn.equalsIgnoreCase(IQN)
            ? new TargetLocator.Elsewhere("127.0.0.1", takeover.localAddress().getPort(), 1) : TargetLocator.UNKNOWN);
        CompletableFuture<Void> drained = b.dropSessions(IQN);
        assertFalse(drained.isDone(), "the held write is still running");
        gate.open();
        drained.get(30, TimeUnit.SECONDS);
        assertEquals(List.of(), b.sessionsOf(IQN));
        assertThrows(IOException.class, () -> {
          RawInitiator.Frame f = raw.receive();
          throw new AssertionError("the target answered after the drop: opcode 0x" + Integer.toHexString(f.opcode()));
        });
        assertThrows(IOException.class, () -> raw.scsi(0, RawInitiator.read10(0, 8), null, 4096),
            "the next command fails");
      } finally {
        gate.open();
      }
      // the initiator logs in again through B and is sent to the new node, which has the data
      try {
        String io = LibiscsiIo.build();
        Path out = dir.resolve("first.bin");
        Tools.ok(60, io, "read", url(b, IQN), "0", "8", out.toString());
        assertArrayEquals(first, Files.readAllBytes(out));
        assertEquals(List.of(), b.sessionsOf(IQN));
      } finally {
        takeover.close();
      }
    }
  }

  @Test
  void aConnectedLibiscsiClientComesBackThroughTheRedirectAfterTheDrop() throws Exception {
    byte[] data = TestEngines.pattern(3, 4096);
    engine.volume("demo").orElseThrow().write(0, ByteBuffer.wrap(data), Durability.DURABLE);
    String io = LibiscsiIo.build();
    Path out = dir.resolve("again.bin");
    Process p = new ProcessBuilder(io, "reread", url(b, IQN), "0", "8", out.toString())
        .redirectErrorStream(true).start();
    IscsiTarget takeover = null;
    try {
      java.io.BufferedReader lines = new java.io.BufferedReader(
          new java.io.InputStreamReader(p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8));
      String first = CompletableFuture.supplyAsync(() -> {
        try {
          return lines.readLine();
        } catch (IOException e) {
          return e.toString();
        }
      }).get(60, TimeUnit.SECONDS);
      assertEquals("READY", first, "the client's first read");
      assertEquals(1, b.sessionsOf(IQN).size());
      takeover = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0, List.of())
          .withVdiskTargets(IscsiConfig.VDISK_TARGET_PREFIX, List.of("demo")), name -> engine.volume(name));
      int to = takeover.localAddress().getPort();
      b.locator(iqn -> new TargetLocator.Elsewhere("127.0.0.1", to, 1));
      b.dropSessions(IQN).get(30, TimeUnit.SECONDS);
      assertEquals(List.of(), b.sessionsOf(IQN));
      p.getOutputStream().write('\n');
      p.getOutputStream().flush();
      assertTrue(p.waitFor(90, TimeUnit.SECONDS), "the client did not finish");
      String rest = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), rest);
      assertArrayEquals(data, Files.readAllBytes(out), "the read after the drop, served by the new node");
    } finally {
      p.destroyForcibly().waitFor();
      if (takeover != null) {
        takeover.close();
      }
    }
  }

  @Test
  void perVdiskTargetNamesAreOneToOne() {
    String p = IscsiConfig.VDISK_TARGET_PREFIX;
    assertEquals("iqn.2026-11.org.vsa:vdisk:demo", IscsiConfig.vdiskTargetName(p, "demo"));
    for (String v : List.of("demo", "Demo", "DEMO", "de_mo", "De_Mo", "a", "A_", "_", "x.y-z", "9Z_z9", "vm1-disk.2")) {
      String iqn = IscsiConfig.vdiskTargetName(p, v);
      assertEquals(iqn.toLowerCase(), iqn, "lower case: " + iqn);
      assertFalse(iqn.contains("_"), iqn);
      assertEquals(Optional.of(v), IscsiConfig.vdiskOfTargetName(p, iqn), iqn);
      assertEquals(Optional.of(v), IscsiConfig.vdiskOfTargetName(p, iqn.toUpperCase().replace("IQN.", "iqn.")), iqn);
      IscsiConfig.Target.forVdisk(p, v); // a valid iSCSI name
    }
    assertNotEquals(IscsiConfig.vdiskTargetName(p, "Demo"), IscsiConfig.vdiskTargetName(p, "demo"));
    assertEquals(Optional.empty(), IscsiConfig.vdiskOfTargetName(p, "iqn.2026-11.org.vsa:default"));
    assertEquals(Optional.empty(), IscsiConfig.vdiskOfTargetName(p, p + ":a:"));
    assertEquals(Optional.empty(), IscsiConfig.vdiskOfTargetName(p, p + ":a:1"));
    assertThrows(IllegalArgumentException.class, () -> IscsiConfig.vdiskTargetName(p, "a b"));
    IscsiConfig c = IscsiConfig.of("127.0.0.1", 0, List.of()).withVdiskTargets(p, List.of("a", "b"));
    assertEquals(Map.of(0, "b"), c.target(p + ":b").orElseThrow().luns());
    assertThrows(IllegalArgumentException.class, () -> c.plusTarget(IscsiConfig.Target.forVdisk(p, "a")));
    assertEquals(1, c.minusTarget(p + ":a").targets().size());
  }

  @Test
  void redirectGuardCountsPerSessionWithinTheWindow() {
    long[] now = {0};
    RedirectGuard g = new RedirectGuard(() -> now[0]);
    for (int i = 0; i < RedirectGuard.MAX_REDIRECTS; i++) {
      assertTrue(g.allow("x"));
      now[0] += 1_000_000;
    }
    assertFalse(g.allow("x"), "one too many within the window");
    assertTrue(g.allow("y"), "another initiator session is not affected");
    now[0] += RedirectGuard.WINDOW_NANOS;
    assertTrue(g.allow("x"), "the window moved on");
    assertTrue(RedirectGuard.isPortal(new TargetLocator.Elsewhere("127.0.0.1", 3260, 1),
        new java.net.InetSocketAddress("127.0.0.1", 3260)));
    assertFalse(RedirectGuard.isPortal(new TargetLocator.Elsewhere("127.0.0.1", 3261, 1),
        new java.net.InetSocketAddress("127.0.0.1", 3260)));
    assertEquals("[::1]:3260,2", new TargetLocator.Elsewhere("::1", 3260, 2).targetAddress());
    assertThrows(IllegalArgumentException.class, () -> new TargetLocator.Elsewhere("a,b", 3260, 1));
  }

  /** Passes writes through, or, while closed, holds each one until opened again. */
  static final class Gate {
    private volatile CountDownLatch open = new CountDownLatch(0);
    final CountDownLatch entered = new CountDownLatch(1);

    void close() {
      open = new CountDownLatch(1);
    }

    void open() {
      open.countDown();
    }

    BlockVolume wrap(BlockVolume v) {
      return new org.vsa.volume.ForwardingBlockVolume() {
        @Override
        protected BlockVolume delegate() {
          return v;
        }

        @Override
        public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
          CountDownLatch o = open;
          if (o.getCount() > 0) {
            entered.countDown();
            try {
              if (!o.await(60, TimeUnit.SECONDS)) {
                throw new IOException("test gate never opened");
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new IOException(e);
            }
          }
          v.write(offset, src, durability);
        }

        /** Through the gated {@link #write}, as the interface's default does. */
        @Override
        public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
          write(offset, src, durability);
          return () -> { };
        }
      };
    }
  }
}
