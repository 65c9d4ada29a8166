package org.vsa.volume;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.vsa.dtl.DtlMode;

/**
 * A vDisk's identity and settings as stored beside its metadata and in its backend namespace
 * (object {@code volume}): a small text file, so an administrator can read it.
 *
 * <pre>
 * # vsa vdisk
 * version=1
 * id=...
 * name=... vpool=... sizeBytes=... blockSize=... scoSizeBytes=... cachePolicy=...
 * dtlMode=none|async|sync readCacheQuotaBytes=N dedupe=true|false template=true|false   (version 2)
 * parent.1=UUID NAME SNAPSHOT TLOG-RANGES    (version 2, clones only: the parent,
 * parent.2=...                                then the parent's parent, ...)
 * crc32c=8 hex digits over every byte before this line
 * </pre>
 *
 * <p>Version history: 1 (spec only; read as DTL none, no quota, no dedupe, not a template, no
 * parent), 2 (settings, template flag, clone lineage).
 *
 * @param lineage for a clone: its parent (level 1) and the parent's ancestors, each with the
 *     snapshot the child was cloned from and that snapshot's TLog ranges; empty otherwise
 */
record VolumeRecord(UUID id, VolumeSpec spec, VolumeSettings settings, boolean template, List<Ancestor> lineage) {
  static final String MAGIC_LINE = "# vsa vdisk";
  static final int VERSION = 2;

  /** One level of a clone's lineage: the vDisk and the snapshot of it the level below came from. */
  record Ancestor(UUID id, String name, String snapshot, TlogRanges ranges) {
    String namespace() {
      return LocalVolume.namespaceOf(id);
    }
  }

  VolumeRecord {
    lineage = List.copyOf(lineage);
    Verify.that(settings.cachePolicy() == spec.cachePolicy(), "settings and spec disagree on the cache policy");
    Verify.that(settings.dtlMode() == spec.dtlMode(), "settings and spec disagree on the DTL mode");
    Verify.that(lineage.size() <= Layout.LINEAGE_MAX, "clone lineage deeper than %d", Layout.LINEAGE_MAX);
  }

  VolumeRecord(UUID id, VolumeSpec spec) {
    this(id, spec, VolumeSettings.defaults(spec), false, List.of());
  }

  VolumeRecord withSpec(VolumeSpec s) {
    return new VolumeRecord(id, s, settings.withCachePolicy(s.cachePolicy()).withDtlMode(s.dtlMode()), template,
        lineage);
  }

  VolumeRecord withSettings(VolumeSettings s) {
    VolumeSpec sp = new VolumeSpec(spec.name(), spec.vpool(), spec.sizeBytes(), spec.blockSize(), spec.scoSizeBytes(),
        s.cachePolicy(), s.dtlMode());
    return new VolumeRecord(id, sp, s, template, lineage);
  }

  /** The record of a flattened clone: no lineage, so it holds no ancestor's snapshot. */
  VolumeRecord withoutLineage() {
    return new VolumeRecord(id, spec, settings, template, List.of());
  }

  VolumeRecord asTemplate() {
    return new VolumeRecord(id, spec, settings, true, lineage);
  }

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
    sb.append("dtlMode=").append(settings.dtlMode().configName()).append('\n');
    sb.append("readCacheQuotaBytes=").append(settings.readCacheQuotaBytes()).append('\n');
    sb.append("dedupe=").append(settings.dedupe()).append('\n');
    sb.append("template=").append(template).append('\n');
    for (int i = 0; i < lineage.size(); i++) {
      Ancestor a = lineage.get(i);
      sb.append("parent.").append(i + 1).append('=').append(a.id()).append(' ').append(a.name()).append(' ')
          .append(a.snapshot()).append(' ').append(a.ranges().encode()).append('\n');
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
    String version = kv.get("version");
    if (!"1".equals(version) && !"2".equals(version)) {
      throw new IOException(from + ": vDisk record version " + version + " is not supported (this build reads 1 and 2)");
    }
    try {
      VolumeSpec spec = new VolumeSpec(kv.get("name"), kv.get("vpool"), Long.parseLong(kv.get("sizeBytes")),
          Integer.parseInt(kv.get("blockSize")), Long.parseLong(kv.get("scoSizeBytes")),
          CachePolicy.parse(kv.get("cachePolicy")), DtlMode.parse(kv.getOrDefault("dtlMode", "none")));
      UUID id = UUID.fromString(kv.get("id"));
      if (version.equals("1")) {
        return new VolumeRecord(id, spec);
      }
      VolumeSettings settings = new VolumeSettings(DtlMode.parse(kv.get("dtlMode")), spec.cachePolicy(),
          Long.parseLong(kv.get("readCacheQuotaBytes")), parseBoolean(kv.get("dedupe")));
      List<Ancestor> lineage = new ArrayList<>();
      for (int i = 1; kv.containsKey("parent." + i); i++) {
        String[] f = kv.get("parent." + i).split(" ");
        if (f.length != 4) {
          throw new IllegalArgumentException("parent." + i + " must be 'UUID NAME SNAPSHOT RANGES'");
        }
        lineage.add(new Ancestor(UUID.fromString(f[0]), f[1], f[2], TlogRanges.parse(f[3])));
      }
      return new VolumeRecord(id, spec, settings, parseBoolean(kv.get("template")), lineage);
    } catch (RuntimeException e) {
      throw new IOException(from + ": vDisk record is malformed: " + e.getMessage(), e);
    }
  }

  private static boolean parseBoolean(String s) {
    if (!"true".equals(s) && !"false".equals(s)) {
      throw new IllegalArgumentException("expected true or false, got '" + s + "'");
    }
    return Boolean.parseBoolean(s);
  }
}
