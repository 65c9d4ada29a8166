package org.vsa.appliance.config;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Byte sizes as the config file and the command line spell them: a byte count ({@code 4096})
 * or a number with a binary unit ({@code 64MiB}, {@code 1.5GiB}, {@code 8 G}).
 *
 * <p>Units are always binary (powers of 1024), whatever their spelling: B; KiB, K, KB; MiB, M,
 * MB; GiB, G, GB; TiB, T, TB; case does not matter. The result must be a whole number of
 * bytes that fits in a long.
 */
public final class Sizes {

  public static final long KiB = 1L << 10;
  public static final long MiB = 1L << 20;
  public static final long GiB = 1L << 30;
  public static final long TiB = 1L << 40;

  /** What the units mean, for error messages and docs. */
  public static final String UNITS_HELP =
      "a byte count or a number with a unit B, KiB, MiB, GiB, TiB (K/KB, M/MB, G/GB, T/TB mean the same binary units)";

  private static final Pattern SIZE = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)\\s*([A-Za-z]*)");

  private static final Map<String, Long> UNITS = Map.ofEntries(
      Map.entry("", 1L), Map.entry("b", 1L),
      Map.entry("k", KiB), Map.entry("kb", KiB), Map.entry("kib", KiB),
      Map.entry("m", MiB), Map.entry("mb", MiB), Map.entry("mib", MiB),
      Map.entry("g", GiB), Map.entry("gb", GiB), Map.entry("gib", GiB),
      Map.entry("t", TiB), Map.entry("tb", TiB), Map.entry("tib", TiB));

  private Sizes() {}

  /**
   * Parses a size.
   *
   * @throws IllegalArgumentException with a short reason (no value, no key: the caller says
   *     which key held it) when the text is not a size
   */
  public static long parse(String text) {
    Matcher m = SIZE.matcher(text.strip());
    if (!m.matches()) {
      throw new IllegalArgumentException("is not a size; use " + UNITS_HELP);
    }
    Long unit = UNITS.get(m.group(2).toLowerCase(Locale.ROOT));
    if (unit == null) {
      throw new IllegalArgumentException("has an unknown unit '" + m.group(2) + "'; use " + UNITS_HELP);
    }
    BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
    if (bytes.stripTrailingZeros().scale() > 0) {
      throw new IllegalArgumentException("is not a whole number of bytes");
    }
    if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("is too large");
    }
    return bytes.longValueExact();
  }

  /**
   * Formats exactly, in the largest binary unit that divides the size: {@code 64MiB},
   * {@code 1536MiB}, {@code 4097B}.
   */
  public static String format(long bytes) {
    if (bytes != 0) {
      if (bytes % TiB == 0) {
        return bytes / TiB + "TiB";
      }
      if (bytes % GiB == 0) {
        return bytes / GiB + "GiB";
      }
      if (bytes % MiB == 0) {
        return bytes / MiB + "MiB";
      }
      if (bytes % KiB == 0) {
        return bytes / KiB + "KiB";
      }
    }
    return bytes + "B";
  }
}
