package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.ObjectStore;

/** Small engines for tests: 4 MiB SCOs, small caches, everything under one directory. */
public final class TestEngines {
  private TestEngines() {}

  public static final long MIB = 1L << 20;

  public static EngineConfig config(Path dir, ObjectStore backend) {
    return EngineConfig.underDataDir(dir, backend)
        .withWriteBufferCapacity(256 * MIB)
        .withReadCacheCapacity(16 * MIB)
        .withMetadataCache(1 * MIB);
  }

  public static ObjectStore localBackend(Path dir) throws IOException {
    return new LocalDirectoryObjectStore(dir.resolve("backend"));
  }

  public static Engine start(Path dir) throws IOException {
    return Engine.start(config(dir, localBackend(dir)));
  }

  public static VolumeSpec spec(String name, long sizeBytes) {
    return new VolumeSpec(name, "default", sizeBytes, 512, VolumeSpec.SCO_SIZE_MIN, CachePolicy.ON_READ);
  }

  /** Bytes derived from a seed, so a test can regenerate what it wrote. */
  public static byte[] pattern(long seed, int len) {
    byte[] b = new byte[len];
    new Random(seed).nextBytes(b);
    return b;
  }

  /**
   * Asserts that clusters [from, to) of {@code v} hold the pattern a test wrote there with
   * {@code seed}: cluster i holds {@code pattern(seed * 1,000,000 + i, CLUSTER_BYTES)}.
   */
  public static void assertClusters(BlockVolume v, int from, int to, long seed, String what) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
    for (int i = from; i < to; i++) {
      b.clear();
      v.read((long) i * Layout.CLUSTER_BYTES, b);
      org.junit.jupiter.api.Assertions.assertArrayEquals(pattern(seed * 1_000_000 + i, Layout.CLUSTER_BYTES),
          b.array(), what + ": cluster " + i);
    }
  }

  public static byte[] read(BlockVolume v, long offset, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(len);
    v.read(offset, b);
    return b.array();
  }

  public static void write(BlockVolume v, long offset, byte[] data, Durability d) throws IOException {
    v.write(offset, ByteBuffer.wrap(data), d);
  }

  /**
   * Writes the first {@code bytes} of {@code v} cluster by cluster with {@code data.apply(i)} (the
   * i-th cluster), flushes, seals and waits (at most 120 s) until the backend holds all of it.
   */
  public static void fillAndUpload(Volume v, long bytes, java.util.function.LongFunction<byte[]> data) throws Exception {
    for (long i = 0; i < bytes / Layout.CLUSTER_BYTES; i++) {
      v.write(i * Layout.CLUSTER_BYTES, ByteBuffer.wrap(data.apply(i)), Durability.BUFFERED);
    }
    v.flush();
    LocalVolume lv = (LocalVolume) v;
    long last = lv.sealForSnapshot()[0];
    long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(120);
    while (!lv.uploadedThrough(last)) {
      org.junit.jupiter.api.Assertions.assertTrue(System.nanoTime() < deadline, "uploads did not finish in 120 s");
      Thread.sleep(10);
    }
  }

  /** Asserts that the first {@code bytes} of {@code v} read back as {@code data.apply(i)} per cluster. */
  public static void assertClusters(BlockVolume v, long bytes, java.util.function.LongFunction<byte[]> data,
      String what) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(Layout.CLUSTER_BYTES);
    for (long i = 0; i < bytes / Layout.CLUSTER_BYTES; i++) {
      b.clear();
      v.read(i * Layout.CLUSTER_BYTES, b);
      org.junit.jupiter.api.Assertions.assertArrayEquals(data.apply(i), b.array(), what + ", cluster " + i);
    }
  }
}
