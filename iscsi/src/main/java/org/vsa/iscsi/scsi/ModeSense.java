package org.vsa.iscsi.scsi;

import java.io.ByteArrayOutputStream;

/**
 * MODE SENSE(6) 0x1a and (10) 0x5a: the caching page (0x08, WCE changeable through MODE
 * SELECT), the control page (0x0a) and the informational exceptions page (0x1c).
 */
final class ModeSense implements ScsiCommand {
  static final int CACHING = 0x08;
  static final int CONTROL = 0x0a;
  static final int INFO_EXCEPTIONS = 0x1c;
  static final int ALL = 0x3f;

  private final boolean ten;

  ModeSense(boolean ten) {
    this.ten = ten;
  }

  @Override
  public ScsiResult execute(ScsiRequest r) {
    boolean dbd = (r.u8(1) & 0x08) != 0;
    boolean llbaa = ten && (r.u8(1) & 0x10) != 0;
    int pc = r.u8(2) >>> 6;
    int page = r.u8(2) & 0x3f;
    int subpage = r.u8(3);
    int alloc = ten ? r.u16(7) : r.u8(4);
    if (pc == 3) {
      return ScsiResult.illegal(Sense.SAVING_PARAMETERS_NOT_SUPPORTED);
    }
    if (subpage != 0 && !(page == ALL && subpage == 0xff)) {
      return ScsiResult.invalidField(3);
    }
    ByteArrayOutputStream pages = new ByteArrayOutputStream();
    if (page == CACHING || page == ALL) {
      pages.writeBytes(caching(r.lu(), pc));
    }
    if (page == CONTROL || page == ALL) {
      pages.writeBytes(control(pc));
    }
    if (page == INFO_EXCEPTIONS || page == ALL) {
      pages.writeBytes(infoExceptions(pc));
    }
    if (pages.size() == 0) {
      return ScsiResult.invalidField(2);
    }
    byte[] bd = dbd ? new byte[0] : blockDescriptor(r, llbaa);
    int hdr = ten ? 8 : 4;
    byte[] d = new byte[hdr + bd.length + pages.size()];
    if (ten) {
      Bytes.be16(d, 0, d.length - 2);
      d[3] = 0x10; // DPOFUA
      d[4] = (byte) (llbaa && bd.length > 0 ? 0x01 : 0);
      Bytes.be16(d, 6, bd.length);
    } else {
      d[0] = (byte) (d.length - 1);
      d[2] = 0x10; // DPOFUA
      d[3] = (byte) bd.length;
    }
    System.arraycopy(bd, 0, d, hdr, bd.length);
    System.arraycopy(pages.toByteArray(), 0, d, hdr + bd.length, pages.size());
    return ScsiResult.data(d, alloc);
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.READ;
  }

  private static byte[] blockDescriptor(ScsiRequest r, boolean longLba) {
    long blocks = r.blocks();
    if (longLba) {
      byte[] bd = new byte[16];
      Bytes.be64(bd, 0, blocks);
      Bytes.be32(bd, 12, r.blockSize());
      return bd;
    }
    byte[] bd = new byte[8];
    Bytes.be32(bd, 0, Math.min(blocks, 0xffffffffL));
    Bytes.be32(bd, 4, r.blockSize() & 0xffffff);
    return bd;
  }

  static byte[] caching(LogicalUnit lu, int pc) {
    byte[] p = new byte[20];
    p[0] = CACHING;
    p[1] = 0x12;
    if (pc == 1) {
      p[2] = 0x04; // WCE is changeable
    } else if (pc == 2) {
      p[2] = 0x04;
    } else {
      p[2] = (byte) (lu.writeCacheEnabled ? 0x04 : 0);
    }
    return p;
  }

  static byte[] control(int pc) {
    byte[] p = new byte[12];
    p[0] = CONTROL;
    p[1] = 0x0a;
    if (pc != 1) {
      p[3] = 0x10; // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
      Bytes.be16(p, 10, 0xffff); // extended self-test completion time: not applicable
      Bytes.be16(p, 10, 0);
    }
    return p;
  }

  static byte[] infoExceptions(int pc) {
    byte[] p = new byte[12];
    p[0] = INFO_EXCEPTIONS;
    p[1] = 0x0a;
    return p;
  }
}
