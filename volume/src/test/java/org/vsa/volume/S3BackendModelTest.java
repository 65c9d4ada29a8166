package org.vsa.volume;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.backends.ObjectStore;
import org.vsa.backends.s3.S3ObjectStore;
import org.vsa.backends.s3.S3ProxyServer;

/** The engine's model test on a real S3 server (s3proxy on 127.0.0.1): every SCO read is a ranged GET. */
class S3BackendModelTest extends ModelBasedTest {
  @TempDir static Path serverDir;
  static S3ProxyServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = S3ProxyServer.start(serverDir.resolve("blobs"), "vsa");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Override
  protected ObjectStore backend(Path runDir) throws IOException {
    // one prefix per run directory: runs share the bucket, not their objects
    return S3ObjectStore.open(server.settings("vsa").withPrefix(Integer.toHexString(runDir.toString().hashCode())));
  }
}
