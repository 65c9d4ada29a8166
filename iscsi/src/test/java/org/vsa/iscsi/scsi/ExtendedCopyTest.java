package org.vsa.iscsi.scsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;
import org.vsa.volume.VolumeSpec;

/**
 * EXTENDED COPY (LID1) and RECEIVE COPY RESULTS called directly, the way ESXi's XCOPY sends them:
 * identification target descriptors (0xE4) with the LUs' NAA designators, block to block
 * segments (0x02). LUN 0 has 512-byte blocks, LUN 1 4 KiB blocks.
 */
class ExtendedCopyTest {
  static final long SIZE = 8L << 20;

  @TempDir
  Path dir;
  Engine engine;
  LogicalUnit lu0;
  LogicalUnit lu1;

  @BeforeEach
  void start() throws Exception {
    engine = TestEngines.start(dir);
    BlockVolume a = engine.create(TestEngines.spec("a", SIZE));
    BlockVolume b = engine.create(new VolumeSpec("b", "default", SIZE, 4096, VolumeSpec.SCO_SIZE_MIN,
        CachePolicy.ON_READ));
    lu0 = new LogicalUnit("iqn.2026-11.org.vsa:test", 0, a, null);
    lu1 = new LogicalUnit("iqn.2026-11.org.vsa:test", 1, b, null);
  }

  @AfterEach
  void stop() throws Exception {
    engine.close();
  }

  private ScsiResult run(LogicalUnit lu, byte[] cdb, byte[] dataOut, String nexus) {
    byte[] c = java.util.Arrays.copyOf(cdb, 16);
    byte[] d = dataOut == null ? new byte[0] : dataOut;
    return Commands.execute(new ScsiRequest(c, lu, List.of(0, 1), d, d.length, nexus, Map.of(0, lu0, 1, lu1)));
  }

  private ScsiResult xcopy(byte[] params) {
    return run(lu0, xcopyCdb(params.length), params, "n");
  }

  static byte[] xcopyCdb(int paramLength) {
    byte[] c = new byte[16];
    c[0] = (byte) 0x83;
    ByteBuffer.wrap(c).putInt(10, paramLength);
    return c;
  }

  static byte[] rcrCdb(int serviceAction, int listId, int alloc) {
    byte[] c = new byte[16];
    c[0] = (byte) 0x84;
    c[1] = (byte) serviceAction;
    c[2] = (byte) listId;
    ByteBuffer.wrap(c).putInt(10, alloc);
    return c;
  }

  /** A 0xE4 target descriptor: LU association, binary code set, NAA designator, disk block length. */
  static byte[] target(byte[] naa, int blockLength) {
    ByteBuffer t = ByteBuffer.allocate(32);
    t.put(0, (byte) 0xe4);
    t.put(4, (byte) 0x01);
    t.put(5, (byte) 0x03);
    t.put(7, (byte) naa.length);
    t.put(8, naa);
    t.putInt(28, blockLength & 0xffffff);
    return t.array();
  }

  static byte[] segment(int src, int dst, int blocks, long srcLba, long dstLba, boolean dc) {
    ByteBuffer s = ByteBuffer.allocate(28);
    s.put(0, (byte) 0x02);
    s.put(1, (byte) (dc ? 0x02 : 0));
    s.putShort(2, (short) 24);
    s.putShort(4, (short) src);
    s.putShort(6, (short) dst);
    s.putShort(10, (short) blocks);
    s.putLong(12, srcLba);
    s.putLong(20, dstLba);
    return s.array();
  }

  /** Parameter list: header (LIST ID USAGE as given), the targets, the segments. */
  static byte[] params(int listId, int usage, List<byte[]> targets, List<byte[]> segments) {
    ByteArrayOutputStream t = new ByteArrayOutputStream();
    targets.forEach(t::writeBytes);
    ByteArrayOutputStream s = new ByteArrayOutputStream();
    segments.forEach(s::writeBytes);
    ByteBuffer p = ByteBuffer.allocate(16 + t.size() + s.size());
    p.put(0, (byte) listId);
    p.put(1, (byte) (usage << 3));
    p.putShort(2, (short) t.size());
    p.putInt(8, s.size());
    p.put(16, t.toByteArray());
    p.put(16 + t.size(), s.toByteArray());
    return p.array();
  }

  byte[] naa(LogicalUnit lu) {
    return Inquiry.naa(lu.volume().id());
  }

  static void assertSense(ScsiResult r, int key, int ascq) {
    assertEquals(ScsiResult.CHECK_CONDITION, r.status());
    assertEquals(0x70, r.sense()[0] & 0x7f, "fixed format, current");
    assertEquals(key, r.sense()[2] & 0x0f, "sense key");
    assertEquals(ascq, ((r.sense()[12] & 0xff) << 8) | (r.sense()[13] & 0xff), "ASC/ASCQ");
  }

  @Test
  void copiesBetweenLunsOfDifferentBlockSizesInChunks() throws Exception {
    byte[] data = TestEngines.pattern(1, 3 << 20); // 3 MiB: several 1 MiB chunks
    TestEngines.write(lu0.volume(), 100 * 512, data, Durability.BUFFERED);
    // 6144 blocks of 512 from LBA 100 of LUN 0 to LBA 10 (4 KiB blocks) of LUN 1; then, counted in
    // destination blocks (DC = 1), the first 64 KiB again to LBA 1000 of LUN 1.
    byte[] p = params(0, 3, List.of(target(naa(lu0), 512), target(naa(lu1), 4096)),
        List.of(segment(0, 1, 6144, 100, 10, false), segment(0, 1, 16, 100, 1000, true)));
    assertEquals(ScsiResult.GOOD, xcopy(p).status());
    assertArrayEquals(data, TestEngines.read(lu1.volume(), 10 * 4096, data.length));
    assertArrayEquals(java.util.Arrays.copyOf(data, 65536), TestEngines.read(lu1.volume(), 1000L * 4096, 65536));
    // And back, sent to LUN 1 (any LU of the target can be the copy manager).
    byte[] back = params(0, 3, List.of(target(naa(lu1), 0), target(naa(lu0), 0)),
        List.of(segment(0, 1, 768, 10, 9000, false)));
    assertEquals(ScsiResult.GOOD, run(lu1, xcopyCdb(back.length), back, "n").status());
    assertArrayEquals(data, TestEngines.read(lu0.volume(), 9000L * 512, data.length));
  }

  @Test
  void copiesWithinOneLunAlsoWhenTheRangesOverlap() throws Exception {
    byte[] data = TestEngines.pattern(2, 5 << 19); // 2.5 MiB = 5120 blocks
    TestEngines.write(lu0.volume(), 0, data, Durability.BUFFERED);
    // Destination above the source and overlapping it: a forward chunked copy would re-read copied data.
    byte[] up = params(0, 3, List.of(target(naa(lu0), 512)), List.of(segment(0, 0, 5120, 0, 1000, false)));
    assertEquals(ScsiResult.GOOD, xcopy(up).status());
    assertArrayEquals(data, TestEngines.read(lu0.volume(), 1000 * 512, data.length));
    // Destination below the source, overlapping.
    byte[] down = params(0, 3, List.of(target(naa(lu0), 512)), List.of(segment(0, 0, 5120, 1000, 10, false)));
    assertEquals(ScsiResult.GOOD, xcopy(down).status());
    assertArrayEquals(data, TestEngines.read(lu0.volume(), 10 * 512, data.length));
  }

  @Test
  void descriptorAndRangeErrors() throws Exception {
    byte[] t0 = target(naa(lu0), 512);
    byte[] seg = segment(0, 0, 8, 0, 100, false);
    // Parameter list length 0: nothing to do.
    assertEquals(ScsiResult.GOOD, run(lu0, xcopyCdb(0), null, "n").status());
    // A NAA that is no LU of this target.
    byte[] stranger = new byte[16];
    stranger[0] = 0x60;
    assertSense(xcopy(params(0, 3, List.of(target(stranger, 512)), List.of(seg))), Sense.COPY_ABORTED, 0x0804);
    // A segment naming a target descriptor that is not there.
    assertSense(xcopy(params(0, 3, List.of(t0), List.of(segment(0, 1, 8, 0, 100, false)))), Sense.COPY_ABORTED,
        0x0804);
    // Unsupported target descriptor (Fibre Channel N_Port_Name, 0xE0) and segment descriptor types.
    byte[] fc = t0.clone();
    fc[0] = (byte) 0xe0;
    assertSense(xcopy(params(0, 3, List.of(fc), List.of(seg))), Sense.ILLEGAL_REQUEST, 0x2607);
    byte[] streamToStream = seg.clone();
    streamToStream[0] = 0x03;
    assertSense(xcopy(params(0, 3, List.of(t0), List.of(streamToStream))), Sense.ILLEGAL_REQUEST, 0x2609);
    // Too many target descriptors.
    assertSense(xcopy(params(0, 3, java.util.Collections.nCopies(17, t0), List.of(seg))), Sense.ILLEGAL_REQUEST,
        0x2606);
    // Too many segment descriptors.
    assertSense(xcopy(params(0, 3, List.of(t0), java.util.Collections.nCopies(65, seg))), Sense.ILLEGAL_REQUEST,
        0x2608);
    // Truncated parameter list.
    byte[] whole = params(0, 3, List.of(t0), List.of(seg));
    byte[] cut = java.util.Arrays.copyOf(whole, whole.length - 1);
    assertSense(xcopy(cut), Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
    // LIST ID USAGE 01b is reserved: INVALID FIELD IN PARAMETER LIST pointing at byte 1.
    ScsiResult reserved = xcopy(params(0, 1, List.of(t0), List.of(seg)));
    assertSense(reserved, Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_PARAMETER_LIST);
    assertEquals(0x80, reserved.sense()[15] & 0xff, "SKSV, C/D = 0 (parameter list)");
    assertEquals(1, reserved.sense()[17]);
    // A disk block length that is not the LU's.
    assertSense(xcopy(params(0, 3, List.of(target(naa(lu0), 4096)), List.of(seg))), Sense.ILLEGAL_REQUEST,
        Sense.INVALID_FIELD_IN_PARAMETER_LIST);
    // Not a block device (peripheral device type 1).
    byte[] tape = t0.clone();
    tape[1] = 0x01;
    assertSense(xcopy(params(0, 3, List.of(tape), List.of(seg))), Sense.ILLEGAL_REQUEST,
        Sense.INVALID_FIELD_IN_PARAMETER_LIST);
  }

  @Test
  void outOfRangeIsCheckedBeforeAnythingIsCopied() throws Exception {
    byte[] data = TestEngines.pattern(3, 4096);
    TestEngines.write(lu0.volume(), 0, data, Durability.BUFFERED);
    long lastLba = SIZE / 512 - 1;
    // The first segment is fine, the second runs past the end of the destination.
    byte[] p = params(0, 3, List.of(target(naa(lu0), 512)),
        List.of(segment(0, 0, 8, 0, 64, false), segment(0, 0, 8, 0, lastLba, false)));
    ScsiResult r = xcopy(p);
    assertSense(r, Sense.COPY_ABORTED, Sense.NO_ADDITIONAL_SENSE);
    byte[] s = r.sense();
    assertEquals(36, s.length);
    assertEquals(28, s[7], "additional sense length");
    assertEquals(0, s[8], "no source sense data");
    assertEquals(18, s[9], "destination sense data at byte 18");
    assertEquals(1, ByteBuffer.wrap(s).getShort(10), "segment number");
    assertEquals(0x80, s[15] & 0xff);
    assertEquals(16 + 32 + 28 + 20, ByteBuffer.wrap(s).getShort(16), "field pointer: the destination LBA");
    assertEquals(Sense.ILLEGAL_REQUEST, s[18 + 2], "the copy target's sense key");
    assertEquals(0x21, s[18 + 12], "LOGICAL BLOCK ADDRESS OUT OF RANGE");
    assertArrayEquals(new byte[4096], TestEngines.read(lu0.volume(), 64 * 512, 4096), "nothing was copied");
    // Source beyond the end.
    ScsiResult src = xcopy(params(0, 3, List.of(target(naa(lu0), 512)), List.of(segment(0, 0, 8, lastLba, 0,
        false))));
    assertEquals(18, src.sense()[8], "source sense data at byte 18");
    assertEquals(0x21, src.sense()[18 + 12]);
  }

  @Test
  void operatingParameters() {
    ScsiResult r = run(lu0, rcrCdb(0x03, 0, 1024), null, "n");
    assertEquals(ScsiResult.GOOD, r.status());
    ByteBuffer d = ByteBuffer.wrap(r.dataIn(), 0, r.dataInLength());
    assertEquals(46, r.dataInLength());
    assertEquals(42, d.getInt(0), "available data");
    assertEquals(0x01, d.get(4) & 0x01, "SNLID");
    assertEquals(ExtendedCopy.MAX_TARGET_DESCRIPTORS, d.getShort(8));
    assertEquals(ExtendedCopy.MAX_SEGMENT_DESCRIPTORS, d.getShort(10));
    assertEquals(ExtendedCopy.MAX_DESCRIPTOR_LIST_BYTES, d.getInt(12));
    assertEquals(ExtendedCopy.MAX_SEGMENT_BYTES, d.getInt(16) & 0xffffffffL);
    assertEquals(0, d.getInt(20), "no inline data");
    assertEquals(0, d.getInt(24), "no held data");
    assertEquals(9, d.get(37), "data segment granularity: 512-byte blocks");
    assertEquals(2, d.get(43), "implemented descriptor list length");
    assertEquals(0x02, d.get(44) & 0xff, "block to block segments");
    assertEquals(0xe4, d.get(45) & 0xff, "identification target descriptors");
    // Allocation length honoured; unknown service action refused.
    assertEquals(8, run(lu0, rcrCdb(0x03, 0, 8), null, "n").dataInLength());
    assertSense(run(lu0, rcrCdb(0x01, 0, 1024), null, "n"), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
  }

  @Test
  void copyStatusAndFailedSegmentDetails() throws Exception {
    // No copy with this list identifier yet.
    assertSense(run(lu0, rcrCdb(0x00, 7, 1024), null, "n"), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
    byte[] ok = params(7, 2, List.of(target(naa(lu0), 512), target(naa(lu1), 4096)),
        List.of(segment(0, 1, 8, 0, 0, false), segment(0, 1, 16, 0, 10, false)));
    assertEquals(ScsiResult.GOOD, xcopy(ok).status());
    ScsiResult st = run(lu0, rcrCdb(0x00, 7, 1024), null, "n");
    assertEquals(ScsiResult.GOOD, st.status());
    ByteBuffer d = ByteBuffer.wrap(st.dataIn());
    assertEquals(8, d.getInt(0));
    assertEquals(0x00, d.get(4) & 0x7f, "completed without errors");
    assertEquals(2, d.getShort(5), "segments processed");
    assertEquals(0, d.get(7), "transfer count in bytes");
    assertEquals(24 * 512, d.getInt(8));
    // Only the nexus that sent it sees it.
    assertSense(run(lu0, rcrCdb(0x00, 7, 1024), null, "other"), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
    ScsiResult none = run(lu0, rcrCdb(0x04, 7, 1024), null, "n");
    assertEquals(60, none.dataInLength());
    assertEquals(0, none.dataIn()[57], "GOOD");
    assertEquals(0, ByteBuffer.wrap(none.dataIn()).getShort(58), "no sense data");

    // A failing copy with the same list identifier replaces it.
    byte[] bad = params(7, 0, List.of(target(naa(lu0), 512)), List.of(segment(0, 3, 8, 0, 0, false)));
    assertSense(xcopy(bad), Sense.COPY_ABORTED, Sense.UNREACHABLE_COPY_TARGET);
    ByteBuffer f = ByteBuffer.wrap(run(lu0, rcrCdb(0x00, 7, 1024), null, "n").dataIn());
    assertEquals(0x01, f.get(4) & 0x7f, "completed with errors");
    assertEquals(0, f.getShort(5));
    ScsiResult details = run(lu0, rcrCdb(0x04, 7, 1024), null, "n");
    ByteBuffer fd = ByteBuffer.wrap(details.dataIn());
    assertEquals(ScsiResult.CHECK_CONDITION, fd.get(57));
    assertEquals(18, fd.getShort(58));
    assertEquals(Sense.COPY_ABORTED, fd.get(60 + 2));
    assertEquals(0x08, fd.get(60 + 12));
    assertEquals(0x04, fd.get(60 + 13));

    // LIST ID USAGE 11b: nothing is kept.
    byte[] anonymous = params(9, 3, List.of(target(naa(lu0), 512)), List.of(segment(0, 0, 8, 0, 8, false)));
    assertEquals(ScsiResult.GOOD, xcopy(anonymous).status());
    assertSense(run(lu0, rcrCdb(0x00, 9, 1024), null, "n"), Sense.ILLEGAL_REQUEST, Sense.INVALID_FIELD_IN_CDB);
  }

  @Test
  void advertisedInInquiryAndReportSupportedOpcodes() {
    ScsiResult inq = run(lu0, new byte[] {0x12, 0, 0, 0, 96, 0}, null, "n");
    assertEquals(0x08, inq.dataIn()[5] & 0x08, "3PC");
    for (int[] opSa : new int[][] {{0x83, 0x00}, {0x84, 0x00}, {0x84, 0x03}, {0x84, 0x04}}) {
      byte[] c = new byte[12];
      c[0] = (byte) 0xa3;
      c[1] = 0x0c;
      c[2] = 0x02; // one command, with service action
      c[3] = (byte) opSa[0];
      c[5] = (byte) opSa[1];
      c[9] = (byte) 0xff;
      ScsiResult r = run(lu0, c, null, "n");
      assertEquals(ScsiResult.GOOD, r.status());
      assertEquals(0x03, r.dataIn()[1] & 0x07, "supported: 0x" + Integer.toHexString(opSa[0]) + "/" + opSa[1]);
    }
    byte[] all = new byte[12];
    all[0] = (byte) 0xa3;
    all[1] = 0x0c;
    ByteBuffer.wrap(all).putInt(6, 8192);
    ScsiResult list = run(lu0, all, null, "n");
    int found = 0;
    for (int o = 4; o < list.dataInLength(); o += 8) {
      int op = list.dataIn()[o] & 0xff;
      if (op == 0x83 || op == 0x84) {
        found++;
        assertEquals(0x01, list.dataIn()[o + 5] & 0x01, "SERVACTV");
      }
    }
    assertEquals(4, found, "0x83/0x00 and 0x84/0x00, 0x03, 0x04 in the full list");
  }

  @Test
  void reservationOnTheDestinationConflicts() {
    assertEquals(ScsiResult.GOOD, run(lu1, new byte[] {0x16, 0, 0, 0, 0, 0}, null, "holder").status());
    byte[] p = params(0, 3, List.of(target(naa(lu0), 512), target(naa(lu1), 4096)),
        List.of(segment(0, 1, 8, 0, 0, false)));
    assertEquals(ScsiResult.RESERVATION_CONFLICT, xcopy(p).status());
    assertTrue(run(lu0, xcopyCdb(p.length), p, "holder").status() == ScsiResult.GOOD);
  }
}
