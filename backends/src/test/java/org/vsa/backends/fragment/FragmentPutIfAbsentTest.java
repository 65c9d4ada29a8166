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
    // a store marked down is tried again at once: what each call reaches depends on the switches
    // alone, not on whether a millisecond passed since the last failure
    return new FragmentObjectStore(preset, disks, null, Duration.ZERO);
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
      // one store's mark of another and the rest down: that mark may be a loser's in flight, which it takes back
      IOException u = assertThrows(IOException.class, () -> s.putIfAbsent("cluster", "claim.000000000001",
          new byte[] {4}));
      assertTrue(u.getMessage().contains("undecided"), u.getMessage());
      switches.get(1).down = false;
      switches.get(2).down = false;
      assertArrayEquals(new byte[] {1}, s.get("cluster", "claim.000000000001"), "the winner's object stays");
      assertFalse(s.putIfAbsent("cluster", "claim.000000000001", new byte[] {4}), "and it is still taken");
      // The undecided call took its mark on disk0 back: the name is still free.
      assertFalse(new LocalDirectoryObjectStore(dir.resolve("disk0")).list("cluster", "").contains(
          "claim.000000000002" + FragmentObjectStore.CREATE_SUFFIX), "the undecided call's mark is taken back");
      try (FragmentObjectStore other = open(3)) {
        assertTrue(other.putIfAbsent("cluster", "claim.000000000002", new byte[] {5}), "the name is still free");
        assertArrayEquals(new byte[] {5}, other.get("cluster", "claim.000000000002"));
      }
    }
  }

  @Test
  void aTieIsTakenBackSoTheNameCanStillBeWon() throws Exception {
    try (FragmentObjectStore a = open(2)) {
      a.createNamespace("cluster");
      String mark = "claim.000000000007" + FragmentObjectStore.CREATE_SUFFIX;
      LocalDirectoryObjectStore disk0 = new LocalDirectoryObjectStore(dir.resolve("disk0"));
      LocalDirectoryObjectStore disk1 = new LocalDirectoryObjectStore(dir.resolve("disk1"));
      // another racer's mark on disk1, in flight: this call gets disk0 only, so nobody has a majority
      byte[] theirs = new byte[CreateMarker.TOKEN_BYTES];
      theirs[0] = 42;
      assertTrue(disk1.putIfAbsent("cluster", mark, CreateMarker.encode(theirs)));
      assertFalse(a.putIfAbsent("cluster", "claim.000000000007", new byte[] {1}), "one mark each: nobody wins");
      assertFalse(disk0.list("cluster", "").contains(mark), "the loser took its mark back");
      assertTrue(disk1.list("cluster", "").contains(mark), "another's mark is left alone");
      // the other racer lost too and takes its mark back: the name is free for the next claim
      disk1.delete("cluster", mark);
      assertTrue(a.putIfAbsent("cluster", "claim.000000000007", new byte[] {3}));
      assertArrayEquals(new byte[] {3}, a.get("cluster", "claim.000000000007"));
    }
  }

  @Test
  void twoRacersOverTwoStoresNeverBothWinAndRetriesEndWithAWinner() throws Exception {
    try (FragmentObjectStore a = open(2); FragmentObjectStore b = open(2)) {
      a.createNamespace("cluster");
      for (int i = 0; i < 40; i++) {
        String name = "claim." + String.format("%012d", i);
        boolean decided = false;
        for (int attempt = 0; attempt < 50 && !decided; attempt++) {
          java.util.concurrent.CompletableFuture<Boolean> fa = java.util.concurrent.CompletableFuture.supplyAsync(
              () -> tryCreate(a, name, (byte) 1));
          java.util.concurrent.CompletableFuture<Boolean> fb = java.util.concurrent.CompletableFuture.supplyAsync(
              () -> tryCreate(b, name, (byte) 2));
          boolean wa = fa.get();
          boolean wb = fb.get();
          assertFalse(wa && wb, "two winners of " + name);
          decided = wa || wb;
          if (decided) {
            assertArrayEquals(new byte[] {wa ? (byte) 1 : (byte) 2}, a.get("cluster", name));
          }
        }
        assertTrue(decided, name + " won by someone within 50 rounds");
      }
    }
  }

  private static boolean tryCreate(FragmentObjectStore s, String name, byte value) {
    try {
      return s.putIfAbsent("cluster", name, new byte[] {value});
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
