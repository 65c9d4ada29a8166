package org.vsa.appliance.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import org.vsa.appliance.StopSignals;

/** Runs the {@code vsa} command line in-process and keeps what it printed. */
record CliRun(int exitCode, String out, String err) {

  static CliRun run(Path workingDir, String... args) {
    return run(workingDir, StopSignals.none(), args);
  }

  /** An environment for parsing only: nothing is printed to it. */
  static Cli.Environment environment(Path workingDir) {
    return new Cli.Environment(workingDir, StopSignals.none(), new PrintWriter(new StringWriter()),
        new PrintWriter(new StringWriter()));
  }

  static CliRun run(Path workingDir, StopSignals signals, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Cli.execute(args, new Cli.Environment(workingDir, signals, new PrintWriter(out), new PrintWriter(err)));
    return new CliRun(code, out.toString(), err.toString());
  }

  List<String> errLines() {
    return err.lines().toList();
  }

  /** The one line on stderr; fails unless there is exactly one and it carries no stack trace. */
  String oneErrLine() {
    List<String> lines = errLines();
    if (lines.size() != 1) {
      throw new AssertionError("expected exactly one line on stderr, got " + lines.size() + ":\n" + err);
    }
    String line = lines.get(0);
    if (line.contains("Exception") || line.contains("\tat ") || line.contains("Caused by")) {
      throw new AssertionError("stderr looks like a stack trace: " + line);
    }
    return line;
  }
}
