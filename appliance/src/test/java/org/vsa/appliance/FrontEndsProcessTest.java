package org.vsa.appliance;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vsa serve} on its embedded default (ports moved so that tests run side by side) with
 * the real user-space clients: libiscsi's iscsi-ls, iscsi-inq and iscsi-readcapacity16 on the
 * LUN, libnfs's nfs-ls and nfs-cp on the export; a file copied in survives an orderly restart.
 * A missing tool fails the test (./test.sh installs libiscsi-bin and libnfs-utils).
 */
class FrontEndsProcessTest {
  private static final String IQN = "iqn.2026-11.org.vsa:default";

  @TempDir
  Path work;

  record Result(int exit, String out) {}

  @Test
  void embeddedDefaultServesTheDemoLunAndTheDefaultExportToRealClients() throws Exception {
    int iscsi = FreePorts.next();
    int nfs = FreePorts.next();
    int mount = FreePorts.next();
    String[] serveArgs = {"serve", "--mgmt-port", "0", "--dtl-port", "0", "--data-dir", work.resolve("data").toString(), "--iscsi-port", Integer.toString(iscsi),
        "--nfs-port", Integer.toString(nfs), "--mount-port", Integer.toString(mount), "--portmap", "none"};
    String export = "nfs://127.0.0.1/default/?nfsport=" + nfs + "&mountport=" + mount + "&version=3";
    String file = "nfs://127.0.0.1/default/hello.img?nfsport=" + nfs + "&mountport=" + mount + "&version=3";
    byte[] data = new byte[3 * 1024 * 1024 + 512];
    new Random(7).nextBytes(data);
    Path in = work.resolve("in.img");
    Files.write(in, data);

    try (Serve serve = Serve.start(work, serveArgs)) {
      serve.awaitStdout(l -> l.contains("vsa running: "), Serve.START_TIMEOUT);

      Result ls = ok("iscsi-ls", "-s", "iscsi://127.0.0.1:" + iscsi);
      assertTrue(ls.out().contains(IQN), ls.out());
      assertTrue(ls.out().contains("Lun:0"), ls.out());
      Result inq = ok("iscsi-inq", "iscsi://127.0.0.1:" + iscsi + "/" + IQN + "/0");
      assertTrue(inq.out().contains("VSA"), inq.out());
      Result cap = ok("iscsi-readcapacity16", "iscsi://127.0.0.1:" + iscsi + "/" + IQN + "/0");
      assertTrue(cap.out().contains("Total size:1073741824"), cap.out());

      assertTrue(ok("nfs-ls", export).out().contains("demo.raw"), "the demo vDisk is a file in /default");
      ok("nfs-cp", in.toString(), file);
      Path out = work.resolve("out.img");
      ok("nfs-cp", file, out.toString());
      assertArrayEquals(data, Files.readAllBytes(out));

      serve.signal("TERM");
      assertEquals(0, serve.awaitExit(Serve.STOP_TIMEOUT), serve.report());
    }
    try (Serve again = Serve.start(work, serveArgs)) {
      again.awaitStdout(l -> l.contains("vsa running: "), Serve.START_TIMEOUT);
      Path back = work.resolve("back.img");
      ok("nfs-cp", file, back.toString());
      assertArrayEquals(data, Files.readAllBytes(back), "the file survives a restart");
      assertTrue(ok("iscsi-ls", "-s", "iscsi://127.0.0.1:" + iscsi).out().contains("Lun:0"));
      again.signal("TERM");
      assertEquals(0, again.awaitExit(Serve.STOP_TIMEOUT), again.report());
    }
  }


  private Result ok(String... cmd) throws IOException, InterruptedException {
    boolean found = false;
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      found |= Files.isExecutable(Path.of(d, cmd[0]));
    }
    if (!found) {
      fail(cmd[0] + " is not installed: run ./test.sh (apt-get install -y libiscsi-bin libnfs-utils)");
    }
    Path out = Files.createTempFile(work, "tool", ".out");
    Process p = new ProcessBuilder(new ArrayList<>(List.of(cmd))).redirectErrorStream(true)
        .redirectOutput(out.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail(String.join(" ", cmd) + " did not finish in 120 s");
    }
    String text = Files.readString(out, StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed: " + text);
    return new Result(p.exitValue(), text);
  }
}
