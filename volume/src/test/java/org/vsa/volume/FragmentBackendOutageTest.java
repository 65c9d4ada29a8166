package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.fragment.Compression;
import org.vsa.backends.fragment.FlakyStore;
import org.vsa.backends.fragment.FragmentObjectStore;
import org.vsa.backends.fragment.Policy;
import org.vsa.backends.fragment.Preset;

/**
 * Stores of the fragment backend going away under a running engine: with one of three down,
 * uploads fall back to the second policy and go on; with two down, nothing can be stored,
 * uploads wait in the write buffer while writes and reads go on; when the stores come back
 * everything drains, and every byte reads back, also after a restart with a store gone.
 */
class FragmentBackendOutageTest {
  @TempDir Path dir;

  private final List<FlakyStore.Switch> switches = new ArrayList<>();

  private FragmentObjectStore backend() throws java.io.IOException {
    Preset preset = new Preset("outage", List.of(new Policy(2, 1, 3, 1), new Policy(1, 1, 2, 1)), 64 * 1024,
        Compression.NONE, false);
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      if (switches.size() <= i) {
        switches.add(new FlakyStore.Switch());
      }
      disks.add(new FragmentObjectStore.Disk("disk" + i,
          new FlakyStore(new LocalDirectoryObjectStore(dir.resolve("disk" + i)), switches.get(i))));
    }
    return new FragmentObjectStore(preset, disks, null, Duration.ofMillis(50));
  }

  private static void awaitUploads(Engine e, int atMost) throws InterruptedException {
    for (int i = 0; i < 6000 && e.scosAwaitingUpload() > atMost; i++) {
      Thread.sleep(10);
    }
  }

  @Test
  void storesDownThenBackLoseNothing() throws Exception {
    int chunk = 4 * (int) MIB;
    byte[] a = TestEngines.pattern(1, 3 * chunk);
    byte[] b = TestEngines.pattern(2, 3 * chunk);
    byte[] c = TestEngines.pattern(3, 3 * chunk);
    try (Engine e = Engine.start(TestEngines.config(dir, backend()))) {
      Volume v = e.create(TestEngines.spec("v", 64 * MIB));
      TestEngines.write(v, 0, a, Durability.DURABLE);
      e.flushAll();
      awaitUploads(e, 0);
      assertEquals(0, e.scosAwaitingUpload());

      switches.get(0).down = true; // (2,1) cannot be placed: uploads use (1,1)
      TestEngines.write(v, a.length, b, Durability.DURABLE);
      e.flushAll();
      awaitUploads(e, 0);
      assertEquals(0, e.scosAwaitingUpload(), "uploads went on under the fallback policy");

      switches.get(1).down = true; // one store left: no policy fits
      TestEngines.write(v, 2L * a.length, c, Durability.DURABLE);
      e.flushAll();
      assertTrue(e.scosAwaitingUpload() > 0, "sealed SCOs wait in the write buffer");
      // reads go on: written data from the write buffer, and what is in the backend from the store that is up...
      assertArrayEquals(c, TestEngines.read(v, 2L * a.length, c.length));

      switches.get(0).down = false;
      switches.get(1).down = false;
      awaitUploads(e, 0);
      assertEquals(0, e.scosAwaitingUpload(), "everything drained once the stores came back");
    }
    // a restart, with one store gone: every byte from the backend
    switches.get(2).down = true;
    try (Engine e = Engine.start(TestEngines.config(dir, backend()))) {
      Volume v = e.volume("v").orElseThrow();
      assertArrayEquals(a, TestEngines.read(v, 0, a.length));
      assertArrayEquals(b, TestEngines.read(v, a.length, b.length));
      assertArrayEquals(c, TestEngines.read(v, 2L * a.length, c.length));
    }
  }
}
