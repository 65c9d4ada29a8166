package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The opcode -> handler table, and the dispatch that turns failures into sense data. */
public final class Commands {
  private static final Logger log = LoggerFactory.getLogger(Commands.class);

  public static final int REPORT_LUNS = 0xa0;
  public static final int INQUIRY = 0x12;
  public static final int REQUEST_SENSE = 0x03;

  private static final Map<Integer, ScsiCommand> TABLE = build();

  private Commands() {}

  private static Map<Integer, ScsiCommand> build() {
    Map<Integer, ScsiCommand> t = new TreeMap<>();
    t.put(0x00, new TestUnitReady());
    t.put(REQUEST_SENSE, new RequestSense());
    t.put(0x08, new Read(Cdb.SIX));
    t.put(0x0a, new Write(Cdb.SIX, false));
    t.put(INQUIRY, new Inquiry());
    t.put(0x15, new ModeSelect(false));
    t.put(0x16, new Reserve());
    t.put(0x17, new Release());
    t.put(0x1a, new ModeSense(false));
    t.put(0x1b, new StartStopUnit());
    t.put(0x1e, new PreventAllowMediumRemoval());
    t.put(0x25, new ReadCapacity10());
    t.put(0x28, new Read(Cdb.TEN));
    t.put(0x2a, new Write(Cdb.TEN, false));
    t.put(0x2e, new Write(Cdb.TEN, true));
    t.put(0x2f, new Verify(Cdb.TEN));
    t.put(0x34, new PreFetch(Cdb.TEN));
    t.put(0x35, new SynchronizeCache(Cdb.TEN));
    t.put(0x41, new WriteSame(Cdb.TEN));
    t.put(0x42, new Unmap());
    t.put(0x55, new ModeSelect(true));
    t.put(0x56, new Reserve());
    t.put(0x57, new Release());
    t.put(0x5a, new ModeSense(true));
    t.put(0x5e, new PersistentReserveIn());
    t.put(0x5f, new PersistentReserveOut());
    t.put(0x83, new ExtendedCopy());
    t.put(0x84, new ReceiveCopyResults());
    t.put(0x88, new Read(Cdb.SIXTEEN));
    t.put(0x89, new CompareAndWrite());
    t.put(0x8a, new Write(Cdb.SIXTEEN, false));
    t.put(0x8e, new Write(Cdb.SIXTEEN, true));
    t.put(0x8f, new Verify(Cdb.SIXTEEN));
    t.put(0x90, new PreFetch(Cdb.SIXTEEN));
    t.put(0x91, new SynchronizeCache(Cdb.SIXTEEN));
    t.put(0x93, new WriteSame(Cdb.SIXTEEN));
    t.put(0x9e, new ServiceActionIn16());
    t.put(REPORT_LUNS, new ReportLuns());
    t.put(0xa3, new MaintenanceIn());
    t.put(0xa8, new Read(Cdb.TWELVE));
    t.put(0xaa, new Write(Cdb.TWELVE, false));
    t.put(0xae, new Write(Cdb.TWELVE, true));
    t.put(0xaf, new Verify(Cdb.TWELVE));
    return Collections.unmodifiableMap(t);
  }

  public static Map<Integer, ScsiCommand> table() {
    return TABLE;
  }

  /** Data-out bytes the CDB asks for, -1 if none or unknown (see {@link ScsiCommand#dataOutBytes}). */
  public static long dataOutBytes(ScsiRequest r) {
    ScsiCommand c = TABLE.get(r.u8(0));
    if (c == null || r.lu() == null) {
      return -1;
    }
    try {
      return c.dataOutBytes(r);
    } catch (RuntimeException e) {
      return -1;
    }
  }

  /** Runs the command; never throws. A null LU means the LUN is not configured. */
  public static ScsiResult execute(ScsiRequest r) {
    int opcode = r.u8(0);
    ScsiCommand c = TABLE.get(opcode);
    if (r.lu() == null) {
      if (opcode == INQUIRY) {
        return Inquiry.noLun(r);
      }
      if (opcode == REPORT_LUNS || opcode == REQUEST_SENSE) {
        return runChecked(c, r);
      }
      return ScsiResult.illegal(Sense.LOGICAL_UNIT_NOT_SUPPORTED);
    }
    if (opcode != INQUIRY && opcode != REPORT_LUNS) {
      // SAM-5 5.14: the first other command of the nexus reports its unit attention and clears it;
      // REQUEST SENSE returns it as its sense data
      int ua = r.lu().takeUnitAttention(r.nexus());
      if (ua >= 0) {
        return opcode == REQUEST_SENSE ? RequestSense.unitAttention(r, ua) : ScsiResult.check(Sense.UNIT_ATTENTION, ua);
      }
    }
    if (c == null) {
      return ScsiResult.illegal(Sense.INVALID_COMMAND_OPERATION_CODE);
    }
    if (r.lu().reservations().conflicts(r.nexus(), c.access())) {
      return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    return runChecked(c, r);
  }

  private static ScsiResult runChecked(ScsiCommand c, ScsiRequest r) {
    try {
      return c.execute(r);
    } catch (IllegalArgumentException e) {
      log.debug("SCSI 0x{}: {}", Integer.toHexString(r.u8(0)), e.toString());
      return ScsiResult.lbaOutOfRange();
    } catch (org.vsa.volume.VolumeFencedException e) {
      // not a medium error either: the vDisk is whole and served by (or moving to) another node
      log.debug("SCSI 0x{}: {}", Integer.toHexString(r.u8(0)), e.getMessage());
      return ScsiResult.check(Sense.NOT_READY, Sense.LOGICAL_UNIT_NOT_ACCESSIBLE_ASYMMETRIC_ACCESS_STATE_TRANSITION);
    } catch (org.vsa.volume.VolumeOfflineException e) {
      // not a medium error: the vDisk is whole, and serves again once an administrator brings it online
      log.debug("SCSI 0x{}: {}", Integer.toHexString(r.u8(0)), e.getMessage());
      return ScsiResult.check(Sense.NOT_READY, Sense.LOGICAL_UNIT_NOT_READY_MANUAL_INTERVENTION_REQUIRED);
    } catch (IOException e) {
      log.warn("SCSI 0x{} on {} failed: {}", Integer.toHexString(r.u8(0)),
          r.lu() == null ? "-" : r.lu().volume().name(), e.toString());
      return ScsiResult.check(Sense.MEDIUM_ERROR, isWrite(r.u8(0)) ? Sense.WRITE_ERROR : Sense.UNRECOVERED_READ_ERROR);
    } catch (RuntimeException e) {
      log.error("SCSI 0x{} failed", Integer.toHexString(r.u8(0)), e);
      return ScsiResult.check(Sense.HARDWARE_ERROR, Sense.INTERNAL_TARGET_FAILURE);
    }
  }

  private static boolean isWrite(int opcode) {
    return switch (opcode) {
      case 0x0a, 0x2a, 0x2e, 0x41, 0x42, 0x83, 0x89, 0x8a, 0x8e, 0x93, 0xaa, 0xae -> true;
      default -> false;
    };
  }
}
