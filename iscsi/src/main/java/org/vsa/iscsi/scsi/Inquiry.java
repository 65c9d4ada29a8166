package org.vsa.iscsi.scsi;

import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * INQUIRY (0x12): standard data and the VPD pages 0x00, 0x80 (unit serial = the vDisk id),
 * 0x83 (NAA-6 from the vDisk id, stable across restarts; target port and target name),
 * 0xb0 (block limits), 0xb1 (non-rotating), 0xb2 (thin provisioning, UNMAP and WRITE SAME). The
 * standard data sets 3PC: EXTENDED COPY (LID1) with RECEIVE COPY RESULTS, what ESXi's XCOPY checks.
 */
final class Inquiry implements ScsiCommand {
  static final String VENDOR = "VSA";
  static final String PRODUCT = "vDisk";
  static final String REVISION = "0001";
  private static final int[] PAGES = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
  /** IEEE company id in the NAA designator (the one LIO uses would mislead; this is locally chosen). */
  private static final long OUI = 0x0a5a00L;

  @Override
  public ScsiResult execute(ScsiRequest r) {
    boolean evpd = (r.u8(1) & 0x01) != 0;
    if ((r.u8(1) & 0x02) != 0) {
      return ScsiResult.invalidField(1); // CMDDT is obsolete
    }
    int page = r.u8(2);
    int alloc = r.u16(3);
    if (!evpd) {
      return page != 0 ? ScsiResult.invalidField(2) : ScsiResult.data(standard(0x00), alloc);
    }
    byte[] d = switch (page) {
      case 0x00 -> supportedPages();
      case 0x80 -> serial(r.lu());
      case 0x83 -> identification(r.lu());
      case 0xb0 -> blockLimits(r);
      case 0xb1 -> characteristics();
      case 0xb2 -> provisioning();
      default -> null;
    };
    return d == null ? ScsiResult.invalidField(2) : ScsiResult.data(d, alloc);
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }

  /** INQUIRY to a LUN that is not configured: peripheral qualifier 3, device type 0x1f. */
  static ScsiResult noLun(ScsiRequest r) {
    if ((r.u8(1) & 0x01) != 0 || r.u8(2) != 0) {
      return ScsiResult.illegal(Sense.LOGICAL_UNIT_NOT_SUPPORTED);
    }
    return ScsiResult.data(standard(0x7f), r.u16(3));
  }

  private static byte[] standard(int peripheral) {
    byte[] d = new byte[96];
    d[0] = (byte) peripheral;
    d[2] = 0x06; // SPC-4
    d[3] = 0x12; // HiSup, response data format 2
    d[4] = (byte) (d.length - 5);
    d[5] = 0x08; // 3PC: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS
    d[7] = 0x02; // CmdQue
    Bytes.ascii(d, 8, 8, VENDOR);
    Bytes.ascii(d, 16, 16, PRODUCT);
    Bytes.ascii(d, 32, 4, REVISION);
    Bytes.be16(d, 58, 0x00a0); // SAM-5
    Bytes.be16(d, 60, 0x0960); // iSCSI
    Bytes.be16(d, 62, 0x0460); // SPC-4
    Bytes.be16(d, 64, 0x04c0); // SBC-3
    return d;
  }

  private static byte[] page(int code, int payloadBytes) {
    byte[] d = new byte[4 + payloadBytes];
    d[1] = (byte) code;
    Bytes.be16(d, 2, payloadBytes);
    return d;
  }

  private static byte[] supportedPages() {
    byte[] d = page(0x00, PAGES.length);
    for (int i = 0; i < PAGES.length; i++) {
      d[4 + i] = (byte) PAGES[i];
    }
    return d;
  }

  static String serialOf(LogicalUnit lu) {
    return lu.volume().id().toString().replace("-", "");
  }

  private static byte[] serial(LogicalUnit lu) {
    byte[] s = serialOf(lu).getBytes(StandardCharsets.US_ASCII);
    byte[] d = page(0x80, s.length);
    System.arraycopy(s, 0, d, 4, s.length);
    return d;
  }

  /** NAA-6 (registered extended): 4-bit NAA, 24-bit company id, then 100 bits from the vDisk id. */
  static byte[] naa(UUID id) {
    byte[] n = new byte[16];
    long hi = (6L << 60) | (OUI << 36) | (id.getMostSignificantBits() >>> 28);
    long lo = (id.getMostSignificantBits() << 36) ^ id.getLeastSignificantBits();
    Bytes.be64(n, 0, hi);
    Bytes.be64(n, 8, lo);
    return n;
  }

  private static byte[] identification(LogicalUnit lu) {
    byte[] naa = naa(lu.volume().id());
    byte[] t10 = new byte[8 + 32];
    Bytes.ascii(t10, 0, 8, VENDOR);
    Bytes.ascii(t10, 8, 32, serialOf(lu));
    byte[] name = (lu.targetIqn() + ",t,0x1").getBytes(StandardCharsets.UTF_8);
    int nameLen = (name.length + 1 + 3) & ~3; // null-terminated, multiple of 4
    int len = (4 + naa.length) + (4 + t10.length) + (4 + 4) + (4 + 4) + (4 + nameLen);
    byte[] d = page(0x83, len);
    int o = 4;
    o = designator(d, o, 0x01, 0x03, naa); // LU, binary, NAA
    o = designator(d, o, 0x02, 0x01, t10); // LU, ASCII, T10 vendor id
    o = designator(d, o, 0x01 | 0x50 << 8, 0x14, new byte[] {0, 0, 0, 1}); // target port: relative port 1
    o = designator(d, o, 0x01 | 0x50 << 8, 0x15, new byte[] {0, 0, 0, 0}); // target port group 0
    byte[] padded = new byte[nameLen];
    System.arraycopy(name, 0, padded, 0, name.length);
    designator(d, o, 0x03 | 0x50 << 8, 0x18, padded); // target port, UTF-8, SCSI name string
    return d;
  }

  /**
   * @param codeSet low byte: code set; second byte: protocol identifier << 4 | PIV (0x5 = iSCSI, 0x50 >> 4)
   * @param assocType association << 4 | designator type
   */
  private static int designator(byte[] d, int o, int codeSet, int assocType, byte[] value) {
    int protocol = (codeSet >>> 8) & 0xff;
    d[o] = (byte) (((protocol >>> 4) << 4) | (codeSet & 0x0f));
    d[o + 1] = (byte) ((protocol != 0 ? 0x80 : 0) | assocType);
    d[o + 3] = (byte) value.length;
    System.arraycopy(value, 0, d, o + 4, value.length);
    return o + 4 + value.length;
  }

  private static byte[] blockLimits(ScsiRequest r) {
    int bs = r.blockSize();
    byte[] d = page(0xb0, 0x3c);
    d[4] = 0; // WSNZ = 0? no: set below
    d[4] = 0x01; // WSNZ: WRITE SAME with zero blocks is not supported
    d[5] = (byte) CompareAndWrite.MAX_BLOCKS;
    int clusterBlocks = Math.max(1, 4096 / bs);
    Bytes.be16(d, 6, clusterBlocks);
    Bytes.be32(d, 8, Read.MAX_TRANSFER_BYTES / bs);
    Bytes.be32(d, 12, Math.min(Read.MAX_TRANSFER_BYTES, 1 << 20) / bs);
    Bytes.be32(d, 20, Unmap.MAX_BLOCKS);
    Bytes.be32(d, 24, Unmap.MAX_DESCRIPTORS);
    Bytes.be32(d, 28, clusterBlocks);
    Bytes.be32(d, 32, 0x80000000L); // UGAVALID, alignment 0
    Bytes.be64(d, 36, WriteSame.maxBlocks(bs));
    return d;
  }

  private static byte[] characteristics() {
    byte[] d = page(0xb1, 0x3c);
    Bytes.be16(d, 4, 1); // non-rotating medium
    d[7] = 0x00;
    return d;
  }

  private static byte[] provisioning() {
    byte[] d = page(0xb2, 4);
    d[5] = (byte) (0x80 | 0x40 | 0x20 | 0x04); // LBPU, LBPWS, LBPWS10, LBPRZ
    d[6] = 0x02; // thin provisioned
    return d;
  }
}
