package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.TestEngines;

/**
 * VAAI full copy over iSCSI as ESXi does it: check 3PC, read RECEIVE COPY RESULTS OPERATING
 * PARAMETERS, learn each LU's NAA from VPD 0x83, then EXTENDED COPY (LID1, no list identifier)
 * from LUN 0 to LUN 1 of the same target; the copy is read back over iSCSI.
 */
@org.junit.jupiter.api.extension.ExtendWith(org.vsa.iscsi.LeakCheck.class)
class ExtendedCopyIscsiTest {
  @TempDir
  Path dir;

  @Test
  void fullCopyBetweenTwoLunsOfOneTarget() throws Exception {
    try (TargetFixture f = new TargetFixture(dir, List.of(IscsiConfig.Target.of(TargetFixture.IQN,
        Map.of(0, "demo", 1, "demo2"))))) {
      f.engine.create(TestEngines.spec("demo2", TargetFixture.SIZE_BYTES));
      try (RawInitiator r = new RawInitiator(f.port())) {
        assertEquals(0, r.login(TargetFixture.IQN, IscsiInitiatorTest.ops(false)).u8(36));
        RawInitiator.Result inq = r.scsi(0, new byte[] {0x12, 0, 0, 0, 96, 0}, null, 96);
        assertEquals(0x08, inq.data()[5] & 0x08, "3PC");

        byte[] rcr = new byte[16];
        rcr[0] = (byte) 0x84;
        rcr[1] = 0x03;
        ByteBuffer.wrap(rcr).putInt(10, 1024);
        RawInitiator.Result op = r.scsi(0, rcr, null, 1024);
        assertEquals(0, op.status());
        assertEquals(16, ByteBuffer.wrap(op.data()).getShort(8), "maximum target descriptors");

        byte[] naa0 = naa(r, 0);
        byte[] naa1 = naa(r, 1);

        int blocks = 2560; // 1.25 MiB: more than one 1 MiB chunk
        byte[] data = TestEngines.pattern(7, blocks * 512);
        byte[] w = new byte[10];
        w[0] = 0x2a;
        ByteBuffer.wrap(w).putInt(2, 40).putShort(7, (short) blocks);
        assertEquals(0, r.scsi(0, w, data, 0).status());

        ByteBuffer p = ByteBuffer.allocate(16 + 64 + 28);
        p.put(1, (byte) (3 << 3)); // LIST ID USAGE 11b
        p.putShort(2, (short) 64);
        p.putInt(8, 28);
        putTarget(p, 16, naa0);
        putTarget(p, 48, naa1);
        p.put(80, (byte) 0x02).putShort(82, (short) 24).putShort(84, (short) 0).putShort(86, (short) 1);
        p.putShort(90, (short) blocks).putLong(92, 40).putLong(100, 1000);
        byte[] x = new byte[16];
        x[0] = (byte) 0x83;
        ByteBuffer.wrap(x).putInt(10, p.capacity());
        RawInitiator.Result copied = r.scsi(0, x, p.array(), 0);
        assertEquals(0, copied.status(), "EXTENDED COPY: sense " + Arrays.toString(copied.sense()));

        byte[] rd = new byte[10];
        rd[0] = 0x28;
        ByteBuffer.wrap(rd).putInt(2, 1000).putShort(7, (short) blocks);
        RawInitiator.Result back = r.scsi(1, rd, null, blocks * 512);
        assertEquals(0, back.status());
        assertArrayEquals(data, back.data(), "LUN 1 holds what was written to LUN 0");

        // A NAA of no LU here: COPY ABORTED, UNREACHABLE COPY TARGET.
        putTarget(p, 48, new byte[16]);
        RawInitiator.Result bad = r.scsi(0, x, p.array(), 0);
        assertEquals(0x02, bad.status());
        assertEquals(0x0a, bad.sense()[2] & 0x0f);
        assertEquals(0x08, bad.sense()[12]);
        assertEquals(0x04, bad.sense()[13]);
      }
    }
  }

  private static void putTarget(ByteBuffer p, int o, byte[] naa) {
    p.put(o, (byte) 0xe4).put(o + 4, (byte) 0x01).put(o + 5, (byte) 0x03).put(o + 7, (byte) 16);
    p.put(o + 8, naa);
    p.putInt(o + 28, 512);
  }

  /** The first designator of VPD 0x83 (the NAA, LU association), as ESXi takes it. */
  private static byte[] naa(RawInitiator r, int lun) throws Exception {
    RawInitiator.Result vpd = r.scsi(lun, new byte[] {0x12, 1, (byte) 0x83, 1, 0, 0}, null, 256);
    assertEquals(0, vpd.status());
    byte[] d = vpd.data();
    assertEquals(0x03, d[5] & 0x3f, "LU association, NAA");
    return Arrays.copyOfRange(d, 8, 8 + (d[7] & 0xff));
  }
}
