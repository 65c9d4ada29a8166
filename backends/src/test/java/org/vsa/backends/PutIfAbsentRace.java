package org.vsa.backends;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Racers on one name through one or several store instances (over one directory, bucket or set of
 * stores): exactly one create wins, and the object holds the winner's bytes. Shared by the stores'
 * tests.
 */
public final class PutIfAbsentRace {
  private PutIfAbsentRace() {}

  /** Runs {@code racers} threads (racer i uses stores[i % stores.length]) on each of {@code names} names. */
  public static void exactlyOneWins(List<? extends ObjectStore> stores, String namespace, int names, int racers)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(racers);
    try {
      for (int n = 0; n < names; n++) {
        String name = "claim." + String.format("%012d", n);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Boolean>> results = new ArrayList<>();
        for (int r = 0; r < racers; r++) {
          ObjectStore store = stores.get(r % stores.size());
          byte[] mine = ("racer " + r + " of " + name).getBytes(StandardCharsets.UTF_8);
          results.add(pool.submit(() -> {
            start.await();
            return store.putIfAbsent(namespace, name, mine);
          }));
        }
        start.countDown();
        int winner = -1;
        int wins = 0;
        for (int r = 0; r < racers; r++) {
          if (results.get(r).get(60, TimeUnit.SECONDS)) {
            wins++;
            winner = r;
          }
        }
        assertEquals(1, wins, name + ": exactly one racer creates it");
        byte[] expected = ("racer " + winner + " of " + name).getBytes(StandardCharsets.UTF_8);
        for (ObjectStore s : stores) {
          assertArrayEquals(expected, s.get(namespace, name), name + ": the winner's bytes, through every instance");
          assertTrue(!s.putIfAbsent(namespace, name, new byte[] {1}), name + ": taken for good");
        }
      }
    } finally {
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    }
  }
}
