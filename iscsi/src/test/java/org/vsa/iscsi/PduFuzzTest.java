package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.volume.TestEngines;

/**
 * Hostile connections (random bytes, mutated valid PDUs, truncated headers, lying lengths,
 * oversized data segments, commands before login, wrong CmdSNs) for a bounded time, while a
 * well-behaved session writes and reads back on another target of the same process: it must
 * never see an error or a stall, and the target must still accept logins afterwards.
 * {@code -Dfuzz.seed=N} replays a run; {@code -Dfuzz.seconds=N} sets its length.
 */
@org.junit.jupiter.api.extension.ExtendWith(org.vsa.iscsi.LeakCheck.class)
class PduFuzzTest {
  static final String FUZZ_IQN = "iqn.2026-11.org.vsa:fuzz";

  @TempDir
  Path dir;

  @Test
  void targetKeepsServingAWellBehavedSession() throws Exception {
    long seed = Long.getLong("fuzz.seed", System.nanoTime());
    long seconds = Long.getLong("fuzz.seconds", 8);
    List<IscsiConfig.Target> targets = List.of(
        IscsiConfig.Target.of(TargetFixture.IQN, Map.of(0, "demo")),
        IscsiConfig.Target.of(FUZZ_IQN, Map.of(0, "fuzz")));
    try (TargetFixture f = new TargetFixture(dir, targets)) {
      f.engine.create(TestEngines.spec("fuzz", 16L << 20));
      // The fuzz target's LUNs were bound at first login; "fuzz" exists before any.
      long deadline = System.nanoTime() + seconds * 1_000_000_000L;
      AtomicReference<Throwable> goodFailure = new AtomicReference<>();
      AtomicLong goodOps = new AtomicLong();
      Thread good = new Thread(() -> {
        try {
          wellBehaved(f.port(), deadline, seed, goodOps);
        } catch (Throwable t) {
          goodFailure.set(t);
        }
      }, "well-behaved");
      good.start();
      List<Thread> fuzzers = new ArrayList<>();
      AtomicLong attacks = new AtomicLong();
      for (int i = 0; i < 2; i++) {
        long s = seed + 1 + i;
        Thread t = new Thread(() -> fuzz(f.port(), deadline, new Random(s), attacks), "fuzzer-" + i);
        t.start();
        fuzzers.add(t);
      }
      good.join(seconds * 1000 + 30_000);
      for (Thread t : fuzzers) {
        t.join(30_000);
      }
      String replay = " (replay: -Dfuzz.seed=" + seed + ")";
      if (goodFailure.get() != null) {
        throw new AssertionError("the well-behaved session failed" + replay, goodFailure.get());
      }
      assertTrue(goodOps.get() > 20, "the well-behaved session made progress: " + goodOps + " ops" + replay);
      assertTrue(attacks.get() > 20, "fuzz connections: " + attacks + replay);
      try (RawInitiator after = new RawInitiator(f.port())) {
        assertEquals(0, after.login(TargetFixture.IQN, IscsiInitiatorTest.ops(false)).u8(36), replay);
        assertEquals(0, after.scsi(0, new byte[6], null, 0).status(), replay);
      }
      // Every write buffer of every dropped connection went back to the budget.
      long held = -1;
      for (int i = 0; i < 100 && held != 0; i++) {
        Thread.sleep(50);
        held = f.target.dataOutBytesHeld();
      }
      assertEquals(0, held, "data-out bytes still held" + replay);
      System.out.println("fuzz: " + attacks + " hostile connections, " + goodOps + " good write+read pairs" + replay);
    }
  }

  private static void wellBehaved(int port, long deadline, long seed, AtomicLong ops) throws IOException {
    Random rnd = new Random(seed);
    try (RawInitiator r = new RawInitiator(port)) {
      r.isid = 0x023d00000099L;
      assertEquals(0, r.login(TargetFixture.IQN, IscsiInitiatorTest.ops(rnd.nextBoolean())).u8(36));
      while (System.nanoTime() < deadline) {
        int blocks = 1 + rnd.nextInt(64);
        long lba = rnd.nextInt(100_000);
        byte[] data = new byte[blocks * 512];
        rnd.nextBytes(data);
        long t0 = System.nanoTime();
        RawInitiator.Result w = r.scsi(0, RawInitiator.write10(lba, blocks, rnd.nextBoolean()), data, 0);
        assertEquals(0, w.status(), "write status");
        RawInitiator.Result rd = r.scsi(0, RawInitiator.read10(lba, blocks), null, data.length);
        assertEquals(0, rd.status(), "read status");
        assertArrayEquals(data, rd.data(), "read back");
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "a write + read took over 5 s: stalled");
        ops.incrementAndGet();
      }
    }
  }

  private static void fuzz(int port, long deadline, Random rnd, AtomicLong attacks) {
    while (System.nanoTime() < deadline) {
      try (RawInitiator r = new RawInitiator(port)) {
        r.socket.setSoTimeout(100);
        r.isid = rnd.nextLong() & 0xffffffffffffL;
        attack(r, rnd);
      } catch (IOException | AssertionError | RuntimeException expected) {
        // the target may close, reject or ignore: all fine, as long as it survives
      }
      attacks.incrementAndGet();
    }
  }

  private static void attack(RawInitiator r, Random rnd) throws IOException {
    switch (rnd.nextInt(9)) {
      case 0 -> { // random bytes
        byte[] junk = new byte[rnd.nextInt(70_000)];
        rnd.nextBytes(junk);
        r.out.write(junk);
      }
      case 1 -> { // a truncated header
        byte[] b = RawInitiator.bhs(Opcode.LOGIN_REQUEST | 0x40, 0x87);
        r.out.write(b, 0, rnd.nextInt(48));
      }
      case 2 -> { // lying length: claims more than it sends, then stalls
        byte[] b = RawInitiator.bhs(Opcode.LOGIN_REQUEST | 0x40, 0x87);
        b[5] = (byte) 0x03;
        r.out.write(b);
        r.out.write(new byte[100]);
      }
      case 3 -> { // oversized data segment
        r.send(RawInitiator.bhs(Opcode.LOGIN_REQUEST | 0x40, 0x87), new byte[300_000]);
      }
      case 4 -> { // commands before login
        r.send(RawInitiator.scsiCommand(0, RawInitiator.write10(0, 8, false), new byte[4096], 0, 1, 0),
            new byte[4096]);
      }
      case 5 -> { // login with garbage keys
        byte[] keys = new byte[rnd.nextInt(9000)];
        rnd.nextBytes(keys);
        byte[] b = RawInitiator.bhs(Opcode.LOGIN_REQUEST | 0x40, rnd.nextInt(256));
        r.send(b, keys);
        r.receive();
      }
      default -> mutatedSession(r, rnd);
    }
    r.out.flush();
    r.receive();
  }

  /** Logs in properly to the fuzz target, then sends valid, mutated, and out-of-window PDUs. */
  private static void mutatedSession(RawInitiator r, Random rnd) throws IOException {
    if (r.login(FUZZ_IQN, IscsiInitiatorTest.ops(rnd.nextBoolean())).u8(36) != 0) {
      return;
    }
    for (int i = 0; i < 1 + rnd.nextInt(20); i++) {
      byte[] cdb = new byte[16];
      rnd.nextBytes(cdb);
      int blocks = rnd.nextInt(16);
      byte[] data = rnd.nextBoolean() ? new byte[blocks * 512] : null;
      byte[] bhs = RawInitiator.scsiCommand(0, rnd.nextBoolean() ? RawInitiator.write10(rnd.nextInt(30_000), blocks,
          false) : cdb, data, rnd.nextInt(1 << 20), 100 + i, rnd.nextInt(4) == 0 ? rnd.nextInt() : r.cmdSn++);
      int flips = rnd.nextInt(4);
      for (int k = 0; k < flips; k++) {
        int at = rnd.nextInt(48);
        if (at >= 4 && at <= 7) {
          continue; // lengths are covered by the framing cases
        }
        bhs[at] ^= (byte) (1 << rnd.nextInt(8));
      }
      if (rnd.nextInt(5) == 0) {
        bhs[0] = (byte) rnd.nextInt(64); // any opcode, immediate or not
      }
      byte[] imm = data == null ? new byte[0] : java.util.Arrays.copyOf(data, Math.min(data.length, 8192));
      r.send(bhs, imm);
      if (rnd.nextInt(3) == 0) { // a Data-Out nobody asked for
        byte[] d = RawInitiator.bhs(Opcode.DATA_OUT, 0x80);
        ByteBuffer.wrap(d).putInt(16, 100 + i).putInt(20, rnd.nextInt()).putInt(40, rnd.nextInt(1 << 20));
        r.send(d, new byte[512 * (1 + rnd.nextInt(4))]);
      }
    }
    for (int i = 0; i < 20; i++) {
      r.receive();
    }
  }
}
