package org.vsa.volume;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Optional;
import org.vsa.dtl.ClientConfig;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlEvents;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.DtlState;

/**
 * The process {@link DtlCrashTest} kills: a vDisk in DTL mode sync whose DTL is the test's
 * server. Once the DTL is in sync it prints READY, then each thread writes its own clusters
 * (BUFFERED: sync mode acknowledges only what the DTL holds) and prints {@code A t i} after write
 * i of thread t returned while the DTL was OK_SYNC.
 */
public final class DtlCrashChild {
  static final int THREADS = 4;
  static final int PER_THREAD = 4096;
  static final long SIZE_BYTES = (long) THREADS * PER_THREAD * Layout.CLUSTER_BYTES;

  static DtlConnector connector(Path dir, int port) throws java.io.IOException {
    // a long ack timeout: on a loaded machine a slow answer must not turn the stream DEGRADED
    // (writes acknowledged then are not protected, and this test checks them all)
    return new DtlConnector(dir.resolve("dtl-client"), ClientConfig.defaults().withAckTimeoutNanos(30_000_000_000L),
        name -> Optional.of(new InetSocketAddress("127.0.0.1", port)), DtlEvents.NONE);
  }

  /** A connector that gives up on an unreachable DTL within a second (refusal tests). */
  static DtlConnector connectorQuick(Path dir, int port) throws java.io.IOException {
    return new DtlConnector(dir.resolve("dtl-client"), ClientConfig.defaults().withAckTimeoutNanos(200_000_000L),
        name -> Optional.of(new InetSocketAddress("127.0.0.1", port)), DtlEvents.NONE);
  }

  static byte[] data(long seed, int round, int thread, long i) {
    return TestEngines.pattern(seed * 1_000_003L + round * 10_007L + thread * 100_003L + i, Layout.CLUSTER_BYTES);
  }

  static long cluster(int thread, long i) {
    return (long) thread * PER_THREAD + i;
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    int port = Integer.parseInt(args[1]);
    long seed = Long.parseLong(args[2]);
    int round = Integer.parseInt(args[3]);
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
    Engine e = Engine.start(TestEngines.config(dir, TestEngines.localBackend(dir)), connector(dir, port));
    Volume v = e.volume("crash").isPresent() ? e.volume("crash").get()
        : e.create(TestEngines.spec("crash", SIZE_BYTES).withDtlMode(DtlMode.SYNC));
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (e.dtlState("crash").orElseThrow() != DtlState.OK_SYNC) {
      if (System.nanoTime() > deadline) {
        say(out, "ERROR the DTL never got in sync: " + e.dtlReason("crash").orElse(""));
        return;
      }
      Thread.sleep(10);
    }
    say(out, "READY");
    Thread[] threads = new Thread[THREADS];
    for (int t = 0; t < THREADS; t++) {
      int thread = t;
      threads[t] = new Thread(() -> {
        try {
          for (long i = 0; i < PER_THREAD; i++) {
            v.write(cluster(thread, i) * Layout.CLUSTER_BYTES, ByteBuffer.wrap(data(seed, round, thread, i)),
                Durability.BUFFERED);
            if (e.dtlState("crash").orElseThrow() == DtlState.OK_SYNC) {
              say(out, "A " + thread + " " + i);
            }
          }
        } catch (Throwable ex) {
          say(out, "ERROR " + ex);
        }
      });
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join();
    }
    say(out, "DONE");
    Thread.sleep(600_000);
  }

  private static void say(PrintStream out, String line) {
    synchronized (out) {
      out.println(line);
      out.flush();
    }
  }
}
