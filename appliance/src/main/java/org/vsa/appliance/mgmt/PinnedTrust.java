package org.vsa.appliance.mgmt;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trust for the CLI's HTTPS calls to an appliance whose management API uses a certificate of its
 * own (often self-signed): the server must present exactly one of the certificates of a PEM file
 * (the appliance copies its {@code management.tls.certificate} to
 * {@code <dataDir>/}{@value #FILE} while it runs). Pinning the certificate itself, the host name
 * is not checked: the API is usually reached as 127.0.0.1, which a certificate rarely names.
 */
public final class PinnedTrust extends X509ExtendedTrustManager {
  /** In the data directory while the appliance serves HTTPS: its certificate, for the CLI. */
  public static final String FILE = "management-cert.pem";

  private final List<X509Certificate> pinned;

  private PinnedTrust(List<X509Certificate> pinned) {
    this.pinned = pinned;
  }

  /** An SSL context that trusts only the certificates in the PEM file. */
  public static SSLContext context(Path pem) throws IOException {
    List<X509Certificate> certs = new ArrayList<>();
    try {
      CertificateFactory cf = CertificateFactory.getInstance("X.509");
      for (var c : cf.generateCertificates(new ByteArrayInputStream(Files.readAllBytes(pem)))) {
        certs.add((X509Certificate) c);
      }
      if (certs.isEmpty()) {
        throw new IOException(pem + " holds no certificate");
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {new PinnedTrust(List.copyOf(certs))}, null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException(pem + " is not a PEM certificate: " + e.getMessage(), e);
    }
  }

  private void check(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("the server presented no certificate");
    }
    if (!pinned.contains(chain[0])) {
      throw new CertificateException("the server's certificate (" + chain[0].getSubjectX500Principal()
          + ") is not the one trusted (" + pinned.get(0).getSubjectX500Principal() + ")");
    }
    chain[0].checkValidity();
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    check(chain);
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
    throw new CertificateException("not for client certificates");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
    throw new CertificateException("not for client certificates");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
    throw new CertificateException("not for client certificates");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return pinned.toArray(new X509Certificate[0]);
  }
}
