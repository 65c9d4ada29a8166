package org.vsa.backends.fragment;

import com.github.luben.zstd.Zstd;
import java.util.Arrays;
import java.util.Locale;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

/** Per-fragment compression. A fragment that does not shrink is stored as it is. */
public enum Compression {
  NONE(0),
  LZ4(1),
  ZSTD(2);

  final int code;

  Compression(int code) {
    this.code = code;
  }

  private static final LZ4Factory LZ4_FACTORY = LZ4Factory.fastestInstance();
  private static final int ZSTD_LEVEL = 3;

  public static Compression parse(String s) {
    for (Compression c : values()) {
      if (c.name().toLowerCase(Locale.ROOT).equals(s)) {
        return c;
      }
    }
    throw new IllegalArgumentException("compression must be one of none, lz4, zstd; got '" + s + "'");
  }

  static Compression ofCode(int code) {
    for (Compression c : values()) {
      if (c.code == code) {
        return c;
      }
    }
    throw new IllegalArgumentException("unknown compression code " + code);
  }

  /** The compressed bytes, or null when compression would not make it smaller. */
  byte[] compress(byte[] raw, int off, int len) {
    byte[] out;
    switch (this) {
      case NONE:
        return null;
      case LZ4: {
        LZ4Compressor c = LZ4_FACTORY.fastCompressor();
        byte[] buf = new byte[c.maxCompressedLength(len)];
        int n = c.compress(raw, off, len, buf, 0, buf.length);
        out = n < len ? Arrays.copyOf(buf, n) : null;
        break;
      }
      case ZSTD: {
        byte[] buf = new byte[(int) Zstd.compressBound(len)];
        long n = Zstd.compressByteArray(buf, 0, buf.length, raw, off, len, ZSTD_LEVEL);
        if (Zstd.isError(n)) {
          throw new IllegalStateException("zstd: " + Zstd.getErrorName(n));
        }
        out = n < len ? Arrays.copyOf(buf, (int) n) : null;
        break;
      }
      default:
        throw new AssertionError(this);
    }
    return out;
  }

  /** Decompresses exactly {@code rawLen} bytes; throws IllegalArgumentException on bad input. */
  byte[] decompress(byte[] src, int rawLen) {
    byte[] out = new byte[rawLen];
    switch (this) {
      case LZ4: {
        try {
          int read = LZ4_FACTORY.safeDecompressor().decompress(src, 0, src.length, out, 0, rawLen);
          if (read != rawLen) {
            throw new IllegalArgumentException("lz4: " + read + " bytes decompressed, " + rawLen + " expected");
          }
        } catch (net.jpountz.lz4.LZ4Exception e) {
          throw new IllegalArgumentException("lz4: " + e.getMessage(), e);
        }
        return out;
      }
      case ZSTD: {
        long n = Zstd.decompressByteArray(out, 0, rawLen, src, 0, src.length);
        if (Zstd.isError(n) || n != rawLen) {
          throw new IllegalArgumentException("zstd: " + (Zstd.isError(n) ? Zstd.getErrorName(n) : n + " bytes, " + rawLen + " expected"));
        }
        return out;
      }
      default:
        throw new IllegalArgumentException("not compressed");
    }
  }
}
