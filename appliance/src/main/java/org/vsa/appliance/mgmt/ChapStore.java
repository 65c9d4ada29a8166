package org.vsa.appliance.mgmt;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.IscsiTarget;

/**
 * iSCSI CHAP credentials set through the management API, kept in {@code <dataDir>/iscsi/api-chap}
 * (mode 0600: it holds the secrets) so that they apply again at the next start, over the
 * configuration file's. A small text file, replaced atomically:
 *
 * <pre>
 * # vsa api chap
 * version=1
 * chap=IQN USER SECRET MUTUAL_USER MUTUAL_SECRET CRC32C   (base64 fields, "-" when absent;
 *                                                         the CRC32C covers what precedes it)
 * </pre>
 *
 * A target whose line is {@code chap=IQN - - - - CRC} had CHAP turned off through the API. A line
 * whose CRC does not match is dropped with a warning (that target keeps the configuration's CHAP).
 */
public final class ChapStore {
  private static final Logger log = LoggerFactory.getLogger(ChapStore.class);
  static final String MAGIC_LINE = "# vsa api chap";

  /** The CHAP of one target: both empty means CHAP off. */
  record Entry(Optional<IscsiConfig.Chap> chap, Optional<IscsiConfig.Chap> mutual) {}

  private final Path file;
  private final Map<String, Entry> entries = new TreeMap<>();

  private ChapStore(Path file) {
    this.file = file;
  }

  public static ChapStore open(Path dir) throws IOException {
    Files.createDirectories(dir);
    ChapStore s = new ChapStore(dir.resolve("api-chap"));
    if (!Files.exists(s.file)) {
      return s;
    }
    List<String> lines = Files.readAllLines(s.file, StandardCharsets.UTF_8);
    if (lines.size() < 2 || !lines.get(0).equals(MAGIC_LINE)) {
      throw new IOException(s.file + ": not a vsa CHAP table");
    }
    if (!lines.get(1).equals("version=1")) {
      throw new IOException(s.file + ": CHAP table " + lines.get(1) + " is not supported (this build reads version 1)");
    }
    for (String line : lines.subList(2, lines.size())) {
      String[] f = line.startsWith("chap=") ? line.substring(5).split(" ") : new String[0];
      if (f.length != 6 || !crc(String.join(" ", List.of(f).subList(0, 5))).equals(f[5])) {
        log.warn("{}: damaged line dropped; that target keeps the configuration's CHAP", s.file);
        continue;
      }
      try {
        s.entries.put(f[0], new Entry(chap(f[1], f[2]), chap(f[3], f[4])));
      } catch (IllegalArgumentException e) {
        log.warn("{}: line of target {} is not valid ({}); dropped", s.file, f[0], e.getMessage());
      }
    }
    return s;
  }

  synchronized Map<String, Entry> all() {
    return Map.copyOf(entries);
  }

  synchronized void put(String iqn, Entry e) throws IOException {
    Entry before = entries.put(iqn, e);
    try {
      store();
    } catch (IOException ex) {
      if (before == null) {
        entries.remove(iqn);
      } else {
        entries.put(iqn, before);
      }
      throw ex;
    }
  }

  /** At start: applies the stored CHAP to the targets that still exist. */
  public void restore(IscsiTarget iscsi) {
    all().forEach((iqn, e) -> {
      try {
        iscsi.setChap(iqn, e.chap(), e.mutual());
      } catch (IllegalArgumentException ex) {
        log.warn("iSCSI CHAP of {} set through the API is not applied: {}", iqn, ex.getMessage());
      }
    });
  }

  private static Optional<IscsiConfig.Chap> chap(String user, String secret) {
    if (user.equals("-") || secret.equals("-")) {
      return Optional.empty();
    }
    Base64.Decoder d = Base64.getDecoder();
    return Optional.of(new IscsiConfig.Chap(new String(d.decode(user), StandardCharsets.UTF_8),
        new String(d.decode(secret), StandardCharsets.UTF_8)));
  }

  private static String enc(Optional<IscsiConfig.Chap> c, boolean secret) {
    Base64.Encoder e = Base64.getEncoder();
    return c.map(x -> e.encodeToString((secret ? x.secret() : x.user()).getBytes(StandardCharsets.UTF_8))).orElse("-");
  }

  private void store() throws IOException {
    StringBuilder sb = new StringBuilder(MAGIC_LINE + "\nversion=1\n");
    entries.forEach((iqn, e) -> {
      String body = iqn + " " + enc(e.chap(), false) + " " + enc(e.chap(), true) + " " + enc(e.mutual(), false) + " "
          + enc(e.mutual(), true);
      sb.append("chap=").append(body).append(' ').append(crc(body)).append('\n');
    });
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
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
