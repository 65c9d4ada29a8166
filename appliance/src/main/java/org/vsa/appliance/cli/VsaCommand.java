package org.vsa.appliance.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code vsa}: the top command; on its own it only names the commands there are. */
@Command(
    name = "vsa",
    mixinStandardHelpOptions = true,
    versionProvider = VsaCommand.Version.class,
    description = "Software-defined storage appliance: vDisks over iSCSI and NFS, backed by object stores.",
    footer = {"", "Exit status: 0 success, 1 failure at start or stop (management verbs: server error or API unreachable),",
        "2 usage or configuration error (or input the API refused), 3 not found, 4 conflict, 5 authentication failed."})
public final class VsaCommand implements Runnable {

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(),
        "missing command; commands: " + String.join(", ", spec.subcommands().keySet()));
  }

  /** {@code vsa --version}: the build's version, from a resource Maven filters. */
  public static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (InputStream in = VsaCommand.class.getResourceAsStream("/org/vsa/appliance/version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      return new String[] {
        "vsa " + p.getProperty("version", "(unknown version)"),
        "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vendor") + ")"
      };
    }
  }
}
