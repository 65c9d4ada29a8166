package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ForwardingObjectStore;
import org.vsa.backends.ObjectStore;

/**
 * A sealed SCO whose clusters are mostly overwritten is let go from the page cache (the backend
 * is told, once); one less overwritten is not; and what was dropped, or overwritten, reads back.
 */
class DropCachedTest {
  @TempDir Path dir;

  @Test
  void aMostlyOverwrittenSealedScoIsLetGoOnceAndTheDataStillReadsBack() throws Exception {
    List<String> dropped = new CopyOnWriteArrayList<>();
    ObjectStore local = TestEngines.localBackend(dir);
    ObjectStore recording = new ForwardingObjectStore() {
      @Override
      protected ObjectStore delegate() {
        return local;
      }

      @Override
      public void dropCached(String namespace, String name) {
        dropped.add(name);
        super.dropCached(namespace, name);
      }
    };
    try (Engine e = Engine.start(TestEngines.config(dir, recording))) {
      VolumeSpec spec = TestEngines.spec("d", 64L << 20);
      Volume v = e.create(spec);
      long sco = spec.scoSizeBytes();
      int slots = (int) (sco / Layout.CLUSTER_BYTES);
      // SCOs 1 and 2 hold pass 0; pass 1 overwrites all of SCO 1 and one cluster less than the
      // fraction of SCO 2: only SCO 1 reaches it
      TestEngines.fillAndUpload(v, 2 * sco, i -> TestEngines.pattern(i, Layout.CLUSTER_BYTES));
      int underFraction = (int) (slots * LocalVolume.DROP_CACHED_FRACTION) - 1;
      for (long i = 0; i < slots + underFraction; i++) {
        TestEngines.write(v, i * Layout.CLUSTER_BYTES, TestEngines.pattern(1_000_000 + i, Layout.CLUSTER_BYTES),
            Durability.BUFFERED);
      }
      v.flush();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (dropped.isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      assertEquals(List.of(Layout.scoName(1)), dropped, "only the SCO three quarters overwritten is let go, once");
      TestEngines.assertClusters(v, 2 * sco,
          i -> TestEngines.pattern(i < slots + underFraction ? 1_000_000 + i : i, Layout.CLUSTER_BYTES), "after the drop");
    }
    restartReadsBack();
  }

  private void restartReadsBack() throws Exception {
    try (Engine e = Engine.start(TestEngines.config(dir, TestEngines.localBackend(dir)))) {
      Volume v = e.volume("d").orElseThrow();
      long sco = v.spec().scoSizeBytes();
      int slots = (int) (sco / Layout.CLUSTER_BYTES);
      int underFraction = (int) (slots * LocalVolume.DROP_CACHED_FRACTION) - 1;
      TestEngines.assertClusters(v, 2 * sco,
          i -> TestEngines.pattern(i < slots + underFraction ? 1_000_000 + i : i, Layout.CLUSTER_BYTES), "after a restart");
    }
  }
}
