package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.appliance.config.Sizes.GiB;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.appliance.config.ApplianceConfig.Vdisk;
import picocli.CommandLine;

/** The command line in-process: exit statuses, the one-line errors, flags reaching the config. */
class CliTest {

  @TempDir
  Path work;

  @Test
  void versionAndHelpGoToStdoutWithStatusZero() {
    CliRun version = CliRun.run(work, "--version");
    assertEquals(0, version.exitCode());
    assertTrue(version.out().startsWith("vsa 0.1.0"), version.out());
    assertEquals("", version.err());

    CliRun help = CliRun.run(work, "--help");
    assertEquals(0, help.exitCode());
    assertTrue(help.out().contains("Usage: vsa"), help.out());
    assertTrue(help.out().contains("serve"), help.out());

    CliRun serveHelp = CliRun.run(work, "serve", "--help");
    assertEquals(0, serveHelp.exitCode());
    assertTrue(serveHelp.out().contains("--config=FILE"), serveHelp.out());
    assertTrue(serveHelp.out().contains("--data-dir=DIR"), serveHelp.out());

    CliRun helpServe = CliRun.run(work, "help", "serve");
    assertEquals(0, helpServe.exitCode());
    assertEquals(serveHelp.out(), helpServe.out());
  }

  @Test
  void noCommandIsAUsageError() {
    CliRun run = CliRun.run(work);
    assertEquals(2, run.exitCode());
    assertEquals("vsa: missing command; commands: serve, config, vdisk, snapshot, clone, template, vpool, backend, iscsi, nfs, node,"
        + " cluster, dtl, events, status, help (see 'vsa --help')",
        run.oneErrLine());
    assertEquals("", run.out());
  }

  @Test
  void unknownOptionsAndCommandsAreUsageErrorsOnOneLine() {
    CliRun option = CliRun.run(work, "serve", "--data-dri", "x");
    assertEquals(2, option.exitCode());
    assertTrue(option.oneErrLine().startsWith("vsa: Unknown options: '--data-dri', 'x'; did you mean --data-dir?"),
        option.err());
    assertTrue(option.oneErrLine().endsWith("(see 'vsa serve --help')"), option.err());

    CliRun command = CliRun.run(work, "sevre");
    assertEquals(2, command.exitCode());
    assertTrue(command.oneErrLine().contains("'sevre'; did you mean serve"), command.err());

    CliRun missingValue = CliRun.run(work, "serve", "--config");
    assertEquals(2, missingValue.exitCode());
    assertTrue(missingValue.oneErrLine().contains("--config"), missingValue.err());

    CliRun extra = CliRun.run(work, "serve", "now");
    assertEquals(2, extra.exitCode());
    assertTrue(extra.oneErrLine().contains("'now'"), extra.err());
    assertFalse(Files.exists(work.resolve("vsa-data")));
  }

  @Test
  void aMissingConfigFileIsAConfigError() {
    CliRun run = CliRun.run(work, "serve", "--config", "missing.yaml");
    assertEquals(2, run.exitCode());
    assertEquals("config error: config file " + work.resolve("missing.yaml") + " does not exist", run.oneErrLine());
  }

  @Test
  void configCheckAcceptsAValidFileAndCreatesNothing() throws Exception {
    Files.writeString(work.resolve("vsa.yaml"), """
        node: {name: n1, dataDir: data}
        vpools: [{name: pool, scoSize: 8MiB}]
        vdisks: [{name: d1, vpool: pool, size: 1GiB}, {name: d2, vpool: pool, size: 2GiB}]
        """);
    CliRun run = CliRun.run(work, "config", "check", "vsa.yaml");
    assertEquals(0, run.exitCode(), run.err());
    assertEquals("config OK: " + work.resolve("vsa.yaml") + " (node n1, 1 vPool(s), 2 vDisk(s))", run.out().strip());
    assertEquals("", run.err());
    assertFalse(Files.exists(work.resolve("data")), "a check creates nothing");
  }

  @Test
  void configCheckOfAMissingFileOrWithoutOneFails() {
    CliRun missing = CliRun.run(work, "config", "check", "missing.yaml");
    assertEquals(2, missing.exitCode());
    assertEquals("config error: config file " + work.resolve("missing.yaml") + " does not exist", missing.oneErrLine());

    CliRun noFile = CliRun.run(work, "config", "check");
    assertEquals(2, noFile.exitCode());
    assertTrue(noFile.oneErrLine().startsWith("vsa: Missing required parameter: 'FILE'"), noFile.err());

    CliRun noVerb = CliRun.run(work, "config");
    assertEquals(2, noVerb.exitCode());
    assertTrue(noVerb.oneErrLine().contains("missing command; commands: check"), noVerb.err());
  }

  @Test
  void anEmptyDataDirIsAConfigErrorNamingTheFlag() {
    CliRun run = CliRun.run(work, "serve", "--data-dir", "");
    assertEquals(2, run.exitCode());
    assertEquals("config error: node.dataDir = \"\" (from --data-dir) must not be empty", run.oneErrLine());
  }

  @Test
  void flagsReachTheConfig() throws Exception {
    Files.writeString(work.resolve("vsa.yaml"), """
        node: {dataDir: /elsewhere}
        vdisks: [{name: big, size: 2GiB}]
        """);

    ApplianceConfig fromFile = serveCommand("serve", "--config", "vsa.yaml").config();
    assertEquals(Path.of("/elsewhere"), fromFile.node().dataDir());
    assertEquals(List.of(new Vdisk("big", "default", 2 * GiB, 512)), fromFile.vdisks());

    ApplianceConfig overridden = serveCommand("serve", "--config", "vsa.yaml", "--data-dir", "here").config();
    assertEquals(work.resolve("here"), overridden.node().dataDir());
    assertEquals(work.resolve("here/metadata"), overridden.metadata().dir());
    assertEquals(fromFile.vdisks(), overridden.vdisks());

    ApplianceConfig dflt = serveCommand("serve").config();
    assertEquals(work.resolve("vsa-data"), dflt.node().dataDir());
    assertEquals(List.of(new Vdisk("demo", "default", GiB, 512)), dflt.vdisks());

    ApplianceConfig dataDirOnly = serveCommand("serve", "--data-dir=/abs/d").config();
    assertEquals(Path.of("/abs/d/writebuffer"), dataDirOnly.writeBuffer().dir());
    assertEquals(dflt.vdisks(), dataDirOnly.vdisks());
  }

  @Test
  void aDataDirThatCannotBeCreatedFailsToStartWithStatusOne() throws Exception {
    Path file = Files.writeString(work.resolve("a-file"), "not a directory");

    CliRun run = CliRun.run(work, "serve", "--data-dir", "a-file/data");

    assertEquals(1, run.exitCode(), run.err());
    assertTrue(run.oneErrLine().startsWith("vsa: cannot start: cannot create node.dataDir " + file.resolve("data")),
        run.err());
    assertEquals("not a directory", Files.readString(file));
  }

  @Test
  void aDataDirInUseFailsToStartWithStatusOne() throws Exception {
    Path data = Files.createDirectories(work.resolve("data"));
    try (FileChannel ch = FileChannel.open(data.resolve(Appliance.LOCK_FILE),
            StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock = ch.lock()) {
      CliRun run = CliRun.run(work, "serve", "--data-dir", "data");

      assertEquals(1, run.exitCode(), run.err());
      assertTrue(run.oneErrLine().startsWith("vsa: cannot start: data directory " + data
          + " is in use by another vsa process"), run.err());
      assertTrue(lock.isValid(), "the other process's lock is left alone");
    }
    assertFalse(Files.exists(data.resolve("writebuffer")), "nothing is created in a data dir in use");
  }

  private ServeCommand serveCommand(String... args) {
    CommandLine cl = Cli.commandLine(CliRun.environment(work));
    CommandLine.ParseResult parsed = cl.parseArgs(args);
    return (ServeCommand) parsed.subcommand().commandSpec().userObject();
  }
}
