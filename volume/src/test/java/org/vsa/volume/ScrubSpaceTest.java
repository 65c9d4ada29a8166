package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.vsa.volume.TestEngines.MIB;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ObjectStore;

/**
 * Space: write a vDisk's data, overwrite it twice (the second time three quarters of it, at
 * random 4 KiB clusters, so that SCOs are left partly live and have to be rewritten), scrub:
 * the backend holds about one copy again. With a snapshot kept after the first write, the
 * snapshot's data survives the scrub (about two copies), and deleting the snapshot and
 * scrubbing again brings it back to about one. The issue asks for 1 GiB; this runs 128 MiB
 * ({@code -Dscrub.space.mib=1024} for the full size) to keep CI lean: the ratios are the same.
 */
class ScrubSpaceTest {
  @TempDir Path dir;

  private static final long SIZE = Long.getLong("scrub.space.mib", 128) * MIB;
  private static final int CHUNK = (int) MIB;

  @Test
  void overwrittenTwiceThenScrubbedTakesAboutOneCopy() throws Exception {
    run(false);
  }

  @Test
  void aKeptSnapshotSurvivesTheScrub() throws Exception {
    run(true);
  }

  private void run(boolean keepSnapshot) throws Exception {
    Random rnd = new Random(keepSnapshot ? 2 : 1);
    try (Engine e = TestEngines.start(dir); ObjectStore b = TestEngines.localBackend(dir)) {
      Volume v = e.create(TestEngines.spec("big", SIZE));
      String ns = LocalVolume.namespaceOf(v.id());
      long first = fill(v, 11);
      if (keepSnapshot) {
        e.createSnapshot("big", "kept");
      }
      fill(v, 12);
      // three quarters of the clusters once more, scattered
      byte[] cluster = new byte[Layout.CLUSTER_BYTES];
      int clusters = (int) (SIZE / Layout.CLUSTER_BYTES);
      for (int c = 0; c < clusters; c++) {
        if (rnd.nextInt(4) != 0) {
          rnd.nextBytes(cluster);
          v.write((long) c * Layout.CLUSTER_BYTES, ByteBuffer.wrap(cluster), Durability.BUFFERED);
        }
      }
      byte[] head = new byte[(int) SIZE];
      v.read(0, ByteBuffer.wrap(head));
      settle((LocalVolume) v);
      long before = usage(b, ns);
      assertTrue(before > 2.5 * SIZE, "three passes should be in the backend before the scrub: " + before);

      ScrubReport r = e.scrub("big", ScrubOptions.defaults().withRate(0));
      assertNull(r.deferred(), "deferred: " + r.deferred());
      settle((LocalVolume) v);
      long after = usage(b, ns);
      System.out.printf("backend %d MiB before, %d MiB after the scrub (%s)%n", before >> 20, after >> 20, r);
      assertTrue(r.bytesReclaimed() > 0 && r.scosRewritten() > 0, r.toString());
      byte[] got = new byte[(int) SIZE];
      v.read(0, ByteBuffer.wrap(got));
      assertArrayEquals(head, got, "the head changed in the scrub");
      if (!keepSnapshot) {
        assertBetween(after, SIZE, 1.10 * SIZE);
        return;
      }
      assertBetween(after, 2 * SIZE, 2.10 * SIZE);
      Volume c = e.cloneVolume("big", "kept", "kept-view");
      assertEquals(first, checksum(c), "the kept snapshot's data did not survive the scrub");
      e.delete("kept-view");
      e.deleteSnapshot("big", "kept");
      ScrubReport r2 = e.scrub("big", ScrubOptions.defaults().withRate(0));
      assertNull(r2.deferred());
      long last = usage(b, ns);
      System.out.printf("backend %d MiB after deleting the snapshot and scrubbing again (%s)%n", last >> 20, r2);
      assertBetween(last, SIZE, 1.10 * SIZE);
      v.read(0, ByteBuffer.wrap(got));
      assertArrayEquals(head, got);
    }
  }

  /** Writes the whole vDisk with seeded data; returns a checksum of what it wrote. */
  private static long fill(Volume v, long seed) throws Exception {
    Random r = new Random(seed);
    byte[] chunk = new byte[CHUNK];
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    for (long off = 0; off < SIZE; off += CHUNK) {
      r.nextBytes(chunk);
      crc.update(chunk);
      v.write(off, ByteBuffer.wrap(chunk), Durability.BUFFERED);
    }
    return crc.getValue();
  }

  private static long checksum(Volume v) throws Exception {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    ByteBuffer chunk = ByteBuffer.allocate(CHUNK);
    for (long off = 0; off < SIZE; off += CHUNK) {
      chunk.clear();
      v.read(off, chunk);
      crc.update(chunk.array());
    }
    return crc.getValue();
  }

  /** Seals the open SCO and waits (bounded) until everything is in the backend. */
  private static void settle(LocalVolume v) throws Exception {
    long last = v.sealForSnapshot()[0];
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (!v.uploadedThrough(last)) {
      assertTrue(System.nanoTime() < deadline, "uploads did not finish in 120 s");
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  private static long usage(ObjectStore b, String ns) throws Exception {
    long sum = 0;
    for (String name : b.list(ns, "")) {
      sum += b.size(ns, name);
    }
    return sum;
  }

  private static void assertBetween(long got, double lo, double hi) {
    assertTrue(got >= lo && got <= hi, String.format("backend usage %d MiB not in [%.0f, %.0f] MiB", got >> 20,
        lo / MIB, hi / MIB));
  }
}
