package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** {@code vsa serve} as a child process, its stdout and stderr collected line by line. Every wait is bounded. */
final class Serve implements AutoCloseable {
  static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  static final Duration STOP_TIMEOUT = Duration.ofSeconds(30);

  /** Marks the end of stdout in the queue; compared by identity, so no line can be mistaken for it. */
  private static final String EOF = new String("<end of stdout>");

  private final Process process;
  private final BlockingQueue<String> stdoutQueue = new LinkedBlockingQueue<>();
  private final List<String> stdout = Collections.synchronizedList(new ArrayList<>());
  private final List<String> stderr = Collections.synchronizedList(new ArrayList<>());
  private final Thread stdoutReader;
  private final Thread stderrReader;

  private Serve(Process process) {
    this.process = process;
    this.stdoutReader = reader(process.getInputStream(), line -> {
      stdout.add(line);
      stdoutQueue.add(line);
    }, () -> stdoutQueue.add(EOF));
    this.stderrReader = reader(process.getErrorStream(), stderr::add, () -> {});
  }

  static Serve start(Path workingDir, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m",
        // The test class path has logback-test.xml (quiet); the process logs as it would in production.
        "-Dlogback.configurationFile=logback.xml",
        "-cp", System.getProperty("java.class.path"),
        Main.class.getName()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(workingDir.toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    return new Serve(pb.start());
  }

  Process process() {
    return process;
  }

  /**
   * A stdout line since the start that matches, logged already (even before a line an earlier wait
   * took) or awaited as {@link #awaitStdout} does: for a state the process may reach before the
   * line the caller waited for last (a DTL in sync before "vsa running").
   */
  String awaitStdoutSinceStart(Predicate<String> wanted, Duration timeout) throws InterruptedException {
    for (String line : stdout()) {
      if (wanted.test(line)) {
        return line;
      }
    }
    return awaitStdout(wanted, timeout);
  }

  /** Waits for a stdout line that matches; fails at the timeout or when the process ends first. */
  String awaitStdout(Predicate<String> wanted, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long left = deadline - System.nanoTime();
      String line = left > 0 ? stdoutQueue.poll(left, TimeUnit.NANOSECONDS) : null;
      if (line == null) {
        fail("no such line on stdout within " + timeout + "\n" + report());
      }
      if (line == EOF) {
        process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        fail("the process ended before logging the line\n" + report());
      }
      if (wanted.test(line)) {
        return line;
      }
    }
  }

  /** Waits for the exit and for both streams to be read to their end; returns the exit status. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      fail("the process did not exit within " + timeout + "\n" + report());
    }
    stdoutReader.join(timeout.toMillis());
    stderrReader.join(timeout.toMillis());
    return process.exitValue();
  }

  /** Sends a signal with the shell's kill; it may already have exited, which is fine. */
  void signal(String name) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("sh", "-c", "kill -" + name + " " + process.pid())
        .redirectErrorStream(true)
        .start();
    assertTrue(kill.waitFor(10, TimeUnit.SECONDS), "kill -" + name + " did not return");
  }

  /** Whether the process ignores the signal (Linux: the SigIgn mask in /proc/PID/status). */
  boolean ignores(int signal) throws IOException {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
      if (line.startsWith("SigIgn:")) {
        long mask = Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16);
        return (mask & (1L << (signal - 1))) != 0;
      }
    }
    return false;
  }

  List<String> stdout() {
    synchronized (stdout) {
      return List.copyOf(stdout);
    }
  }

  List<String> stderr() {
    synchronized (stderr) {
      return List.copyOf(stderr);
    }
  }

  String report() {
    String status = process.isAlive() ? "running" : "exit status " + process.exitValue();
    return "vsa process (" + status + ")\n--- stdout:\n" + String.join("\n", stdout())
        + "\n--- stderr:\n" + String.join("\n", stderr());
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      process.toHandle().destroyForcibly(); // through the handle: keeps our end of stdout open
      try {
        process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static Thread reader(InputStream in, java.util.function.Consumer<String> onLine, Runnable atEnd) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          onLine.accept(line);
        }
      } catch (IOException e) {
        onLine.accept("<reading the stream failed: " + e + ">");
      } finally {
        atEnd.run();
      }
    }, "vsa-process-reader");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** SIGKILL, as a crash: no flush, no orderly stop. Returns once the process is gone. */
  void killNine() throws InterruptedException {
    process.toHandle().destroyForcibly();
    assertTrue(process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS), "process survived SIGKILL");
  }
}
