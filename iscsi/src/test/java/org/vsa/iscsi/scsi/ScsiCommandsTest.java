package org.vsa.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/** SCSI handlers called directly over a real vDisk, without the iSCSI layer. */
class ScsiCommandsTest {
  @TempDir
  Path dir;
  Engine engine;
  LogicalUnit lu;

  @BeforeEach
  void start() throws Exception {
    engine = TestEngines.start(dir);
    BlockVolume v = engine.create(TestEngines.spec("demo", 8L << 20));
    lu = new LogicalUnit("iqn.2026-11.org.vsa:test", 0, v, dir.resolve("pr"));
  }

  @AfterEach
  void stop() throws Exception {
    engine.close();
  }

  private ScsiResult run(byte[] cdb, byte[] dataOut, String nexus) {
    byte[] c = java.util.Arrays.copyOf(cdb, 16);
    int edtl = dataOut == null ? 0 : dataOut.length;
    return Commands.execute(new ScsiRequest(c, lu, List.of(0), dataOut == null ? new byte[0] : dataOut, edtl, nexus));
  }

  private static byte[] caw(long lba, int blocks) {
    byte[] c = new byte[16];
    c[0] = (byte) 0x89;
    ByteBuffer.wrap(c).putLong(2, lba);
    c[13] = (byte) blocks;
    return c;
  }

  /**
   * ATS as ESXi does it: read the lock block, COMPARE AND WRITE old -> old + 1, retry on
   * miscompare. With plain writes to the same block racing (same content, so they do not change
   * the value), the counter must equal the number of successful CAWs.
   */
  @Test
  void compareAndWriteIsAtomicAgainstEveryOtherWrite() throws Exception {
    AtomicInteger successes = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
    for (int t = 0; t < 4; t++) {
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < 150; i++) {
            byte[] cur = TestEngines.read(lu.volume(), 0, 512);
            byte[] next = cur.clone();
            ByteBuffer.wrap(next).putLong(0, ByteBuffer.wrap(cur).getLong(0) + 1);
            byte[] data = new byte[1024];
            System.arraycopy(cur, 0, data, 0, 512);
            System.arraycopy(next, 0, data, 512, 512);
            ScsiResult r = run(caw(0, 1), data, "n");
            if (r.status() == ScsiResult.GOOD) {
              successes.incrementAndGet();
            } else {
              assertEquals(Sense.MISCOMPARE, r.sense()[2] & 0x0f);
            }
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      }));
    }
    // A writer on the neighbouring block of the same 4 KiB cluster, racing every CAW.
    AtomicInteger stop = new AtomicInteger();
    byte[][] last = new byte[1][];
    Thread neighbour = new Thread(() -> {
      try {
        for (int i = 0; stop.get() == 0; i++) {
          byte[] d = TestEngines.pattern(i, 512);
          ByteBuffer cdb = ByteBuffer.allocate(10).put(0, (byte) 0x2a).putInt(2, 1).putShort(7, (short) 1);
          assertEquals(ScsiResult.GOOD, run(cdb.array(), d, "n").status());
          last[0] = d;
        }
      } catch (Throwable e) {
        errors.add(e);
      }
    });
    neighbour.start();
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    stop.set(1);
    neighbour.join();
    assertTrue(errors.isEmpty(), errors.toString());
    assertArrayEquals(last[0], TestEngines.read(lu.volume(), 512, 512), "the neighbour's last write");
    long counter = ByteBuffer.wrap(TestEngines.read(lu.volume(), 0, 512)).getLong(0);
    assertEquals(successes.get(), counter, "every successful CAW incremented exactly once");
    assertTrue(successes.get() > 0);
  }

  @Test
  void miscompareReportsTheOffsetInFixedFormatSense() {
    byte[] data = new byte[1024];
    data[100] = 1; // the medium is zero there
    ScsiResult r = run(caw(3, 1), data, "n");
    assertEquals(ScsiResult.CHECK_CONDITION, r.status());
    byte[] s = r.sense();
    assertEquals(18, s.length);
    assertEquals(0xf0, s[0] & 0xff, "VALID, current error, fixed format");
    assertEquals(Sense.MISCOMPARE, s[2]);
    assertEquals(100, ByteBuffer.wrap(s).getInt(3), "INFORMATION = offset of the first differing byte");
    assertEquals(10, s[7], "additional sense length");
    assertEquals(0x1d, s[12]);
    assertEquals(0x00, s[13]);
  }

  @Test
  void unknownOpcodeAndOutOfRange() {
    ScsiResult r = run(new byte[] {(byte) 0xc1}, null, "n");
    assertEquals(ScsiResult.CHECK_CONDITION, r.status());
    assertEquals(0x70, r.sense()[0]);
    assertEquals(Sense.ILLEGAL_REQUEST, r.sense()[2]);
    assertEquals(0x20, r.sense()[12]);
    byte[] read = ByteBuffer.allocate(10).put(0, (byte) 0x28).putInt(2, (8 << 20) / 512).putShort(7, (short) 1)
        .array();
    ScsiResult oor = run(read, null, "n");
    assertEquals(0x21, oor.sense()[12], "LBA OUT OF RANGE");
  }

  @Test
  void writeSameUnmapAndReservations() throws Exception {
    byte[] ones = new byte[4096];
    java.util.Arrays.fill(ones, (byte) 0xff);
    byte[] w = ByteBuffer.allocate(10).put(0, (byte) 0x2a).putShort(7, (short) 8).array();
    assertEquals(ScsiResult.GOOD, run(w, ones, "a").status());
    byte[] ws = ByteBuffer.allocate(10).put(0, (byte) 0x41).put(1, (byte) 0x08).putShort(7, (short) 8).array();
    assertEquals(ScsiResult.GOOD, run(ws, new byte[512], "a").status());
    assertArrayEquals(new byte[4096], TestEngines.read(lu.volume(), 0, 4096), "unmapped blocks read as zeros");
    byte[] reserve6 = {0x16, 0, 0, 0, 0, 0};
    assertEquals(ScsiResult.GOOD, run(reserve6, null, "a").status());
    assertEquals(ScsiResult.RESERVATION_CONFLICT, run(w, ones, "b").status());
    assertEquals(ScsiResult.GOOD, run(new byte[] {0x12, 0, 0, 0, 96, 0}, null, "b").status(), "INQUIRY is always allowed");
    lu.reservations().nexusLost("a");
    assertEquals(ScsiResult.GOOD, run(w, ones, "b").status());
  }

  /** A vDisk the engine holds offline: every I/O fails with VolumeOfflineException. */
  private static class OfflineVolume implements BlockVolume {
    @Override
    public String name() {
      return "off";
    }

    @Override
    public java.util.UUID id() {
      return new java.util.UUID(7, 7);
    }

    @Override
    public long sizeBytes() {
      return 8L << 20;
    }

    @Override
    public int blockSize() {
      return 512;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws java.io.IOException {
      throw new org.vsa.volume.VolumeOfflineException("off", "its DTL is unreachable");
    }

    @Override
    public void write(long offset, ByteBuffer src, org.vsa.volume.Durability d) throws java.io.IOException {
      throw new org.vsa.volume.VolumeOfflineException("off", "its DTL is unreachable");
    }

    @Override
    public void flush() throws java.io.IOException {
      throw new org.vsa.volume.VolumeOfflineException("off", "its DTL is unreachable");
    }

    @Override
    public void unmap(long offset, long length) throws java.io.IOException {
      throw new org.vsa.volume.VolumeOfflineException("off", "its DTL is unreachable");
    }

    @Override
    public boolean ready() {
      return false;
    }
  }

  @Test
  void anOfflineVdiskAnswersNotReadyManualInterventionRequired() {
    lu = new LogicalUnit("iqn.2026-11.org.vsa:test", 1, new OfflineVolume(), null);
    byte[] read10 = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0};
    byte[] write10 = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    byte[] sync = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    byte[] tur = new byte[6];
    for (byte[] cdb : List.of(tur, read10, write10, sync)) {
      ScsiResult r = cdb == read10
          ? Commands.execute(new ScsiRequest(java.util.Arrays.copyOf(cdb, 16), lu, List.of(0), new byte[0], 4096, "n"))
          : run(cdb, cdb == write10 ? new byte[512] : null, "n");
      assertEquals(ScsiResult.CHECK_CONDITION, r.status(), "opcode 0x" + Integer.toHexString(cdb[0]));
      assertEquals(Sense.NOT_READY, r.sense()[2] & 0x0f);
      assertEquals(0x04, r.sense()[12] & 0xff, "ASC: LOGICAL UNIT NOT READY");
      assertEquals(0x03, r.sense()[13] & 0xff, "ASCQ: MANUAL INTERVENTION REQUIRED");
    }
    // INQUIRY still answers: the LUN is there
    assertEquals(ScsiResult.GOOD, run(new byte[] {0x12, 0, 0, 0, 36, 0}, null, "n").status());
  }

  @Test
  void aVdiskFencedOnThisNodeAnswersNotReadyAsymmetricAccessStateTransition() {
    BlockVolume fenced = new OfflineVolume() {
      @Override
      public void write(long offset, ByteBuffer src, org.vsa.volume.Durability d) throws java.io.IOException {
        throw new org.vsa.volume.VolumeFencedException("off", "its ownership lease ran out");
      }

      @Override
      public void flush() throws java.io.IOException {
        throw new org.vsa.volume.VolumeFencedException("off", "its ownership lease ran out");
      }

      @Override
      public boolean ready() {
        return true;
      }
    };
    lu = new LogicalUnit("iqn.2026-11.org.vsa:test", 1, fenced, null);
    byte[] write10 = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    byte[] sync = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (byte[] cdb : List.of(write10, sync)) {
      ScsiResult r = run(cdb, cdb == write10 ? new byte[512] : null, "n");
      assertEquals(ScsiResult.CHECK_CONDITION, r.status(), "opcode 0x" + Integer.toHexString(cdb[0]));
      assertEquals(Sense.NOT_READY, r.sense()[2] & 0x0f, "not a MEDIUM ERROR: initiators retry");
      assertEquals(0x04, r.sense()[12] & 0xff, "ASC: LOGICAL UNIT NOT ACCESSIBLE");
      assertEquals(0x0a, r.sense()[13] & 0xff, "ASCQ: ASYMMETRIC ACCESS STATE TRANSITION");
    }
  }
}
