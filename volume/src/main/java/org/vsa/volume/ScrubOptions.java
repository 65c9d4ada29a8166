package org.vsa.volume;

/**
 * How a scrub runs.
 *
 * @param fillRatioMax a SCO whose live fraction is at or below this is rewritten (0..1; 0 only
 *     deletes SCOs nothing references)
 * @param bytesPerSecondMax rate limit on the bytes the scrub reads and rewrites; 0 = unlimited
 * @param uploadWaitMillisMax how long a scrub waits for its rewritten clusters to reach the
 *     backend before it deletes anything (it defers deletions to the next run otherwise)
 */
public record ScrubOptions(double fillRatioMax, long bytesPerSecondMax, long uploadWaitMillisMax) {
  public static final double DEFAULT_FILL_RATIO = 0.5;
  public static final long DEFAULT_RATE = 64L << 20;

  public ScrubOptions {
    if (!(fillRatioMax >= 0 && fillRatioMax <= 1)) {
      throw new IllegalArgumentException("scrub fill ratio must be between 0 and 1; got " + fillRatioMax);
    }
    if (bytesPerSecondMax < 0) {
      throw new IllegalArgumentException("scrub rate must be 0 (unlimited) or positive; got " + bytesPerSecondMax);
    }
    if (uploadWaitMillisMax < 0) {
      throw new IllegalArgumentException("scrub upload wait must not be negative; got " + uploadWaitMillisMax);
    }
  }

  /** Rewrites SCOs at most half live, at up to 64 MiB/s, waiting up to 10 minutes for uploads. */
  public static ScrubOptions defaults() {
    return new ScrubOptions(DEFAULT_FILL_RATIO, DEFAULT_RATE, 600_000);
  }

  public ScrubOptions withFillRatio(double r) {
    return new ScrubOptions(r, bytesPerSecondMax, uploadWaitMillisMax);
  }

  public ScrubOptions withRate(long bytesPerSecond) {
    return new ScrubOptions(fillRatioMax, bytesPerSecond, uploadWaitMillisMax);
  }
}
