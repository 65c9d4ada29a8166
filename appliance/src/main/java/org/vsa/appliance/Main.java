package org.vsa.appliance;

import org.vsa.appliance.cli.Cli;

/** The {@code vsa} command. Everything but the exit lives in {@link Cli}, which tests run in-process. */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    System.exit(Cli.execute(args, Cli.Environment.process()));
  }
}
