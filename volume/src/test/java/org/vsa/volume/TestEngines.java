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

  public static byte[] read(BlockVolume v, long offset, int len) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(len);
    v.read(offset, b);
    return b.array();
  }

  public static void write(BlockVolume v, long offset, byte[] data, Durability d) throws IOException {
    v.write(offset, ByteBuffer.wrap(data), d);
  }
}
