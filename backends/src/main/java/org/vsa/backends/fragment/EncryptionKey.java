package org.vsa.backends.fragment;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.SecretKey;
import javax.crypto.spec.SecretKeySpec;

/**
 * An AES-256 key for fragment encryption. Its {@link #toString} and error messages never show
 * it; the {@link #fingerprint} (a truncated SHA-256 of a label and the key) is stored with each
 * object so that a wrong key is recognised as such instead of as corruption.
 */
public final class EncryptionKey {
  private final SecretKey key;
  private final long fingerprint;

  public EncryptionKey(byte[] raw) {
    if (raw.length != 32) {
      throw new IllegalArgumentException("an AES-256 key has 32 bytes; got " + raw.length);
    }
    this.key = new SecretKeySpec(raw.clone(), "AES");
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      sha.update("vsa fragment key fingerprint v1".getBytes(StandardCharsets.US_ASCII));
      byte[] d = sha.digest(raw);
      long f = 0;
      for (int i = 0; i < 8; i++) {
        f = (f << 8) | (d[i] & 0xff);
      }
      this.fingerprint = f;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Reads a key file: 32 raw bytes, or 64 hexadecimal characters (surrounding white space
   * ignored).
   */
  public static EncryptionKey load(Path file) throws IOException {
    byte[] content;
    try {
      content = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new IOException("encryption key file " + file + " does not exist", e);
    }
    try {
      if (content.length == 32) {
        return new EncryptionKey(content);
      }
      String text = new String(content, StandardCharsets.US_ASCII).strip();
      if (text.length() == 64) {
        try {
          return new EncryptionKey(HexFormat.of().parseHex(text));
        } catch (IllegalArgumentException e) {
          throw new IOException("encryption key file " + file + ": 64 characters that are not all hexadecimal");
        }
      }
      throw new IOException("encryption key file " + file + " must hold 32 raw bytes or 64 hexadecimal characters; it has "
          + content.length + " bytes");
    } finally {
      Arrays.fill(content, (byte) 0);
    }
  }

  SecretKey secretKey() {
    return key;
  }

  public long fingerprint() {
    return fingerprint;
  }

  @Override
  public String toString() {
    return "EncryptionKey[fingerprint " + Long.toHexString(fingerprint) + "]";
  }
}
