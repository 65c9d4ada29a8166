package org.vsa.volume;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * The process {@link FlattenCrashTest} kills: opens (recovering) the engine and flattens clone
 * {@code c} at a low rate, so that the kill lands inside the copy. Reports {@code READY}, then
 * {@code FLATTENED} when done.
 */
public final class FlattenCrashChild {
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long rate = Long.parseLong(args[1]);
    PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), true);
    Engine e = TestEngines.start(dir);
    out.println("READY");
    try {
      FlattenReport r = e.flatten("c", rate);
      out.println("FLATTENED " + r);
    } catch (Throwable ex) {
      out.println("ERROR " + ex);
      ex.printStackTrace();
    }
    Thread.sleep(Long.MAX_VALUE);
  }
}
