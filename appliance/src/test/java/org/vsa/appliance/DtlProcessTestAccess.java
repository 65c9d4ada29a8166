package org.vsa.appliance;

import java.util.Map;

/** The login parameters the process tests use, for tests in other packages. */
public final class DtlProcessTestAccess {
  private DtlProcessTestAccess() {}

  public static Map<String, String> ops() {
    return DtlProcessTest.ops();
  }
}
