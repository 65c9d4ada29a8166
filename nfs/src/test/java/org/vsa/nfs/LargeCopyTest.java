package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nfs-cp of a 1 GiB vDisk file in and out, byte-identical (size: -Dnfs.large.mib, default 1024). */
class LargeCopyTest {
  @TempDir
  Path dir;

  @Test
  void copiesALargeVdiskFileInAndOut() throws Exception {
    long mib = Long.getLong("nfs.large.mib", 1024);
    Path in = dir.resolve("in.raw");
    byte[] expected = writePattern(in, mib);
    try (Fixture fx = new Fixture(dir.resolve("server"))) {
      long t0 = System.nanoTime();
      Tools.ok(1200, "nfs-cp", in.toString(), fx.url("/default/large.raw"));
      long t1 = System.nanoTime();
      Files.delete(in);
      Path out = dir.resolve("out.raw");
      Tools.ok(1200, "nfs-cp", fx.url("/default/large.raw"), out.toString());
      long t2 = System.nanoTime();
      System.out.printf("%d MiB in: %d ms, out: %d ms%n", mib, (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
      assertEquals(mib << 20, Files.size(out));
      assertArrayEquals(expected, digest(out));
    }
  }

  static byte[] writePattern(Path p, long mib) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    Random r = new Random(mib);
    byte[] chunk = new byte[1 << 20];
    try (OutputStream o = Files.newOutputStream(p)) {
      for (long i = 0; i < mib; i++) {
        r.nextBytes(chunk);
        md.update(chunk);
        o.write(chunk);
      }
    }
    return md.digest();
  }

  static byte[] digest(Path p) throws Exception {
    MessageDigest md = MessageDigest.getInstance("SHA-256");
    byte[] buf = new byte[1 << 20];
    try (InputStream i = Files.newInputStream(p)) {
      for (int n; (n = i.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
    }
    return md.digest();
  }
}
