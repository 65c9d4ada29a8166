package org.vsa.appliance.cluster;

import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * The records of vDisk names and their deletions in the cluster namespace of the backend. A name
 * is taken once per <em>generation</em>: a deleted vDisk's name can be taken again only by the next
 * generation, so that a record of an old generation (written late by a node that was paused) can
 * never be mistaken for one of the new vDisk. None of these records is ever deleted.
 *
 * <pre>
 * name.&lt;vdisk&gt;                        generation 1 of the name is taken (create-if-absent)
 * name-&lt;generation, 12 digits&gt;.&lt;vdisk&gt;  generation 2 and later is taken (create-if-absent, once the one before is deleted)
 * deleting.&lt;vdisk&gt;.&lt;generation&gt;       its deletion was requested (create-if-absent): the point of no return
 * deleted.&lt;vdisk&gt;.&lt;generation&gt;        its data is gone from the backend and nobody holds its name: the next generation may be taken
 * </pre>
 *
 * The name records' content is the creating node (a line of text, as before generations). A
 * deletion record: magic "VDEL" (4), version 1 (1), kind (1: 1 requested, 2 done), vDisk name and
 * node (UTF-8, 2-byte length each), generation (8), vDisk id (16), epoch (8: the claim epoch of the
 * node that deleted it; 0 in a request), CRC32C (4) of all before.
 */
final class DeletionRecords {
  static final int MAGIC = 0x5644454c; // "VDEL"
  static final int VERSION = 1;
  static final byte REQUESTED = 1;
  static final byte DONE = 2;
  static final String NAME_PREFIX = "name.";
  static final String NAME_GENERATION_PREFIX = "name-";
  static final String DELETING_PREFIX = "deleting.";
  static final String DELETED_PREFIX = "deleted.";

  private DeletionRecords() {}

  /** A request or a done record of the deletion of one generation of a name. */
  record Deletion(byte kind, String vdisk, long generation, UUID id, String node, long epoch) {}

  static String nameRecord(String vdisk, long generation) {
    if (generation < 1) {
      throw new IllegalArgumentException("generation must be >= 1; got " + generation);
    }
    return generation == 1 ? NAME_PREFIX + vdisk : NAME_GENERATION_PREFIX + twelve(generation) + "." + vdisk;
  }

  static String deletingRecord(String vdisk, long generation) {
    return DELETING_PREFIX + vdisk + "." + twelve(generation);
  }

  static String deletedRecord(String vdisk, long generation) {
    return DELETED_PREFIX + vdisk + "." + twelve(generation);
  }

  private static String twelve(long n) {
    return String.format("%012d", n);
  }

  /** A parsed object name: the vDisk name and the generation; null when the name is not such a record. */
  record Named(String vdisk, long generation) {}

  /** {@code name.<vdisk>} or {@code name-<generation>.<vdisk>}; null for anything else. */
  static Named parseName(String object) {
    if (object.startsWith(NAME_PREFIX)) {
      String v = object.substring(NAME_PREFIX.length());
      return v.isEmpty() ? null : new Named(v, 1);
    }
    if (object.startsWith(NAME_GENERATION_PREFIX)) {
      String rest = object.substring(NAME_GENERATION_PREFIX.length());
      if (rest.length() < 14 || rest.charAt(12) != '.') {
        return null;
      }
      long g = digits(rest.substring(0, 12));
      return g < 2 ? null : new Named(rest.substring(13), g);
    }
    return null;
  }

  /** {@code <prefix><vdisk>.<generation>}; null for anything else. */
  static Named parseSuffixed(String prefix, String object) {
    if (!object.startsWith(prefix) || object.length() < prefix.length() + 14) {
      return null;
    }
    int dot = object.length() - 13;
    if (object.charAt(dot) != '.') {
      return null;
    }
    long g = digits(object.substring(dot + 1));
    return g < 1 ? null : new Named(object.substring(prefix.length(), dot), g);
  }

  private static long digits(String s) {
    if (s.length() != 12) {
      return -1;
    }
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }

  static byte[] encode(Deletion d) {
    byte[] v = d.vdisk().getBytes(StandardCharsets.UTF_8);
    byte[] n = d.node().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + 1 + 1 + 2 + v.length + 2 + n.length + 8 + 16 + 8 + 4);
    b.putInt(MAGIC).put((byte) VERSION).put(d.kind());
    b.putShort((short) v.length).put(v);
    b.putShort((short) n.length).put(n);
    b.putLong(d.generation()).putLong(d.id().getMostSignificantBits()).putLong(d.id().getLeastSignificantBits());
    b.putLong(d.epoch());
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, b.position());
    b.putInt((int) crc.getValue());
    return b.array();
  }

  static Deletion decode(byte[] bytes, String what) throws IOException {
    if (bytes.length < 10) {
      throw new IOException("deletion record " + what + ": " + bytes.length + " bytes, too short");
    }
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, bytes.length - 4);
    ByteBuffer b = ByteBuffer.wrap(bytes);
    if (b.getInt(bytes.length - 4) != (int) crc.getValue()) {
      throw new IOException("deletion record " + what + ": CRC32C mismatch");
    }
    if (b.getInt() != MAGIC) {
      throw new IOException("deletion record " + what + ": bad magic");
    }
    int version = b.get() & 0xff;
    if (version != VERSION) {
      throw new IOException("deletion record " + what + ": unknown version " + version);
    }
    try {
      byte kind = b.get();
      if (kind != REQUESTED && kind != DONE) {
        throw new IOException("deletion record " + what + ": unknown kind " + kind);
      }
      String vdisk = string(b);
      String node = string(b);
      long gen = b.getLong();
      UUID id = new UUID(b.getLong(), b.getLong());
      long epoch = b.getLong();
      if (b.position() != bytes.length - 4) {
        throw new IOException("deletion record " + what + ": " + (bytes.length - 4 - b.position()) + " bytes left over");
      }
      return new Deletion(kind, vdisk, gen, id, node, epoch);
    } catch (BufferUnderflowException e) {
      throw new IOException("deletion record " + what + ": truncated", e);
    }
  }

  private static String string(ByteBuffer b) {
    int len = b.getShort() & 0xffff;
    byte[] u = new byte[len];
    b.get(u);
    return new String(u, StandardCharsets.UTF_8);
  }
}
