package org.vsa.appliance.cluster.ownership;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.vsa.dtl.DtlState;

/**
 * The arbiter's objects on the backend, in the cluster namespace: {@code heartbeat.<node>} (put
 * every heartbeat) and {@code claim.<vdisk>.<epoch, 12 digits>} (created once, create-if-absent).
 *
 * <pre>
 * heartbeat: magic "VHBT" (4), version 1 (1), node, fault domain (UTF-8, 2-byte length each),
 *            incarnation (8), seq (8), count (4), then per owned vDisk: name, epoch (8),
 *            DTL node (1-byte flag, then the name when set), DTL state (1), and CRC32C (4) of all before
 * claim:     magic "VCLM" (4), version 1 (1), vdisk, epoch (8), node, incarnation (8), CRC32C (4)
 *            version 2 (only for a closed claim, a tombstone: see {@link Claim#closed}): as version 1 with
 *            flags (1, bit 0 = closed) before the CRC32C. A claim that owns is still written as version 1,
 *            so that nodes of the previous release read every claim but a tombstone (which they refuse
 *            as an unknown version: a failed claims read, so they claim nothing)
 * </pre>
 */
public final class Records {
  static final int HEARTBEAT_MAGIC = 0x56484254; // "VHBT"
  static final int CLAIM_MAGIC = 0x56434c4d; // "VCLM"
  static final int VERSION = 1;
  /** Claim records with flags (a closed claim). */
  static final int CLAIM_VERSION_CLOSED = 2;
  public static final String HEARTBEAT_PREFIX = "heartbeat.";
  public static final String CLAIM_PREFIX = "claim.";
  /**
   * Owned resources named with this prefix are vPool namespaces, not vDisks (a vDisk name starts
   * with a letter or digit).
   */
  public static final String NAMESPACE_PREFIX = "_ns.";
  static final int OWNED_MAX = 1_000_000;
  /** Longest vDisk name that fits a claim object's name (200 characters). */
  public static final int VDISK_NAME_MAX = 200 - CLAIM_PREFIX.length() - 1 - 12;

  private Records() {}

  public static String heartbeatName(String node) {
    return HEARTBEAT_PREFIX + node;
  }

  public static String claimName(String vdisk, long epoch) {
    if (vdisk.length() > VDISK_NAME_MAX) {
      throw new IllegalArgumentException("vDisk name longer than " + VDISK_NAME_MAX + " characters: " + vdisk);
    }
    return CLAIM_PREFIX + vdisk + "." + String.format("%012d", epoch);
  }

  public static String claimPrefix(String vdisk) {
    return CLAIM_PREFIX + vdisk + ".";
  }

  /** The epoch of a claim object of this vDisk, or -1 when the name is not one. */
  public static long claimEpoch(String vdisk, String name) {
    String prefix = claimPrefix(vdisk);
    if (!name.startsWith(prefix) || name.length() != prefix.length() + 12) {
      return -1;
    }
    long e = 0;
    for (int i = prefix.length(); i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      e = e * 10 + (c - '0');
    }
    return e;
  }

  public static byte[] encode(Heartbeat h) {
    ByteBuffer b = ByteBuffer.allocate(64 + 2 * (h.node().length() + h.faultDomain().length()) * 3
        + h.owned().stream().mapToInt(o -> 32 + 3 * (o.vdisk().length() + (o.dtlNode() == null ? 0 : o.dtlNode().length())))
            .sum());
    b.putInt(HEARTBEAT_MAGIC).put((byte) VERSION);
    putString(b, h.node());
    putString(b, h.faultDomain());
    b.putLong(h.incarnation()).putLong(h.seq()).putInt(h.owned().size());
    for (Heartbeat.Owned o : h.owned()) {
      putString(b, o.vdisk());
      b.putLong(o.epoch());
      b.put((byte) (o.dtlNode() == null ? 0 : 1));
      if (o.dtlNode() != null) {
        putString(b, o.dtlNode());
      }
      b.put(code(o.dtlState()));
    }
    return finish(b);
  }

  public static Heartbeat decodeHeartbeat(byte[] bytes, String what) throws IOException {
    ByteBuffer b = check(bytes, HEARTBEAT_MAGIC, "heartbeat", what);
    try {
      String node = getString(b);
      String fd = getString(b);
      long inc = b.getLong();
      long seq = b.getLong();
      int n = b.getInt();
      if (n < 0 || n > OWNED_MAX) {
        throw new IOException("heartbeat " + what + ": " + n + " owned vDisks");
      }
      List<Heartbeat.Owned> owned = new ArrayList<>(Math.min(n, 1024));
      for (int i = 0; i < n; i++) {
        String v = getString(b);
        long epoch = b.getLong();
        String dtl = b.get() == 0 ? null : getString(b);
        owned.add(new Heartbeat.Owned(v, epoch, dtl, state(b.get(), what)));
      }
      return new Heartbeat(node, fd, inc, seq, owned);
    } catch (BufferUnderflowException | IllegalArgumentException e) {
      throw new IOException("heartbeat " + what + ": malformed (" + e + ")", e);
    }
  }

  public static byte[] encode(Claim c) {
    ByteBuffer b = ByteBuffer.allocate(64 + 3 * (c.vdisk().length() + c.node().length()));
    b.putInt(CLAIM_MAGIC).put((byte) (c.closed() ? CLAIM_VERSION_CLOSED : VERSION));
    putString(b, c.vdisk());
    b.putLong(c.epoch());
    putString(b, c.node());
    b.putLong(c.incarnation());
    if (c.closed()) {
      b.put((byte) 1);
    }
    return finish(b);
  }

  public static Claim decodeClaim(byte[] bytes, String what) throws IOException {
    ByteBuffer b = check(bytes, CLAIM_MAGIC, "claim", what, CLAIM_VERSION_CLOSED);
    try {
      int version = bytes[4] & 0xff;
      String v = getString(b);
      long epoch = b.getLong();
      String node = getString(b);
      long inc = b.getLong();
      boolean closed = false;
      if (version >= CLAIM_VERSION_CLOSED) {
        int flags = b.get() & 0xff;
        if ((flags & ~1) != 0) {
          throw new IOException("claim " + what + ": unknown flags " + flags);
        }
        closed = (flags & 1) != 0;
      }
      if (b.hasRemaining()) {
        throw new IOException("claim " + what + ": " + b.remaining() + " bytes left over");
      }
      return new Claim(v, epoch, node, inc, closed);
    } catch (BufferUnderflowException | IllegalArgumentException e) {
      throw new IOException("claim " + what + ": malformed (" + e + ")", e);
    }
  }

  private static byte code(DtlState s) {
    return switch (s) {
      case OK_SYNC -> 1;
      case OK_STANDALONE -> 2;
      case CATCHING_UP -> 3;
      case DEGRADED -> 4;
    };
  }

  private static DtlState state(byte code, String what) throws IOException {
    return switch (code) {
      case 1 -> DtlState.OK_SYNC;
      case 2 -> DtlState.OK_STANDALONE;
      case 3 -> DtlState.CATCHING_UP;
      case 4 -> DtlState.DEGRADED;
      default -> throw new IOException("heartbeat " + what + ": unknown DTL state " + code);
    };
  }

  private static void putString(ByteBuffer b, String s) {
    byte[] u = s.getBytes(StandardCharsets.UTF_8);
    if (u.length > 0xffff) {
      throw new IllegalArgumentException("name too long: " + u.length + " bytes");
    }
    b.putShort((short) u.length).put(u);
  }

  private static String getString(ByteBuffer b) {
    int len = b.getShort() & 0xffff;
    byte[] u = new byte[len];
    b.get(u);
    return new String(u, StandardCharsets.UTF_8);
  }

  private static byte[] finish(ByteBuffer b) {
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    byte[] out = new byte[b.position()];
    System.arraycopy(b.array(), 0, out, 0, out.length);
    return out;
  }

  private static ByteBuffer check(byte[] bytes, int magic, String kind, String what) throws IOException {
    return check(bytes, magic, kind, what, VERSION);
  }

  private static ByteBuffer check(byte[] bytes, int magic, String kind, String what, int versionMax)
      throws IOException {
    if (bytes.length < 9) {
      throw new IOException(kind + " " + what + ": " + bytes.length + " bytes, too short");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes, 0, bytes.length - 4);
    if (b.getInt() != magic) {
      throw new IOException(kind + " " + what + ": bad magic");
    }
    int version = b.get() & 0xff;
    if (version < VERSION || version > versionMax) {
      throw new IOException(kind + " " + what + ": unknown version " + version);
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    if ((int) crc.getValue() != ByteBuffer.wrap(bytes, bytes.length - 4, 4).getInt()) {
      throw new IOException(kind + " " + what + ": CRC32C mismatch");
    }
    return b;
  }
}
