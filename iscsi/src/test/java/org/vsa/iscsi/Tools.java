package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs libiscsi's command-line tools; a missing tool fails the test (Debian package libiscsi-bin). */
final class Tools {
  private Tools() {}

  record Result(int exit, String out) {}

  static void require(String tool) {
    if (tool.contains("/")) {
      if (!Files.isExecutable(Path.of(tool))) {
        fail(tool + " is not an executable");
      }
      return;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return;
      }
    }
    fail(tool + " is not installed: apt-get install -y libiscsi-bin");
  }

  static Result run(int timeoutSeconds, String... cmd) throws IOException, InterruptedException {
    require(cmd[0]);
    List<String> argv = new ArrayList<>(List.of(cmd));
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[][] out = new byte[1][];
    Thread reader = new Thread(() -> {
      try {
        out[0] = p.getInputStream().readAllBytes();
      } catch (IOException e) {
        out[0] = new byte[0];
      }
    });
    reader.start();
    if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor();
      reader.join(5000);
      return new Result(124, "TIMEOUT after " + timeoutSeconds + " s\n" + text(out[0]));
    }
    reader.join(5000);
    return new Result(p.exitValue(), text(out[0]));
  }

  private static String text(byte[] b) {
    return b == null ? "" : new String(b, StandardCharsets.UTF_8);
  }

  static Result ok(int timeoutSeconds, String... cmd) throws IOException, InterruptedException {
    Result r = run(timeoutSeconds, cmd);
    assertTrue(r.exit() == 0, String.join(" ", cmd) + " exited " + r.exit() + ":\n" + r.out());
    return r;
  }
}
