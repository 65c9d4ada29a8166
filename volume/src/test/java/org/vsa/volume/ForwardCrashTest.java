package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.remote.PeerClient;
import org.vsa.volume.remote.RemoteVolume;

/**
 * Writes to a vDisk through forwarding (RemoteVolume, several threads, pipelined on one
 * connection) while its owner, a child JVM, is killed with SIGKILL; then reopens the owner's engine
 * and checks that every write the forwarding acknowledged as durable (a DURABLE write, or a
 * BUFFERED one followed by a flush that returned) reads back, and that the writers got an
 * IOException within a bounded time instead of hanging.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ForwardCrashTest {
  @TempDir
  Path dir;

  static final long SIZE = 64L << 20;
  static final int THREADS = 4;
  static final int SLOTS = (int) (SIZE / 4096 / THREADS);

  static byte[] data(long seed, int thread, int slot) {
    return TestEngines.pattern(seed * 31 + thread * 1_000_003L + slot, 4096);
  }

  @Test
  void everyForwardedDurableWriteSurvivesTheOwnersKill() throws Exception {
    long seed = Long.getLong("sim.seed", new Random().nextLong());
    System.out.println("ForwardCrashTest: -Dsim.seed=" + seed);
    Random timing = new Random(seed);
    int rounds = Integer.getInteger("crash.rounds", 3);
    int[] next = new int[THREADS]; // the next slot each thread writes: slots are written once
    for (int round = 0; round < rounds; round++) {
      ChildJvm child = ChildJvm.start(ForwardCrashChild.class, l -> false, dir.toString(), Long.toString(SIZE));
      assertTrue(child.ready.await(60, TimeUnit.SECONDS), "owner never became ready: " + child.lines);
      int port = Integer.parseInt(child.lines.get(0).substring("PORT ".length()));
      ConcurrentLinkedQueue<int[]> acked = new ConcurrentLinkedQueue<>();
      CountDownLatch enough = new CountDownLatch(THREADS * 20);
      List<Thread> writers = new ArrayList<>();
      List<Throwable> endings = java.util.Collections.synchronizedList(new ArrayList<>());
      try (PeerClient c = new PeerClient(new java.net.InetSocketAddress("127.0.0.1", port),
          PeerClient.Config.defaults().withRequestTimeout(java.time.Duration.ofSeconds(10)))) {
        RemoteVolume v = c.open("fwd");
        for (int t = 0; t < THREADS; t++) {
          int thread = t;
          Thread w = new Thread(() -> {
            List<int[]> unflushed = new ArrayList<>();
            try {
              while (next[thread] < SLOTS) {
                int slot = next[thread]++;
                long at = (long) (thread * SLOTS + slot) * 4096;
                if (thread % 2 == 0) {
                  v.write(at, ByteBuffer.wrap(data(seed, thread, slot)), Durability.DURABLE);
                  acked.add(new int[] {thread, slot});
                  enough.countDown();
                } else {
                  v.write(at, ByteBuffer.wrap(data(seed, thread, slot)), Durability.BUFFERED);
                  unflushed.add(new int[] {thread, slot});
                  if (unflushed.size() == 8) {
                    v.flush();
                    acked.addAll(unflushed);
                    unflushed.forEach(x -> enough.countDown());
                    unflushed.clear();
                  }
                }
              }
              endings.add(new AssertionError("ran out of slots"));
            } catch (IOException e) {
              endings.add(e); // the owner died: expected
            } catch (Throwable e) {
              endings.add(e);
            }
          }, "forward-writer-" + t);
          writers.add(w);
          w.start();
        }
        assertTrue(enough.await(60, TimeUnit.SECONDS), "writes did not flow: " + endings);
        child.awaitMillis(timing.nextInt(300));
        child.kill();
        for (Thread w : writers) {
          w.join(TimeUnit.SECONDS.toMillis(30));
          assertTrue(!w.isAlive(), w.getName() + " still blocked 30 s after the owner's death");
        }
      }
      for (Throwable e : endings) {
        assertTrue(e instanceof IOException, "a writer ended with " + e);
      }
      try (Engine e = TestEngines.start(dir)) {
        Volume v = e.volume("fwd").orElseThrow();
        for (int[] a : acked) {
          long at = (long) (a[0] * SLOTS + a[1]) * 4096;
          assertArrayEquals(data(seed, a[0], a[1]), TestEngines.read(v, at, 4096),
              "round " + round + ": acknowledged write of thread " + a[0] + " slot " + a[1] + " lost (seed " + seed + ")");
        }
        System.out.printf("round %d: %d acknowledged writes, all there%n", round, acked.size());
      }
    }
  }
}
