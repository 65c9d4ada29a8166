package org.vsa.appliance.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code vsa serve}: runs the appliance in the foreground until SIGTERM or SIGINT, then stops
 * in order (every vDisk flushed) and exits with status 0.
 *
 * <p>Every flag that sets a configuration key is one {@code @Option} on a method that records a
 * {@link ConfigOverrides} entry for the key: the value then goes through the same checks as in
 * the file, and errors name both. A port, say, once {@code iscsi.port} is a key:
 * <pre>
 * &#64;Option(names = "--iscsi-port", paramLabel = "N", description = "iSCSI port (iscsi.port)")
 * void iscsiPort(int port) { overrides.set("iscsi.port", "--iscsi-port", port); }
 * </pre>
 */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    versionProvider = VsaCommand.Version.class,
    description = {
      "Runs the appliance in the foreground; logs go to stdout. SIGTERM or SIGINT stop it in order.",
      "Without --config: data under ./vsa-data (or --data-dir), bound to 127.0.0.1, vPool 'default',"
          + " and a thin 1GiB vDisk 'demo' created at first start."
    },
    footer = {"", "Exit status: 0 stopped in order, 1 failure at start or stop, 2 usage or configuration error."})
public final class ServeCommand implements Callable<Integer> {

  private final Cli.Environment env;
  private final ConfigOverrides overrides = new ConfigOverrides();

  @Option(names = "--config", paramLabel = "FILE",
      description = "YAML configuration (see vsa.example.yaml); default: the embedded default")
  Path configFile;

  ServeCommand(Cli.Environment env) {
    this.env = env;
  }

  @Option(names = "--data-dir", paramLabel = "DIR",
      description = "data directory (node.dataDir; overrides the config file); default: ./vsa-data")
  void dataDir(String dir) {
    overrides.set("node.dataDir", "--data-dir", dir);
  }

  @Option(names = "--iscsi-port", paramLabel = "N", description = "iSCSI port (iscsi.port); default: 3260")
  void iscsiPort(int port) {
    overrides.set("iscsi.port", "--iscsi-port", port);
  }

  @Option(names = "--dtl-port", paramLabel = "N", description = "DTL server port (dtl.port); default: 26100")
  void dtlPort(int port) {
    overrides.set("dtl.port", "--dtl-port", port);
  }

  @Option(names = "--nfs-port", paramLabel = "N", description = "NFS port (nfs.port); default: 2049")
  void nfsPort(int port) {
    overrides.set("nfs.port", "--nfs-port", port);
  }

  @Option(names = "--portmap", paramLabel = "MODE",
      description = "register-or-embed (default: register with the portmapper on 111, or run one there) or none (nfs.portmap)")
  void portmap(String mode) {
    overrides.set("nfs.portmap", "--portmap", mode);
  }

  @Option(names = "--mount-port", paramLabel = "N", description = "NFS MOUNT port (nfs.mountPort); default: 20048")
  void mountPort(int port) {
    overrides.set("nfs.mountPort", "--mount-port", port);
  }

  @Option(names = "--mgmt-port", paramLabel = "N",
      description = "management API port (management.port); default: 8080, on 127.0.0.1")
  void mgmtPort(int port) {
    overrides.set("management.port", "--mgmt-port", port);
  }

  /** The configuration this invocation runs with. */
  ApplianceConfig config() throws Exception {
    ConfigLoader loader = new ConfigLoader(env.workingDir());
    return configFile == null ? loader.loadDefault(overrides) : loader.load(configFile, overrides);
  }

  @Override
  public Integer call() throws Exception {
    ApplianceConfig config = config();
    CountDownLatch stopRequested = new CountDownLatch(1);
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    // Before start: a signal during a long start (engine recovery) still stops in order.
    env.stopSignals().install(stopRequested::countDown, stopped);
    try {
      Appliance appliance = Appliance.start(config);
      boolean clean;
      try {
        stopRequested.await();
      } finally {
        clean = appliance.stop();
      }
      if (!clean) {
        env.err().println("vsa: stopped with errors; see the log");
        return Cli.EXIT_FAILURE;
      }
      return Cli.EXIT_OK;
    } finally {
      stopped.complete(null);
    }
  }
}
