package org.vsa.iscsi.scsi;

/** MODE SELECT(6) 0x15 and (10) 0x55: only the caching page's WCE bit can change. */
final class ModeSelect implements ScsiCommand {
  private final boolean ten;

  ModeSelect(boolean ten) {
    this.ten = ten;
  }

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return ten ? r.u16(7) : r.u8(4);
  }

  @Override
  public ScsiResult execute(ScsiRequest r) {
    int flags = r.u8(1);
    if ((flags & 0x01) != 0) {
      return ScsiResult.illegal(Sense.SAVING_PARAMETERS_NOT_SUPPORTED); // SP
    }
    int len = ten ? r.u16(7) : r.u8(4);
    byte[] p = r.dataOut();
    if (len == 0) {
      return ScsiResult.good();
    }
    if (p.length < len) {
      return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    int hdr = ten ? 8 : 4;
    if (len < hdr) {
      return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    int bdLen = ten ? ((p[6] & 0xff) << 8) | (p[7] & 0xff) : p[3] & 0xff;
    int o = hdr + bdLen;
    while (o + 2 <= len) {
      int code = p[o] & 0x3f;
      int plen = p[o + 1] & 0xff;
      if (o + 2 + plen > len) {
        return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
      }
      if (code == ModeSense.CACHING && plen == 0x12) {
        r.lu().writeCacheEnabled = (p[o + 2] & 0x04) != 0;
      } else if (code != ModeSense.CONTROL && code != ModeSense.INFO_EXCEPTIONS) {
        return ScsiResult.illegal(Sense.INVALID_FIELD_IN_PARAMETER_LIST);
      }
      o += 2 + plen;
    }
    return ScsiResult.good();
  }
}
