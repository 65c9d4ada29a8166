package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The namespace journal: recovery at every torn or corrupt tail, compaction, a bad header. */
class JournalTest {
  @TempDir
  Path dir;

  /** No vDisks: these tests cover small files and directories only. */
  static final VolumeCatalog NONE = VolumeCatalog.NONE;

  LocalNamespace open() throws IOException {
    return LocalNamespace.open("default", dir, NONE, List.of());
  }

  @Test
  void everyTornOrCorruptTailKeepsExactlyTheRecordsBeforeIt() throws Exception {
    long[] ends = new long[4];
    try (LocalNamespace ns = open()) {
      Path j = dir.resolve("journal");
      ends[0] = Files.size(j);
      for (int i = 1; i < 4; i++) {
        ns.mkdir(ns.rootId(), "d" + i, 0, 0, SetAttr.NONE);
        ends[i] = Files.size(j);
      }
    }
    byte[] full = Files.readAllBytes(dir.resolve("journal"));
    for (long cut = ends[0]; cut <= full.length; cut++) {
      Files.write(dir.resolve("journal"), java.util.Arrays.copyOf(full, (int) cut));
      int expect = 0;
      for (int i = 1; i < 4; i++) {
        expect += cut >= ends[i] ? 1 : 0;
      }
      try (LocalNamespace ns = open()) {
        assertEquals(expect + 2, ns.readdir(ns.rootId(), 0, 100).size(), "cut at " + cut);
      }
    }
    // A flipped byte inside the second mkdir's record: only the first survives.
    full[(int) (ends[1] + 20)] ^= 1;
    Files.write(dir.resolve("journal"), full);
    try (LocalNamespace ns = open()) {
      assertEquals(3, ns.readdir(ns.rootId(), 0, 100).size());
      assertEquals(ends[1], Files.size(dir.resolve("journal")));
    }
  }

  @Test
  void compactionKeepsTheNamespaceAndLaterChangesReplayOnTop() throws Exception {
    long compactAt = 64 << 10;
    try (LocalNamespace ns = LocalNamespace.open("default", dir, NONE, List.of(), 0, compactAt)) {
      long d = ns.mkdir(ns.rootId(), "big", 0, 0, SetAttr.NONE);
      for (int i = 0; i < 3000; i++) {
        ns.create(d, "file-with-a-longish-name-" + i, 0, 0, SetAttr.NONE, true);
        if (i % 3 == 0) {
          ns.rename(d, "file-with-a-longish-name-" + i, ns.rootId(), "moved-" + i);
        }
        if (i % 5 == 0 && i % 3 != 0) {
          ns.remove(d, "file-with-a-longish-name-" + i);
        }
      }
      // Compacted: far smaller than the records of 3000 creates, renames and removes.
      assertTrue(Files.size(dir.resolve("journal")) < 4 * 3000 * 60, "journal " + Files.size(dir.resolve("journal")));
    }
    try (LocalNamespace ns = LocalNamespace.open("default", dir, NONE, List.of(), 0, compactAt)) {
      long d = ns.lookup(ns.rootId(), "big");
      int expectBig = 0;
      int expectRoot = 0;
      for (int i = 0; i < 3000; i++) {
        expectRoot += i % 3 == 0 ? 1 : 0;
        expectBig += i % 3 != 0 && i % 5 != 0 ? 1 : 0;
      }
      assertEquals(expectBig + 2, ns.readdir(d, 0, 10_000).size());
      assertEquals(expectRoot + 3, ns.readdir(ns.rootId(), 0, 10_000).size());
      assertEquals(Status.NOENT, assertThrows(NfsException.class, () -> ns.lookup(d, "file-with-a-longish-name-5")).status());
      ns.lookup(ns.rootId(), "moved-2997");
    }
  }

  @Test
  void aForeignFileIsRefused() throws Exception {
    Files.write(dir.resolve("journal"), new byte[64]);
    assertThrows(IOException.class, this::open);
  }
}
