package org.vsa.volume;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * The process {@link ScrubCrashTest} kills: opens (recovering) the engine, then scrubs vDisk
 * {@code s} (rate-limited, so that the kill lands inside it) while one thread writes single
 * clusters as durable writes. Reports {@code READY}, {@code D i} when durable write i returned,
 * {@code SCRUBBED ...} when the scrub finished.
 */
public final class ScrubCrashChild {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    int round = Integer.parseInt(args[2]);
    long rate = Long.parseLong(args[3]);
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false);
    Engine e = TestEngines.start(dir);
    Volume v = e.volume("s").orElseThrow();
    say(out, "READY");
    Thread writer = new Thread(() -> {
      try {
        for (int i = 0; ; i++) {
          v.write(ScrubCrashTest.childOffset(seed, round, i), ByteBuffer.wrap(ScrubCrashTest.childData(seed, round, i)),
              Durability.DURABLE);
          say(out, "D " + i);
        }
      } catch (Throwable ex) {
        say(out, "ERROR " + ex);
      }
    });
    writer.start();
    try {
      ScrubReport r = e.scrub("s", ScrubOptions.defaults().withRate(rate));
      say(out, "SCRUBBED " + r);
    } catch (Throwable ex) {
      say(out, "ERROR " + ex);
      ex.printStackTrace();
    }
    writer.join();
  }

  private static void say(PrintStream out, String line) {
    synchronized (out) {
      out.println(line);
      out.flush();
    }
  }
}
