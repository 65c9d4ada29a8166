package org.vsa.backends.fragment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.zip.CRC32C;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;

/**
 * One stored fragment: a 48-byte header, then the payload (the fragment's bytes, compressed
 * when that made them smaller, then AES-256-GCM encrypted when the preset says so).
 *
 * <pre>
 *  0  magic "VFRG"          4
 *  4  version (1)           1
 *  5  flags                 1   bits 0-1: compression used (0 none, 1 lz4, 2 zstd); bit 2: encrypted
 *  6  column                1   the fragment's index in its stripe, [0, k+m)
 *  7  reserved (0)          1
 *  8  generation            8   the object version it belongs to (random per put)
 * 16  stripe                4
 * 20  raw length            4   bytes before compression and encryption
 * 24  payload length        4
 * 28  GCM nonce            12   zero when not encrypted
 * 40  reserved (0)          4
 * 44  CRC32C                4   of bytes [0, 44) and the payload
 * </pre>
 *
 * The header's first 40 bytes are the GCM associated data, so a fragment moved to another
 * object, stripe or column fails authentication as well as the identity check.
 */
final class FragmentCodec {
  static final int MAGIC = 0x56465247; // "VFRG"
  static final int VERSION = 1;
  static final int HEADER_BYTES = 48;
  private static final int GCM_TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();

  private FragmentCodec() {}

  /** A fragment that fails its checks: missing bytes, wrong identity, bad CRC or tag. */
  static final class CorruptFragmentException extends IOException {
    CorruptFragmentException(String message) {
      super(message);
    }
  }

  /** The most bytes {@link #encodeInto} writes for {@code len} raw bytes. */
  static int maxEncodedBytes(int len, boolean encrypted) {
    return HEADER_BYTES + len + (encrypted ? GCM_TAG_BITS / 8 : 0);
  }

  static byte[] encode(byte[] raw, int off, int len, long generation, int stripe, int column,
      Compression compression, EncryptionKey key) {
    byte[] out = new byte[maxEncodedBytes(len, key != null)];
    int n = encodeInto(raw, off, len, generation, stripe, column, compression, key, out, 0);
    return n == out.length ? out : java.util.Arrays.copyOf(out, n);
  }

  /**
   * Encodes one fragment into {@code out} at {@code at} (room for {@link #maxEncodedBytes} needed), so that a
   * column object is built without a copy per fragment; returns the bytes written.
   */
  static int encodeInto(byte[] raw, int off, int len, long generation, int stripe, int column,
      Compression compression, EncryptionKey key, byte[] out, int at) {
    byte[] compressed = compression.compress(raw, off, len);
    int flags = compressed == null ? 0 : compression.code;
    byte[] plain;
    int plainOff;
    int plainLen;
    if (compressed != null) {
      plain = compressed;
      plainOff = 0;
      plainLen = compressed.length;
    } else {
      plain = raw;
      plainOff = off;
      plainLen = len;
    }
    byte[] nonce = new byte[12];
    int payloadLen = plainLen + (key == null ? 0 : GCM_TAG_BITS / 8);
    if (key != null) {
      flags |= 4;
      RANDOM.nextBytes(nonce);
    }
    ByteBuffer h = ByteBuffer.wrap(out, at, HEADER_BYTES + payloadLen);
    h.putInt(MAGIC).put((byte) VERSION).put((byte) flags).put((byte) column).put((byte) 0)
        .putLong(generation).putInt(stripe).putInt(len).putInt(payloadLen).put(nonce).putInt(0);
    if (key == null) {
      System.arraycopy(plain, plainOff, out, at + HEADER_BYTES, plainLen);
    } else {
      try {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.ENCRYPT_MODE, key.secretKey(), new GCMParameterSpec(GCM_TAG_BITS, nonce));
        c.updateAAD(out, at, 40);
        int n = c.doFinal(plain, plainOff, plainLen, out, at + HEADER_BYTES);
        if (n != payloadLen) {
          throw new IllegalStateException("GCM wrote " + n + " bytes, " + payloadLen + " expected");
        }
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("AES-256-GCM is not available in this JVM", e);
      }
    }
    CRC32C crc = new CRC32C();
    crc.update(out, at, 44);
    crc.update(out, at + HEADER_BYTES, payloadLen);
    ByteBuffer.wrap(out).putInt(at + 44, (int) crc.getValue());
    return HEADER_BYTES + payloadLen;
  }

  /** Checks and opens a fragment; returns its raw bytes (exactly {@code rawLen} of them). */
  static byte[] decode(byte[] stored, long generation, int stripe, int column, int rawLen, EncryptionKey key)
      throws CorruptFragmentException {
    String where = "fragment " + column + " of stripe " + stripe;
    if (stored.length < HEADER_BYTES) {
      throw new CorruptFragmentException(where + ": " + stored.length + " bytes, shorter than its header");
    }
    ByteBuffer h = ByteBuffer.wrap(stored);
    if (h.getInt(0) != MAGIC) {
      throw new CorruptFragmentException(where + ": bad magic");
    }
    if ((h.get(4) & 0xff) != VERSION) {
      throw new CorruptFragmentException(where + ": unknown version " + (h.get(4) & 0xff));
    }
    int payloadLen = h.getInt(24);
    if (payloadLen < 0 || HEADER_BYTES + payloadLen != stored.length) {
      throw new CorruptFragmentException(where + ": payload length " + payloadLen + " does not match " + stored.length
          + " stored bytes");
    }
    CRC32C crc = new CRC32C();
    crc.update(stored, 0, 44);
    crc.update(stored, HEADER_BYTES, payloadLen);
    if ((int) crc.getValue() != h.getInt(44)) {
      throw new CorruptFragmentException(where + ": CRC32C mismatch");
    }
    int flags = h.get(5) & 0xff;
    if ((h.get(6) & 0xff) != column || h.getLong(8) != generation || h.getInt(16) != stripe || h.getInt(20) != rawLen) {
      throw new CorruptFragmentException(where + ": belongs to another object version, stripe or column");
    }
    byte[] plain;
    if ((flags & 4) != 0) {
      if (key == null) {
        throw new CorruptFragmentException(where + ": encrypted, and no key is configured");
      }
      try {
        Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
        c.init(Cipher.DECRYPT_MODE, key.secretKey(), new GCMParameterSpec(GCM_TAG_BITS, stored, 28, 12));
        c.updateAAD(stored, 0, 40);
        plain = c.doFinal(stored, HEADER_BYTES, payloadLen);
      } catch (javax.crypto.AEADBadTagException e) {
        throw new CorruptFragmentException(where + ": authentication failed (wrong key or tampered data)");
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("AES-256-GCM is not available in this JVM", e);
      }
    } else {
      plain = new byte[payloadLen];
      System.arraycopy(stored, HEADER_BYTES, plain, 0, payloadLen);
    }
    int comp = flags & 3;
    if (comp == 0) {
      if (plain.length != rawLen) {
        throw new CorruptFragmentException(where + ": " + plain.length + " bytes, " + rawLen + " expected");
      }
      return plain;
    }
    try {
      return Compression.ofCode(comp).decompress(plain, rawLen);
    } catch (IllegalArgumentException e) {
      throw new CorruptFragmentException(where + ": does not decompress: " + e.getMessage());
    }
  }
}
