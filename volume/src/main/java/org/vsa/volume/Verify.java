package org.vsa.volume;

/**
 * Always-on checks (the JVM skips {@code assert} by default). A failed check means the engine's
 * own invariants are broken: stop rather than corrupt.
 */
public final class Verify {
  private Verify() {}

  public static void that(boolean condition, String what) {
    if (!condition) {
      throw new IllegalStateException("invariant violated: " + what);
    }
  }

  public static void that(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalStateException("invariant violated: " + String.format(format, args));
    }
  }
}
