package org.vsa.appliance.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Values given on the command line that take the place of keys of the config file (or of the
 * embedded default), e.g. {@code --data-dir} for {@code node.dataDir}.
 *
 * <p>They are written into the YAML tree before it is read, so a flag's value goes through
 * exactly the same checks as the key's, and an error names both: {@code node.dataDir = ""
 * (from --data-dir) must not be empty}. A new flag is one {@code @Option} that calls
 * {@link #set}.
 */
public final class ConfigOverrides {

  private record Override(String flag, JsonNode value) {}

  private final Map<String, Override> byKeyPath = new LinkedHashMap<>();

  public static ConfigOverrides none() {
    return new ConfigOverrides();
  }

  /**
   * Sets {@code keyPath} (dotted map keys, e.g. {@code node.dataDir}) to a text value, as if
   * the file said so.
   */
  public ConfigOverrides set(String keyPath, String flag, String value) {
    byKeyPath.put(keyPath, new Override(flag, JsonNodeFactory.instance.textNode(value)));
    return this;
  }

  /** Sets {@code keyPath} to a number, as if the file said so (ports, counts). */
  public ConfigOverrides set(String keyPath, String flag, long value) {
    byKeyPath.put(keyPath, new Override(flag, JsonNodeFactory.instance.numberNode(value)));
    return this;
  }

  /** The flag that set this key, if one did. */
  Optional<String> flagFor(String keyPath) {
    return Optional.ofNullable(byKeyPath.get(keyPath)).map(Override::flag);
  }

  /**
   * Writes every override into the tree. Where a section on the way is missing or empty it is
   * created; where it is not a map, it is left alone for the reader to report.
   */
  void applyTo(ObjectNode root) {
    byKeyPath.forEach((keyPath, override) -> {
      String[] keys = keyPath.split("\\.");
      ObjectNode section = root;
      for (int i = 0; i < keys.length - 1; i++) {
        JsonNode next = section.get(keys[i]);
        if (next == null || next.isNull()) {
          next = section.putObject(keys[i]);
        }
        if (!next.isObject()) {
          return;
        }
        section = (ObjectNode) next;
      }
      section.set(keys[keys.length - 1], override.value());
    });
  }
}
