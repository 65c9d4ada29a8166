package org.vsa.appliance.mgmt;

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
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * iSCSI LUNs mapped through the management API (the configuration's LUNs are not in it), kept
 * in {@code <dataDir>/iscsi/api-luns} so that they come back at the next start. A small text
 * file, replaced atomically:
 *
 * <pre>
 * # vsa api luns
 * version=1
 * lun=IQN LUN VDISK CRC32C   (one per LUN; the CRC32C covers "IQN LUN VDISK")
 * </pre>
 *
 * A line whose CRC does not match is dropped with a warning (that LUN is not mapped at start;
 * the vDisk itself is untouched).
 */
public final class LunTable {
  private static final Logger log = LoggerFactory.getLogger(LunTable.class);
  static final String MAGIC_LINE = "# vsa api luns";

  public record Lun(String iqn, int lun, String vdisk) {}

  private final Path file;
  private final List<Lun> luns = new ArrayList<>();

  private LunTable(Path file) {
    this.file = file;
  }

  public static LunTable open(Path dir) throws IOException {
    Files.createDirectories(dir);
    LunTable t = new LunTable(dir.resolve("api-luns"));
    if (!Files.exists(t.file)) {
      return t;
    }
    List<String> lines = Files.readAllLines(t.file, StandardCharsets.UTF_8);
    if (lines.size() < 2 || !lines.get(0).equals(MAGIC_LINE)) {
      throw new IOException(t.file + ": not a vsa LUN table");
    }
    if (!lines.get(1).equals("version=1")) {
      throw new IOException(t.file + ": LUN table " + lines.get(1) + " is not supported (this build reads version 1)");
    }
    for (String line : lines.subList(2, lines.size())) {
      String[] f = line.startsWith("lun=") ? line.substring(4).split(" ") : new String[0];
      if (f.length != 4 || !crc(f[0] + " " + f[1] + " " + f[2]).equals(f[3])) {
        log.warn("{}: damaged line '{}' dropped; that LUN is not mapped", t.file, line);
        continue;
      }
      try {
        t.luns.add(new Lun(f[0], Integer.parseInt(f[1]), f[2]));
      } catch (NumberFormatException e) {
        log.warn("{}: line '{}' has no LUN number; dropped", t.file, line);
      }
    }
    return t;
  }

  public synchronized List<Lun> all() {
    return List.copyOf(luns);
  }

  public synchronized void add(Lun l) throws IOException {
    luns.add(l);
    store();
  }

  /** Removes every LUN of {@code vdisk}; returns them. */
  public synchronized List<Lun> removeVdisk(String vdisk) throws IOException {
    List<Lun> gone = luns.stream().filter(l -> l.vdisk().equals(vdisk)).toList();
    if (!gone.isEmpty()) {
      luns.removeAll(gone);
      store();
    }
    return gone;
  }

  private void store() throws IOException {
    StringBuilder sb = new StringBuilder(MAGIC_LINE + "\nversion=1\n");
    for (Lun l : luns) {
      String body = l.iqn() + " " + l.lun() + " " + l.vdisk();
      sb.append("lun=").append(body).append(' ').append(crc(body)).append('\n');
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8));
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel d = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  private static String crc(String s) {
    CRC32C c = new CRC32C();
    c.update(s.getBytes(StandardCharsets.UTF_8));
    return String.format("%08x", c.getValue());
  }
}
