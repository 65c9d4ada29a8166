package org.vsa.iscsi.scsi;

/** Fixed-format sense data (SPC-4 4.5.3): 18 bytes, response code 0x70 (current error). */
public final class Sense {
  private Sense() {}

  public static final int NO_SENSE = 0x0;
  public static final int NOT_READY = 0x2;
  public static final int MEDIUM_ERROR = 0x3;
  public static final int HARDWARE_ERROR = 0x4;
  public static final int ILLEGAL_REQUEST = 0x5;
  public static final int UNIT_ATTENTION = 0x6;
  public static final int ABORTED_COMMAND = 0xb;
  public static final int COPY_ABORTED = 0xa;
  public static final int MISCOMPARE = 0xe;

  /** ASC << 8 | ASCQ. */
  public static final int INVALID_COMMAND_OPERATION_CODE = 0x2000;
  public static final int LBA_OUT_OF_RANGE = 0x2100;
  public static final int INVALID_FIELD_IN_CDB = 0x2400;
  public static final int LOGICAL_UNIT_NOT_SUPPORTED = 0x2500;
  public static final int INVALID_FIELD_IN_PARAMETER_LIST = 0x2600;
  public static final int INVALID_RELEASE_OF_PERSISTENT_RESERVATION = 0x2604;
  public static final int PARAMETER_LIST_LENGTH_ERROR = 0x1a00;
  public static final int MISCOMPARE_DURING_VERIFY = 0x1d00;
  public static final int WRITE_ERROR = 0x0c00;
  public static final int UNRECOVERED_READ_ERROR = 0x1100;
  public static final int INTERNAL_TARGET_FAILURE = 0x4400;
  /** With NOT READY: the vDisk is offline until an administrator brings it online. */
  public static final int LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED = 0x0403;
  /**
   * With NOT READY: this node no longer owns the vDisk (another node took it over, or is taking
   * it): initiators retry, and find the owner through a new login (redirect) or another path.
   */
  public static final int LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION = 0x040a;
  public static final int SAVING_PARAMETERS_NOT_SUPPORTED = 0x3900;
  public static final int NO_ADDITIONAL_SENSE = 0x0000;
  public static final int DATA_PHASE_ERROR = 0x4b00;
  public static final int UNREACHABLE_COPY_TARGET = 0x0804;
  public static final int OPERATION_IN_PROGRESS = 0x0016;
  public static final int TOO_MANY_TARGET_DESCRIPTORS = 0x2606;
  public static final int UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE = 0x2607;
  public static final int TOO_MANY_SEGMENT_DESCRIPTORS = 0x2608;
  public static final int UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE = 0x2609;

  /** Unit attention after a LUN RESET (SAM-5 table 36). */
  public static final int BUS_DEVICE_RESET_FUNCTION_OCCURRED = 0x2903;
  /** Unit attention after a TARGET WARM/COLD RESET. */
  public static final int POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED = 0x2900;

  public static final int BYTES = 18;

  public static byte[] fixed(int key, int ascq) {
    return fixed(key, ascq, -1);
  }

  /**
   * @param information the INFORMATION field (bytes 3..6) with VALID set, or -1 for none
   */
  public static byte[] fixed(int key, int ascq, long information) {
    byte[] s = new byte[BYTES];
    s[0] = (byte) 0x70;
    s[2] = (byte) (key & 0x0f);
    if (information >= 0) {
      s[0] |= (byte) 0x80;
      s[3] = (byte) (information >>> 24);
      s[4] = (byte) (information >>> 16);
      s[5] = (byte) (information >>> 8);
      s[6] = (byte) information;
    }
    s[7] = (byte) (BYTES - 8);
    s[12] = (byte) (ascq >>> 8);
    s[13] = (byte) ascq;
    return s;
  }

  /** ILLEGAL REQUEST with a sense-key-specific field pointer into the CDB (SKSV, C/D = 1). */
  public static byte[] invalidCdbField(int byteOffset) {
    byte[] s = fixed(ILLEGAL_REQUEST, INVALID_FIELD_IN_CDB);
    s[15] = (byte) 0xc0;
    s[16] = (byte) (byteOffset >>> 8);
    s[17] = (byte) byteOffset;
    return s;
  }

  /** ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing at a byte of the parameter list (SKSV, C/D = 0). */
  public static byte[] invalidParameterField(int byteOffset) {
    byte[] s = fixed(ILLEGAL_REQUEST, INVALID_FIELD_IN_PARAMETER_LIST);
    s[15] = (byte) 0x80;
    s[16] = (byte) (byteOffset >>> 8);
    s[17] = (byte) byteOffset;
    return s;
  }
}
