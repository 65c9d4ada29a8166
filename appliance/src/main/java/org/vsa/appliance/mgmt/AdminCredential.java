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
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The administrator's credential for the management API: the one the configuration gives, or
 * one created at first start in {@code <dataDir>/admin.credential} (mode 0600) and shown once.
 *
 * <pre>
 * # vsa admin credential: keep it secret
 * version=1
 * user=admin
 * password=...
 * crc32c=8 hex digits over every byte before this line
 * </pre>
 */
public record AdminCredential(String user, String password) {
  public static final String FILE = "admin.credential";
  static final String MAGIC_LINE = "# vsa admin credential: keep it secret";

  @Override
  public String toString() {
    return "AdminCredential[user=" + user + ", password=(not shown)]";
  }

  /** Whether a presented user and password are this credential's (constant time in the password). */
  public boolean matches(String u, String p) {
    boolean pw = MessageDigest.isEqual(password.getBytes(StandardCharsets.UTF_8), p.getBytes(StandardCharsets.UTF_8));
    return pw & user.equals(u);
  }

  /** The value of an HTTP {@code Authorization: Basic} header for this credential. */
  public String basicHeader() {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  /** Reads the credential file; empty if there is none. IOException if it is damaged. */
  public static Optional<AdminCredential> read(Path dataDir) throws IOException {
    Path f = dataDir.resolve(FILE);
    if (!Files.exists(f)) {
      return Optional.empty();
    }
    String text = Files.readString(f, StandardCharsets.UTF_8);
    int crcAt = text.lastIndexOf("crc32c=");
    if (!text.startsWith(MAGIC_LINE + "\n") || crcAt < 0) {
      throw new IOException(f + ": not a vsa admin credential file");
    }
    if (!text.substring(crcAt + 7).trim().equals(crc(text.substring(0, crcAt)))) {
      throw new IOException(f + ": checksum mismatch (damaged); delete it to have a new credential created at the next start");
    }
    Map<String, String> kv = new LinkedHashMap<>();
    for (String line : text.substring(0, crcAt).split("\n")) {
      int eq = line.indexOf('=');
      if (!line.startsWith("#") && eq > 0) {
        kv.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    if (!"1".equals(kv.get("version"))) {
      throw new IOException(f + ": credential file version " + kv.get("version") + " is not supported (this build reads 1)");
    }
    if (kv.get("user") == null || kv.get("password") == null || kv.get("password").isEmpty()) {
      throw new IOException(f + ": credential file lacks the user or the password");
    }
    return Optional.of(new AdminCredential(kv.get("user"), kv.get("password")));
  }

  /** Creates a new random credential for {@code user} and stores it, mode 0600, fsynced. */
  public static AdminCredential createIn(Path dataDir, String user) throws IOException {
    byte[] random = new byte[18];
    new SecureRandom().nextBytes(random);
    AdminCredential c = new AdminCredential(user, Base64.getUrlEncoder().withoutPadding().encodeToString(random));
    String body = MAGIC_LINE + "\nversion=1\nuser=" + c.user + "\npassword=" + c.password + "\n";
    byte[] bytes = (body + "crc32c=" + crc(body) + "\n").getBytes(StandardCharsets.UTF_8);
    Path tmp = dataDir.resolve(FILE + ".tmp");
    Files.deleteIfExists(tmp);
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.WRITE))) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, dataDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE);
    try (FileChannel d = FileChannel.open(dataDir, StandardOpenOption.READ)) {
      d.force(true);
    }
    return c;
  }

  private static String crc(String s) {
    CRC32C c = new CRC32C();
    c.update(s.getBytes(StandardCharsets.UTF_8));
    return String.format("%08x", c.getValue());
  }
}
