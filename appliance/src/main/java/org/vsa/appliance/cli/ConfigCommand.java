package org.vsa.appliance.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code vsa config}: work on configuration files without starting anything. */
@Command(
    name = "config",
    mixinStandardHelpOptions = true,
    versionProvider = VsaCommand.Version.class,
    description = "Configuration files: check one before it is used.",
    subcommands = ConfigCommand.Check.class,
    footer = {"", "Exit status: 0 success, 2 usage or configuration error."})
public final class ConfigCommand implements Runnable {

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(),
        "missing command; commands: " + String.join(", ", spec.subcommands().keySet()));
  }

  /**
   * {@code vsa config check FILE}: runs every check {@code vsa serve --config FILE} runs on the
   * file before it starts anything (syntax, keys, values, ranges, cross-checks), touches nothing on
   * disk and connects to nothing. What only a start can find (a data directory that cannot be
   * created, a port in use, a backend that refuses the credentials) is not checked.
   */
  @Command(
      name = "check",
      mixinStandardHelpOptions = true,
      versionProvider = VsaCommand.Version.class,
      description = {
        "Checks a configuration file as 'vsa serve --config FILE' would, without starting anything.",
        "Prints one line: the file is valid, or what is wrong with it (key path, value, what is allowed)."
      },
      footer = {"", "Exit status: 0 the file is valid, 2 it is not (or usage error)."})
  static final class Check implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "the YAML configuration to check")
    Path file;

    @Override
    public Integer call() throws Exception {
      Path workingDir = ((ConfigCommand) spec.parent().userObject()).env.workingDir();
      ApplianceConfig config = new ConfigLoader(workingDir).load(file, ConfigOverrides.none());
      spec.commandLine().getOut().println("config OK: " + workingDir.resolve(file).normalize()
          + " (node " + config.node().name() + ", " + config.vpools().size() + " vPool(s), "
          + config.vdisks().size() + " vDisk(s))");
      return Cli.EXIT_OK;
    }
  }

  private final Cli.Environment env;

  ConfigCommand(Cli.Environment env) {
    this.env = env;
  }
}
