package org.vsa.backends.fragment;

import java.util.List;
import java.util.Objects;

/**
 * How objects are cut and spread: an ordered list of policies (the first is the best; later
 * ones are fallbacks for when fewer stores are up), a fragment size, compression and whether
 * fragments are encrypted.
 *
 * @param fragmentSizeBytes the most bytes of an object in one data fragment; a 4 KiB read fetches
 *     one fragment, so this is also the partial-read granularity
 */
public record Preset(String name, List<Policy> policies, int fragmentSizeBytes, Compression compression,
    boolean encrypted) {
  public static final int FRAGMENT_SIZE_MIN = 4096;
  public static final int FRAGMENT_SIZE_MAX = 64 << 20;

  public Preset {
    Objects.requireNonNull(name, "name");
    policies = List.copyOf(policies);
    if (policies.isEmpty()) {
      throw new IllegalArgumentException("preset '" + name + "' needs at least one policy");
    }
    if (fragmentSizeBytes < FRAGMENT_SIZE_MIN || fragmentSizeBytes > FRAGMENT_SIZE_MAX) {
      throw new IllegalArgumentException("preset '" + name + "': fragment size must be in [4KiB, 64MiB]; got "
          + fragmentSizeBytes);
    }
    Objects.requireNonNull(compression, "compression");
  }

  @Override
  public String toString() {
    return "preset '" + name + "' " + policies + " fragment " + fragmentSizeBytes + " B, compression "
        + compression.name().toLowerCase(java.util.Locale.ROOT) + (encrypted ? ", aes-256-gcm" : "");
  }
}
