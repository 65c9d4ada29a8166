// Scratch measurement of branch nfs2 (see ../../README-frontends.md, 'NFS after branch nfs2'): the engine's
// writer/reader thread CPU, in-process, TestEngines, direct buffers. Run from the repository root after
// 'mvn -o -q -pl volume -am test-compile' (see the README section for the exact commands).
import java.nio.ByteBuffer;
import java.nio.file.*;
import org.vsa.volume.*;
public class ReadBench {
  public static void main(String[] a) throws Exception {
    Path dir = Files.createTempDirectory(Path.of("/work"), "nfs2-mb");
    int chunk = 1 << 20;
    var mx = java.lang.management.ManagementFactory.getThreadMXBean();
    try (Engine e = TestEngines.start(dir)) {
      BlockVolume v = e.create(TestEngines.spec("mb", 1L << 30));
      ByteBuffer b = ByteBuffer.allocateDirect(chunk);
      new java.util.Random(1).ints().limit(chunk / 4).forEach(x -> b.putInt(x));
      long total = 192L << 20;
      for (long pos = 0; pos < total; pos += chunk) {
        b.clear();
        v.write(pos, b, Durability.BUFFERED);
      }
      v.flush();
      long sum = 0;
      for (int round = 0; round < 8; round++) {
        long cpu0 = mx.getCurrentThreadCpuTime();
        for (long pos = 0; pos < total; pos += chunk) {
          b.clear();
          v.read(pos, b);
          sum += b.get(17);
        }
        long cpu1 = mx.getCurrentThreadCpuTime();
        System.out.printf("round %d: reader thread CPU %d ms%n", round, (cpu1 - cpu0) / 1000000);
      }
      System.out.println(sum == 42 ? "" : "ok");
    } finally {
      try (var s = Files.walk(dir)) { s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete()); }
    }
  }
}
