package org.vsa.volume;

import org.vsa.dtl.DtlMode;

/**
 * What a vDisk is created with.
 *
 * @param name vDisk name: {@code [A-Za-z0-9][A-Za-z0-9._-]{0,63}}
 * @param vpool the vPool it belongs to (same name rules)
 * @param sizeBytes nominal size, a positive multiple of 4096
 * @param blockSize 512 or 4096
 * @param scoSizeBytes SCO size, a multiple of 4096 in [4 MiB, 128 MiB]
 * @param cachePolicy read-cache policy
 * @param dtlMode how its not-yet-uploaded writes are copied to a DTL
 */
public record VolumeSpec(
    String name, String vpool, long sizeBytes, int blockSize, long scoSizeBytes, CachePolicy cachePolicy,
    DtlMode dtlMode) {

  /** Without a DTL (mode none). */
  public VolumeSpec(String name, String vpool, long sizeBytes, int blockSize, long scoSizeBytes, CachePolicy cachePolicy) {
    this(name, vpool, sizeBytes, blockSize, scoSizeBytes, cachePolicy, DtlMode.NONE);
  }

  public static final long SCO_SIZE_MIN = 4L << 20;
  public static final long SCO_SIZE_MAX = 128L << 20;
  public static final long SCO_SIZE_DEFAULT = 64L << 20;
  public static final String NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9._-]{0,63}";

  public VolumeSpec {
    if (name == null || !name.matches(NAME_PATTERN)) {
      throw new IllegalArgumentException("vDisk name must match " + NAME_PATTERN + "; got '" + name + "'");
    }
    if (vpool == null || !vpool.matches(NAME_PATTERN)) {
      throw new IllegalArgumentException("vPool name must match " + NAME_PATTERN + "; got '" + vpool + "'");
    }
    if (blockSize != 512 && blockSize != 4096) {
      throw new IllegalArgumentException("block size must be 512 or 4096; got " + blockSize);
    }
    if (sizeBytes <= 0 || sizeBytes % 4096 != 0) {
      throw new IllegalArgumentException("vDisk size must be a positive multiple of 4096 bytes; got " + sizeBytes);
    }
    if (scoSizeBytes < SCO_SIZE_MIN || scoSizeBytes > SCO_SIZE_MAX || scoSizeBytes % 4096 != 0) {
      throw new IllegalArgumentException(
          "SCO size must be a multiple of 4 KiB between 4 MiB and 128 MiB; got " + scoSizeBytes);
    }
    if (cachePolicy == null) {
      throw new IllegalArgumentException("cache policy must be set");
    }
    if (dtlMode == null) {
      throw new IllegalArgumentException("DTL mode must be set");
    }
  }

  public VolumeSpec withDtlMode(DtlMode mode) {
    return new VolumeSpec(name, vpool, sizeBytes, blockSize, scoSizeBytes, cachePolicy, mode);
  }

  public static VolumeSpec thin(String name, String vpool, long sizeBytes) {
    return new VolumeSpec(name, vpool, sizeBytes, 512, SCO_SIZE_DEFAULT, CachePolicy.ON_READ);
  }
}
