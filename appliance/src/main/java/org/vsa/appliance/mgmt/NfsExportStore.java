package org.vsa.appliance.mgmt;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.zip.CRC32C;
import org.vsa.nfs.ClientRule;
import org.vsa.nfs.Export;
import org.vsa.nfs.Squash;

/**
 * The NFS exports as last changed through the API, kept in {@code <dataDir>/nfs/api-exports.json}
 * so that a restart serves them (they replace the configuration's {@code nfs.exports} from then
 * on). One JSON document: {@code {"magic":"vsa-nfs-exports","version":1,"exports":[...],"crc":N}},
 * the CRC32C over the exports array as written. Written to a temporary file, fsynced, then renamed.
 */
public final class NfsExportStore {
  static final String FILE = "api-exports.json";
  static final String MAGIC = "vsa-nfs-exports";
  static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  private NfsExportStore() {}

  public static Path file(Path dataDir) {
    return dataDir.resolve("nfs").resolve(FILE);
  }

  /** The stored exports, or empty when none were stored; a damaged file is an IOException saying why. */
  public static Optional<List<Export>> load(Path dataDir) throws IOException {
    Path f = file(dataDir);
    if (!Files.exists(f)) {
      return Optional.empty();
    }
    JsonNode n = JSON.readTree(Files.readAllBytes(f));
    if (n == null || !MAGIC.equals(n.path("magic").asText())) {
      throw new IOException(f + ": not an exports file (no magic)");
    }
    if (n.path("version").asInt() != VERSION) {
      throw new IOException(f + ": version " + n.path("version").asText() + ", this appliance reads " + VERSION);
    }
    JsonNode exports = n.path("exports");
    if (!exports.isArray() || n.path("crc").asLong(-1) != crc(JSON.writeValueAsBytes(exports))) {
      throw new IOException(f + ": checksum mismatch");
    }
    List<Export> out = new ArrayList<>();
    for (JsonNode e : exports) {
      List<ClientRule> rules = new ArrayList<>();
      for (JsonNode c : e.path("clients")) {
        rules.add(new ClientRule(c.path("host").asText(), c.path("readOnly").asBoolean(),
            Squash.valueOf(c.path("squash").asText()), c.path("anonUid").asInt(), c.path("anonGid").asInt()));
      }
      out.add(new Export(e.path("vpool").asText(), e.path("path").asText(), rules));
    }
    return Optional.of(out);
  }

  static void store(Path dataDir, List<Export> exports) throws IOException {
    ArrayNode a = JSON.createArrayNode();
    for (Export e : exports) {
      ObjectNode x = a.addObject();
      x.put("vpool", e.vpool());
      x.put("path", e.path());
      ArrayNode cs = x.putArray("clients");
      for (ClientRule r : e.clients()) {
        ObjectNode c = cs.addObject();
        c.put("host", r.host());
        c.put("readOnly", r.readOnly());
        c.put("squash", r.squash().name().toUpperCase(Locale.ROOT));
        c.put("anonUid", r.anonUid());
        c.put("anonGid", r.anonGid());
      }
    }
    ObjectNode doc = JSON.createObjectNode();
    doc.put("magic", MAGIC);
    doc.put("version", VERSION);
    doc.set("exports", a);
    doc.put("crc", crc(JSON.writeValueAsBytes(a)));
    Path f = file(dataDir);
    Files.createDirectories(f.getParent());
    Path tmp = f.resolveSibling(FILE + ".tmp");
    try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.CREATE,
        java.nio.file.StandardOpenOption.WRITE, java.nio.file.StandardOpenOption.TRUNCATE_EXISTING)) {
      ch.write(java.nio.ByteBuffer.wrap(JSON.writerWithDefaultPrettyPrinter().writeValueAsString(doc)
          .getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
    }
    Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static long crc(byte[] b) {
    CRC32C c = new CRC32C();
    c.update(b);
    return c.getValue();
  }
}
