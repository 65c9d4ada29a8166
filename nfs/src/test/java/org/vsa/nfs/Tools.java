package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs libnfs-utils (Debian package libnfs-utils); a missing tool fails the test. */
final class Tools {
  private Tools() {}

  record Result(int exit, String out, String err) {}

  static void requireInstalled() {
    for (String t : List.of("nfs-ls", "nfs-cp", "nfs-cat")) {
      boolean found = false;
      for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
        found |= Files.isExecutable(Path.of(d, t));
      }
      if (!found) {
        fail(t + " is not installed: apt-get install -y libnfs-utils");
      }
    }
  }

  static Result run(long timeoutSeconds, String... cmd) throws IOException, InterruptedException {
    requireInstalled();
    Path out = Files.createTempFile("nfs-tool", ".out");
    Path err = Files.createTempFile("nfs-tool", ".err");
    try {
      Process p = new ProcessBuilder(new ArrayList<>(List.of(cmd))).redirectOutput(out.toFile())
          .redirectError(err.toFile()).start();
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        fail(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
      }
      return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
          Files.readString(err, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }

  static Result ok(long timeoutSeconds, String... cmd) throws IOException, InterruptedException {
    Result r = run(timeoutSeconds, cmd);
    assertTrue(r.exit() == 0, String.join(" ", cmd) + " failed (" + r.exit() + "): " + r.err() + r.out());
    return r;
  }
}
