package org.vsa.backends.fragment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.PutIfAbsentRace;

/** Create-if-absent over several stores: a majority of create marks wins, at most one racer does. */
class FragmentPutIfAbsentTest {
  @TempDir Path dir;

  private final List<FlakyStore.Switch> switches = new ArrayList<>();

  /** A fragment store over {@code stores} directories under dir (the same ones on every call). */
  private FragmentObjectStore open(int stores) throws IOException {
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    for (int i = 0; i < stores; i++) {
      if (switches.size() <= i) {
        switches.add(new FlakyStore.Switch());
      }
      disks.add(new FragmentObjectStore.Disk("disk" + i,
          new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("disk" + i)), switches.get(i))));
    }
    Preset preset = new Preset("test", List.of(new Policy(2, 1, 2, 2)), 4096, Compression.NONE, false);
    return new FragmentObjectStore(preset, disks, null, Duration.ofMillis(1));
  }

  @Test
  void createsOnceAndReadsBack() throws Exception {
    try (FragmentObjectStore s = open(3)) {
      s.createNamespace("cluster");
      assertTrue(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {1, 2, 3}));
      assertFalse(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {9}));
      assertArrayEquals(new byte[] {1, 2, 3}, s.get("cluster", "claim.000000000001"));
      assertTrue(s.list("cluster", "").contains("claim.000000000001"));
      assertFalse(s.list("cluster", "").stream().anyMatch(n -> n.endsWith(".vc")), "marks are not objects");
    }
  }

  @Test
  void racersThroughTwoInstancesOneWinner() throws Exception {
    try (FragmentObjectStore a = open(3); FragmentObjectStore b = open(3)) {
      a.createNamespace("cluster");
      PutIfAbsentRace.exactlyOneWins(List.of(a, b), "cluster", 60, 6);
    }
  }

  @Test
  void aMinorityDownStillDecidesAMajorityDownDoesNot() throws Exception {
    try (FragmentObjectStore s = open(3)) {
      s.createNamespace("cluster");
      switches.get(2).down = true;
      assertTrue(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {1}), "two of three marks: a majority");
      assertFalse(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {2}));
      switches.get(1).down = true;
      IOException e = assertThrows(IOException.class, () -> s.putIfAbsent("cluster", "claim.000000000002", new byte[] {3}));
      assertTrue(e.getMessage().contains("undecided"), e.getMessage());
      assertFalse(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {4}),
          "one store's mark of another racer and the rest down: lost whatever they would say");
      switches.get(1).down = false;
      switches.get(2).down = false;
      // The undecided call left its mark on disk0, the first store of the order: the name is taken
      // for good, with no object (the arbiter then claims the next epoch).
      try (FragmentObjectStore other = open(3)) {
        assertFalse(other.putIfAbsent("cluster", "claim.000000000002", new byte[] {5}));
        assertFalse(other.exists("cluster", "claim.000000000002"));
        assertTrue(other.putIfAbsent("cluster", "claim.000000000003", new byte[] {6}), "the next name is free");
      }
    }
  }

  @Test
  void aTieLeavesTheNameTakenWithNoWinner() throws Exception {
    try (FragmentObjectStore a = open(2); FragmentObjectStore b = open(2)) {
      a.createNamespace("cluster");
      switches.get(1).down = true;
      assertThrows(IOException.class, () -> a.putIfAbsent("cluster", "claim.000000000007", new byte[] {1}));
      switches.get(1).down = false;
      switches.get(0).down = true;
      assertThrows(IOException.class, () -> b.putIfAbsent("cluster", "claim.000000000007", new byte[] {2}));
      switches.get(0).down = false;
      assertFalse(a.putIfAbsent("cluster", "claim.000000000007", new byte[] {3}), "one mark each: nobody wins");
      assertFalse(b.putIfAbsent("cluster", "claim.000000000007", new byte[] {3}));
      assertFalse(a.exists("cluster", "claim.000000000007"));
    }
  }
}
