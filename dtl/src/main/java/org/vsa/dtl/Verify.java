package org.vsa.dtl;

/** Always-on checks: a broken invariant stops the operation rather than corrupting the log. */
final class Verify {
  private Verify() {}

  static void that(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new IllegalStateException(String.format(format, args));
    }
  }
}
