package org.vsa.iscsi;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;

/** CHAP with MD5 (RFC 1994, algorithm 5) as iSCSI uses it: values as 0x-prefixed hex or 0b base64. */
final class Chap {
  private static final SecureRandom RANDOM = new SecureRandom();

  private Chap() {}

  static byte[] challenge() {
    byte[] c = new byte[16];
    RANDOM.nextBytes(c);
    return c;
  }

  static int identifier() {
    return RANDOM.nextInt(256);
  }

  static byte[] response(int id, String secret, byte[] challenge) {
    try {
      MessageDigest md5 = MessageDigest.getInstance("MD5");
      md5.update((byte) id);
      md5.update(secret.getBytes(StandardCharsets.UTF_8));
      md5.update(challenge);
      return md5.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("MD5 missing from the JDK", e);
    }
  }

  static String hex(byte[] b) {
    return "0x" + HexFormat.of().formatHex(b);
  }

  /** Decodes 0x... hex or 0b... base64; null if malformed. */
  static byte[] decode(String v) {
    try {
      if (v.startsWith("0x") || v.startsWith("0X")) {
        String h = v.substring(2);
        if (h.length() % 2 == 1) {
          h = "0" + h;
        }
        return HexFormat.of().parseHex(h);
      }
      if (v.startsWith("0b") || v.startsWith("0B")) {
        return java.util.Base64.getDecoder().decode(v.substring(2));
      }
      return null;
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
