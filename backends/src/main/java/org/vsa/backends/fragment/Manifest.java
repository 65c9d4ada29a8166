package org.vsa.backends.fragment;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Where an object's fragments are: for each column (fragment index in a stripe) the store that
 * holds its column object, and for each stripe the fragment's offset and length in that object
 * and the CRC32C of its raw bytes. Stored on every store that is up when the object is put (it
 * is small), so it outlives the loss of any m stores.
 *
 * <pre>
 * "VMAN" version(1) generation(8) manifestVersion(8) objectSize(8) k(1) m(1) policyIndex(1)
 * compression(1) encrypted(1) keyFingerprint(8) fragmentSize(4) stripes(4) preset(UTF)
 * columns x { store(UTF) stripes x { offset(8) length(4) rawCrc32c(4) } }
 * CRC32C(4) of everything before
 * </pre>
 */
final class Manifest {
  static final int MAGIC = 0x564d414e; // "VMAN"
  static final int VERSION = 1;

  final long generation;
  final long manifestVersion;
  final long objectSize;
  final int k;
  final int m;
  final int policyIndex;
  final Compression compression;
  final boolean encrypted;
  final long keyFingerprint;
  final int fragmentSize;
  final int stripes;
  final String preset;
  final String[] stores;
  final long[][] offsets;
  final int[][] lengths;
  final int[][] rawCrcs;

  Manifest(long generation, long manifestVersion, long objectSize, int k, int m, int policyIndex,
      Compression compression, boolean encrypted, long keyFingerprint, int fragmentSize, int stripes, String preset,
      String[] stores, long[][] offsets, int[][] lengths, int[][] rawCrcs) {
    this.generation = generation;
    this.manifestVersion = manifestVersion;
    this.objectSize = objectSize;
    this.k = k;
    this.m = m;
    this.policyIndex = policyIndex;
    this.compression = compression;
    this.encrypted = encrypted;
    this.keyFingerprint = keyFingerprint;
    this.fragmentSize = fragmentSize;
    this.stripes = stripes;
    this.preset = preset;
    this.stores = stores;
    this.offsets = offsets;
    this.lengths = lengths;
    this.rawCrcs = rawCrcs;
  }

  int columns() {
    return k + m;
  }

  /** A copy with column {@code col} moved to {@code store} with new offsets, and a newer version. */
  Manifest withColumn(int col, String store, long[] newOffsets, int[] newLengths, long newVersion) {
    String[] s = stores.clone();
    long[][] o = offsets.clone();
    int[][] l = lengths.clone();
    s[col] = store;
    o[col] = newOffsets;
    l[col] = newLengths;
    return new Manifest(generation, newVersion, objectSize, k, m, policyIndex, compression, encrypted, keyFingerprint,
        fragmentSize, stripes, preset, s, o, l, rawCrcs);
  }

  /** Raw bytes of data fragment {@code col} of {@code stripe} (the last stripe may be short). */
  int rawLength() {
    return fragmentSize;
  }

  byte[] encode() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(128 + columns() * (16 + stripes * 16));
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeInt(MAGIC);
      out.writeByte(VERSION);
      out.writeLong(generation);
      out.writeLong(manifestVersion);
      out.writeLong(objectSize);
      out.writeByte(k);
      out.writeByte(m);
      out.writeByte(policyIndex);
      out.writeByte(compression.code);
      out.writeByte(encrypted ? 1 : 0);
      out.writeLong(keyFingerprint);
      out.writeInt(fragmentSize);
      out.writeInt(stripes);
      out.writeUTF(preset);
      for (int c = 0; c < columns(); c++) {
        out.writeUTF(stores[c]);
        for (int s = 0; s < stripes; s++) {
          out.writeLong(offsets[c][s]);
          out.writeInt(lengths[c][s]);
          out.writeInt(rawCrcs[c][s]);
        }
      }
      out.flush();
      CRC32C crc = new CRC32C();
      crc.update(bytes.toByteArray());
      out.writeInt((int) crc.getValue());
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static Manifest decode(byte[] b, String what) throws IOException {
    if (b.length < 4 + 1 + 4) {
      throw new IOException(what + ": manifest of " + b.length + " bytes is too short");
    }
    CRC32C crc = new CRC32C();
    crc.update(b, 0, b.length - 4);
    int stored = ((b[b.length - 4] & 0xff) << 24) | ((b[b.length - 3] & 0xff) << 16) | ((b[b.length - 2] & 0xff) << 8)
        | (b[b.length - 1] & 0xff);
    if ((int) crc.getValue() != stored) {
      throw new IOException(what + ": manifest CRC32C mismatch");
    }
    DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(b, 0, b.length - 4));
    if (in.readInt() != MAGIC) {
      throw new IOException(what + ": not a manifest (bad magic)");
    }
    int version = in.readUnsignedByte();
    if (version != VERSION) {
      throw new IOException(what + ": manifest version " + version + " is not known (this build reads " + VERSION + ")");
    }
    long generation = in.readLong();
    long manifestVersion = in.readLong();
    long objectSize = in.readLong();
    int k = in.readUnsignedByte();
    int m = in.readUnsignedByte();
    int policyIndex = in.readUnsignedByte();
    Compression compression = Compression.ofCode(in.readUnsignedByte());
    boolean encrypted = in.readUnsignedByte() != 0;
    long fingerprint = in.readLong();
    int fragmentSize = in.readInt();
    int stripes = in.readInt();
    if (k < 1 || fragmentSize < 1 || stripes < 0 || objectSize < 0 || objectSize > (long) stripes * k * fragmentSize) {
      throw new IOException(what + ": manifest fields out of range");
    }
    String preset = in.readUTF();
    String[] stores = new String[k + m];
    long[][] offsets = new long[k + m][stripes];
    int[][] lengths = new int[k + m][stripes];
    int[][] crcs = new int[k + m][stripes];
    for (int c = 0; c < k + m; c++) {
      stores[c] = in.readUTF();
      for (int s = 0; s < stripes; s++) {
        offsets[c][s] = in.readLong();
        lengths[c][s] = in.readInt();
        crcs[c][s] = in.readInt();
      }
    }
    if (in.available() != 0) {
      throw new IOException(what + ": manifest has trailing bytes");
    }
    return new Manifest(generation, manifestVersion, objectSize, k, m, policyIndex, compression, encrypted,
        fingerprint, fragmentSize, stripes, preset, stores, offsets, lengths, crcs);
  }

  @Override
  public String toString() {
    return "Manifest[gen " + Long.toHexString(generation) + " v" + manifestVersion + ", " + objectSize + " B, k=" + k
        + " m=" + m + ", " + stripes + " stripes, stores " + Arrays.toString(stores) + "]";
  }
}
