package org.vsa.iscsi;

import java.util.ArrayList;
import java.util.List;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.iscsi.pdu.Pdu;
import org.vsa.iscsi.scsi.LogicalUnit;
import org.vsa.iscsi.scsi.Sense;

/**
 * Task management functions (RFC 7143 section 11.5) at error recovery level 0. The response
 * goes out only once every aborted command that was already running has finished, so that no
 * aborted write can land after the initiator was told it is gone.
 */
final class TaskManagement {
  private TaskManagement() {}

  static final int ABORT_TASK = 1;
  static final int ABORT_TASK_SET = 2;
  static final int CLEAR_ACA = 3;
  static final int CLEAR_TASK_SET = 4;
  static final int LUN_RESET = 5;
  static final int TARGET_WARM_RESET = 6;
  static final int TARGET_COLD_RESET = 7;
  static final int TASK_REASSIGN = 8;

  static final int COMPLETE = 0;
  static final int NO_TASK = 1;
  static final int NO_LUN = 2;
  static final int REASSIGN_NOT_SUPPORTED = 4;
  static final int NOT_SUPPORTED = 5;

  static void handle(Connection c, Pdu req) {
    int function = req.flags() & 0x7f;
    int lun = req.lun();
    List<Task> aborted = new ArrayList<>();
    // resets abort the other sessions' tasks too (SAM-5 7.6, 7.7); answered once those have ended
    java.util.concurrent.CompletableFuture<Void> others = java.util.concurrent.CompletableFuture.completedFuture(null);
    int response = switch (function) {
      case ABORT_TASK -> {
        Task t = c.abort(req.i32(20));
        if (t == null) {
          yield NO_TASK; // finished already (libiscsi expects this answer then)
        }
        aborted.add(t);
        yield COMPLETE;
      }
      case ABORT_TASK_SET, CLEAR_TASK_SET -> {
        aborted.addAll(c.abortAll(lun));
        yield COMPLETE;
      }
      case LUN_RESET -> {
        LogicalUnit lu = c.luns.get(lun);
        if (lu == null) {
          yield NO_LUN;
        }
        aborted.addAll(c.abortAll(lun));
        others = c.target().abortTasks(lu.targetIqn(), null, lun, c);
        lu.reservations().clear();
        // every nexus of the LU, this one included, learns of the reset (SAM-5 6.6)
        for (String nexus : c.target().nexusesOf(lu.targetIqn())) {
          lu.unitAttention(nexus, Sense.BUS_DEVICE_RESET_FUNCTION_OCCURRED);
        }
        yield COMPLETE;
      }
      case TARGET_WARM_RESET, TARGET_COLD_RESET -> {
        aborted.addAll(c.abortAll(-1));
        others = c.target().abortTasks(c.targetConfig.iqn(), null, -1, c);
        for (LogicalUnit lu : c.luns.values()) {
          lu.reservations().clear();
          for (String nexus : c.target().nexusesOf(lu.targetIqn())) {
            lu.unitAttention(nexus, Sense.POWER_ON_RESET_OR_BUS_DEVICE_RESET_OCCURRED);
          }
        }
        yield COMPLETE;
      }
      case TASK_REASSIGN -> REASSIGN_NOT_SUPPORTED;
      default -> NOT_SUPPORTED;
    };
    int itt = req.itt();
    Runnable respond = () -> {
      c.send(Pdu.out(Opcode.TASK_MGMT_RESPONSE).flags(0x80).u8(2, response).itt(itt), true);
      if (function == TARGET_COLD_RESET && response == COMPLETE) {
        c.close("TARGET COLD RESET");
      }
    };
    java.util.concurrent.CompletableFuture<Void> othersDone = others;
    Runnable afterOwn = () -> othersDone.whenComplete((v, e) -> c.ctx().executor().execute(respond));
    List<Task> running = aborted.stream().filter(t -> t.submitted && !t.done).toList();
    if (running.isEmpty()) {
      afterOwn.run();
      return;
    }
    int[] left = {running.size()};
    for (Task t : running) {
      t.waiters.add(() -> {
        if (--left[0] == 0) {
          afterOwn.run();
        }
      });
    }
  }
}
