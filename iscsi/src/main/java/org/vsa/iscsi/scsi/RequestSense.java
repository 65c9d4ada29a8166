package org.vsa.iscsi.scsi;

/** REQUEST SENSE (0x03): no deferred errors are kept, so NO SENSE in the format asked for. */
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

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
