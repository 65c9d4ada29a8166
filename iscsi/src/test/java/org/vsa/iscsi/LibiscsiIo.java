package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Builds src/test/c/vsa-iscsi-io.c (a block reader/writer over libiscsi's API) into target/ with
 * gcc. Needs gcc and libiscsi-dev, which ./test.sh installs; a missing one fails the test.
 */
final class LibiscsiIo {
  private LibiscsiIo() {}

  static synchronized String build() throws Exception {
    Path src = Path.of("src/test/c/vsa-iscsi-io.c").toAbsolutePath();
    Path bin = Path.of("target/vsa-iscsi-io").toAbsolutePath();
    assertTrue(Files.exists(src), "missing " + src);
    if (!Files.isExecutable(bin) || Files.getLastModifiedTime(bin).compareTo(Files.getLastModifiedTime(src)) < 0) {
      assertTrue(Files.exists(Path.of("/usr/include/iscsi/iscsi.h")),
          "libiscsi's headers are missing: apt-get install -y libiscsi-dev (./test.sh does)");
      Tools.ok(120, "gcc", "-O2", "-Wall", "-o", bin.toString(), src.toString(), "-liscsi");
    }
    return bin.toString();
  }
}
