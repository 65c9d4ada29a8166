package org.vsa.iscsi;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/** key=value pairs, each terminated by a NUL (RFC 7143 section 6.1). */
final class TextKeys {
  private TextKeys() {}

  /** Parses; a pair without '=' becomes key -> "" (answered NotUnderstood later). Later duplicates win. */
  static Map<String, String> parse(byte[] data) {
    Map<String, String> out = new LinkedHashMap<>();
    String s = new String(data, StandardCharsets.UTF_8);
    for (String pair : s.split("\0")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      if (eq <= 0) {
        out.put(pair, "");
      } else {
        out.put(pair.substring(0, eq), pair.substring(eq + 1));
      }
    }
    return out;
  }

  static byte[] encode(Map<String, String> kv) {
    StringBuilder sb = new StringBuilder();
    kv.forEach((k, v) -> sb.append(k).append('=').append(v).append('\0'));
    return sb.toString().getBytes(StandardCharsets.UTF_8);
  }
}
