package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.TestEngines;

/**
 * FILE_SYNC writes and COMMITted UNSTABLE writes, and every namespace change, survive SIGKILL of
 * the server process and a restart; handles stay valid.
 */
class KillTest {
  @TempDir
  Path dir;

  record Child(Process process, int nfsPort, int mountPort) {}

  Child start() throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
        KillChild.class.getName(), dir.toString());
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    Process p = pb.start();
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    for (String line; (line = r.readLine()) != null; ) {
      if (line.startsWith("PORTS ")) {
        String[] w = line.split(" ");
        return new Child(p, Integer.parseInt(w[1]), Integer.parseInt(w[2]));
      }
    }
    p.destroyForcibly();
    throw new AssertionError("the server process did not start");
  }

  static Nfs3Client client(Child c) throws Exception {
    return new Nfs3Client(new RpcClient(new InetSocketAddress("127.0.0.1", c.nfsPort()), 0, 0),
        new RpcClient(new InetSocketAddress("127.0.0.1", c.mountPort()), 0, 0));
  }

  @Test
  void acknowledgedDataAndMetadataSurviveKill9() throws Exception {
    byte[] sync = TestEngines.pattern(1, 65536);
    byte[] committed = TestEngines.pattern(2, 100_000);
    byte[] small = TestEngines.pattern(3, 5000);
    byte[] vdisk;
    byte[] notes;
    byte[] dirFh;
    Child c = start();
    try (Nfs3Client n = client(c)) {
      byte[] root = n.mnt("/default");
      dirFh = n.mkdir(root, "vm").fh();
      vdisk = n.create(dirFh, "vm-flat.vmdk", 1).fh();
      assertEquals(2, n.write(vdisk, 0, sync, 2).committed());
      assertEquals(0, n.write(vdisk, 1 << 20, committed, 0).committed());
      assertNotNull(n.commit(vdisk));
      notes = n.create(dirFh, "vm.vmx", 1).fh();
      assertEquals(0, n.write(notes, 0, small, 0).status());
      assertNotNull(n.commit(notes));
      assertEquals(0, n.create(root, "gone", 1).status());
      assertEquals(0, n.remove(root, "gone"));
      assertEquals(0, n.rename(root, "demo.raw", dirFh, "demo-moved.raw"));
    } finally {
      c.process().destroyForcibly(); // SIGKILL
      assertTrue(c.process().waitFor(30, TimeUnit.SECONDS));
    }
    Child again = start();
    try (Nfs3Client n = client(again)) {
      n.mnt("/default");
      assertArrayEquals(sync, n.read(vdisk, 0, sync.length));
      assertArrayEquals(committed, n.read(vdisk, 1 << 20, committed.length));
      assertEquals((1 << 20) + committed.length, n.getattr(vdisk).attr().size());
      assertArrayEquals(small, n.read(notes, 0, small.length));
      byte[] root = n.mnt("/default");
      assertEquals(Status.NOENT, n.lookup(root, "gone").status());
      assertEquals(Status.NOENT, n.lookup(root, "demo.raw").status());
      assertEquals(0, n.lookup(dirFh, "demo-moved.raw").status());
    } finally {
      again.process().destroyForcibly();
      again.process().waitFor(30, TimeUnit.SECONDS);
    }
  }
}
