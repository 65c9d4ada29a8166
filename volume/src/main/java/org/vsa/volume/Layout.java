package org.vsa.volume;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Units of the engine's address space and the encoding of a cluster's location.
 *
 * <p>A vDisk is mapped in 4 KiB clusters. A written cluster lives at a location: the SCO's
 * number (1..2^32-1) and its slot inside that SCO; location 0 means "never written or
 * unmapped" and reads as zeros. Each mapping entry also keeps the CRC32C of the cluster's
 * bytes, checked on every read from every tier.
 */
public final class Layout {
  private Layout() {}

  public static final int CLUSTER_BYTES = 4096;
  public static final int CLUSTER_SHIFT = 12;
  /** Mapping entries per metadata page: one page covers 2 MiB of the vDisk. */
  public static final int PAGE_ENTRIES = 512;
  public static final int PAGE_SHIFT = 9;
  public static final long SCO_NUMBER_MAX = 0xFFFF_FFFFL;
  /** Deepest clone lineage: a clone of a clone of ... this many levels. */
  public static final int LINEAGE_MAX = 255;
  /** An SCO file begins with one cluster-sized header so that data slots stay 4 KiB aligned. */
  public static final int SCO_HEADER_BYTES = 4096;

  public static long location(long scoNumber, int slot) {
    Verify.that(scoNumber > 0 && scoNumber <= SCO_NUMBER_MAX, "SCO number %d out of range", scoNumber);
    Verify.that(slot >= 0 && slot < (1 << 16), "slot %d out of range", slot);
    return (scoNumber << 16) | slot;
  }

  public static long scoOf(long location) {
    return (location >>> 16) & SCO_NUMBER_MAX;
  }

  /**
   * Which vDisk of the clone lineage holds the SCO: 0 = this vDisk, 1 = its parent (the vDisk it
   * was cloned from), 2 = the parent's parent, ... (bits 48..55 of a location).
   */
  public static int lineageOf(long location) {
    return location < 0 ? SHARED_LEVEL : (int) (location >>> 48) & 0xFF;
  }

  /**
   * What {@link #lineageOf} answers for a shared (deduplicated) location: never 0, so code that
   * looks at a vDisk's own SCOs (level 0) leaves shared clusters alone.
   */
  public static final int SHARED_LEVEL = 256;
  /** Deduplication: the most vDisks a vPool's shared-namespace table can number. */
  public static final int SHARED_INDEX_MAX = 0x7FFF;
  /** Deduplication: clusters of SCOs numbered from here on are not shared (the TLog record has 30 bits). */
  public static final long SHARED_SCO_LIMIT = 1L << 30;

  /**
   * A shared location (bit 63 set): slot {@code slot} of SCO {@code scoNumber} in the namespace
   * that entry {@code index} of the vPool's dedupe table names (bits 48..62). It is absolute:
   * every vDisk and every clone reads it from that namespace.
   */
  public static long sharedLocation(int index, long scoNumber, int slot) {
    Verify.that(index >= 0 && index <= SHARED_INDEX_MAX, "shared index %d out of range", index);
    Verify.that(scoNumber > 0 && scoNumber < SHARED_SCO_LIMIT, "shared SCO number %d out of range", scoNumber);
    return Long.MIN_VALUE | ((long) index << 48) | location(scoNumber, slot);
  }

  public static boolean isShared(long location) {
    return location < 0;
  }

  /** The dedupe-table index of a shared location. */
  public static int sharedIndexOf(long location) {
    return (int) (location >>> 48) & SHARED_INDEX_MAX;
  }

  /** The location with its lineage level set to {@code level}. */
  public static long withLineage(long location, int level) {
    Verify.that(level >= 0 && level <= LINEAGE_MAX, "lineage level %d out of range", level);
    return (location & 0x0000_FFFF_FFFF_FFFFL) | ((long) level << 48);
  }

  public static int slotOf(long location) {
    return (int) (location & 0xFFFF);
  }

  /** Byte offset of a slot inside its SCO object. */
  public static long slotOffset(int slot) {
    return SCO_HEADER_BYTES + (long) slot * CLUSTER_BYTES;
  }

  public static String scoName(long scoNumber) {
    return "sco_" + hex8(scoNumber);
  }

  public static String tlogName(long tlogNumber) {
    return "tlog_" + hex8(tlogNumber);
  }

  /** Eight lower-case hex digits (String.format is too slow for the read path). */
  private static String hex8(long n) {
    Verify.that(n >= 0 && n <= SCO_NUMBER_MAX, "number %d does not fit 8 hex digits", n);
    char[] c = new char[8];
    for (int i = 7; i >= 0; i--) {
      c[i] = Character.forDigit((int) (n & 0xF), 16);
      n >>>= 4;
    }
    return new String(c);
  }

  /** Parses the number out of a {@code sco_}/{@code tlog_} name, or -1. */
  public static long numberOf(String name, String prefix) {
    if (!name.startsWith(prefix) || name.length() != prefix.length() + 8) {
      return -1;
    }
    try {
      return Long.parseLong(name.substring(prefix.length()), 16);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** CRC32C of the buffer's remaining bytes, leaving its position unchanged. */
  public static int crc32c(ByteBuffer buf) {
    CRC32C crc = new CRC32C();
    crc.update(buf.duplicate());
    return (int) crc.getValue();
  }

  public static int crc32c(byte[] b, int off, int len) {
    CRC32C crc = new CRC32C();
    crc.update(b, off, len);
    return (int) crc.getValue();
  }
}
