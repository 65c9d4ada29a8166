package org.vsa.volume;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.UUID;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlMode;

/**
 * Taking a vDisk over from another node ({@link Engine#adopt}) and handing one over
 * ({@link Engine#release}): what the request says, the hand-over record left in the backend, and
 * the rule that decides whether the previous owner's DTL covers what the backend lacks.
 *
 * <p><b>Coverage.</b> The backend holds the vDisk's history through TLog B (sequence S); the
 * previous owner's DTL holds the entries (base, last] of one stream. The DTL covers the rest of
 * the history if its stream is the previous owner's (its epoch is the one the caller names, or
 * this adoption's own from an interrupted attempt), if it starts at or before S (base <= S, else
 * the records (S, base] are in neither place) and, in DTL mode sync, if it reaches S (last >= S:
 * a DTL that ends before the backend does was out of sync with the owner, which then acknowledged
 * writes without it). Otherwise, or if it is unreachable, adopting would lose acknowledged
 * writes: refused, unless forced (then the backend's history alone is restored and the loss is
 * logged at ERROR). A vDisk released cleanly needs no DTL: its hand-over record names the last
 * TLog, and the backend holding the history through it is enough.
 */
public final class Adoption {
  private static final Logger log = LoggerFactory.getLogger(Adoption.class);
  /** In a vDisk's metadata directory while an adoption is under way: a start does not open it. */
  static final String PENDING = "adopt.pending";
  /** The hand-over record in a vDisk's backend namespace (see {@link Released}). */
  static final String RELEASED = "released";

  private Adoption() {}

  /**
   * What the control plane asks.
   *
   * @param id the vDisk (its namespace in the shared backend holds its record, snapshots and TLogs)
   * @param lease this node's ownership: its epoch must be higher than every epoch the previous
   *     owner used, so that the fetch at its DTL fences it
   * @param previousDtl where the previous owner's DTL was (null: none; enough only after a release)
   * @param previousEpoch the previous owner's epoch (the stream its DTL must hold); 0: unknown, not checked
   * @param dtlPeer this node's DTL peer for the vDisk from now on (null: the connector's configured one)
   * @param force restore what there is even if acknowledged writes are lost (logged at ERROR)
   */
  public record Request(UUID id, OwnershipLease lease, InetSocketAddress previousDtl, long previousEpoch,
      InetSocketAddress dtlPeer, boolean force) {
    public Request {
      if (id == null || lease == null) {
        throw new IllegalArgumentException("an adoption names the vDisk's id and this node's lease");
      }
      if (lease.epoch() <= 0) {
        throw new IllegalArgumentException("an adoption needs the ownership epoch the arbiter granted (> 0), got "
            + lease.epoch());
      }
    }

    public Request withForce(boolean f) {
      return new Request(id, lease, previousDtl, previousEpoch, dtlPeer, f);
    }
  }

  /** Adopting would lose acknowledged writes (or a newer owner exists): nothing was changed. */
  public static final class RefusedException extends IOException {
    RefusedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The hand-over record: the previous owner uploaded its whole history through TLog
   * {@code lastTlog} (sequence {@code lastSeq}) under {@code epoch} and stopped. Format: u32 magic
   * 'VREL', u16 version 1, u16 zero, u64 epoch, u64 lastTlog, u64 lastSeq, u32 CRC32C of the bytes
   * before it.
   */
  record Released(long epoch, long lastTlog, long lastSeq) {
    private static final int MAGIC = 0x5652454c; // "VREL"
    private static final int BYTES = 36;

    byte[] encode() {
      ByteBuffer b = ByteBuffer.allocate(BYTES).putInt(MAGIC).putShort((short) 1).putShort((short) 0)
          .putLong(epoch).putLong(lastTlog).putLong(lastSeq);
      CRC32C c = new CRC32C();
      c.update(b.array(), 0, BYTES - 4);
      b.putInt((int) c.getValue());
      return b.array();
    }

    /** The record in the namespace, or null if there is none; an unreadable one counts as none (logged). */
    static Released read(ObjectStore backend, String ns) throws IOException {
      byte[] a;
      try {
        a = backend.get(ns, RELEASED);
      } catch (NoSuchObjectException e) {
        return null;
      }
      CRC32C c = new CRC32C();
      ByteBuffer b = ByteBuffer.wrap(a);
      if (a.length == BYTES) {
        c.update(a, 0, BYTES - 4);
      }
      if (a.length != BYTES || b.getInt(0) != MAGIC || b.getShort(4) != 1 || b.getInt(BYTES - 4) != (int) c.getValue()) {
        log.error("namespace {}: its hand-over record is unreadable; ignoring it (the previous owner's DTL is needed)",
            ns);
        return null;
      }
      return new Released(b.getLong(8), b.getLong(16), b.getLong(24));
    }
  }

  /** The renumbering record in a vDisk's backend namespace (see {@link Cut}). */
  static final String CUT = "adoption.cut";

  /**
   * What an adoption under {@code epoch} did to the history's numbering: it kept the backend's
   * prefix through TLog {@code b} and continues at {@code first} (see
   * {@link DtlRestore#ADOPTION_NUMBER_GAP}). An adoption interrupted after it cut the history's
   * head knows from it that the previous owner's SCOs in (b, first) are still the history's tail,
   * to be taken from the DTL again. Format: u32 magic 'VCUT', u16 version 1, u16 zero, u64 epoch,
   * u64 b, u64 first, u32 CRC32C of the bytes before it.
   */
  record Cut(long epoch, long b, long first) {
    private static final int MAGIC = 0x56435554; // "VCUT"
    private static final int BYTES = 36;

    byte[] encode() {
      ByteBuffer buf = ByteBuffer.allocate(BYTES).putInt(MAGIC).putShort((short) 1).putShort((short) 0)
          .putLong(epoch).putLong(b).putLong(first);
      CRC32C c = new CRC32C();
      c.update(buf.array(), 0, BYTES - 4);
      buf.putInt((int) c.getValue());
      return buf.array();
    }

    /** The record in the namespace, or null if there is none or it is unreadable (logged). */
    static Cut read(ObjectStore backend, String ns) throws IOException {
      byte[] a;
      try {
        a = backend.get(ns, CUT);
      } catch (NoSuchObjectException e) {
        return null;
      }
      CRC32C c = new CRC32C();
      ByteBuffer buf = ByteBuffer.wrap(a);
      if (a.length == BYTES) {
        c.update(a, 0, BYTES - 4);
      }
      if (a.length != BYTES || buf.getInt(0) != MAGIC || buf.getShort(4) != 1
          || buf.getInt(BYTES - 4) != (int) c.getValue()) {
        log.error("namespace {}: its adoption record is unreadable; ignoring it", ns);
        return null;
      }
      return new Cut(buf.getLong(8), buf.getLong(16), buf.getLong(24));
    }
  }

  /**
   * The coverage rule of the class comment, for {@link DtlRestore#restoreFrom}: true to replay the
   * DTL's entries, false to restore the backend alone (forced, or nothing to add), else throws.
   */
  static DtlRestore.Coverage coverage(String name, VolumeSpec spec, Request q, DtlConnector.Fetched fetched,
      String dtlProblem, Released released) {
    return (b, backendLastSeq) -> {
      if (released != null && released.lastTlog() == b) {
        log.info("vDisk {}: released by its previous owner (epoch {}) with its history through TLog {} in the"
            + " backend: nothing to take from a DTL", name, released.epoch(), b);
        return false;
      }
      String gap = null;
      if (fetched == null) {
        gap = dtlProblem;
      } else {
        long last = fetched.entries().isEmpty() ? fetched.baseSeq()
            : fetched.entries().get(fetched.entries().size() - 1).seq();
        long stream = fetched.streamEpoch();
        if (q.previousEpoch() > 0 && stream != q.previousEpoch() && stream != q.lease().epoch()) {
          gap = "its DTL " + q.previousDtl() + " holds the stream of epoch " + stream + ", not the previous owner's "
              + q.previousEpoch() + (stream == 0 ? " (it never received this vDisk's stream)" : "");
        } else if (fetched.baseSeq() > backendLastSeq) {
          gap = "its DTL's stream starts after sequence " + fetched.baseSeq() + ", past the backend's end at sequence "
              + backendLastSeq + ": the records between are in neither";
        } else if (spec.dtlMode() == DtlMode.SYNC && last < backendLastSeq) {
          gap = "its DTL's stream ends at sequence " + last + ", before the backend's end at sequence " + backendLastSeq
              + ": the DTL was out of sync with the previous owner, which acknowledged writes without it";
        }
      }
      if (gap == null) {
        return true;
      }
      String msg = "vDisk " + name + ": adopting it could lose acknowledged writes: " + gap + ". The backend holds its"
          + " history through TLog " + b + " (sequence " + backendLastSeq + ")";
      if (q.force()) {
        log.error("{}. FORCED: restoring the backend's history alone; whatever the previous owner acknowledged after"
            + " sequence {} is LOST", msg, backendLastSeq);
        return false;
      }
      throw new RefusedException(msg + ". Not adopting it: bring that DTL back, or adopt with force to accept the"
          + " loss", null);
    };
  }
}
