package org.vsa.volume;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * A vDisk's identity and settings as stored beside its metadata and in its backend namespace
 * (object {@code volume}): a small text file, so an administrator can read it.
 *
 * <pre>
 * # vsa vdisk
 * version=1
 * id=...
 * name=... vpool=... sizeBytes=... blockSize=... scoSizeBytes=... cachePolicy=... dtlMode=...
 * crc32c=8 hex digits over every byte before this line
 * </pre>
 * {@code dtlMode} (none, async, sync) came later within version 1: a record without it means none.
 */
record VolumeRecord(UUID id, VolumeSpec spec) {
  static final String MAGIC_LINE = "# vsa vdisk";
  static final int VERSION = 1;

  byte[] encode() {
    StringBuilder sb = new StringBuilder();
    sb.append(MAGIC_LINE).append('\n');
    sb.append("version=").append(VERSION).append('\n');
    sb.append("id=").append(id).append('\n');
    sb.append("name=").append(spec.name()).append('\n');
    sb.append("vpool=").append(spec.vpool()).append('\n');
    sb.append("sizeBytes=").append(spec.sizeBytes()).append('\n');
    sb.append("blockSize=").append(spec.blockSize()).append('\n');
    sb.append("scoSizeBytes=").append(spec.scoSizeBytes()).append('\n');
    sb.append("cachePolicy=").append(spec.cachePolicy().configName()).append('\n');
    if (spec.dtlMode() != org.vsa.dtl.DtlMode.NONE) {
      sb.append("dtlMode=").append(spec.dtlMode().configName()).append('\n');
    }
    byte[] body = sb.toString().getBytes(StandardCharsets.UTF_8);
    String crc = String.format("crc32c=%08x%n", Layout.crc32c(body, 0, body.length));
    byte[] out = new byte[body.length + crc.length()];
    System.arraycopy(body, 0, out, 0, body.length);
    System.arraycopy(crc.getBytes(StandardCharsets.UTF_8), 0, out, body.length, crc.length());
    return out;
  }

  static VolumeRecord decode(byte[] bytes, Path from) throws IOException {
    String text = new String(bytes, StandardCharsets.UTF_8);
    int crcAt = text.lastIndexOf("crc32c=");
    if (!text.startsWith(MAGIC_LINE + "\n") || crcAt < 0) {
      throw new IOException(from + ": not a vDisk record");
    }
    byte[] body = text.substring(0, crcAt).getBytes(StandardCharsets.UTF_8);
    String want = String.format("%08x", Layout.crc32c(body, 0, body.length));
    if (!text.substring(crcAt + 7).trim().equals(want)) {
      throw new IOException(from + ": vDisk record checksum mismatch");
    }
    Map<String, String> kv = new LinkedHashMap<>();
    for (String line : text.substring(0, crcAt).split("\n")) {
      int eq = line.indexOf('=');
      if (!line.startsWith("#") && eq > 0) {
        kv.put(line.substring(0, eq), line.substring(eq + 1));
      }
    }
    if (!String.valueOf(VERSION).equals(kv.get("version"))) {
      throw new IOException(from + ": vDisk record version " + kv.get("version") + " is not supported");
    }
    try {
      VolumeSpec spec = new VolumeSpec(kv.get("name"), kv.get("vpool"), Long.parseLong(kv.get("sizeBytes")),
          Integer.parseInt(kv.get("blockSize")), Long.parseLong(kv.get("scoSizeBytes")),
          CachePolicy.parse(kv.get("cachePolicy")), org.vsa.dtl.DtlMode.parse(kv.getOrDefault("dtlMode", "none")));
      return new VolumeRecord(UUID.fromString(kv.get("id")), spec);
    } catch (RuntimeException e) {
      throw new IOException(from + ": vDisk record is malformed: " + e.getMessage(), e);
    }
  }
}
