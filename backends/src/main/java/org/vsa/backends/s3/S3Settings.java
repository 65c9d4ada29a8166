package org.vsa.backends.s3;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Where and how an {@link S3ObjectStore} talks to an S3-compatible service (AWS, Ceph RGW, MinIO,
 * s3proxy).
 *
 * @param endpoint the service URL, or null for AWS's regional endpoint
 * @param region the signing region ({@code us-east-1} for most non-AWS services)
 * @param bucket an existing bucket
 * @param prefix a key prefix inside the bucket ("" or ending in '/'), so several appliances can
 *     share one bucket
 * @param pathStyle {@code http://host/bucket/key} rather than {@code http://bucket.host/key}
 *     (needed by most non-AWS services)
 * @param accessKey null to take the credentials from the environment ({@code AWS_ACCESS_KEY_ID},
 *     {@code AWS_SECRET_ACCESS_KEY}, or the AWS SDK's other default sources)
 * @param secretKey never logged
 * @param multipartThresholdBytes objects from this size on are uploaded in parts
 * @param partSizeBytes the part size of multipart uploads (S3's minimum is 5 MiB)
 * @param maxAttempts attempts per request, the first included; retries back off exponentially
 * @param callTimeout bound on one call, its retries included
 */
public record S3Settings(
    URI endpoint,
    String region,
    String bucket,
    String prefix,
    boolean pathStyle,
    String accessKey,
    String secretKey,
    long multipartThresholdBytes,
    long partSizeBytes,
    int maxAttempts,
    Duration callTimeout) {

  public static final long PART_SIZE_MIN = 5L << 20;
  public static final long MULTIPART_THRESHOLD_DEFAULT = 16L << 20;
  public static final long PART_SIZE_DEFAULT = 8L << 20;
  public static final int MAX_ATTEMPTS_DEFAULT = 5;
  public static final Duration CALL_TIMEOUT_DEFAULT = Duration.ofSeconds(120);

  public S3Settings {
    Objects.requireNonNull(region, "region");
    Objects.requireNonNull(bucket, "bucket");
    prefix = prefix == null ? "" : prefix;
    if (!prefix.isEmpty() && !prefix.endsWith("/")) {
      prefix = prefix + "/";
    }
    if (bucket.isBlank()) {
      throw new IllegalArgumentException("S3 bucket must not be empty");
    }
    if ((accessKey == null) != (secretKey == null)) {
      throw new IllegalArgumentException("S3 accessKey and secretKey go together: give both or neither");
    }
    if (partSizeBytes < PART_SIZE_MIN) {
      throw new IllegalArgumentException("S3 part size must be >= 5 MiB; got " + partSizeBytes);
    }
    if (multipartThresholdBytes < partSizeBytes) {
      throw new IllegalArgumentException("S3 multipart threshold must be >= the part size; got "
          + multipartThresholdBytes + " < " + partSizeBytes);
    }
    if (maxAttempts < 1 || maxAttempts > 20) {
      throw new IllegalArgumentException("S3 maxAttempts must be in [1, 20]; got " + maxAttempts);
    }
    Objects.requireNonNull(callTimeout, "callTimeout");
  }

  /** Defaults for everything but where the bucket is and who signs. */
  public static S3Settings of(URI endpoint, String region, String bucket, boolean pathStyle,
      String accessKey, String secretKey) {
    return new S3Settings(endpoint, region, bucket, "", pathStyle, accessKey, secretKey,
        MULTIPART_THRESHOLD_DEFAULT, PART_SIZE_DEFAULT, MAX_ATTEMPTS_DEFAULT, CALL_TIMEOUT_DEFAULT);
  }

  public S3Settings withPrefix(String p) {
    return new S3Settings(endpoint, region, bucket, p, pathStyle, accessKey, secretKey,
        multipartThresholdBytes, partSizeBytes, maxAttempts, callTimeout);
  }

  public S3Settings withBucket(String b) {
    return new S3Settings(endpoint, region, b, prefix, pathStyle, accessKey, secretKey,
        multipartThresholdBytes, partSizeBytes, maxAttempts, callTimeout);
  }

  public S3Settings withCredentials(String access, String secret) {
    return new S3Settings(endpoint, region, bucket, prefix, pathStyle, access, secret,
        multipartThresholdBytes, partSizeBytes, maxAttempts, callTimeout);
  }

  public S3Settings withMultipart(long thresholdBytes, long partBytes) {
    return new S3Settings(endpoint, region, bucket, prefix, pathStyle, accessKey, secretKey,
        thresholdBytes, partBytes, maxAttempts, callTimeout);
  }

  public S3Settings withRetries(int attempts, Duration timeout) {
    return new S3Settings(endpoint, region, bucket, prefix, pathStyle, accessKey, secretKey,
        multipartThresholdBytes, partSizeBytes, attempts, timeout);
  }

  /** For logs: never shows the secret. */
  @Override
  public String toString() {
    return "s3://" + bucket + "/" + prefix + " (endpoint " + (endpoint == null ? "AWS " + region : endpoint)
        + ", region " + region + (pathStyle ? ", path-style" : "") + ", credentials "
        + (accessKey == null ? "from the environment" : "key " + accessKey) + ")";
  }
}
