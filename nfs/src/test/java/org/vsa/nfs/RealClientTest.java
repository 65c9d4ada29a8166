package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.TestEngines;

/** libnfs-utils (nfs-ls, nfs-cp, nfs-cat) against the server over NFSv3/TCP without a portmapper. */
class RealClientTest {
  @TempDir
  static Path dir;
  static Fixture fx;

  @BeforeAll
  static void start() throws Exception {
    Tools.requireInstalled();
    fx = new Fixture(dir);
  }

  @AfterAll
  static void stop() throws Exception {
    if (fx != null) {
      fx.close();
    }
  }

  @Test
  void listsTheExportWithTheAdoptedVdisk() throws Exception {
    Tools.Result r = Tools.ok(60, "nfs-ls", fx.url("/default/"));
    assertTrue(r.out().contains("demo.raw"), r.out());
    assertTrue(r.out().contains(Long.toString(16L << 20)), r.out());
  }

  @Test
  void copiesA64MibVdiskFileInAndOutByteIdentical() throws Exception {
    byte[] data = TestEngines.pattern(42, 64 << 20);
    Path in = dir.resolve("in.img");
    Files.write(in, data);
    long t0 = System.nanoTime();
    Tools.ok(300, "nfs-cp", in.toString(), fx.url("/default/big.img"));
    long t1 = System.nanoTime();
    Path out = dir.resolve("out.img");
    Tools.ok(300, "nfs-cp", fx.url("/default/big.img"), out.toString());
    long t2 = System.nanoTime();
    System.out.printf("64 MiB in: %d ms, out: %d ms%n", (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000);
    assertArrayEquals(data, Files.readAllBytes(out));
    // It is a vDisk: the catalog holds it under the file's stem.
    assertTrue(fx.catalog.get("big").isPresent());
    assertTrue(Tools.ok(60, "nfs-ls", fx.url("/default/")).out().contains("big.img"));
  }

  @Test
  void copiesAnUnalignedSmallFileAndCatsIt() throws Exception {
    byte[] data = TestEngines.pattern(7, 300_001);
    Path in = dir.resolve("small.vmx");
    Files.write(in, data);
    Tools.ok(60, "nfs-cp", in.toString(), fx.url("/default/small.vmx"));
    Path out = dir.resolve("small.out");
    Tools.ok(60, "nfs-cp", fx.url("/default/small.vmx"), out.toString());
    assertArrayEquals(data, Files.readAllBytes(out));
    Files.writeString(dir.resolve("hello.txt"), "hello, nfs\n");
    Tools.ok(60, "nfs-cp", dir.resolve("hello.txt").toString(), fx.url("/default/hello.txt"));
    assertEquals("hello, nfs\n", Tools.ok(60, "nfs-cat", fx.url("/default/hello.txt")).out());
  }

  @Test
  void copiesAnUnalignedVdiskFile() throws Exception {
    byte[] data = TestEngines.pattern(9, 3 * 1_000_003);
    Path in = dir.resolve("odd.raw");
    Files.write(in, data);
    Tools.ok(60, "nfs-cp", in.toString(), fx.url("/default/odd.raw"));
    Path out = dir.resolve("odd.out");
    Tools.ok(60, "nfs-cp", fx.url("/default/odd.raw"), out.toString());
    assertArrayEquals(data, Files.readAllBytes(out));
  }
}
