package org.vsa.backends.s3;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;

/**
 * A real S3 server for tests: s3proxy on 127.0.0.1 (a free port), storing into a directory, with
 * AWS V4 signatures checked against one access key. Other tests (the engine's model test on S3)
 * use it through the backends test-jar.
 */
public final class S3ProxyServer implements AutoCloseable {
  public static final String ACCESS_KEY = "vsa-test-access";
  public static final String SECRET_KEY = "vsa-test-secret-0123456789";
  public static final String REGION = "us-east-1";

  private final S3Proxy proxy;
  private final BlobStoreContext context;
  private final URI endpoint;

  private S3ProxyServer(S3Proxy proxy, BlobStoreContext context, URI endpoint) {
    this.proxy = proxy;
    this.context = context;
    this.endpoint = endpoint;
  }

  /** Starts s3proxy over {@code dir} and creates the given buckets. */
  public static S3ProxyServer start(Path dir, String... buckets) throws Exception {
    Files.createDirectories(dir);
    Properties p = new Properties();
    p.setProperty("jclouds.filesystem.basedir", dir.toString());
    BlobStoreContext context = ContextBuilder.newBuilder("filesystem")
        .credentials("identity", "credential")
        .overrides(p)
        .build(BlobStoreContext.class);
    for (String b : buckets) {
      context.getBlobStore().createContainerInLocation(null, b);
    }
    S3Proxy proxy = S3Proxy.builder()
        .blobStore(context.getBlobStore())
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    proxy.start();
    // Bounded: Jetty starts in milliseconds; 30 s means something is wrong.
    long deadline = System.nanoTime() + 30_000_000_000L;
    while (!"STARTED".equals(proxy.getState())) {
      if (System.nanoTime() > deadline) {
        proxy.stop();
        context.close();
        throw new IllegalStateException("s3proxy did not start within 30 s: " + proxy.getState());
      }
      Thread.sleep(10);
    }
    return new S3ProxyServer(proxy, context, URI.create("http://127.0.0.1:" + proxy.getPort()));
  }

  public URI endpoint() {
    return endpoint;
  }

  /** Settings for {@code bucket} with the right credentials and small multipart sizes. */
  public S3Settings settings(String bucket) {
    return S3Settings.of(endpoint, REGION, bucket, true, ACCESS_KEY, SECRET_KEY)
        .withMultipart(S3Settings.PART_SIZE_MIN + 1, S3Settings.PART_SIZE_MIN);
  }

  public void createBucket(String bucket) {
    context.getBlobStore().createContainerInLocation(null, bucket);
  }

  @Override
  public void close() throws Exception {
    try {
      proxy.stop();
    } finally {
      context.close();
    }
  }
}
