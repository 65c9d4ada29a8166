package org.vsa.iscsi.scsi;

/**
 * REQUEST SENSE (0x03): a pending unit attention condition (see {@link Commands#execute}), else
 * NO SENSE (no deferred errors are kept), in the format asked for.
 */
final class RequestSense implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    boolean descriptor = (r.u8(1) & 0x01) != 0;
    byte[] s;
    if (descriptor) {
      s = new byte[8];
      s[0] = 0x72;
    } else {
      s = Sense.fixed(Sense.NO_SENSE, Sense.NO_ADDITIONAL_SENSE);
    }
    return ScsiResult.data(s, r.u8(4));
  }

  /** The unit attention condition {@code ascq} as sense data, fixed or descriptor format. */
  static ScsiResult unitAttention(ScsiRequest r, int ascq) {
    byte[] s;
    if ((r.u8(1) & 0x01) != 0) {
      s = new byte[8];
      s[0] = 0x72;
      s[1] = Sense.UNIT_ATTENTION;
      s[2] = (byte) (ascq >>> 8);
      s[3] = (byte) ascq;
    } else {
      s = Sense.fixed(Sense.UNIT_ATTENTION, ascq);
    }
    return ScsiResult.data(s, r.u8(4));
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
