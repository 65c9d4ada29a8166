package org.vsa.volume;

import org.vsa.dtl.DtlMode;

/**
 * A vDisk's settings that may change after creation (the SCO size, block size and vPool are fixed
 * at creation and live in {@link VolumeSpec}).
 *
 * @param dtlMode DTL mode (none, async, sync)
 * @param cachePolicy read-cache policy
 * @param readCacheQuotaBytes most read-cache bytes this vDisk may hold; 0 means no quota of its own
 * @param dedupe whether identical clusters written to this vDisk are stored once in its vPool
 */
public record VolumeSettings(DtlMode dtlMode, CachePolicy cachePolicy, long readCacheQuotaBytes, boolean dedupe) {
  public static final long READ_CACHE_QUOTA_MAX = 16L << 40;

  public VolumeSettings {
    if (dtlMode == null) {
      throw new IllegalArgumentException("DTL mode must be set (none, async, sync)");
    }
    if (cachePolicy == null) {
      throw new IllegalArgumentException("read-cache policy must be set (on-read, on-write, none)");
    }
    if (readCacheQuotaBytes < 0 || readCacheQuotaBytes > READ_CACHE_QUOTA_MAX || readCacheQuotaBytes % 4096 != 0) {
      throw new IllegalArgumentException(
          "read-cache quota must be 0 (none) or a multiple of 4 KiB up to 16 TiB; got " + readCacheQuotaBytes);
    }
  }

  /** The defaults of a new vDisk: DTL none, the spec's cache policy, no quota, no dedupe. */
  public static VolumeSettings defaults(VolumeSpec spec) {
    return new VolumeSettings(spec.dtlMode(), spec.cachePolicy(), 0, false);
  }

  public VolumeSettings withDtlMode(DtlMode m) {
    return new VolumeSettings(m, cachePolicy, readCacheQuotaBytes, dedupe);
  }

  public VolumeSettings withCachePolicy(CachePolicy p) {
    return new VolumeSettings(dtlMode, p, readCacheQuotaBytes, dedupe);
  }

  public VolumeSettings withReadCacheQuota(long bytes) {
    return new VolumeSettings(dtlMode, cachePolicy, bytes, dedupe);
  }

  public VolumeSettings withDedupe(boolean on) {
    return new VolumeSettings(dtlMode, cachePolicy, readCacheQuotaBytes, on);
  }

  /**
   * Applies one {@code key=value} as a management API or CLI gives it: {@code dtlMode} (none,
   * async, sync), {@code cachePolicy} (on-read, on-write, none), {@code readCacheQuota} (bytes,
   * with an optional KiB/MiB/GiB/TiB suffix), {@code dedupe} (true, false).
   */
  public VolumeSettings with(String key, String value) {
    switch (key) {
      case "dtlMode": return withDtlMode(DtlMode.parse(value));
      case "cachePolicy": return withCachePolicy(CachePolicy.parse(value));
      case "readCacheQuota": return withReadCacheQuota(parseBytes(value));
      case "dedupe":
        if (!value.equals("true") && !value.equals("false")) {
          throw new IllegalArgumentException("dedupe must be true or false; got '" + value + "'");
        }
        return withDedupe(Boolean.parseBoolean(value));
      case "scoSize":
        throw new IllegalArgumentException("scoSize is fixed when the vDisk is created");
      default:
        throw new IllegalArgumentException(
            "unknown vDisk setting '" + key + "' (known: dtlMode, cachePolicy, readCacheQuota, dedupe)");
    }
  }

  static long parseBytes(String v) {
    String s = v.trim();
    long mult = 1;
    String[][] units = {{"TiB", "40"}, {"GiB", "30"}, {"MiB", "20"}, {"KiB", "10"}};
    for (String[] u : units) {
      if (s.endsWith(u[0])) {
        mult = 1L << Integer.parseInt(u[1]);
        s = s.substring(0, s.length() - u[0].length()).trim();
        break;
      }
    }
    try {
      return Math.multiplyExact(Long.parseLong(s), mult);
    } catch (NumberFormatException | ArithmeticException e) {
      throw new IllegalArgumentException("not a byte size: '" + v + "' (e.g. 512MiB)");
    }
  }
}
