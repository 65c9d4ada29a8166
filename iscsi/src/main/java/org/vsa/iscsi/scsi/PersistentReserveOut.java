package org.vsa.iscsi.scsi;

import java.io.IOException;

/**
 * PERSISTENT RESERVE OUT (0x5f): REGISTER, RESERVE, RELEASE, CLEAR, PREEMPT, PREEMPT AND ABORT,
 * REGISTER AND IGNORE EXISTING KEY. REGISTER AND MOVE, SPEC_I_PT and ALL_TG_PT are not supported.
 */
final class PersistentReserveOut implements ScsiCommand {
  static final int REGISTER = 0;
  static final int RESERVE = 1;
  static final int RELEASE = 2;
  static final int CLEAR = 3;
  static final int PREEMPT = 4;
  static final int PREEMPT_AND_ABORT = 5;
  static final int REGISTER_AND_IGNORE = 6;

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return r.u32(5);
  }

  @Override
  public ScsiResult execute(ScsiRequest r) throws IOException {
    int action = r.u8(1) & 0x1f;
    int scope = r.u8(2) >>> 4;
    int type = r.u8(2) & 0x0f;
    if (action > REGISTER_AND_IGNORE) {
      return ScsiResult.invalidField(1);
    }
    long len = r.u32(5);
    byte[] p = r.dataOut();
    if (len != 24 || p.length < 24) {
      return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    long key = Unmap.be64(p, 0);
    long saKey = Unmap.be64(p, 8);
    int flags = p[20] & 0xff;
    if ((flags & 0x0c) != 0) {
      return ScsiResult.illegal(Sense.INVALID_FIELD_IN_PARAMETER_LIST); // SPEC_I_PT, ALL_TG_PT
    }
    boolean typed = action == RESERVE || action == RELEASE || action == PREEMPT || action == PREEMPT_AND_ABORT;
    if (typed && (scope != 0 || !validType(type))) {
      return ScsiResult.invalidField(2);
    }
    Reservations res = r.lu().reservations();
    java.util.List<String> preempted = new java.util.ArrayList<>();
    ScsiResult out = switch (action) {
      case REGISTER -> res.register(r.nexus(), key, saKey, false);
      case REGISTER_AND_IGNORE -> res.register(r.nexus(), key, saKey, true);
      case RESERVE -> res.reserve(r.nexus(), key, type);
      case RELEASE -> res.release(r.nexus(), key, type);
      case CLEAR -> res.clearAll(r.nexus(), key);
      default -> res.preempt(r.nexus(), key, saKey, type, preempted);
    };
    if (out == null && action == PREEMPT_AND_ABORT && !preempted.isEmpty()) {
      // SPC-4 5.13.11.2.5: the preempted nexuses' tasks on this LU are aborted; the command
      // completes only once those already running have finished, so no write of a fenced-out
      // initiator lands after the preempting one was told it is fenced out
      if (!r.lu().abortTasksOf(preempted)) {
        return ScsiResult.check(Sense.ABORTED_COMMAND, Sense.NO_ADDITIONAL_SENSE);
      }
    }
    return out == null ? ScsiResult.good() : out;
  }

  private static boolean validType(int t) {
    return t == 1 || t == 3 || t == 5 || t == 6 || t == 7 || t == 8;
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }
}
