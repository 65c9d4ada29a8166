package org.vsa.iscsi.scsi;

import java.io.IOException;

/** One SCSI operation (one class per opcode, or per opcode + service action), run off the event loop. */
public interface ScsiCommand {
  ScsiResult execute(ScsiRequest r) throws IOException;

  /**
   * Bytes of data-out the CDB asks for, or -1 if it asks for none or the handler does not say;
   * the session reports the difference to the Expected Data Transfer Length as a residual.
   */
  default long dataOutBytes(ScsiRequest r) {
    return -1;
  }

  /** How it touches the medium, for reservations held by other I_T nexuses (SPC-4 5.13.1, simplified). */
  default Reservations.Access access() {
    return Reservations.Access.WRITE;
  }
}
