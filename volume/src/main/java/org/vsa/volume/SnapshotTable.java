package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A vDisk's snapshots and the TLog ranges of its head, stored atomically as {@code snapshots}
 * beside its metadata and put into its backend namespace after every change. A small text
 * file, like the vDisk record:
 *
 * <pre>
 * # vsa snapshots
 * version=1
 * head=TLOG-RANGES
 * rollback=NAME FIRST-NEW-TLOG   (only while a rollback is under way; '-' otherwise)
 * snapshot=NAME UUID CREATED-EPOCH-MILLIS SEQ SIZE-BYTES TLOG-RANGES SCHEDULED   (oldest first)
 * crc32c=8 hex digits over every byte before this line
 * </pre>
 *
 * A snapshot is a point in the TLog history: the TLogs of its ranges, replayed in order, give
 * the mapping the vDisk had when it was taken. Nothing else is copied.
 */
record SnapshotTable(TlogRanges head, String rollbackTo, long rollbackFirstTlog, List<Entry> snapshots) {
  static final String FILE = "snapshots";
  static final String MAGIC_LINE = "# vsa snapshots";
  static final int VERSION = 1;

  /** One snapshot. {@code seq}: the last TLog sequence number it contains. */
  record Entry(String name, UUID uuid, long createdMillis, long seq, long sizeBytes, TlogRanges ranges,
      boolean scheduled) {}

  SnapshotTable {
    snapshots = List.copyOf(snapshots);
  }

  static SnapshotTable empty() {
    return new SnapshotTable(TlogRanges.all(), null, 0, List.of());
  }

  Optional<Entry> find(String name) {
    return snapshots.stream().filter(s -> s.name().equals(name)).findFirst();
  }

  SnapshotTable with(Entry e) {
    List<Entry> l = new ArrayList<>(snapshots);
    l.add(e);
    return new SnapshotTable(head, rollbackTo, rollbackFirstTlog, l);
  }

  SnapshotTable without(String name) {
    List<Entry> l = new ArrayList<>(snapshots);
    l.removeIf(s -> s.name().equals(name));
    return new SnapshotTable(head, rollbackTo, rollbackFirstTlog, l);
  }

  /** The table once a rollback to {@code e} has started: later snapshots gone, head cut. */
  SnapshotTable rollingBackTo(Entry e, long firstNewTlog) {
    List<Entry> l = new ArrayList<>();
    for (Entry s : snapshots) {
      l.add(s);
      if (s.name().equals(e.name())) {
        break;
      }
    }
    return new SnapshotTable(e.ranges().thenFrom(firstNewTlog), e.name(), firstNewTlog, l);
  }

  /** The table with another head (an adoption skips the numbers the previous owner may still use). */
  SnapshotTable withHead(TlogRanges h) {
    return new SnapshotTable(h, rollbackTo, rollbackFirstTlog, snapshots);
  }

  SnapshotTable rollbackDone() {
    return new SnapshotTable(head, null, 0, snapshots);
  }

  byte[] encode() {
    StringBuilder sb = new StringBuilder();
    sb.append(MAGIC_LINE).append('\n');
    sb.append("version=").append(VERSION).append('\n');
    sb.append("head=").append(head.encode()).append('\n');
    sb.append("rollback=").append(rollbackTo == null ? "-" : rollbackTo + " " + rollbackFirstTlog).append('\n');
    for (Entry s : snapshots) {
      sb.append("snapshot=").append(s.name()).append(' ').append(s.uuid()).append(' ').append(s.createdMillis())
          .append(' ').append(s.seq()).append(' ').append(s.sizeBytes()).append(' ').append(s.ranges().encode())
          .append(' ').append(s.scheduled()).append('\n');
    }
    byte[] body = sb.toString().getBytes(StandardCharsets.UTF_8);
    String crc = String.format("crc32c=%08x%n", Layout.crc32c(body, 0, body.length));
    byte[] out = new byte[body.length + crc.length()];
    System.arraycopy(body, 0, out, 0, body.length);
    System.arraycopy(crc.getBytes(StandardCharsets.UTF_8), 0, out, body.length, crc.length());
    return out;
  }

  static SnapshotTable decode(byte[] bytes, Object from) throws IOException {
    String text = new String(bytes, StandardCharsets.UTF_8);
    int crcAt = text.lastIndexOf("crc32c=");
    if (!text.startsWith(MAGIC_LINE + "\n") || crcAt < 0) {
      throw new IOException(from + ": not a snapshot table");
    }
    byte[] body = text.substring(0, crcAt).getBytes(StandardCharsets.UTF_8);
    String want = String.format("%08x", Layout.crc32c(body, 0, body.length));
    if (!text.substring(crcAt + 7).trim().equals(want)) {
      throw new IOException(from + ": snapshot table checksum mismatch");
    }
    TlogRanges head = null;
    String rollbackTo = null;
    long rollbackFirst = 0;
    List<Entry> snaps = new ArrayList<>();
    String version = null;
    try {
      for (String line : text.substring(0, crcAt).split("\n")) {
        int eq = line.indexOf('=');
        if (line.startsWith("#") || eq <= 0) {
          continue;
        }
        String k = line.substring(0, eq);
        String v = line.substring(eq + 1);
        switch (k) {
          case "version" -> version = v;
          case "head" -> head = TlogRanges.parse(v);
          case "rollback" -> {
            if (!v.equals("-")) {
              String[] f = v.split(" ");
              rollbackTo = f[0];
              rollbackFirst = Long.parseLong(f[1]);
            }
          }
          case "snapshot" -> {
            String[] f = v.split(" ");
            if (f.length != 7) {
              throw new IllegalArgumentException("snapshot line has " + f.length + " fields, expected 7");
            }
            snaps.add(new Entry(f[0], UUID.fromString(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3]),
                Long.parseLong(f[4]), TlogRanges.parse(f[5]), Boolean.parseBoolean(f[6])));
          }
          default -> throw new IllegalArgumentException("unknown key " + k);
        }
      }
    } catch (RuntimeException e) {
      throw new IOException(from + ": snapshot table is malformed: " + e.getMessage(), e);
    }
    if (!String.valueOf(VERSION).equals(version)) {
      throw new IOException(from + ": snapshot table version " + version + " is not supported (this build reads 1)");
    }
    if (head == null) {
      throw new IOException(from + ": snapshot table has no head line");
    }
    return new SnapshotTable(head, rollbackTo, rollbackFirst, snaps);
  }

  /** Loads the table from {@code dir}, or the empty table if the vDisk never had one. */
  static SnapshotTable load(Path dir) throws IOException {
    Path f = dir.resolve(FILE);
    if (!Files.exists(f)) {
      return empty();
    }
    return decode(Files.readAllBytes(f), f);
  }

  /** Replaces the table in {@code dir} atomically (write, fsync, rename, fsync the directory). */
  void store(Path dir) throws IOException {
    Path tmp = dir.resolve(FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, ByteBuffer.wrap(encode()), 0);
      ch.force(true);
    }
    Files.move(tmp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(dir);
  }
}
