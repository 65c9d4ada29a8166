package org.vsa.appliance;

import org.vsa.appliance.cli.Cli;

/** The {@code vsa} command. Everything but the exit lives in {@link Cli}, which tests run in-process. */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    // java.util.logging (Grizzly, under the NFS server) into SLF4J: one log format on stdout
    org.slf4j.bridge.SLF4JBridgeHandler.removeHandlersForRootLogger();
    org.slf4j.bridge.SLF4JBridgeHandler.install();
    System.exit(Cli.execute(args, Cli.Environment.process()));
  }
}
