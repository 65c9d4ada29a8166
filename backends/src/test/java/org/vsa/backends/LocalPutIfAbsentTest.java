package org.vsa.backends;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Create-if-absent on the local directory store: one winner among threads and store instances. */
class LocalPutIfAbsentTest {
  @TempDir Path dir;

  @Test
  void createsOnceThenRefuses() throws Exception {
    try (LocalDirectoryObjectStore s = new LocalDirectoryObjectStore(dir)) {
      s.createNamespace("cluster");
      assertTrue(s.putIfAbsent("cluster", "claim.1", new byte[] {1, 2, 3}));
      assertFalse(s.putIfAbsent("cluster", "claim.1", new byte[] {9}));
      assertArrayEquals(new byte[] {1, 2, 3}, s.get("cluster", "claim.1"));
      s.put("cluster", "plain", new byte[] {4});
      assertFalse(s.putIfAbsent("cluster", "plain", new byte[] {5}), "an object put the ordinary way counts too");
      assertArrayEquals(new byte[] {4}, s.get("cluster", "plain"));
      assertTrue(s.putIfAbsent("cluster", "empty", new byte[0]));
      assertEquals(0, s.size("cluster", "empty"));
      assertEquals(List.of("claim.1", "empty", "plain"), s.list("cluster", ""));
      try (Stream<Path> files = Files.list(dir.resolve("cluster"))) {
        assertEquals(3, files.count(), "no temp file is left behind");
      }
      assertThrows(NoSuchObjectException.class, () -> s.putIfAbsent("nowhere", "x", new byte[1]));
      assertThrows(IllegalArgumentException.class, () -> s.putIfAbsent("cluster", "../x", new byte[1]));
    }
  }

  @Test
  void manyThreadsOnOneInstanceOneWinner() throws Exception {
    try (LocalDirectoryObjectStore s = new LocalDirectoryObjectStore(dir)) {
      s.createNamespace("cluster");
      PutIfAbsentRace.exactlyOneWins(List.of(s), "cluster", 200, 8);
    }
  }

  @Test
  void threadsOnTwoInstancesOverOneDirectoryOneWinner() throws Exception {
    try (LocalDirectoryObjectStore a = new LocalDirectoryObjectStore(dir);
        LocalDirectoryObjectStore b = new LocalDirectoryObjectStore(dir)) {
      a.createNamespace("cluster");
      PutIfAbsentRace.exactlyOneWins(List.of(a, b), "cluster", 200, 8);
    }
  }
}
