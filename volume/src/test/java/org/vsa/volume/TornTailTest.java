package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Torn and corrupt tails of the open TLog and SCO, as a crash or a bad disk leaves them:
 * recovery keeps every write before the damage, drops the damaged one and everything after it,
 * and the vDisk goes on working.
 */
class TornTailTest {
  @TempDir Path dir;

  private static final int WRITES = 100;
  private UUID id;

  /** 100 durable 4 KiB writes to clusters 0, 2, 4, ...; then a crash (nothing sealed, nothing uploaded). */
  private void writeAndCrash() throws Exception {
    Engine e = TestEngines.start(dir);
    Volume v = e.create(TestEngines.spec("t", 16 << 20));
    id = v.id();
    for (int i = 0; i < WRITES; i++) {
      TestEngines.write(v, i * 8192L, TestEngines.pattern(i, 4096), Durability.DURABLE);
    }
    e.crash();
  }

  private Path wb(String file) {
    return dir.resolve("writebuffer").resolve("vdisk-" + id).resolve(file);
  }

  /** Restarts and asserts writes [0, kept) are there and [kept, WRITES) read as zeros. */
  private void assertKept(int kept) throws Exception {
    try (Engine e = TestEngines.start(dir)) {
      Volume v = e.volume("t").orElseThrow();
      for (int i = 0; i < WRITES; i++) {
        byte[] want = i < kept ? TestEngines.pattern(i, 4096) : new byte[4096];
        assertArrayEquals(want, TestEngines.read(v, i * 8192L, 4096), "write " + i + " (kept " + kept + ")");
      }
      // history goes on after the damage
      TestEngines.write(v, 8192L * WRITES, TestEngines.pattern(1000, 4096), Durability.DURABLE);
    }
    try (Engine e = TestEngines.start(dir)) {
      assertArrayEquals(TestEngines.pattern(1000, 4096), TestEngines.read(e.volume("t").orElseThrow(), 8192L * WRITES, 4096));
    }
  }

  private static long recordAt(int i) {
    return TLog.HEADER_BYTES + (long) i * TLog.RECORD_BYTES;
  }

  @Test
  void intactTailKeepsEverything() throws Exception {
    writeAndCrash();
    assertKept(WRITES);
  }

  @Test
  void tlogTruncatedInsideTheLastRecord() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      assertEquals(recordAt(WRITES), f.length());
      f.setLength(recordAt(WRITES) - 10);
    }
    assertKept(WRITES - 1);
  }

  @Test
  void tlogTruncatedAtARecordBoundary() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      f.setLength(recordAt(60));
    }
    assertKept(60);
  }

  @Test
  void corruptRecordInTheMiddleStopsHistoryThere() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      f.seek(recordAt(50) + 17); // inside the cluster number
      f.write(f.readByte() ^ 0x40);
    }
    assertKept(50);
  }

  @Test
  void zerosAndGarbageAfterTheLastRecordAreIgnored() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      f.seek(f.length());
      f.write(new byte[4096]);
      f.write(TestEngines.pattern(7, 1000));
    }
    assertKept(WRITES);
  }

  @Test
  void scoTruncatedInsideTheLastCluster() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("sco_00000001").toFile(), "rw")) {
      assertEquals(Layout.slotOffset(WRITES), f.length());
      f.setLength(Layout.slotOffset(WRITES) - 1000);
    }
    assertKept(WRITES - 1);
  }

  @Test
  void corruptScoClusterStopsHistoryAtItsRecord() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("sco_00000001").toFile(), "rw")) {
      f.seek(Layout.slotOffset(70) + 123);
      f.write(f.readByte() ^ 0x01);
    }
    assertKept(70);
  }

  @Test
  void tornTlogHeaderSetsTheWholeTlogAside() throws Exception {
    writeAndCrash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      f.setLength(20);
    }
    assertKept(0);
    Path quarantine = dir.resolve("writebuffer").resolve("vdisk-" + id).resolve("quarantine");
    try (var s = Files.list(quarantine)) {
      assertTrue(s.findAny().isPresent(), "the damaged TLog was set aside, not deleted");
    }
  }

  @Test
  void damageInASealedTlogSetsAsideTheTlogsAfterIt() throws Exception {
    // 1100 clusters: SCO 1 (1024 slots) is sealed, SCO 2 open; the backend refuses uploads
    GatedBackend backend = new GatedBackend(TestEngines.localBackend(dir));
    backend.set(GatedBackend.Mode.FAIL);
    Engine e = Engine.start(TestEngines.config(dir, backend));
    Volume v = e.create(TestEngines.spec("t", 16 << 20));
    id = v.id();
    for (int i = 0; i < 1100; i++) {
      TestEngines.write(v, i * 4096L, TestEngines.pattern(i, 4096), Durability.BUFFERED);
    }
    v.flush();
    e.crash();
    try (RandomAccessFile f = new RandomAccessFile(wb("tlog_00000001").toFile(), "rw")) {
      f.seek(recordAt(500) + 3); // the record type
      f.write(0x7F);
    }
    try (Engine e2 = TestEngines.start(dir)) {
      Volume v2 = e2.volume("t").orElseThrow();
      for (int i = 0; i < 1100; i++) {
        byte[] want = i < 500 ? TestEngines.pattern(i, 4096) : new byte[4096];
        assertArrayEquals(want, TestEngines.read(v2, i * 4096L, 4096), "cluster " + i);
      }
    }
  }
}
