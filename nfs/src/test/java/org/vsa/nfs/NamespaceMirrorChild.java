package org.vsa.nfs;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.volume.Durability;
import org.vsa.volume.SharedObjects;
import org.vsa.volume.TestEngines;

/**
 * The owner process of {@link NamespaceMirrorKillTest}: a mirrored namespace over a local-directory
 * backend; {@code THREADS} writers each create files with a DURABLE write and append DURABLE to
 * their log, printing {@code A thread i} once both were acknowledged; runs until killed.
 */
public final class NamespaceMirrorChild {
  static final int THREADS = 3;
  static final int LOG_WRITE_BYTES = 1000;

  private NamespaceMirrorChild() {}

  static byte[] file(int t, int i) {
    return TestEngines.pattern(t * 1_000_000L + i, 1 + (i * 37) % 6000);
  }

  static byte[] logWrite(int t, int i) {
    return TestEngines.pattern(-(t * 1_000_000L + i) - 1, LOG_WRITE_BYTES);
  }

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    LocalDirectoryObjectStore store = new LocalDirectoryObjectStore(dir.resolve("backend"));
    // compacts every 16 KiB of journal: bases land while the writers run
    LocalNamespace ns = LocalNamespace.open("default", dir.resolve("ns"), JournalTest.NONE, List.of(), 0, 16 << 10,
        new NamespaceMirror(SharedObjects.over(store), "default", 1, () -> true));
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < THREADS; t++) {
      int tt = t;
      Thread th = new Thread(() -> {
        try {
          long log = ns.create(ns.rootId(), "log" + tt, 0, 0, SetAttr.NONE, true);
          for (int i = 0; ; i++) {
            long f = ns.create(ns.rootId(), "t" + tt + "-" + i, 0, 0, SetAttr.NONE, true);
            ns.write(f, 0, ByteBuffer.wrap(file(tt, i)), Durability.DURABLE);
            ns.write(log, (long) i * LOG_WRITE_BYTES, ByteBuffer.wrap(logWrite(tt, i)), Durability.DURABLE);
            synchronized (System.out) {
              System.out.println("A " + tt + " " + i);
              System.out.flush();
            }
          }
        } catch (Throwable e) {
          e.printStackTrace();
          System.exit(3);
        }
      });
      th.start();
      threads.add(th);
    }
    for (Thread th : threads) {
      th.join();
    }
  }
}
