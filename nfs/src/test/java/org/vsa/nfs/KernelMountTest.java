package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A kernel NFSv3 mount of the export, where the machine allows one: a file written through the
 * mount reads back byte for byte through it after a remount. Where it does not (no NFS client in
 * the kernel, no mount.nfs, not root), the test says so on its output and why, as the libnfs
 * client tests (RealClientTest, LargeCopyTest, KillTest) are then the real clients.
 */
class KernelMountTest {
  @TempDir
  Path dir;

  /** Why a kernel NFS mount is not possible here, or null when it is. */
  static String notPossible() throws IOException {
    if (!Files.readString(Path.of("/proc/filesystems")).matches("(?s).*\\bnfs\\n.*")) {
      return "this kernel has no NFS client (no nfs in /proc/filesystems)";
    }
    if (!Files.isExecutable(Path.of("/sbin/mount.nfs"))) {
      return "no /sbin/mount.nfs (Debian package nfs-common)";
    }
    if (!"root".equals(System.getProperty("user.name"))) {
      return "mounting needs root";
    }
    return null;
  }

  private static int run(List<String> cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("timed out: " + cmd);
    }
    return p.exitValue();
  }

  @Test
  void aFileWrittenThroughAKernelMountReadsBack() throws Exception {
    String why = notPossible();
    if (why != null) {
      System.out.println("KernelMountTest: kernel NFS mount NOT tested on this machine: " + why
          + "; the libnfs clients (nfs-cp, nfs-cat, nfs-ls) are the real clients here");
      return;
    }
    try (Fixture fx = new Fixture(dir.resolve("fx"))) {
      Path mnt = Files.createDirectories(dir.resolve("mnt"));
      List<String> mount = List.of("mount", "-t", "nfs", "-o", "vers=3,proto=tcp,nolock,port=" + fx.nfsPort()
          + ",mountport=" + fx.mountPort() + ",mountproto=tcp", "127.0.0.1:/default", mnt.toString());
      assertEquals(0, run(mount), "mount " + mount);
      byte[] data = new byte[3 << 20];
      new Random(5).nextBytes(data);
      try {
        Files.write(mnt.resolve("kernel.img"), data);
      } finally {
        assertEquals(0, run(List.of("umount", mnt.toString())));
      }
      assertEquals(0, run(mount));
      try {
        assertArrayEquals(data, Files.readAllBytes(mnt.resolve("kernel.img")));
      } finally {
        assertEquals(0, run(List.of("umount", mnt.toString())));
      }
      System.out.println("KernelMountTest: kernel NFSv3 mount tested: 3 MiB written, remounted, read back identical");
    }
  }
}
