package org.vsa.appliance.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.StartupException;
import org.vsa.appliance.StopSignals;
import org.vsa.appliance.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code vsa} command line: builds the picocli command tree and maps every failure to an
 * exit status and one line on stderr.
 *
 * <table>
 *   <caption>Exit status</caption>
 *   <tr><td>0</td><td>success, help, version; {@code serve} stopped in order by SIGTERM/SIGINT</td></tr>
 *   <tr><td>1</td><td>the appliance could not start, or stopped with errors</td></tr>
 *   <tr><td>2</td><td>a usage error or a configuration error; management verbs: input the API refused (400)</td></tr>
 *   <tr><td>3</td><td>management verbs: not found (404)</td></tr>
 *   <tr><td>4</td><td>management verbs: conflict, e.g. name taken, in use, has clones (409)</td></tr>
 *   <tr><td>5</td><td>management verbs: authentication failed or no credential</td></tr>
 * </table>
 */
public final class Cli {

  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILURE = 1;
  public static final int EXIT_USAGE = 2;
  /** Management verbs: the vDisk, snapshot, ... does not exist (HTTP 404). */
  public static final int EXIT_NOT_FOUND = 3;
  /** Management verbs: refused in the current state: name taken, in use, has clones (HTTP 409). */
  public static final int EXIT_CONFLICT = 4;
  /** Management verbs: no credential, or the API refused it (HTTP 401, 429). */
  public static final int EXIT_AUTH = 5;

  private static final Logger log = LoggerFactory.getLogger(Cli.class);

  /**
   * What the commands need from the process around them; tests pass their own.
   *
   * @param workingDir what relative paths (config file, --data-dir, paths in the file) resolve against
   * @param stopSignals what asks {@code serve} to stop
   * @param out standard output (help, version)
   * @param err standard error (the one-line errors)
   */
  public record Environment(Path workingDir, StopSignals stopSignals, PrintWriter out, PrintWriter err) {
    public Environment {
      Objects.requireNonNull(workingDir);
      Objects.requireNonNull(stopSignals);
      Objects.requireNonNull(out);
      Objects.requireNonNull(err);
    }

    /** The real process: its working directory, its signals, System.out and System.err. */
    public static Environment process() {
      return new Environment(
          Path.of("").toAbsolutePath(),
          StopSignals.process(),
          new PrintWriter(System.out, true),
          new PrintWriter(System.err, true));
    }
  }

  private Cli() {}

  /** Runs the command line and returns the exit status. */
  public static int execute(String[] args, Environment env) {
    int status = commandLine(env).execute(args);
    env.out().flush();
    env.err().flush();
    return status;
  }

  /** The command tree; a new verb is one more {@code addSubcommand}. */
  static CommandLine commandLine(Environment env) {
    CommandLine cl = new CommandLine(new VsaCommand());
    cl.addSubcommand("serve", new ServeCommand(env));
    cl.addSubcommand("config", new ConfigCommand(env));
    ManageCommands.register(cl, env);
    ResourceCommands.register(cl, env);
    cl.addSubcommand("help", new CommandLine.HelpCommand());
    cl.setOut(env.out());
    cl.setErr(env.err());
    cl.setParameterExceptionHandler(Cli::usageError);
    cl.setExecutionExceptionHandler((e, command, parseResult) -> failure(e, command));
    return cl;
  }

  private static int usageError(ParameterException e, String[] args) {
    CommandLine command = e.getCommandLine();
    String message = oneLine(e.getMessage());
    if (e instanceof UnmatchedArgumentException && !((UnmatchedArgumentException) e).getSuggestions().isEmpty()) {
      message += "; did you mean " + String.join(" or ", ((UnmatchedArgumentException) e).getSuggestions()) + "?";
    }
    command.getErr().println("vsa: " + message + " (see '" + command.getCommandSpec().qualifiedName() + " --help')");
    return EXIT_USAGE;
  }

  private static int failure(Exception e, CommandLine command) {
    PrintWriter err = command.getErr();
    if (e instanceof ConfigException) {
      err.println("config error: " + oneLine(e.getMessage()));
      return EXIT_USAGE;
    }
    if (e instanceof StartupException) {
      err.println("vsa: cannot start: " + oneLine(e.getMessage()));
      return EXIT_FAILURE;
    }
    // A bug: the details go to the log (stdout), one line to stderr.
    log.error("{} failed", command.getCommandSpec().qualifiedName(), e);
    err.println("vsa: " + command.getCommandSpec().qualifiedName() + " failed: " + oneLine(String.valueOf(e)));
    return EXIT_FAILURE;
  }

  static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", "; ");
  }
}
