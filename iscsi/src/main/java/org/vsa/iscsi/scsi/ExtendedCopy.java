package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.Durability;

/**
 * EXTENDED COPY (LID1) 0x83 / 0x00 (SPC-4 6.4), as VMware's VAAI full copy uses it: identification
 * descriptor target descriptors (0xE4) naming LUs of this target by their NAA designator (VPD 0x83),
 * block device to block device segment descriptors (0x02). The copy runs within the command: every
 * descriptor and range is checked before the first block moves, then each segment is read from the
 * source and written to the destination in chunks of at most {@link #CHUNK_BYTES} (BUFFERED, or
 * DURABLE when the destination's write cache is off), through the same write path as WRITE so that
 * COMPARE AND WRITE stays atomic against it.
 */
final class ExtendedCopy implements ScsiCommand {
  private static final Logger log = LoggerFactory.getLogger(ExtendedCopy.class);

  static final int HEADER_BYTES = 16;
  static final int TARGET_DESCRIPTOR_BYTES = 32;
  static final int B2B_SEGMENT_BYTES = 28;
  static final int IDENTIFICATION_TARGET = 0xe4;
  static final int BLOCK_TO_BLOCK = 0x02;
  static final int MAX_TARGET_DESCRIPTORS = 16;
  static final int MAX_SEGMENT_DESCRIPTORS = 64;
  /** Target plus segment descriptor list lengths (16 * 32 + 64 * 28 = 2304 fits). */
  static final int MAX_DESCRIPTOR_LIST_BYTES = 4096;
  /** A segment moves at most 65535 blocks (a 16-bit count) of at most 4 KiB. */
  static final long MAX_SEGMENT_BYTES = 65535L * 4096;
  static final int CHUNK_BYTES = 1 << 20;

  private record Target(LogicalUnit lu, int blockLength) {}

  private record Segment(LogicalUnit src, long srcOffset, LogicalUnit dst, long dstOffset, long bytes) {}

  /** A failure with the sense data the initiator gets. */
  private static final class Refused extends Exception {
    final ScsiResult result;

    Refused(ScsiResult result) {
      super(null, null, false, false);
      this.result = result;
    }
  }

  @Override
  public Reservations.Access access() {
    // The addressed LU is only the copy manager; the source and destination are checked below.
    return Reservations.Access.ALWAYS;
  }

  @Override
  public long dataOutBytes(ScsiRequest r) {
    return r.u32(10);
  }

  @Override
  public ScsiResult execute(ScsiRequest r) {
    if ((r.u8(1) & 0x1f) != 0x00) {
      return ScsiResult.invalidField(1); // only LID1; LID4 (0x01) is not implemented
    }
    long plen = r.u32(10);
    if (plen == 0) {
      return ScsiResult.good();
    }
    byte[] p = r.dataOut();
    if (plen < HEADER_BYTES || p.length < plen) {
      return ScsiResult.illegal(Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    int listId = p[0] & 0xff;
    int usage = (p[1] >>> 3) & 0x03;
    if (usage == 0x01) {
      return ScsiResult.check(Sense.invalidParameterField(1));
    }
    boolean keep = usage != 0x03; // 11b: no list identifier, nothing kept for RECEIVE COPY RESULTS
    CopyResults results = r.lu().copyResults;
    if (keep && !results.begin(r.nexus(), listId)) {
      return ScsiResult.illegal(Sense.OPERATION_IN_PROGRESS);
    }
    int[] segmentsDone = {0};
    long[] bytesDone = {0};
    ScsiResult result = null;
    try {
      List<Segment> segments = parse(r, p, plen);
      result = copy(segments, segmentsDone, bytesDone);
    } catch (Refused e) {
      result = e.result;
    } catch (RuntimeException e) {
      log.error("EXTENDED COPY failed", e);
      result = ScsiResult.check(Sense.HARDWARE_ERROR, Sense.INTERNAL_TARGET_FAILURE);
    } finally {
      if (keep) {
        results.end(r.nexus(), listId, result == null ? null
            : new CopyResults.Outcome(result.status(), result.sense(), segmentsDone[0], bytesDone[0]));
      }
    }
    return result;
  }

  private static int u16(byte[] p, int o) {
    return ((p[o] & 0xff) << 8) | (p[o + 1] & 0xff);
  }

  private static long u32(byte[] p, int o) {
    return ((long) u16(p, o) << 16) | u16(p, o + 2);
  }

  private static long u64(byte[] p, int o) {
    return (u32(p, o) << 32) | u32(p, o + 4);
  }

  private static Refused refuse(int key, int ascq) {
    return new Refused(ScsiResult.check(key, ascq));
  }

  private static Refused badField(int offset) {
    return new Refused(ScsiResult.check(Sense.invalidParameterField(offset)));
  }

  /** Checks the whole parameter list, resolves the targets and the ranges; nothing is copied yet. */
  private static List<Segment> parse(ScsiRequest r, byte[] p, long plen) throws Refused {
    int targetListBytes = u16(p, 2);
    long segmentListBytes = u32(p, 8);
    long inlineBytes = u32(p, 12);
    if (targetListBytes + segmentListBytes > MAX_DESCRIPTOR_LIST_BYTES
        || HEADER_BYTES + targetListBytes + segmentListBytes + inlineBytes > plen) {
      throw refuse(Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
    }
    if (targetListBytes % TARGET_DESCRIPTOR_BYTES != 0) {
      throw badField(2);
    }
    int targetCount = targetListBytes / TARGET_DESCRIPTOR_BYTES;
    if (targetCount > MAX_TARGET_DESCRIPTORS) {
      throw refuse(Sense.ILLEGAL_REQUEST, Sense.TOO_MANY_TARGET_DESCRIPTORS);
    }
    List<Target> targets = new ArrayList<>(targetCount);
    for (int i = 0; i < targetCount; i++) {
      targets.add(target(r, p, HEADER_BYTES + i * TARGET_DESCRIPTOR_BYTES));
    }
    int o = HEADER_BYTES + targetListBytes;
    int end = (int) (o + segmentListBytes);
    List<Segment> segments = new ArrayList<>();
    while (o < end) {
      if (o + 4 > end) {
        throw refuse(Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
      }
      if (segments.size() == MAX_SEGMENT_DESCRIPTORS) {
        throw refuse(Sense.ILLEGAL_REQUEST, Sense.TOO_MANY_SEGMENT_DESCRIPTORS);
      }
      if ((p[o] & 0xff) != BLOCK_TO_BLOCK) {
        throw new Refused(ScsiResult.check(segmentTypeSense(o)));
      }
      if (u16(p, o + 2) != B2B_SEGMENT_BYTES - 4) {
        throw badField(o + 2);
      }
      if (o + B2B_SEGMENT_BYTES > end) {
        throw refuse(Sense.ILLEGAL_REQUEST, Sense.PARAMETER_LIST_LENGTH_ERROR);
      }
      segments.add(segment(r, p, o, targets));
      o += B2B_SEGMENT_BYTES;
    }
    return segments;
  }

  private static byte[] segmentTypeSense(int offset) {
    byte[] s = Sense.fixed(Sense.ILLEGAL_REQUEST, Sense.UNSUPPORTED_SEGMENT_DESCRIPTOR_TYPE_CODE);
    s[15] = (byte) 0x80;
    Bytes.be16(s, 16, offset);
    return s;
  }

  /** An identification descriptor target descriptor; an LU this target does not have resolves to null. */
  private static Target target(ScsiRequest r, byte[] p, int o) throws Refused {
    if ((p[o] & 0xff) != IDENTIFICATION_TARGET) {
      byte[] s = Sense.fixed(Sense.ILLEGAL_REQUEST, Sense.UNSUPPORTED_TARGET_DESCRIPTOR_TYPE_CODE);
      s[15] = (byte) 0x80;
      Bytes.be16(s, 16, o);
      throw new Refused(ScsiResult.check(s));
    }
    // Byte 1: LU ID TYPE (ignored, as SPC-4 says), NUL (obsolete), peripheral device type.
    if ((p[o + 1] & 0x1f) != 0x00) {
      throw badField(o + 1); // only block devices
    }
    int codeSet = p[o + 4] & 0x0f;
    int association = (p[o + 5] >>> 4) & 0x03;
    int designatorType = p[o + 5] & 0x0f;
    int length = p[o + 7] & 0xff;
    int blockLength = (int) (u32(p, o + 28) & 0xffffff);
    LogicalUnit found = null;
    if (codeSet == 0x01 && association == 0x00 && designatorType == 0x03 && length == 16) {
      byte[] naa = Arrays.copyOfRange(p, o + 8, o + 8 + 16);
      for (LogicalUnit lu : r.units().values()) {
        if (Arrays.equals(naa, Inquiry.naa(lu.volume().id()))) {
          found = lu;
          break;
        }
      }
    }
    if (found != null && blockLength != 0 && blockLength != found.volume().blockSize()) {
      throw badField(o + 29);
    }
    return new Target(found, blockLength);
  }

  private static Segment segment(ScsiRequest r, byte[] p, int o, List<Target> targets) throws Refused {
    boolean dc = (p[o + 1] & 0x02) != 0;
    int srcIndex = u16(p, o + 4);
    int dstIndex = u16(p, o + 6);
    if (srcIndex >= targets.size() || dstIndex >= targets.size()
        || targets.get(srcIndex).lu() == null || targets.get(dstIndex).lu() == null) {
      throw refuse(Sense.COPY_ABORTED, Sense.UNREACHABLE_COPY_TARGET);
    }
    LogicalUnit src = targets.get(srcIndex).lu();
    LogicalUnit dst = targets.get(dstIndex).lu();
    int srcBs = src.volume().blockSize();
    int dstBs = dst.volume().blockSize();
    long blocks = u16(p, o + 10);
    long bytes = blocks * (dc ? dstBs : srcBs);
    if (bytes % srcBs != 0 || bytes % dstBs != 0) {
      throw badField(o + 10);
    }
    long srcLba = u64(p, o + 12);
    long dstLba = u64(p, o + 20);
    if (!inRange(src, srcLba, bytes / srcBs)) {
      throw new Refused(ScsiResult.check(outOfRange(true, segmentNumber(o, p), o + 12)));
    }
    if (!inRange(dst, dstLba, bytes / dstBs)) {
      throw new Refused(ScsiResult.check(outOfRange(false, segmentNumber(o, p), o + 20)));
    }
    if (src.reservations().conflicts(r.nexus(), Reservations.Access.READ)
        || dst.reservations().conflicts(r.nexus(), Reservations.Access.WRITE)) {
      throw new Refused(ScsiResult.status(ScsiResult.RESERVATION_CONFLICT));
    }
    return new Segment(src, srcLba * srcBs, dst, dstLba * dstBs, bytes);
  }

  private static int segmentNumber(int o, byte[] p) {
    return (o - HEADER_BYTES - u16(p, 2)) / B2B_SEGMENT_BYTES;
  }

  /**
   * A segment beyond the end of its source or destination, reported the way SPC-4 reports an error
   * of a copy target device: sense key COPY ABORTED; COMMAND-SPECIFIC INFORMATION = offset of the
   * source's (byte 8) or destination's (byte 9) sense data within this sense data, and the segment
   * number (bytes 10-11); the field pointer (SKSV, SD = 0) to the LBA in the parameter list; and
   * the copy target's own sense, ILLEGAL REQUEST / LOGICAL BLOCK ADDRESS OUT OF RANGE, as the
   * additional sense bytes (from byte 18).
   */
  static byte[] outOfRange(boolean source, int segment, int lbaOffset) {
    byte[] target = Sense.fixed(Sense.ILLEGAL_REQUEST, Sense.LBA_OUT_OF_RANGE);
    byte[] s = Arrays.copyOf(Sense.fixed(Sense.COPY_ABORTED, Sense.NO_ADDITIONAL_SENSE), Sense.BYTES + target.length);
    s[7] = (byte) (s.length - 8);
    s[source ? 8 : 9] = (byte) Sense.BYTES;
    Bytes.be16(s, 10, segment);
    s[15] = (byte) 0x80;
    Bytes.be16(s, 16, lbaOffset);
    System.arraycopy(target, 0, s, Sense.BYTES, target.length);
    return s;
  }

  private static boolean inRange(LogicalUnit lu, long lba, long count) {
    long blocks = lu.volume().sizeBytes() / lu.volume().blockSize();
    return lba >= 0 && count >= 0 && lba <= blocks && count <= blocks - lba;
  }

  private static ScsiResult copy(List<Segment> segments, int[] segmentsDone, long[] bytesDone) {
    long largest = segments.stream().mapToLong(s -> Math.min(s.bytes(), chunk(s))).max().orElse(0);
    byte[] buf = new byte[(int) largest];
    for (Segment s : segments) {
      boolean reading = true;
      try {
        int chunk = chunk(s);
        Durability d = s.dst().writeCacheEnabled ? Durability.BUFFERED : Durability.DURABLE;
        // Within one LU with the destination overlapping the source from above: copy backwards.
        boolean backwards = s.src() == s.dst() && s.dstOffset() > s.srcOffset()
            && s.dstOffset() < s.srcOffset() + s.bytes();
        long done = 0;
        while (done < s.bytes()) {
          int n = (int) Math.min(chunk, s.bytes() - done);
          long at = backwards ? s.bytes() - done - n : done;
          reading = true;
          s.src().volume().read(s.srcOffset() + at, ByteBuffer.wrap(buf, 0, n));
          reading = false;
          Write.write(s.dst(), s.dstOffset() + at, ByteBuffer.wrap(buf, 0, n), d);
          done += n;
          bytesDone[0] += n;
        }
      } catch (IOException e) {
        log.warn("EXTENDED COPY segment {} ({} -> {}) failed: {}", segmentsDone[0], s.src().volume().name(),
            s.dst().volume().name(), e.toString());
        return ScsiResult.check(Sense.COPY_ABORTED, reading ? Sense.UNRECOVERED_READ_ERROR : Sense.WRITE_ERROR);
      }
      segmentsDone[0]++;
    }
    return ScsiResult.good();
  }

  /** Up to 1 MiB, whole blocks of both sides. */
  private static int chunk(Segment s) {
    int unit = Math.max(s.src().volume().blockSize(), s.dst().volume().blockSize());
    return Math.max(unit, CHUNK_BYTES / unit * unit);
  }
}
