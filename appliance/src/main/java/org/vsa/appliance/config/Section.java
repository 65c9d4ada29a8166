package org.vsa.appliance.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One map of the YAML tree being read, with its key path ({@code writeBuffer},
 * {@code vpools[1]}, empty for the top level). Every accessor records the key as known, turns
 * an absent key into its default and a bad value into a {@link ConfigException} that names the
 * key path, the value as written and what is allowed; {@link #done()} then rejects every key
 * that no accessor asked for, so a typo never passes silently.
 */
final class Section {

  /** What a number may be: [min, max], optionally a multiple of something, optionally 0. */
  record Range(long min, long max, long multipleOf, boolean zeroDisables, boolean isSize) {
    static Range sizes(long min, long max) {
      return new Range(min, max, 1, false, true);
    }

    static Range integers(long min, long max) {
      return new Range(min, max, 1, false, false);
    }

    Range multipleOf(long m) {
      return new Range(min, max, m, zeroDisables, isSize);
    }

    Range orZeroToDisable() {
      return new Range(min, max, multipleOf, true, isSize);
    }

    boolean allows(long v) {
      return (zeroDisables && v == 0) || (v >= min && v <= max && v % multipleOf == 0);
    }

    String fmt(long v) {
      return isSize ? Sizes.format(v) : Long.toString(v);
    }

    String interval() {
      return "[" + fmt(min) + ", " + fmt(max) + "]";
    }

    /** The problem with a value this range does not allow. */
    String problem(long v) {
      if (zeroDisables) {
        return "is out of range: allowed are 0 (disabled) or " + interval();
      }
      if (multipleOf > 1) {
        boolean inInterval = v >= min && v <= max;
        return (inInterval ? "is not" : "is out of range: it must be")
            + " a multiple of " + fmt(multipleOf) + " in " + interval();
      }
      return "is out of range " + interval();
    }

    String help() {
      String base = multipleOf > 1 ? "a multiple of " + fmt(multipleOf) + " in " + interval() : interval();
      return zeroDisables ? "0 (disabled) or " + base : base;
    }
  }

  private static final Pattern PLAIN = Pattern.compile("[\\x21-\\x7e]+");
  private static final Pattern LOOKS_TYPED =
      Pattern.compile("[-+]?[0-9][0-9_]*(\\.[0-9]*)?([eE][-+]?[0-9]+)?|true|false|null|~", Pattern.CASE_INSENSITIVE);
  private static final Pattern IPV4 =
      Pattern.compile("(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}");
  private static final Pattern IPV6_CHARS = Pattern.compile("[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");

  private final String path;
  private final ObjectNode node;
  private final ConfigOverrides overrides;
  private final Set<String> known = new LinkedHashSet<>();

  private Section(String path, ObjectNode node, ConfigOverrides overrides) {
    this.path = path;
    this.node = node;
    this.overrides = overrides;
  }

  static Section root(ObjectNode node, ConfigOverrides overrides) {
    return new Section("", node, overrides);
  }

  String path() {
    return path;
  }

  String keyPath(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  /** A nested map; an absent or empty ({@code writeBuffer:} with nothing under it) one reads as all defaults. */
  Section section(String key) throws ConfigException {
    JsonNode v = get(key);
    if (v == null || v.isNull()) {
      return new Section(keyPath(key), JsonNodeFactory.instance.objectNode(), overrides);
    }
    if (!v.isObject()) {
      throw new ConfigException(keyPath(key), keyPath(key) + " must be a map of keys, not " + kind(v));
    }
    return new Section(keyPath(key), (ObjectNode) v, overrides);
  }

  /**
   * A list of maps, or null when the key is absent or empty. {@code example} shows one element
   * in YAML flow style for the error message when an element is not a map.
   */
  List<Section> list(String key, String example) throws ConfigException {
    JsonNode v = get(key);
    if (v == null || v.isNull()) {
      return null;
    }
    String kp = keyPath(key);
    if (!v.isArray()) {
      throw new ConfigException(kp, kp + " must be a list of maps like " + example + ", not " + kind(v));
    }
    List<Section> items = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode item = v.get(i);
      String ip = kp + "[" + i + "]";
      if (!item.isObject()) {
        throw new ConfigException(ip, ip + " = " + render(item) + " must be a map like " + example);
      }
      items.add(new Section(ip, (ObjectNode) item, overrides));
    }
    return items;
  }

  long size(String key, long dflt, Range range) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return dflt;
    }
    requireValue(key, v, "a size like " + Sizes.format(dflt));
    long bytes;
    if (v.isIntegralNumber()) {
      if (!v.canConvertToLong() || v.longValue() < 0) {
        throw valueError(key, v, range.problem(v.canConvertToLong() ? v.longValue() : Long.MAX_VALUE));
      }
      bytes = v.longValue();
    } else if (v.isTextual()) {
      try {
        bytes = Sizes.parse(v.textValue());
      } catch (IllegalArgumentException e) {
        throw valueError(key, v, e.getMessage());
      }
    } else if (v.isNumber()) {
      throw valueError(key, v, "is not a whole number of bytes; allowed: " + range.help());
    } else {
      throw valueError(key, v, "is not a size; use " + Sizes.UNITS_HELP);
    }
    if (!range.allows(bytes)) {
      throw valueError(key, v, range.problem(bytes));
    }
    return bytes;
  }

  long integer(String key, long dflt, Range range) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return dflt;
    }
    requireValue(key, v, "an integer in " + range.help());
    if (!v.isIntegralNumber()) {
      throw valueError(key, v, "is not an integer; allowed: " + range.help());
    }
    if (!v.canConvertToLong() || !range.allows(v.longValue())) {
      throw valueError(key, v, range.problem(v.canConvertToLong() ? v.longValue() : Long.MAX_VALUE));
    }
    return v.longValue();
  }

  /** An integer from a fixed set (e.g. block sizes 512, 4096). */
  int integerOneOf(String key, int dflt, int... allowed) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return dflt;
    }
    String list = Arrays.stream(allowed).mapToObj(Integer::toString).collect(Collectors.joining(", "));
    requireValue(key, v, "one of " + list);
    if (v.isIntegralNumber() && v.canConvertToInt()) {
      for (int a : allowed) {
        if (a == v.intValue()) {
          return a;
        }
      }
    }
    throw valueError(key, v, "is not allowed; allowed values: " + list);
  }

  /** A word from a fixed set, e.g. {@code on-read | on-write | none}. */
  String choice(String key, String dflt, List<String> allowed) throws ConfigException {
    String s = text(key, dflt);
    if (!allowed.contains(s)) {
      throw valueError(key, get(key), "is not allowed; allowed values: " + String.join(", ", allowed));
    }
    return s;
  }

  /** A name of the given pattern, e.g. a vDisk name. */
  String name(String key, String dflt, Pattern pattern, String rule) throws ConfigException {
    String s = text(key, dflt);
    if (!pattern.matcher(s).matches()) {
      throw valueError(key, get(key), "is not a valid name: " + rule);
    }
    return s;
  }

  /** A text of the given pattern that is not a name, e.g. a duration; the problem states the rule. */
  String matching(String key, String dflt, Pattern pattern, String rule) throws ConfigException {
    String s = text(key, dflt);
    if (!pattern.matcher(s).matches()) {
      throw valueError(key, get(key), "is not " + rule);
    }
    return s;
  }

  /** true or false. */
  boolean bool(String key, boolean dflt) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return dflt;
    }
    requireValue(key, v, "true or false");
    if (!v.isBoolean()) {
      throw valueError(key, v, "is not allowed; allowed values: true, false");
    }
    return v.booleanValue();
  }

  /** A list of strings, or null when the key is absent. */
  List<String> strings(String key) throws ConfigException {
    JsonNode v = get(key);
    if (v == null || v.isNull()) {
      return null;
    }
    String kp = keyPath(key);
    if (!v.isArray()) {
      throw new ConfigException(kp, kp + " must be a list of strings, not " + kind(v));
    }
    List<String> out = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      JsonNode item = v.get(i);
      if (!item.isTextual() || item.textValue().isBlank()) {
        throw new ConfigException(kp + "[" + i + "]", kp + "[" + i + "] = " + render(item) + " must be non-empty text");
      }
      out.add(item.textValue());
    }
    return out;
  }

  /** Text, or null when the key is absent; the value is never shown in an error (it may be a secret). */
  String optionalText(String key, boolean secret) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return null;
    }
    String kp = keyPath(key);
    if (v.isNull() || v.isContainerNode() || !v.isValueNode() || v.asText().isBlank()) {
      throw new ConfigException(kp, kp + (secret ? " must be non-empty text" : " = " + render(v) + " must be non-empty text"));
    }
    return v.asText();
  }

  /** Whether the key is present (marks it known). */
  boolean has(String key) {
    JsonNode v = get(key);
    return v != null && !v.isNull();
  }

  /** A path; a relative one is resolved against {@code base}. The result is absolute and normalized. */
  Path path(String key, Path dflt, Path base) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return base.resolve(dflt).normalize();
    }
    requireValue(key, v, "a path");
    if (v.asText().isBlank()) {
      throw valueError(key, v, "must not be empty");
    }
    try {
      return base.resolve(Path.of(v.asText())).normalize();
    } catch (InvalidPathException e) {
      throw valueError(key, v, "is not a valid path: " + e.getReason());
    }
  }

  /** An IPv4 or IPv6 address literal; host names are refused (no name lookup happens here). */
  InetAddress ipLiteral(String key, String dflt) throws ConfigException {
    String s = text(key, dflt);
    InetAddress address = null;
    try {
      if (IPV4.matcher(s).matches()) {
        address = InetAddress.getByName(s);
      } else if (IPV6_CHARS.matcher(s).matches()) {
        // Only hex digits, ':' and '.' and at least one ':': InetAddress parses this as an IPv6
        // literal and never looks it up as a host name.
        address = InetAddress.getByName(s);
      }
    } catch (UnknownHostException e) {
      address = null;
    }
    if (address == null) {
      throw valueError(key, get(key), "is not an IP address literal (e.g. 127.0.0.1, 0.0.0.0, ::1)");
    }
    return address;
  }

  /** Rejects every key no accessor asked for, naming the known ones. */
  void done() throws ConfigException {
    Iterator<String> names = node.fieldNames();
    while (names.hasNext()) {
      String key = names.next();
      if (!known.contains(key)) {
        String kp = keyPath(renderKey(key));
        String hint = closest(key).map(k -> " (did you mean " + k + "?)").orElse("");
        String where = path.isEmpty() ? "known top-level keys: " : "known keys in " + path + ": ";
        throw new ConfigException(kp, kp + " is not a known key" + hint + "; " + where + String.join(", ", known));
      }
    }
  }

  ConfigException valueError(String key, JsonNode value, String problem) {
    String kp = keyPath(key);
    String from = overrides.flagFor(kp).map(f -> " (from " + f + ")").orElse("");
    return new ConfigException(kp, kp + " = " + render(value) + from + " " + problem);
  }

  private JsonNode get(String key) {
    known.add(key);
    return node.get(key);
  }

  private String text(String key, String dflt) throws ConfigException {
    JsonNode v = get(key);
    if (v == null) {
      return dflt;
    }
    requireValue(key, v, "a single value like " + dflt);
    return v.asText();
  }

  private void requireValue(String key, JsonNode v, String expected) throws ConfigException {
    if (v.isNull()) {
      String kp = keyPath(key);
      throw new ConfigException(kp, kp + " has no value; give " + expected + ", or remove the key for the default");
    }
    if (v.isContainerNode()) {
      String kp = keyPath(key);
      throw new ConfigException(kp, kp + " must be " + expected + ", not " + kind(v));
    }
  }

  private Optional<String> closest(String key) {
    String k = key.toLowerCase(Locale.ROOT);
    return known.stream()
        .filter(c -> distance(k, c.toLowerCase(Locale.ROOT)) <= Math.max(1, Math.min(2, c.length() / 4)))
        .findFirst();
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int subst = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(subst, Math.min(prev[j] + 1, cur[j - 1] + 1));
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** A value as the user wrote it, on one line; text with spaces or odd characters is quoted. */
  static String render(JsonNode v) {
    if (v == null || v.isNull()) {
      return "(no value)";
    }
    if (v.isArray()) {
      return "a list";
    }
    if (v.isObject()) {
      return "a map";
    }
    if (v.isTextual()) {
      // Quoted when it has spaces or odd characters, or when it would read as something else
      // (threads: "2" is text, and must not look like the number 2 in the message).
      String s = v.textValue();
      return PLAIN.matcher(s).matches() && !LOOKS_TYPED.matcher(s).matches() ? s : v.toString();
    }
    return v.asText();
  }

  private static String renderKey(String key) {
    return PLAIN.matcher(key).matches() ? key : JsonNodeFactory.instance.textNode(key).toString();
  }

  private static String kind(JsonNode v) {
    if (v.isArray()) {
      return "a list";
    }
    if (v.isObject()) {
      return "a map";
    }
    if (v.isTextual()) {
      return "text " + render(v);
    }
    return "the value " + render(v);
  }
}
