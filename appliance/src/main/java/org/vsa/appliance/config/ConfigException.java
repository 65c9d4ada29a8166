package org.vsa.appliance.config;

import java.util.Optional;

/**
 * The configuration cannot be used. The message is one line that names the key path, the value
 * and what is allowed (e.g. {@code writeBuffer.capacity = 10MiB is out of range [64MiB, 64TiB]}),
 * or, for the file as a whole, the file and the problem; the command line prints it after
 * {@code config error: }.
 */
public final class ConfigException extends Exception {

  private final String keyPath;

  ConfigException(String keyPath, String message) {
    super(message);
    this.keyPath = keyPath;
  }

  /** An error about the file as a whole (missing, unreadable, not YAML). */
  static ConfigException ofFile(String message) {
    return new ConfigException(null, message);
  }

  /** The offending key, e.g. {@code vpools[1].scoSize}; empty for errors about the whole file. */
  public Optional<String> keyPath() {
    return Optional.ofNullable(keyPath);
  }
}
