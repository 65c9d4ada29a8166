package org.vsa.iscsi.scsi;

import java.io.ByteArrayOutputStream;
import java.util.Map;

/** MAINTENANCE IN (0xa3): REPORT TARGET PORT GROUPS (0x0a), REPORT SUPPORTED OPERATION CODES (0x0c). */
final class MaintenanceIn implements ScsiCommand {
  @Override
  public ScsiResult execute(ScsiRequest r) {
    return switch (r.u8(1) & 0x1f) {
      case 0x0a -> reportTargetPortGroups(r);
      case 0x0c -> reportSupportedOpcodes(r);
      default -> ScsiResult.invalidField(1);
    };
  }

  @Override
  public Reservations.Access access() {
    return Reservations.Access.ALWAYS;
  }

  /** One group (0), active/optimized, holding relative target port 1. */
  private static ScsiResult reportTargetPortGroups(ScsiRequest r) {
    byte[] d = new byte[4 + 8 + 4];
    Bytes.be32(d, 0, d.length - 4);
    d[4] = (byte) 0x80; // PREF, asymmetric access state 0 (active/optimized)
    d[5] = 0x01; // AO supported
    d[7] = 0; // status code
    d[11] = 1; // target port count
    Bytes.be16(d, 14, 1);
    return ScsiResult.data(d, (int) Math.min(r.u32(6), Integer.MAX_VALUE));
  }

  /** Service actions of the opcodes that have them, for the "all commands" list. */
  private static final Map<Integer, int[]> SERVICE_ACTIONS = Map.of(
      0x83, new int[] {0x00},
      0x84, new int[] {0x00, 0x03, 0x04},
      0x9e, new int[] {0x10, 0x12},
      0xa3, new int[] {0x0a, 0x0c});

  private static ScsiResult reportSupportedOpcodes(ScsiRequest r) {
    int options = r.u8(2) & 0x07;
    boolean rctd = (r.u8(2) & 0x80) != 0;
    int opcode = r.u8(3);
    int sa = r.u16(4);
    int alloc = (int) Math.min(r.u32(6), Integer.MAX_VALUE);
    Map<Integer, ScsiCommand> table = Commands.table();
    int timeoutBytes = rctd ? 12 : 0;
    if (options == 0) {
      ByteArrayOutputStream list = new ByteArrayOutputStream();
      for (int op : table.keySet()) {
        int[] sas = SERVICE_ACTIONS.get(op);
        if (sas == null) {
          list.writeBytes(descriptor(op, 0, false, rctd));
        } else {
          for (int s : sas) {
            list.writeBytes(descriptor(op, s, true, rctd));
          }
        }
      }
      byte[] d = new byte[4 + list.size()];
      Bytes.be32(d, 0, list.size());
      System.arraycopy(list.toByteArray(), 0, d, 4, list.size());
      return ScsiResult.data(d, alloc);
    }
    if (options > 3) {
      return ScsiResult.invalidField(2);
    }
    int[] sas = SERVICE_ACTIONS.get(opcode);
    boolean hasSa = sas != null;
    if ((options == 1 && hasSa) || (options == 2 && !hasSa && table.containsKey(opcode))) {
      return ScsiResult.invalidField(2);
    }
    boolean supported = table.containsKey(opcode)
        && (!hasSa || options == 3 || java.util.Arrays.stream(sas).anyMatch(s -> s == sa));
    if (hasSa && options != 1) {
      supported = table.containsKey(opcode) && java.util.Arrays.stream(sas).anyMatch(s -> s == sa);
    }
    byte[] usage = supported ? CdbUsage.of(opcode, hasSa ? sa : -1) : new byte[0];
    byte[] d = new byte[4 + usage.length + (supported ? timeoutBytes : 0)];
    d[1] = (byte) ((rctd && supported ? 0x80 : 0) | (supported ? 0x03 : 0x01));
    Bytes.be16(d, 2, usage.length);
    System.arraycopy(usage, 0, d, 4, usage.length);
    if (supported && rctd) {
      Bytes.be16(d, 4 + usage.length, 0x0a);
    }
    return ScsiResult.data(d, alloc);
  }

  private static byte[] descriptor(int op, int sa, boolean servactv, boolean rctd) {
    byte[] d = new byte[8 + (rctd ? 12 : 0)];
    d[0] = (byte) op;
    Bytes.be16(d, 2, sa);
    d[5] = (byte) ((servactv ? 0x01 : 0) | (rctd ? 0x02 : 0));
    Bytes.be16(d, 6, CdbUsage.length(op));
    if (rctd) {
      Bytes.be16(d, 8, 0x0a);
    }
    return d;
  }
}
