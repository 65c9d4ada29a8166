package org.vsa.iscsi.scsi;

/** Where the LBA, transfer length and flags of the READ/WRITE-style CDBs live. */
enum Cdb {
  SIX, TEN, TWELVE, SIXTEEN;

  long lba(ScsiRequest r) {
    return switch (this) {
      case SIX -> r.u24(1) & 0x1fffff;
      case TEN, TWELVE -> r.u32(2);
      case SIXTEEN -> r.u64(2);
    };
  }

  long blocks(ScsiRequest r) {
    return switch (this) {
      case SIX -> r.u8(4) == 0 ? 256 : r.u8(4);
      case TEN -> r.u16(7);
      case TWELVE -> r.u32(6);
      case SIXTEEN -> r.u32(10);
    };
  }

  /** RDPROTECT / WRPROTECT / VRPROTECT (byte 1 bits 7..5); CDBs of six bytes have none. */
  int protect(ScsiRequest r) {
    return this == SIX ? 0 : r.u8(1) >>> 5;
  }

  /**
   * Byte of the transfer length field, for the field pointer of INVALID FIELD IN CDB (as the
   * handlers have always reported it, 7 also for six-byte CDBs).
   */
  int lengthField() {
    return this == SIXTEEN ? 10 : this == TWELVE ? 6 : 7;
  }

  boolean fua(ScsiRequest r) {
    return this != SIX && (r.u8(1) & 0x08) != 0;
  }
}
