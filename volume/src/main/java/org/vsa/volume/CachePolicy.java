package org.vsa.volume;

/** When a vDisk's clusters enter the shared read cache. */
public enum CachePolicy {
  /** A cluster read from the backend is put into the read cache. */
  ON_READ,
  /** Every written cluster is also put into the read cache as it is written. */
  ON_WRITE,
  /** This vDisk does not use the read cache. */
  NONE;

  /** Parses the config spelling: on-read, on-write, none. */
  public static CachePolicy parse(String s) {
    switch (s) {
      case "on-read": return ON_READ;
      case "on-write": return ON_WRITE;
      case "none": return NONE;
      default: throw new IllegalArgumentException("cache policy must be one of on-read, on-write, none; got '" + s + "'");
    }
  }

  public String configName() {
    return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }
}
