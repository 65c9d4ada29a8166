package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A child JVM for the crash tests: runs a main class on this test's class path, collects its
 * stdout line by line ("READY" opens {@link #ready}, the first line the test calls an
 * acknowledgement opens {@link #firstAck}; every other line goes to {@link #lines}) and is killed
 * with SIGKILL.
 */
final class ChildJvm {
  final Process process;
  final List<String> lines = Collections.synchronizedList(new ArrayList<>());
  final CountDownLatch ready = new CountDownLatch(1);
  final CountDownLatch firstAck = new CountDownLatch(1);
  private final Thread reader;

  private ChildJvm(Process p, Predicate<String> isAck) {
    this.process = p;
    this.reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.equals("READY")) {
            ready.countDown();
          } else {
            lines.add(line);
            if (isAck.test(line)) {
              firstAck.countDown();
            }
          }
        }
      } catch (java.io.IOException ignored) {
        // the pipe closes when the child dies
      }
    });
    reader.start();
  }

  /** Starts {@code main} with {@code args} in a JVM of 256 MiB heap; stderr goes to this test's. */
  static ChildJvm start(Class<?> main, Predicate<String> isAck, String... args) throws java.io.IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx256m",
        "-Dvsa.test.log.level=" + System.getProperty("vsa.test.log.level", "WARN"),
        "-cp", System.getProperty("java.class.path"), main.getName()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    return new ChildJvm(pb.start(), isAck);
  }

  /** Lets the child run for a while before the kill; the kill instant is what is random here. */
  void awaitMillis(long ms) throws InterruptedException {
    process.waitFor(ms, TimeUnit.MILLISECONDS);
  }

  void kill() throws InterruptedException {
    // SIGKILL through the handle: Process.destroyForcibly() would also close our end of the
    // child's stdout and lose reports still in the pipe
    process.toHandle().destroyForcibly();
    assertTrue(process.waitFor(30, TimeUnit.SECONDS), "child did not die");
    reader.join(TimeUnit.SECONDS.toMillis(30));
  }
}
