package org.vsa.backends.s3;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.client.config.ClientOverrideConfiguration;
import software.amazon.awssdk.core.exception.AbortedException;
import software.amazon.awssdk.core.exception.ApiCallTimeoutException;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.apache.ApacheHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.Delete;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Request;
import software.amazon.awssdk.services.s3.model.ListObjectsV2Response;
import software.amazon.awssdk.services.s3.model.ObjectIdentifier;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An {@link ObjectStore} in a bucket of an S3-compatible service, with the AWS SDK v2.
 *
 * <p><b>Layout.</b> Under the settings' prefix: {@code namespaces/<ns>} is an empty marker that
 * says the namespace exists, {@code objects/<ns>/<name>} holds each object. Keeping markers in
 * their own tree means no object name is reserved.
 *
 * <p><b>Semantics.</b> S3 PUT is atomic (a reader sees the old object or the new one) and a
 * successful PUT or CompleteMultipartUpload is durable; objects from {@link
 * S3Settings#multipartThresholdBytes} on are uploaded in parts, and a failed multipart upload
 * is aborted so no parts linger. Ranged reads are ranged GETs of exactly the bytes asked.
 *
 * <p><b>Trouble.</b> Every call is retried by the SDK with exponential backoff up to {@link
 * S3Settings#maxAttempts} attempts, all of it bounded by {@link S3Settings#callTimeout}; then it
 * fails with an IOException naming the object and the cause, which the engine's uploader
 * retries later (the write buffer keeps the data meanwhile). {@link #open} checks the bucket
 * and the credentials once, so a wrong key or a missing bucket stops the start with a clear
 * message instead of failing every upload later.
 */
public final class S3ObjectStore implements ObjectStore {
  private static final Logger log = LoggerFactory.getLogger(S3ObjectStore.class);
  private static final int DELETE_BATCH = 1000;

  private final S3Settings settings;
  private final S3Client s3;
  /** The same service without the SDK's retries: conditional creates retry on their own terms. */
  private final S3Client once;
  private final String bucket;
  /** Namespaces known to exist: a put checks its namespace once, not on every object. */
  private final Set<String> knownNamespaces = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;
  private volatile boolean batchDeleteUnsupported;

  private S3ObjectStore(S3Settings settings, S3Client s3, S3Client once) {
    this.settings = settings;
    this.s3 = s3;
    this.once = once;
    this.bucket = settings.bucket();
  }

  /**
   * Connects and checks that the bucket exists and the credentials may list it.
   *
   * @throws IOException with a message naming the bucket, the endpoint and what is wrong
   */
  public static S3ObjectStore open(S3Settings settings) throws IOException {
    S3Client client;
    S3Client once;
    try {
      client = buildClient(settings, settings.maxAttempts());
    } catch (SdkException | IllegalArgumentException e) {
      throw new IOException("S3 backend " + settings + ": cannot set up the client: " + e.getMessage(), e);
    }
    try {
      once = buildClient(settings, 1);
    } catch (SdkException | IllegalArgumentException e) {
      client.close();
      throw new IOException("S3 backend " + settings + ": cannot set up the client: " + e.getMessage(), e);
    }
    S3ObjectStore store = new S3ObjectStore(settings, client, once);
    try {
      store.checkAccess();
    } catch (IOException | RuntimeException e) {
      client.close();
      once.close();
      throw e;
    }
    log.info("S3 backend {} ready", settings);
    return store;
  }

  private static S3Client buildClient(S3Settings settings, int maxAttempts) {
    AwsCredentialsProvider credentials = settings.accessKey() == null
        ? DefaultCredentialsProvider.builder().build()
        : StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(), settings.secretKey()));
    S3ClientBuilder b = S3Client.builder()
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        .forcePathStyle(settings.pathStyle())
        // Many S3-compatible services (older Ceph RGW, MinIO, s3proxy) reject the newer default
        // flexible checksums; our objects carry their own CRC32C records anyway.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .httpClientBuilder(ApacheHttpClient.builder().maxConnections(64))
        .overrideConfiguration(ClientOverrideConfiguration.builder()
            .retryStrategy(r -> r.maxAttempts(maxAttempts))
            .apiCallTimeout(settings.callTimeout())
            .build());
    if (settings.endpoint() != null) {
      b.endpointOverride(settings.endpoint());
    }
    return b.build();
  }

  private void checkAccess() throws IOException {
    try {
      s3.listObjectsV2(r -> r.bucket(bucket).prefix(settings.prefix()).maxKeys(1));
    } catch (S3Exception e) {
      String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
      if (e.statusCode() == 404 || "NoSuchBucket".equals(code)) {
        throw new IOException("S3 backend " + settings + ": bucket '" + bucket + "' does not exist; create it first", e);
      }
      if (e.statusCode() == 403 || e.statusCode() == 401) {
        throw new IOException("S3 backend " + settings + ": access denied (" + code
            + "): check the access key and secret key, and that they may list bucket '" + bucket + "'", e);
      }
      throw new IOException("S3 backend " + settings + ": checking bucket '" + bucket + "' failed: HTTP "
          + e.statusCode() + " " + code, e);
    } catch (SdkClientException e) {
      throw new IOException("S3 backend " + settings + ": cannot reach the service or load credentials: "
          + e.getMessage(), e);
    }
  }

  public S3Settings settings() {
    return settings;
  }

  // ---- keys

  private String markerKey(String namespace) {
    return settings.prefix() + "namespaces/" + checkName("namespace", namespace);
  }

  private String objectsPrefix(String namespace) {
    return settings.prefix() + "objects/" + checkName("namespace", namespace) + "/";
  }

  private String key(String namespace, String name) {
    return objectsPrefix(namespace) + checkName("object name", name);
  }

  static String checkName(String what, String s) {
    boolean ok = s != null && !s.isEmpty() && s.length() <= 200 && !s.equals(".") && !s.equals("..");
    for (int i = 0; ok && i < s.length(); i++) {
      char c = s.charAt(i);
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    if (!ok) {
      throw new IllegalArgumentException(what + " must match [A-Za-z0-9._-]{1,200} and not be '.' or '..'; got "
          + (s == null ? "null" : "'" + (s.length() > 220 ? s.substring(0, 220) + "..." : s) + "'"));
    }
    return s;
  }

  // ---- namespaces

  @Override
  public void createNamespace(String namespace) throws IOException {
    String marker = markerKey(namespace);
    call("create namespace", namespace, null, () -> s3.putObject(r -> r.bucket(bucket).key(marker), RequestBody.empty()));
    knownNamespaces.add(namespace);
  }

  @Override
  public void deleteNamespace(String namespace) throws IOException {
    String prefix = objectsPrefix(namespace);
    knownNamespaces.remove(namespace);
    // The marker first: a concurrent put then fails instead of landing in a dying namespace.
    call("delete namespace", namespace, null, () -> s3.deleteObject(r -> r.bucket(bucket).key(markerKey(namespace))));
    List<String> keys = listKeys(prefix, "delete namespace", namespace);
    for (int i = 0; i < keys.size(); i += DELETE_BATCH) {
      List<String> batch = keys.subList(i, Math.min(keys.size(), i + DELETE_BATCH));
      if (!batchDeleteUnsupported && deleteBatch(namespace, batch)) {
        continue;
      }
      for (String k : batch) {
        call("delete namespace", namespace, null, () -> s3.deleteObject(r -> r.bucket(bucket).key(k)));
      }
    }
  }

  /** Multi-object delete; false when the service does not implement it (then one by one). */
  private boolean deleteBatch(String namespace, List<String> keys) throws IOException {
    List<ObjectIdentifier> ids = new ArrayList<>();
    for (String k : keys) {
      ids.add(ObjectIdentifier.builder().key(k).build());
    }
    try {
      call("delete namespace", namespace, null, () -> {
        var resp = s3.deleteObjects(r -> r.bucket(bucket).delete(Delete.builder().objects(ids).quiet(true).build()));
        if (resp.hasErrors() && !resp.errors().isEmpty()) {
          throw new IOException("S3 refused to delete " + resp.errors().size() + " objects, e.g. "
              + resp.errors().get(0).key() + ": " + resp.errors().get(0).code());
        }
        return resp;
      });
      return true;
    } catch (S3StatusException e) {
      if (e.status == 501 || e.status == 400) {
        // Some S3-compatible services reject the checksum header that multi-object delete needs.
        log.info("{}: multi-object delete not supported ({}); deleting objects one by one", settings, e.getMessage());
        batchDeleteUnsupported = true;
        return false;
      }
      throw e;
    }
  }

  @Override
  public boolean namespaceExists(String namespace) throws IOException {
    if (knownNamespaces.contains(namespace)) {
      return true;
    }
    boolean exists = headExists("namespace exists", namespace, null, markerKey(namespace));
    if (exists) {
      knownNamespaces.add(namespace);
    }
    return exists;
  }

  @Override
  public List<String> listNamespaces() throws IOException {
    String prefix = settings.prefix() + "namespaces/";
    List<String> names = new ArrayList<>();
    for (String k : listKeys(prefix, "list namespaces", "*")) {
      names.add(k.substring(prefix.length()));
    }
    Collections.sort(names);
    return names;
  }

  // ---- objects

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    Objects.requireNonNull(source, "source");
    String key = key(namespace, name);
    requireNamespace(namespace);
    try (FileChannel ch = FileChannel.open(source, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size >= settings.multipartThresholdBytes()) {
        multipart(namespace, name, key, size, (position, buf) -> readFully(ch, position, buf, source));
      } else {
        byte[] data = new byte[(int) size];
        readFully(ch, 0, ByteBuffer.wrap(data), source);
        putSingle(namespace, name, key, data);
      }
    }
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    Objects.requireNonNull(data, "data");
    String key = key(namespace, name);
    requireNamespace(namespace);
    if (data.length >= settings.multipartThresholdBytes()) {
      multipart(namespace, name, key, data.length, (position, buf) -> buf.put(data, (int) position, buf.remaining()));
    } else {
      putSingle(namespace, name, key, data);
    }
  }

  private void putSingle(String namespace, String name, String key, byte[] data) throws IOException {
    call("put", namespace, name, () -> s3.putObject(r -> r.bucket(bucket).key(key).contentLength((long) data.length),
        RequestBody.fromBytes(data)));
  }

  /**
   * A single PUT with {@code If-None-Match: *}: the service creates the key only if it does not
   * exist (412 Precondition Failed otherwise; 409 when another conditional write of the key is in
   * flight, retried). The SDK's own retries are off for it: a retry after a lost response would get
   * 412 for an object this call created. Here, when an earlier attempt ended without an answer
   * (timeout, connection reset, 5xx), a later 412 is resolved by reading the object back: bytes
   * equal to ours are taken as our create (racing callers put bytes of their own). Attempts are
   * bounded by the settings' maxAttempts, with a short backoff.
   *
   * <p>Some S3-compatible services ignore {@code If-None-Match} on PUT and simply overwrite (s3proxy
   * 2.6.0 does): on them this would be a check-free put that every racer wins. So the first call
   * probes the service (a conditional PUT of a fresh probe key, twice: the second must be refused)
   * and, when the service does not refuse it, this and every later call throws {@link
   * UnsupportedOperationException} saying so, without writing the object.
   */
  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    Objects.requireNonNull(data, "data");
    String key = key(namespace, name);
    requireNamespace(namespace);
    checkConditionalWrites();
    boolean ambiguous = false;
    IOException last = null;
    for (int attempt = 1; attempt <= settings.maxAttempts(); attempt++) {
      if (closed) {
        throw new IllegalStateException(this + " is closed");
      }
      try {
        once.putObject(r -> r.bucket(bucket).key(key).contentLength((long) data.length).ifNoneMatch("*"),
            RequestBody.fromBytes(data));
        return true;
      } catch (S3Exception e) {
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        if (e.statusCode() == 412) {
          return ambiguous && java.util.Arrays.equals(data, get(namespace, name));
        }
        last = new IOException("create object '" + name + "' in namespace '" + namespace + "' in " + settings
            + ": HTTP " + e.statusCode() + " " + code, e);
        if (e.statusCode() == 409) {
          log.debug("{}/{}: conditional create conflicts with another in flight; retrying", namespace, name);
        } else if (e.statusCode() >= 500) {
          ambiguous = true;
        } else {
          throw last;
        }
      } catch (AbortedException e) {
        InterruptedIOException ie = new InterruptedIOException("create object '" + name + "' interrupted");
        ie.initCause(e);
        throw ie;
      } catch (SdkException e) {
        ambiguous = true; // the request may have reached the service and created the object
        last = new IOException("create object '" + name + "' in namespace '" + namespace + "' in " + settings + ": "
            + e.getMessage(), e);
      }
      try {
        Thread.sleep(Math.min(1000, 50L << Math.min(attempt, 4)));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("create object '" + name + "' interrupted");
      }
    }
    throw last;
  }

  /** null: not probed yet; then whether the service refuses a conditional PUT of an existing key. */
  private volatile Boolean conditionalWrites;

  private void checkConditionalWrites() throws IOException {
    Boolean known = conditionalWrites;
    if (known == null) {
      synchronized (this) {
        known = conditionalWrites;
        if (known == null) {
          known = probeConditionalWrites();
          conditionalWrites = known;
        }
      }
    }
    if (!known) {
      throw new UnsupportedOperationException("S3 backend " + settings + ": the service ignores If-None-Match on PUT"
          + " (a second conditional PUT of one key was not refused), so it cannot create objects atomically and"
          + " cannot arbitrate cluster ownership; use a service with conditional writes (AWS S3, MinIO, Ceph RGW"
          + " 18+) or another arbiter store");
    }
  }

  private boolean probeConditionalWrites() throws IOException {
    String probe = settings.prefix() + "probes/conditional-put-" + Long.toHexString(System.nanoTime())
        + Long.toHexString(Double.doubleToLongBits(Math.random()));
    byte[] bytes = {'v', 's', 'a'};
    call("probe conditional PUT", "probes", null, () -> s3.putObject(
        r -> r.bucket(bucket).key(probe).contentLength((long) bytes.length).ifNoneMatch("*"), RequestBody.fromBytes(bytes)));
    boolean refused;
    try {
      once.putObject(r -> r.bucket(bucket).key(probe).contentLength((long) bytes.length).ifNoneMatch("*"),
          RequestBody.fromBytes(bytes));
      refused = false;
    } catch (S3Exception e) {
      if (e.statusCode() != 412) {
        throw new IOException("S3 backend " + settings + ": probing conditional PUT: HTTP " + e.statusCode(), e);
      }
      refused = true;
    } catch (SdkException e) {
      throw new IOException("S3 backend " + settings + ": probing conditional PUT: " + e.getMessage(), e);
    } finally {
      try {
        s3.deleteObject(r -> r.bucket(bucket).key(probe));
      } catch (SdkException e) {
        log.warn("{}: could not delete the probe object {}: {}", settings, probe, e.toString());
      }
    }
    if (!refused) {
      log.warn("{}: the service ignores If-None-Match on PUT; atomic creates (the cluster arbiter) refused", settings);
    }
    return refused;
  }

  private interface PartSource {
    void fill(long position, ByteBuffer buf) throws IOException;
  }

  private void multipart(String namespace, String name, String key, long size, PartSource source) throws IOException {
    String uploadId = call("start multipart upload", namespace, name,
        () -> s3.createMultipartUpload(r -> r.bucket(bucket).key(key))).uploadId();
    boolean done = false;
    try {
      List<CompletedPart> parts = new ArrayList<>();
      long partSize = settings.partSizeBytes();
      int partNumber = 1;
      for (long position = 0; position < size; position += partSize, partNumber++) {
        int len = (int) Math.min(partSize, size - position);
        byte[] part = new byte[len];
        source.fill(position, ByteBuffer.wrap(part));
        int n = partNumber;
        String etag = call("upload part " + n + " of", namespace, name, () -> s3.uploadPart(
            r -> r.bucket(bucket).key(key).uploadId(uploadId).partNumber(n).contentLength((long) len),
            RequestBody.fromBytes(part))).eTag();
        parts.add(CompletedPart.builder().partNumber(n).eTag(etag).build());
      }
      call("complete multipart upload of", namespace, name, () -> s3.completeMultipartUpload(
          r -> r.bucket(bucket).key(key).uploadId(uploadId).multipartUpload(m -> m.parts(parts))));
      done = true;
    } finally {
      if (!done) {
        try {
          s3.abortMultipartUpload(r -> r.bucket(bucket).key(key).uploadId(uploadId));
        } catch (SdkException e) {
          log.warn("could not abort multipart upload {} of {}/{} (a bucket lifecycle rule can clean it): {}",
              uploadId, namespace, name, e.toString());
        }
      }
    }
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0; got " + offset + " for '" + namespace + "/" + name + "'");
    }
    String key = key(namespace, name);
    int want = dst.remaining();
    if (want == 0) {
      if (!exists(namespace, name)) {
        throw missing(namespace, name);
      }
      return;
    }
    String range = "bytes=" + offset + "-" + (offset + want - 1);
    try (ResponseInputStream<GetObjectResponse> in = openGet(namespace, name, key, range)) {
      copy(in, dst, namespace, name, offset, want);
    }
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    String key = key(namespace, name);
    try (ResponseInputStream<GetObjectResponse> in = openGet(namespace, name, key, null)) {
      Long len = in.response().contentLength();
      if (len == null || len > Integer.MAX_VALUE - 16) {
        throw new IOException("object '" + name + "' in namespace '" + namespace + "' is too large to get whole: " + len);
      }
      ByteBuffer dst = ByteBuffer.allocate(len.intValue());
      copy(in, dst, namespace, name, 0, len.intValue());
      return dst.array();
    }
  }

  private ResponseInputStream<GetObjectResponse> openGet(String namespace, String name, String key, String range)
      throws IOException {
    try {
      return call("get", namespace, name, () -> s3.getObject(r -> {
        r.bucket(bucket).key(key);
        if (range != null) {
          r.range(range);
        }
      }));
    } catch (S3StatusException e) {
      if (e.status == 416) {
        EOFException eof = new EOFException("object '" + name + "' in namespace '" + namespace
            + "' ends before the range " + range);
        eof.initCause(e);
        throw eof;
      }
      throw e;
    }
  }

  private static void copy(InputStream in, ByteBuffer dst, String namespace, String name, long offset, int want)
      throws IOException {
    byte[] chunk = new byte[Math.min(want, 64 * 1024)];
    int got = 0;
    // Bounded: every pass moves at least one byte or ends.
    while (got < want) {
      int n;
      try {
        n = in.read(chunk, 0, Math.min(chunk.length, want - got));
      } catch (IOException e) {
        throw new IOException("reading object '" + name + "' in namespace '" + namespace + "': " + e, e);
      }
      if (n < 0) {
        throw new EOFException("object '" + name + "' in namespace '" + namespace + "' ends at byte " + (offset + got)
            + ", " + (want - got) + " bytes short of the range read from offset " + offset);
      }
      dst.put(chunk, 0, n);
      got += n;
    }
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    String key = key(namespace, name);
    try {
      return call("size", namespace, name, () -> s3.headObject(r -> r.bucket(bucket).key(key))).contentLength();
    } catch (S3StatusException e) {
      if (e.status == 404) {
        throw missing(namespace, name);
      }
      throw e;
    }
  }

  @Override
  public boolean exists(String namespace, String name) throws IOException {
    return headExists("exists", namespace, name, key(namespace, name));
  }

  private boolean headExists(String op, String namespace, String name, String key) throws IOException {
    try {
      call(op, namespace, name, () -> s3.headObject(r -> r.bucket(bucket).key(key)));
      return true;
    } catch (NoSuchObjectException e) {
      return false;
    } catch (S3StatusException e) {
      if (e.status == 404) {
        return false;
      }
      throw e;
    }
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    String key = key(namespace, name);
    call("delete", namespace, name, () -> s3.deleteObject(r -> r.bucket(bucket).key(key)));
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    Objects.requireNonNull(prefix, "prefix");
    String base = objectsPrefix(namespace);
    if (!namespaceExists(namespace)) {
      throw new NoSuchObjectException(namespace);
    }
    List<String> names = new ArrayList<>();
    for (String k : listKeys(base + prefix, "list", namespace)) {
      names.add(k.substring(base.length()));
    }
    Collections.sort(names);
    return names;
  }

  private List<String> listKeys(String prefix, String op, String namespace) throws IOException {
    List<String> keys = new ArrayList<>();
    String token = null;
    // Bounded by the bucket's content: each page either carries a continuation token or ends.
    do {
      String t = token;
      ListObjectsV2Response page = call(op, namespace, null, () -> s3.listObjectsV2(
          ListObjectsV2Request.builder().bucket(bucket).prefix(prefix).continuationToken(t).build()));
      for (S3Object o : page.contents()) {
        keys.add(o.key());
      }
      token = Boolean.TRUE.equals(page.isTruncated()) ? page.nextContinuationToken() : null;
    } while (token != null);
    return keys;
  }

  private void requireNamespace(String namespace) throws IOException {
    if (!namespaceExists(namespace)) {
      throw new NoSuchObjectException(namespace);
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      s3.close();
      once.close();
    }
  }

  @Override
  public String toString() {
    return "S3ObjectStore[" + settings + "]";
  }

  // ---- errors

  /** An S3 error status that callers act upon (404, 416). */
  private static final class S3StatusException extends IOException {
    final int status;

    S3StatusException(String message, int status, Throwable cause) {
      super(message, cause);
      this.status = status;
    }
  }

  private interface S3Call<T> {
    T run() throws IOException;
  }

  private <T> T call(String op, String namespace, String name, S3Call<T> body) throws IOException {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
    String what = name == null ? "namespace '" + namespace + "'" : "object '" + name + "' in namespace '" + namespace + "'";
    try {
      return body.run();
    } catch (S3Exception e) {
      String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
      if (name != null && (e.statusCode() == 404 && !"NoSuchBucket".equals(code))) {
        throw missing(namespace, name);
      }
      throw new S3StatusException(op + " " + what + " in " + settings + ": HTTP " + e.statusCode() + " " + code
          + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")"), e.statusCode(), e);
    } catch (AbortedException e) {
      InterruptedIOException ie = new InterruptedIOException(op + " " + what + " interrupted");
      ie.initCause(e);
      throw ie;
    } catch (ApiCallTimeoutException e) {
      throw new IOException(op + " " + what + " in " + settings + ": no success within "
          + settings.callTimeout().toSeconds() + " s (" + settings.maxAttempts() + " attempts at most)", e);
    } catch (SdkException e) {
      throw new IOException(op + " " + what + " in " + settings + ": " + e.getMessage(), e);
    }
  }

  private static NoSuchObjectException missing(String namespace, String name) {
    return new NoSuchObjectException(namespace, name);
  }

  private static void readFully(FileChannel ch, long position, ByteBuffer buf, Path source) throws IOException {
    long p = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, p);
      if (n <= 0) {
        throw new IOException("source " + source + " shrank while uploading it (at byte " + p + ")");
      }
      p += n;
    }
  }
}
