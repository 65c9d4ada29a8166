package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One run of src/test/c/vsa-iscsi-load.c (a libiscsi writer/checker that logs in through any of
 * several portals and follows redirects), built once per test run into target/ with gcc; its
 * stdout parsed line by line as it comes. Every line carries the wall-clock time the tool printed
 * it ({@code -t}), so a test can compare it with the instant it killed or paused a node.
 */
final class IscsiLoad implements AutoCloseable {
  private static final Path SOURCE = Path.of("src/test/c/vsa-iscsi-load.c");
  private static final Path BINARY = Path.of("target/vsa-iscsi-load");
  private static final Pattern LINE = Pattern.compile("@(\\d+) (.*)");
  private static final Pattern LOGIN = Pattern.compile("login (\\S+) at (\\S+)");
  private static final Pattern ACK = Pattern.compile("ack (\\d+)");
  private static final Pattern FAIL = Pattern.compile("fail (\\d+) (.*)");
  private static final Pattern UNIT = Pattern.compile("unit (\\d+) (ok|zero|bad|seed (\\d+))");

  /** What the tool printed, in order: kind is login, ack, fail or unit. */
  record Event(long millis, String kind, long unit, String detail, String servedBy, String line) {}

  /** What a run asks: the pattern's seeds (a check takes several), where, how much, how long, through which portals. */
  record Spec(String mode, List<Long> seeds, long firstLba, long units, int blocks, int seconds, long pauseMicros,
      List<String> portals) {
    static Spec write(long seed, long firstLba, long units, int blocks, int seconds, List<String> portals) {
      return new Spec("write", List.of(seed), firstLba, units, blocks, seconds, 0, portals);
    }

    static Spec check(List<Long> seeds, long firstLba, long units, int blocks, int seconds, List<String> portals) {
      return new Spec("check", seeds, firstLba, units, blocks, seconds, 0, portals);
    }

    Spec pausing(long micros) {
      return new Spec(mode, seeds, firstLba, units, blocks, seconds, micros, portals);
    }
  }

  private final Process process;
  private final List<Event> events = Collections.synchronizedList(new ArrayList<>());
  private final List<String> stderr = Collections.synchronizedList(new ArrayList<>());
  private final Thread outReader;
  private final Thread errReader;
  private final String command;

  private IscsiLoad(Process process, String command) {
    this.process = process;
    this.command = command;
    this.outReader = reader(new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8)),
        true);
    this.errReader = reader(new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8)),
        false);
  }

  /** Builds the tool when it is missing or older than its source; needs gcc and libiscsi-dev (./test.sh). */
  static synchronized String build() throws IOException, InterruptedException {
    Path src = SOURCE.toAbsolutePath();
    Path bin = BINARY.toAbsolutePath();
    assertTrue(Files.exists(src), "missing " + src);
    if (Files.isExecutable(bin) && Files.getLastModifiedTime(bin).compareTo(Files.getLastModifiedTime(src)) >= 0) {
      return bin.toString();
    }
    assertTrue(Files.exists(Path.of("/usr/include/iscsi/iscsi.h")),
        "libiscsi's headers are missing: apt-get install -y libiscsi-dev gcc (./test.sh does)");
    Path tmp = bin.resolveSibling(bin.getFileName() + ".tmp");
    Process gcc = new ProcessBuilder("gcc", "-O2", "-Wall", "-o", tmp.toString(), src.toString(), "-liscsi")
        .redirectErrorStream(true).start();
    gcc.getOutputStream().close();
    String out = new String(gcc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!gcc.waitFor(120, TimeUnit.SECONDS)) {
      gcc.destroyForcibly();
      fail("gcc did not finish within 120 s");
    }
    assertTrue(gcc.exitValue() == 0, "gcc failed on " + src + ":\n" + out);
    Files.move(tmp, bin, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    return bin.toString();
  }

  static IscsiLoad start(String iqn, Spec spec) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(build(), "-t", "-s",
        spec.seeds().stream().map(String::valueOf).collect(Collectors.joining(","))));
    if (spec.pauseMicros() > 0) {
      cmd.addAll(List.of("-i", Long.toString(spec.pauseMicros())));
    }
    cmd.addAll(List.of(spec.mode(), iqn, "0", Long.toString(spec.firstLba()), Long.toString(spec.units()),
        Integer.toString(spec.blocks()), Integer.toString(spec.seconds())));
    cmd.addAll(spec.portals());
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    return new IscsiLoad(pb.start(), String.join(" ", cmd));
  }

  private Thread reader(BufferedReader r, boolean out) {
    Thread t = new Thread(() -> {
      String servedBy = null;
      try (r) {
        for (String line = r.readLine(); line != null; line = r.readLine()) {
          if (!out) {
            stderr.add(line);
            continue;
          }
          Matcher m = LINE.matcher(line);
          long millis = m.matches() ? Long.parseLong(m.group(1)) : System.currentTimeMillis();
          String body = m.matches() ? m.group(2) : line;
          Matcher x;
          if ((x = LOGIN.matcher(body)).matches()) {
            servedBy = portalOf(x.group(2));
            events.add(new Event(millis, "login", -1, x.group(1), servedBy, line));
          } else if ((x = ACK.matcher(body)).matches()) {
            events.add(new Event(millis, "ack", Long.parseLong(x.group(1)), "", servedBy, line));
          } else if ((x = FAIL.matcher(body)).matches()) {
            events.add(new Event(millis, "fail", Long.parseLong(x.group(1)), x.group(2), servedBy, line));
          } else if ((x = UNIT.matcher(body)).matches()) {
            String what = x.group(3) != null ? "seed " + x.group(3) : x.group(2);
            events.add(new Event(millis, "unit", Long.parseLong(x.group(1)), what, servedBy, line));
          } else {
            events.add(new Event(millis, "other", -1, body, servedBy, line));
          }
        }
      } catch (IOException e) {
        stderr.add("<reading the tool's output failed: " + e + ">");
      }
    }, "vsa-iscsi-load-reader");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** A redirect's TargetAddress is host:port,tpgt; a portal given on the command line is host:port. */
  static String portalOf(String address) {
    int comma = address.indexOf(',');
    return comma < 0 ? address : address.substring(0, comma);
  }

  List<Event> events() {
    synchronized (events) {
      return List.copyOf(events);
    }
  }

  List<Event> events(String kind) {
    return events().stream().filter(e -> e.kind().equals(kind)).toList();
  }

  int count(Predicate<Event> p) {
    return (int) events().stream().filter(p).count();
  }

  /** Waits until an event matches; fails at the timeout or when the tool exits first. */
  Event await(Predicate<Event> wanted, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      Optional<Event> e = events().stream().filter(wanted).findFirst();
      if (e.isPresent()) {
        return e.get();
      }
      if (!process.isAlive()) {
        outReader.join(5000);
        e = events().stream().filter(wanted).findFirst();
        if (e.isPresent()) {
          return e.get();
        }
        fail("vsa-iscsi-load ended (exit " + process.exitValue() + ") before " + what + "\n" + report());
      }
      if (System.nanoTime() > deadline) {
        fail("no " + what + " within " + timeout + "\n" + report());
      }
      Thread.sleep(20);
    }
  }

  /** Waits until at least {@code n} events match. */
  void awaitCount(Predicate<Event> p, int n, Duration timeout, String what) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (count(p) < n) {
      if (!process.isAlive()) {
        outReader.join(5000);
        if (count(p) >= n) {
          return;
        }
        fail("vsa-iscsi-load ended (exit " + process.exitValue() + ") with " + count(p) + " of " + n + " " + what
            + "\n" + report());
      }
      if (System.nanoTime() > deadline) {
        fail("only " + count(p) + " of " + n + " " + what + " within " + timeout + "\n" + report());
      }
      Thread.sleep(20);
    }
  }

  /** Waits for the tool to end by itself (count or time reached); returns its exit status. */
  int awaitExit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      fail("vsa-iscsi-load did not end within " + timeout + "\n" + report());
    }
    outReader.join(10_000);
    errReader.join(10_000);
    return process.exitValue();
  }

  /** Ends the run at once (SIGKILL: a write in flight may or may not have reached the target). */
  void stop() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
    outReader.join(10_000);
    errReader.join(10_000);
  }

  String report() {
    List<Event> all = events();
    List<String> lines = all.stream().map(Event::line).toList();
    int from = Math.max(0, lines.size() - 60);
    String state = process.isAlive() ? "running" : "exit " + process.exitValue();
    return "--- vsa-iscsi-load (" + state + "): " + command + "\n" + all.size() + " lines, the last ones:\n"
        + String.join("\n", lines.subList(from, lines.size())) + "\n--- its stderr (last 30):\n"
        + String.join("\n", tail(stderrLines(), 30));
  }

  List<String> stderrLines() {
    synchronized (stderr) {
      return List.copyOf(stderr);
    }
  }

  private static List<String> tail(List<String> l, int n) {
    return l.subList(Math.max(0, l.size() - n), l.size());
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      stop();
    }
  }
}
