package org.vsa.volume;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;

/**
 * The process {@link DedupeCrashTest} kills: two dedupe-enabled vDisks in one engine. {@code src}
 * is (re)written with the workload's few distinct blocks and reaches the backend before
 * {@code READY}; then one thread writes {@code dst} durably, write after write, from index
 * {@code start} on (reporting {@code D i} after write i returned), while another overwrites
 * {@code src} with unique data and scrubs both vDisks over and over, so that the SCOs holding
 * the copies {@code dst} shares become garbage for {@code src} while the kill can come at any
 * point of a scrub.
 */
public final class DedupeCrashChild {
  static final int CLUSTERS = 256;
  static final int BLOCKS = 12;

  /** The block write i puts into cluster {@code i % CLUSTERS} of dst. */
  static byte[] block(long seed, long i) {
    return TestEngines.pattern(seed * 1_000_003L + (i * 7 + i / 13) % BLOCKS, Layout.CLUSTER_BYTES);
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    long start = Long.parseLong(args[2]);
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
    Engine e = TestEngines.start(dir);
    Volume src = e.volume("src").isPresent() ? e.volume("src").get() : DedupeTest.createDeduped(e, "src", 8L << 20);
    Volume dst = e.volume("dst").isPresent() ? e.volume("dst").get() : DedupeTest.createDeduped(e, "dst", 8L << 20);
    for (int b = 0; b < BLOCKS; b++) {
      src.write((long) b * Layout.CLUSTER_BYTES, ByteBuffer.wrap(block(seed, b)), Durability.BUFFERED);
    }
    src.flush();
    DedupeTest.awaitBackend(src);
    say(out, "READY");
    Thread churn = new Thread(() -> {
      Random r = new Random(seed ^ start);
      try {
        for (int k = 0; ; k++) {
          byte[] junk = new byte[Layout.CLUSTER_BYTES * 16];
          r.nextBytes(junk);
          src.write((long) Layout.CLUSTER_BYTES * 16 * r.nextInt(8), ByteBuffer.wrap(junk), Durability.BUFFERED);
          if (k % 8 == 0) {
            DedupeTest.awaitBackend(src);
            e.scrub("src", ScrubOptions.defaults().withRate(0));
            e.scrub("dst", ScrubOptions.defaults().withRate(0));
          }
        }
      } catch (Throwable ex) {
        say(out, "ERROR churn " + ex);
        ex.printStackTrace();
      }
    });
    churn.setDaemon(true);
    churn.start();
    try {
      for (long i = start; ; i++) {
        dst.write((i % CLUSTERS) * Layout.CLUSTER_BYTES, ByteBuffer.wrap(block(seed, i)), Durability.DURABLE);
        say(out, "D " + i);
        if (i % 64 == 63) {
          DedupeTest.awaitBackend(dst); // dst's own copies enter the index too
        }
      }
    } catch (Throwable ex) {
      say(out, "ERROR " + ex);
      ex.printStackTrace();
    }
  }

  private static void say(PrintStream out, String line) {
    synchronized (out) {
      out.println(line);
      out.flush();
    }
  }
}
