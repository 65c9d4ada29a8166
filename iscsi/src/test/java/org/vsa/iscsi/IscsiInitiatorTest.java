package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.TestEngines;

/** libiscsi's command-line initiator and a raw Java initiator against a target on a real engine. */
@org.junit.jupiter.api.extension.ExtendWith(org.vsa.iscsi.LeakCheck.class)
class IscsiInitiatorTest {
  @TempDir
  Path dir;

  static Map<String, String> ops(boolean digests) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("HeaderDigest", digests ? "CRC32C,None" : "None");
    m.put("DataDigest", digests ? "CRC32C,None" : "None");
    m.put("MaxRecvDataSegmentLength", "8192");
    m.put("InitialR2T", "Yes");
    m.put("ImmediateData", "Yes");
    m.put("FirstBurstLength", "16384");
    m.put("MaxBurstLength", "65536");
    m.put("ErrorRecoveryLevel", "0");
    m.put("MaxConnections", "1");
    m.put("X-com.example.Unknown", "1");
    return m;
  }

  @Test
  void discoveryInquiryCapacityAndStableNaa() throws Exception {
    try (TargetFixture f = new TargetFixture(dir)) {
      Tools.Result ls = Tools.ok(30, "iscsi-ls", f.portal());
      assertTrue(ls.out().contains("Target:" + TargetFixture.IQN + " Portal:127.0.0.1:" + f.port() + ",1"), ls.out());
      Tools.Result lss = Tools.ok(30, "iscsi-ls", "-s", f.portal());
      assertTrue(lss.out().contains("Lun:0") && lss.out().contains("Type:DIRECT_ACCESS"), lss.out());
      Tools.Result inq = Tools.ok(30, "iscsi-inq", f.lunUrl(0));
      assertTrue(inq.out().contains("Vendor:VSA") && inq.out().contains("CmdQue:1"), inq.out());
      Tools.Result cap = Tools.ok(30, "iscsi-readcapacity16", f.lunUrl(0));
      assertTrue(cap.out().contains("Total size:" + TargetFixture.SIZE_BYTES), cap.out());
      assertTrue(cap.out().contains("LBPME:1"), cap.out());
      String serial = f.engine.volume("demo").orElseThrow().id().toString().replace("-", "");
      Tools.Result vpd80 = Tools.ok(30, "iscsi-inq", "-e", "1", "-c", "128", f.lunUrl(0));
      assertTrue(vpd80.out().contains(serial), vpd80.out());
      byte[] naa1 = naaOf(f.port());
      // A new target over the same vDisk (as after an appliance restart) presents the same NAA.
      f.target.close();
      IscsiTarget again = IscsiTarget.start(TargetFixture.config(dir,
          List.of(IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo")))), f.engine::volume);
      try {
        assertArrayEquals(naa1, naaOf(again.localAddress().getPort()));
        assertEquals(0x6, (naa1[0] & 0xf0) >>> 4, "NAA type 6");
      } finally {
        again.close();
      }
    }
  }

  private static byte[] naaOf(int port) throws IOException {
    try (RawInitiator r = new RawInitiator(port)) {
      assertEquals(0, r.login(TargetFixture.IQN, ops(false)).u8(36));
      byte[] cdb = {0x12, 0x01, (byte) 0x83, 0x01, 0x00, 0x00};
      RawInitiator.Result res = r.scsi(0, cdb, null, 256);
      assertEquals(0, res.status());
      byte[] d = res.data();
      for (int o = 4; o + 4 <= d.length; o += 4 + (d[o + 3] & 0xff)) {
        if ((d[o + 1] & 0x3f) == 0x03) { // association LU, type NAA
          return java.util.Arrays.copyOfRange(d, o + 4, o + 4 + (d[o + 3] & 0xff));
        }
      }
      throw new AssertionError("no NAA designator in " + HexFormat.of().formatHex(d));
    }
  }

  @Test
  void persistentReservationsSurviveARestart() throws Exception {
    try (TargetFixture f = new TargetFixture(dir)) {
      long key = 0x1122334455667788L;
      try (RawInitiator r = new RawInitiator(f.port())) {
        assertEquals(0, r.login(TargetFixture.IQN, ops(false)).u8(36));
        byte[] param = new byte[24];
        java.nio.ByteBuffer.wrap(param).putLong(8, key);
        byte[] register = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0};
        assertEquals(0, r.scsi(0, register, param, 0).status());
        byte[] reserve = {0x5f, 0x01, 0x01, 0, 0, 0, 0, 0, 24, 0}; // WRITE EXCLUSIVE
        java.nio.ByteBuffer.wrap(param).putLong(0, key).putLong(8, 0);
        assertEquals(0, r.scsi(0, reserve, param, 0).status());
      }
      f.target.close();
      IscsiTarget again = IscsiTarget.start(TargetFixture.config(dir,
          List.of(IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo")))), f.engine::volume);
      try (RawInitiator other = new RawInitiator(again.localAddress().getPort())) {
        other.initiatorName = "iqn.2026-11.org.vsa:other-initiator";
        assertEquals(0, other.login(TargetFixture.IQN, ops(false)).u8(36));
        RawInitiator.Result keys = other.scsi(0, new byte[] {0x5e, 0x00, 0, 0, 0, 0, 0, 0x10, 0, 0}, null, 4096);
        assertEquals(0, keys.status());
        java.nio.ByteBuffer kb = java.nio.ByteBuffer.wrap(keys.data());
        assertEquals(8, kb.getInt(4), "one registration");
        assertEquals(key, kb.getLong(8));
        // The reservation survived too: another initiator's write conflicts, its read does not.
        assertEquals(0x18, other.scsi(0, RawInitiator.write10(0, 1, false), new byte[512], 0).status());
        assertEquals(0, other.scsi(0, RawInitiator.read10(0, 1), null, 512).status());
      } finally {
        again.close();
      }
    }
  }

  /**
   * PREEMPT AND ABORT fences the victim out across sessions: its write that was still waiting for
   * Data-Out is aborted, the data it sends afterwards is dropped, no response comes for it, and the
   * blocks stay as they were.
   */
  @Test
  void preemptAndAbortAbortsTheVictimSessionsWrite() throws Exception {
    try (TargetFixture f = new TargetFixture(dir);
        RawInitiator a = new RawInitiator(f.port());
        RawInitiator b = new RawInitiator(f.port())) {
      b.initiatorName = "iqn.2026-11.org.vsa:victim";
      b.isid = 0x023d00000002L;
      assertEquals(0, a.login(TargetFixture.IQN, ops(false)).u8(36));
      assertEquals(0, b.login(TargetFixture.IQN, ops(false)).u8(36));
      long keyA = 0xAAAAL;
      long keyB = 0xBBBBL;
      byte[] register = {0x5f, 0x00, 0, 0, 0, 0, 0, 0, 24, 0};
      assertEquals(0, a.scsi(0, register, prout(0, keyA), 0).status());
      assertEquals(0, b.scsi(0, register, prout(0, keyB), 0).status());
      byte[] reserveWeRo = {0x5f, 0x01, 0x05, 0, 0, 0, 0, 0, 24, 0}; // WRITE EXCLUSIVE - REGISTRANTS ONLY
      assertEquals(0, b.scsi(0, reserveWeRo, prout(keyB, 0), 0).status());

      // B starts a 64 KiB write: command + 8 KiB immediate data; the target solicits the rest
      byte[] data = new byte[128 * 512];
      java.util.Arrays.fill(data, (byte) 0x5a);
      int tag = b.itt++;
      b.send(RawInitiator.scsiCommand(0, RawInitiator.write10(4096, 128, false), data, 0, tag, b.cmdSn++),
          java.util.Arrays.copyOf(data, 8192));
      RawInitiator.Frame r2t = b.receive();
      assertEquals(org.vsa.iscsi.pdu.Opcode.R2T, r2t.opcode(), "the target asks for the rest");

      byte[] preemptAndAbort = {0x5f, 0x05, 0x05, 0, 0, 0, 0, 0, 24, 0};
      assertEquals(0, a.scsi(0, preemptAndAbort, prout(keyA, keyB), 0).status(), "PREEMPT AND ABORT");

      // B sends the solicited data anyway: the task is gone, so it is dropped
      int off = r2t.i32(40);
      int len = r2t.i32(44);
      int sn = 0;
      for (int o = off; o < off + len; o += 8192) {
        int n = Math.min(8192, off + len - o);
        byte[] d = RawInitiator.bhs(org.vsa.iscsi.pdu.Opcode.DATA_OUT, o + n == off + len ? 0x80 : 0);
        RawInitiator.put32(d, 16, tag);
        RawInitiator.put32(d, 20, r2t.i32(20));
        RawInitiator.put32(d, 28, b.expStatSn);
        RawInitiator.put32(d, 36, sn++);
        RawInitiator.put32(d, 40, o);
        b.send(d, java.util.Arrays.copyOfRange(data, o, o + n));
      }
      // the next answer B gets is its READ's, not one for the aborted write
      RawInitiator.Result read = b.scsi(0, RawInitiator.read10(4096, 128), null, data.length);
      assertEquals(0, read.status());
      assertArrayEquals(new byte[data.length], read.data(), "the aborted write left the blocks unwritten");
      // B is fenced out: no longer registered, so its writes conflict with A's reservation
      assertEquals(0x18, b.scsi(0, RawInitiator.write10(4096, 1, false), new byte[512], 0).status());
      assertArrayEquals(new byte[data.length], a.scsi(0, RawInitiator.read10(4096, 128), null, data.length).data());
    }
  }

  private static byte[] prout(long key, long serviceActionKey) {
    byte[] p = new byte[24];
    java.nio.ByteBuffer.wrap(p).putLong(0, key).putLong(8, serviceActionKey);
    return p;
  }

  @Test
  void manyTargetsWithManyLuns() throws Exception {
    List<IscsiConfig.Target> targets = new java.util.ArrayList<>();
    targets.add(IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo", 1, "second", 7, "third", 300, "missing")));
    for (int i = 0; i < 150; i++) {
      targets.add(IscsiConfig.Target.of("iqn.2026-11.org.vsa:many-" + i, Map.of(0, "demo")));
    }
    try (TargetFixture f = new TargetFixture(dir, targets)) {
      f.engine.create(TestEngines.spec("second", 1L << 20));
      f.engine.create(TestEngines.spec("third", 2L << 20));
      // SendTargets=All is longer than one 8 KiB text PDU: it goes out with continuation.
      Tools.Result ls = Tools.ok(30, "iscsi-ls", f.portal());
      for (IscsiConfig.Target t : targets) {
        assertTrue(ls.out().contains("Target:" + t.iqn() + " "), t.iqn() + " missing from:\n" + ls.out());
      }
      try (RawInitiator r = new RawInitiator(f.port())) {
        assertEquals(0, r.login(TargetFixture.IQN, ops(false)).u8(36));
        RawInitiator.Result luns = r.scsi(0, new byte[] {(byte) 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, null, 256);
        assertEquals(0, luns.status());
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(luns.data());
        assertEquals(3 * 8, b.getInt(0), "LUNs 0, 1, 7 (300's vDisk does not exist)");
        assertEquals(1, b.get(8 + 8 + 1));
        assertEquals(7, b.get(8 + 16 + 1));
        byte[] rc10 = {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        r.send(RawInitiator.scsiCommand(7, rc10, null, 8, 9000, r.cmdSn++), new byte[0]);
        RawInitiator.Result cap = r.await(9000, null, 7);
        assertEquals((2L << 20) / 512 - 1, java.nio.ByteBuffer.wrap(cap.data()).getInt(0), "LUN 7 is vDisk third");
        r.send(RawInitiator.scsiCommand(5, rc10, null, 8, 9001, r.cmdSn++), new byte[0]);
        RawInitiator.Result none = r.await(9001, null, 5);
        assertEquals(0x02, none.status());
        assertEquals(0x25, none.sense()[12] & 0xff, "LOGICAL UNIT NOT SUPPORTED");
      }
    }
  }

  @Test
  void taskManagement() throws Exception {
    try (TargetFixture f = new TargetFixture(dir); RawInitiator r = new RawInitiator(f.port())) {
      assertEquals(0, r.login(TargetFixture.IQN, ops(false)).u8(36));
      // A write that waits for its Data-Out (we never answer the R2T), then ABORT TASK.
      byte[] data = new byte[65536];
      r.send(RawInitiator.scsiCommand(0, RawInitiator.write10(0, 128, false), data, 0, 500, r.cmdSn++),
          java.util.Arrays.copyOf(data, 8192));
      RawInitiator.Frame r2t = r.receive();
      assertEquals(Opcode.R2T, r2t.opcode());
      assertEquals(500, r2t.i32(16));
      assertEquals(0, tmf(r, 1, 500), "ABORT TASK of a waiting write: function complete");
      assertEquals(1, tmf(r, 1, 500), "ABORT TASK again: task does not exist");
      // Its late Data-Out is dropped; the session goes on.
      byte[] d = RawInitiator.bhs(Opcode.DATA_OUT, 0x80);
      RawInitiator.put32(d, 16, 500);
      RawInitiator.put32(d, 20, r2t.i32(20));
      RawInitiator.put32(d, 40, 8192);
      r.send(d, new byte[8192]);
      assertEquals(0, r.scsi(0, new byte[6], null, 0).status());
      assertEquals(0, tmf(r, 5, -1), "LUN RESET");
      assertEquals(0, tmf(r, 6, -1), "TARGET WARM RESET");
      assertEquals(4, tmf(r, 8, -1), "TASK REASSIGN: not supported at ERL 0");
      // the resets left one unit attention (the newest) for this nexus: reported once, then gone
      byte[] inquiry = {0x12, 0, 0, 0, (byte) 96, 0};
      assertEquals(0, r.scsi(0, inquiry, null, 96).status(), "INQUIRY does not report it");
      RawInitiator.Result ua = r.scsi(0, new byte[6], null, 0);
      assertEquals(0x02, ua.status(), "TEST UNIT READY: CHECK CONDITION");
      assertEquals(0x06, ua.sense()[2] & 0x0f, "UNIT ATTENTION");
      assertEquals(0x29, ua.sense()[12] & 0xff, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED");
      assertEquals(0, r.scsi(0, new byte[6], null, 0).status());
      assertEquals(0, f.target.dataOutBytesHeld(), "the aborted write's buffer went back");
    }
  }

  private static int tmf(RawInitiator r, int function, int refItt) throws IOException {
    byte[] b = RawInitiator.bhs(Opcode.TASK_MGMT_REQUEST | 0x40, 0x80 | function);
    int tag = r.itt++;
    RawInitiator.put32(b, 16, tag);
    RawInitiator.put32(b, 20, refItt);
    RawInitiator.put32(b, 24, r.cmdSn);
    r.send(b, new byte[0]);
    RawInitiator.Frame resp = r.receive();
    assertEquals(Opcode.TASK_MGMT_RESPONSE, resp.opcode());
    assertEquals(tag, resp.i32(16));
    return resp.u8(2);
  }

  @Test
  void aPortInUseIsAnIoExceptionNamingIt() throws Exception {
    try (TargetFixture f = new TargetFixture(dir)) {
      IOException e = assertThrows(IOException.class, () -> IscsiTarget.start(
          IscsiConfig.of("127.0.0.1", f.port(), List.of()), f.engine::volume));
      assertTrue(e.getMessage().contains("127.0.0.1:" + f.port()), e.getMessage());
    }
  }

  @Test
  void unknownTargetIsRejected() throws Exception {
    try (TargetFixture f = new TargetFixture(dir)) {
      Tools.Result r = Tools.run(30, "iscsi-inq", f.portal() + "/iqn.2026-11.org.vsa:nope/0");
      assertNotEquals(0, r.exit(), r.out());
      assertTrue(r.out().contains("Target not found"), r.out());
      try (RawInitiator raw = new RawInitiator(f.port())) {
        RawInitiator.Frame resp = raw.login("iqn.2026-11.org.vsa:nope", ops(false));
        assertEquals(Opcode.LOGIN_RESPONSE, resp.opcode());
        assertEquals(0x02, resp.u8(36), "initiator error");
        assertEquals(0x03, resp.u8(37), "not found");
        assertEquals(-1, raw.in.read(), "the target closes the connection after a login reject");
      }
    }
  }

  @Test
  void chapAndMutualChap() throws Exception {
    IscsiConfig.Chap chap = new IscsiConfig.Chap("alice", "alice-secret-123");
    IscsiConfig.Chap mutual = new IscsiConfig.Chap("target-bob", "bob-secret-4567");
    String oneWay = "iqn.2026-11.org.vsa:chap";
    String twoWay = "iqn.2026-11.org.vsa:mutual";
    List<IscsiConfig.Target> targets = List.of(
        new IscsiConfig.Target(oneWay, Map.of(0, "demo"), Optional.of(chap), Optional.empty()),
        new IscsiConfig.Target(twoWay, Map.of(0, "demo"), Optional.of(chap), Optional.of(mutual)));
    try (TargetFixture f = new TargetFixture(dir, targets)) {
      String host = "127.0.0.1:" + f.port();
      Tools.ok(30, "iscsi-inq", "iscsi://alice%alice-secret-123@" + host + "/" + oneWay + "/0");
      Tools.Result wrong = Tools.run(30, "iscsi-inq", "iscsi://alice%wrong-secret-000@" + host + "/" + oneWay + "/0");
      assertNotEquals(0, wrong.exit(), wrong.out());
      Tools.Result none = Tools.run(30, "iscsi-inq", "iscsi://" + host + "/" + oneWay + "/0");
      assertNotEquals(0, none.exit(), none.out());
      Tools.ok(30, "iscsi-inq", "iscsi://alice%alice-secret-123@" + host + "/" + twoWay
          + "/0?target_user=target-bob&target_password=bob-secret-4567");
      Tools.Result badMutual = Tools.run(30, "iscsi-inq", "iscsi://alice%alice-secret-123@" + host + "/" + twoWay
          + "/0?target_user=target-bob&target_password=not-the-secret");
      assertNotEquals(0, badMutual.exit(), badMutual.out());
      Tools.Result noMutual = Tools.run(30, "iscsi-inq", "iscsi://alice%alice-secret-123@" + host + "/" + twoWay + "/0");
      assertNotEquals(0, noMutual.exit(), "mutual CHAP is required by the target: " + noMutual.out());
    }
  }

  @Test
  void dataRoundTripWithDigestsAndManyCommandsInFlight() throws Exception {
    try (TargetFixture f = new TargetFixture(dir); RawInitiator r = new RawInitiator(f.port())) {
      RawInitiator.Frame login = r.login(TargetFixture.IQN, ops(true));
      assertEquals(0, login.u8(36));
      assertTrue(r.headerDigest && r.dataDigest, "CRC32C offered first is chosen");
      Map<String, String> got = RawInitiator.parse(login.data());
      assertEquals("NotUnderstood", got.get("X-com.example.Unknown"));
      assertTrue(RawInitiator.serialGreater(r.maxCmdSn - r.cmdSn, 16), "the CmdSN window is wide");
      Random rnd = new Random(42);
      int n = 24;
      byte[][] blocks = new byte[n][];
      // Pipeline n writes (immediate data + R2T for the rest), then collect the responses in any order.
      for (int i = 0; i < n; i++) {
        blocks[i] = new byte[(1 + i % 5) * 8192 + 512];
        rnd.nextBytes(blocks[i]);
        int itt = 1000 + i;
        byte[] bhs = RawInitiator.scsiCommand(0, RawInitiator.write10(i * 256L, blocks[i].length / 512, i % 2 == 0),
            blocks[i], 0, itt, r.cmdSn++);
        r.send(bhs, java.util.Arrays.copyOf(blocks[i], 8192));
      }
      int done = 0;
      while (done < n) {
        RawInitiator.Frame fr = r.receive();
        if (fr.opcode() == Opcode.R2T) {
          int i = fr.i32(16) - 1000;
          int off = fr.i32(40);
          int len = fr.i32(44);
          int sn = 0;
          for (int o = off; o < off + len; o += 8192) {
            int m = Math.min(8192, off + len - o);
            byte[] d = RawInitiator.bhs(Opcode.DATA_OUT, o + m == off + len ? 0x80 : 0);
            RawInitiator.put32(d, 16, 1000 + i);
            RawInitiator.put32(d, 20, fr.i32(20));
            RawInitiator.put32(d, 36, sn++);
            RawInitiator.put32(d, 40, o);
            r.send(d, java.util.Arrays.copyOfRange(blocks[i], o, o + m));
          }
        } else {
          assertEquals(Opcode.SCSI_RESPONSE, fr.opcode());
          assertEquals(0, fr.u8(3), "write status");
          done++;
        }
      }
      BlockVolume v = f.engine.volume("demo").orElseThrow();
      for (int i = 0; i < n; i++) {
        RawInitiator.Result res = r.scsi(0, RawInitiator.read10(i * 256L, blocks[i].length / 512), null,
            blocks[i].length);
        assertEquals(0, res.status());
        assertArrayEquals(blocks[i], res.data(), "read back over iSCSI, block run " + i);
        assertArrayEquals(blocks[i], TestEngines.read(v, i * 256L * 512, blocks[i].length), "in the engine");
      }
      // SYNCHRONIZE CACHE(10), then an unknown opcode.
      assertEquals(0, r.scsi(0, new byte[] {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}, null, 0).status());
      RawInitiator.Result bad = r.scsi(0, new byte[] {(byte) 0xc7, 0, 0, 0, 0, 0}, null, 0);
      assertEquals(0x02, bad.status(), "CHECK CONDITION");
      assertEquals(0x70, bad.sense()[0] & 0x7f, "fixed format");
      assertEquals(0x05, bad.sense()[2] & 0x0f, "ILLEGAL REQUEST");
      assertEquals(0x20, bad.sense()[12] & 0xff, "INVALID COMMAND OPERATION CODE");
    }
  }

  @Test
  void loginTimeoutSessionReinstatementAndCmdSnWindow() throws Exception {
    try (TargetFixture f = new TargetFixture(dir)) {
      IscsiTarget quick = IscsiTarget.start(IscsiConfig.of("127.0.0.1", 0,
          List.of(IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo")))).withLoginTimeout(Duration.ofMillis(500)),
          f.engine::volume);
      try (RawInitiator idle = new RawInitiator(quick.localAddress().getPort())) {
        long t0 = System.nanoTime();
        assertEquals(-1, idle.in.read(), "an idle connection is dropped at the login timeout");
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
      } finally {
        quick.close();
      }
      try (RawInitiator a = new RawInitiator(f.port()); RawInitiator b = new RawInitiator(f.port())) {
        assertEquals(0, a.login(TargetFixture.IQN, ops(false)).u8(36));
        // A command far outside the CmdSN window is ignored; the session goes on.
        byte[] tur = new byte[6];
        a.send(RawInitiator.scsiCommand(0, tur, null, 0, 77, a.cmdSn + 100_000), new byte[0]);
        assertEquals(0, a.scsi(0, tur, null, 0).status());
        // Commands before login: the connection is dropped.
        try (RawInitiator early = new RawInitiator(f.port())) {
          early.send(RawInitiator.scsiCommand(0, tur, null, 0, 1, 0), new byte[0]);
          assertEquals(-1, early.in.read());
        }
        // Same initiator name and ISID: the new login reinstates the session, the old connection goes.
        assertEquals(0, b.login(TargetFixture.IQN, ops(false)).u8(36));
        a.socket.setSoTimeout(5000);
        assertThrows(IOException.class, () -> {
          a.scsi(0, tur, null, 0);
          a.scsi(0, tur, null, 0);
        });
        assertEquals(0, b.scsi(0, tur, null, 0).status());
      }
    }
  }
}
