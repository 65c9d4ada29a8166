// Scratch measurement of branch nfs2 (see ../../README-frontends.md, 'NFS after branch nfs2'): the engine's
// writer/reader thread CPU, in-process, TestEngines, direct buffers. Run from the repository root after
// 'mvn -o -q -pl volume -am test-compile' (see the README section for the exact commands).
import java.nio.ByteBuffer;
import java.nio.file.*;
import org.vsa.volume.*;
public class WriteBench {
  public static void main(String[] a) throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/work"), "nfs2-mb");
    int chunk = Integer.parseInt(a[0]);
    try (Engine e = TestEngines.start(dir)) {
      BlockVolume v = e.create(TestEngines.spec("mb", 2L << 30));
      ByteBuffer b = ByteBuffer.allocateDirect(chunk);
      new java.util.Random(1).ints().limit(chunk / 4).forEach(x -> b.putInt(x));
      for (int round = 0; round < 6; round++) {
        long t0 = System.nanoTime();
        long cpu0 = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        for (long pos = 0; pos < (192L << 20); pos += chunk) {
          b.clear();
          v.write(pos, b, Durability.BUFFERED);
        }
        long cpu1 = java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        long t1 = System.nanoTime();
        System.out.printf("round %d: 192 MiB in %d ms (%.0f MB/s), writer thread CPU %d ms%n", round, (t1 - t0) / 1000000,
            201.326592 / ((t1 - t0) / 1e9), (cpu1 - cpu0) / 1000000);
      }
    } finally {
      try (var s = Files.walk(dir)) { s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete()); }
    }
  }
}
