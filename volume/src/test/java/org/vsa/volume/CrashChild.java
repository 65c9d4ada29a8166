package org.vsa.volume;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The process the crash test kills: opens (recovering) the engine in a data directory, then
 * writes {@link CrashWorkload} from several threads until it is killed. It reports on stdout, one
 * line per event, only after the event happened: {@code A t i} when write i of thread t returned,
 * {@code D t i} when it returned as durable (FUA), {@code F t i} when a flush after write i
 * returned.
 */
public final class CrashChild {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    int round = Integer.parseInt(args[2]);
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
    Engine e = TestEngines.start(dir);
    Volume v = e.volume("crash").isPresent() ? e.volume("crash").get()
        : e.create(TestEngines.spec("crash", CrashWorkload.SIZE_BYTES));
    say(out, "READY");
    Thread[] threads = new Thread[CrashWorkload.THREADS];
    for (int t = 0; t < threads.length; t++) {
      int thread = t;
      threads[t] = new Thread(() -> {
        try {
          for (long i = 0; ; i++) {
            CrashWorkload.Op op = CrashWorkload.op(seed, round, thread, i);
            switch (op.kind()) {
              case UNMAP -> v.unmap(op.offset(), op.length());
              case DURABLE -> v.write(op.offset(), op.buffer(), Durability.DURABLE);
              default -> v.write(op.offset(), op.buffer(), Durability.BUFFERED);
            }
            say(out, (op.kind() == CrashWorkload.Kind.DURABLE ? "D " : "A ") + thread + " " + i);
            if (op.flushAfter()) {
              v.flush();
              say(out, "F " + thread + " " + i);
            }
          }
        } catch (Throwable ex) {
          say(out, "ERROR " + ex);
          ex.printStackTrace();
        }
      });
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  private static void say(PrintStream out, String line) {
    synchronized (out) {
      out.println(line);
      out.flush(); // into the pipe before the next write starts: a reported event happened
    }
  }
}
