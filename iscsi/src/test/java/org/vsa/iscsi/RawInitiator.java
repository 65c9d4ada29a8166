package org.vsa.iscsi;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;
import org.vsa.iscsi.pdu.Opcode;

/**
 * A small blocking iSCSI initiator for tests: what libiscsi's tools cannot do (data digests,
 * chosen CmdSNs, raw bytes, many commands in flight). The appliance's process tests use it too
 * (this module's test-jar).
 */
public final class RawInitiator implements AutoCloseable {
  final Socket socket;
  final DataInputStream in;
  final OutputStream out;
  boolean headerDigest;
  boolean dataDigest;
  int cmdSn;
  int expStatSn;
  int itt = 1;
  int maxCmdSn;
  public long isid = 0x023d00000001L;
  String initiatorName = "iqn.2026-11.org.vsa:test-initiator";

  public RawInitiator(int port) throws IOException {
    socket = new Socket();
    socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    socket.setSoTimeout(10_000);
    socket.setTcpNoDelay(true);
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  public record Frame(byte[] bhs, byte[] data) {
    int opcode() {
      return bhs[0] & 0x3f;
    }

    int flags() {
      return bhs[1] & 0xff;
    }

    int i32(int off) {
      return ByteBuffer.wrap(bhs).getInt(off);
    }

    public int u8(int off) {
      return bhs[off] & 0xff;
    }

    String text() {
      return new String(data, StandardCharsets.UTF_8);
    }
  }

  static byte[] bhs(int opcode, int flags) {
    byte[] b = new byte[48];
    b[0] = (byte) opcode;
    b[1] = (byte) flags;
    return b;
  }

  static void put32(byte[] b, int off, int v) {
    ByteBuffer.wrap(b).putInt(off, v);
  }

  void send(byte[] bhs, byte[] data) throws IOException {
    bhs[5] = (byte) (data.length >>> 16);
    bhs[6] = (byte) (data.length >>> 8);
    bhs[7] = (byte) data.length;
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    o.writeBytes(bhs);
    if (headerDigest) {
      o.writeBytes(crc(bhs, 0));
    }
    if (data.length > 0) {
      int pad = (4 - (data.length & 3)) & 3;
      o.writeBytes(data);
      o.writeBytes(new byte[pad]);
      if (dataDigest) {
        o.writeBytes(crc(data, pad));
      }
    }
    out.write(o.toByteArray());
    out.flush();
  }

  private static byte[] crc(byte[] b, int pad) {
    CRC32C c = new CRC32C();
    c.update(b);
    for (int i = 0; i < pad; i++) {
      c.update(0);
    }
    return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) c.getValue()).array();
  }

  Frame receive() throws IOException {
    byte[] bhs = new byte[48];
    in.readFully(bhs);
    int ahs = (bhs[4] & 0xff) * 4;
    in.skipNBytes(ahs);
    if (headerDigest) {
      byte[] d = new byte[4];
      in.readFully(d);
      if (!java.util.Arrays.equals(d, crc(bhs, 0))) {
        throw new IOException("bad header digest from the target");
      }
    }
    int len = ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
    byte[] data = new byte[len];
    in.readFully(data);
    int pad = (4 - (len & 3)) & 3;
    in.skipNBytes(pad);
    if (dataDigest && len > 0) {
      byte[] d = new byte[4];
      in.readFully(d);
      if (!java.util.Arrays.equals(d, crc(data, pad))) {
        throw new IOException("bad data digest from the target");
      }
    }
    Frame f = new Frame(bhs, data);
    if (f.opcode() != Opcode.LOGIN_RESPONSE && f.opcode() != Opcode.R2T
        && !(f.opcode() == Opcode.DATA_IN && (f.flags() & 0x01) == 0)) {
      expStatSn = f.i32(24) + 1;
    }
    if (f.opcode() != Opcode.LOGIN_RESPONSE) {
      maxCmdSn = f.i32(32);
    }
    return f;
  }

  static byte[] text(Map<String, String> kv) {
    StringBuilder sb = new StringBuilder();
    kv.forEach((k, v) -> sb.append(k).append('=').append(v).append('\0'));
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  static Map<String, String> parse(byte[] data) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String s : new String(data, StandardCharsets.UTF_8).split("\0")) {
      int eq = s.indexOf('=');
      if (eq > 0) {
        m.put(s.substring(0, eq), s.substring(eq + 1));
      }
    }
    return m;
  }

  /** One login PDU; returns the response. */
  Frame loginPdu(int csg, int nsg, boolean transit, Map<String, String> keys) throws IOException {
    byte[] b = bhs(Opcode.LOGIN_REQUEST | 0x40, (transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
    ByteBuffer.wrap(b).putLong(8, isid << 16);
    put32(b, 16, itt++);
    put32(b, 24, cmdSn);
    put32(b, 28, expStatSn);
    send(b, text(keys));
    return receive();
  }

  /** Login to a normal session without authentication, operational keys as given. Returns the final response. */
  public Frame login(String target, Map<String, String> operational) throws IOException {
    Map<String, String> sec = new LinkedHashMap<>();
    sec.put("InitiatorName", initiatorName);
    if (target == null) {
      sec.put("SessionType", "Discovery");
    } else {
      sec.put("TargetName", target);
      sec.put("SessionType", "Normal");
    }
    sec.put("AuthMethod", "None");
    Frame r = loginPdu(0, 1, true, sec);
    if (r.u8(36) != 0) {
      return r;
    }
    expStatSn = r.i32(24) + 1;
    Frame f = loginPdu(1, 3, true, operational);
    if (f.u8(36) == 0) {
      expStatSn = f.i32(24) + 1;
      maxCmdSn = f.i32(32);
      Map<String, String> got = parse(f.data());
      headerDigest = "CRC32C".equals(got.get("HeaderDigest"));
      dataDigest = "CRC32C".equals(got.get("DataDigest"));
    }
    return f;
  }

  public record Result(int status, byte[] data, byte[] sense, int flags, int residual) {}

  /** A SCSI command; data-out is sent as immediate data plus Data-Out PDUs on R2T. */
  public Result scsi(int lun, byte[] cdb, byte[] dataOut, int readBytes) throws IOException {
    int tag = itt++;
    byte[] b = scsiCommand(lun, cdb, dataOut, readBytes, tag, cmdSn++);
    int imm = dataOut == null ? 0 : Math.min(dataOut.length, 8192);
    send(b, dataOut == null ? new byte[0] : java.util.Arrays.copyOf(dataOut, imm));
    return await(tag, dataOut, lun);
  }

  static byte[] scsiCommand(int lun, byte[] cdb, byte[] dataOut, int readBytes, int tag, int sn) {
    boolean write = dataOut != null;
    int flags = 0x80 | (write ? 0x20 : 0) | (readBytes > 0 ? 0x40 : 0) | 0x01;
    byte[] b = bhs(Opcode.SCSI_COMMAND, flags);
    b[9] = (byte) lun;
    put32(b, 16, tag);
    put32(b, 20, write ? dataOut.length : readBytes);
    put32(b, 24, sn);
    System.arraycopy(cdb, 0, b, 32, Math.min(16, cdb.length));
    return b;
  }

  Result await(int tag, byte[] dataOut, int lun) throws IOException {
    ByteArrayOutputStream read = new ByteArrayOutputStream();
    while (true) {
      Frame f = receive();
      switch (f.opcode()) {
        case Opcode.R2T -> {
          int ttt = f.i32(20);
          int off = f.i32(40);
          int len = f.i32(44);
          int sn = 0;
          for (int o = off; o < off + len; o += 8192) {
            int n = Math.min(8192, off + len - o);
            byte[] d = bhs(Opcode.DATA_OUT, o + n == off + len ? 0x80 : 0);
            d[9] = (byte) lun;
            put32(d, 16, tag);
            put32(d, 20, ttt);
            put32(d, 28, expStatSn);
            put32(d, 36, sn++);
            put32(d, 40, o);
            send(d, java.util.Arrays.copyOfRange(dataOut, o, o + n));
          }
        }
        case Opcode.DATA_IN -> {
          read.writeBytes(f.data());
          if ((f.flags() & 0x01) != 0) {
            return new Result(f.u8(3), read.toByteArray(), new byte[0], f.flags(), f.i32(44));
          }
        }
        case Opcode.SCSI_RESPONSE -> {
          byte[] sense = f.data().length >= 2 ? java.util.Arrays.copyOfRange(f.data(), 2, f.data().length)
              : new byte[0];
          return new Result(f.u8(3), read.toByteArray(), sense, f.flags(), f.i32(44));
        }
        case Opcode.NOP_IN, Opcode.ASYNC_MESSAGE -> { }
        default -> throw new IOException("unexpected opcode 0x" + Integer.toHexString(f.opcode()));
      }
    }
  }

  public static byte[] read10(long lba, int blocks) {
    byte[] c = new byte[10];
    c[0] = 0x28;
    put32(c, 2, (int) lba);
    c[7] = (byte) (blocks >>> 8);
    c[8] = (byte) blocks;
    return c;
  }

  public static byte[] write10(long lba, int blocks, boolean fua) {
    byte[] c = read10(lba, blocks);
    c[0] = 0x2a;
    c[1] = (byte) (fua ? 0x08 : 0);
    return c;
  }

  static boolean serialGreater(int a, int b) {
    return a != b && a - b > 0;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
