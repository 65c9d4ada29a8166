package org.vsa.nfs;

import java.io.IOException;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;
import org.vsa.volume.Verify;

/** NFSv3 XDR types (RFC 1813 section 2.5-2.6) shared by the procedures. */
final class Xdr3 {
  private Xdr3() {}

  static final int FHSIZE3 = 64;
  static final int NAME_MAX = 255;
  static final int PATH_MAX = 4096;

  /** Arguments that do not decode: the dispatcher answers GARBAGE_ARGS. */
  static OncRpcException garbage(String why) {
    return new GarbageArgs(why);
  }

  /** Arguments that do not decode. */
  static final class GarbageArgs extends OncRpcException {
    GarbageArgs(String why) {
      super("garbage arguments: " + why);
    }
  }

  static byte[] fh(XdrDecodingStream in) throws IOException {
    checkLength(in, FHSIZE3);
    return in.xdrDecodeDynamicOpaque();
  }

  static String string(XdrDecodingStream in, int max) throws IOException {
    checkLength(in, max);
    return in.xdrDecodeString();
  }

  /** WRITE data: its announced length checked before anything is allocated. */
  static java.nio.ByteBuffer data(XdrDecodingStream in, int max) throws IOException {
    checkLength(in, max);
    return in.xdrDecodeByteBuffer();
  }

  /**
   * The announced length of the variable-length opaque that comes next (WRITE's data), checked
   * against {@code max} and against the bytes left, padding included; the stream is left before
   * the length word.
   */
  static int opaqueLength(org.dcache.oncrpc4j.xdr.Xdr in, int max) throws IOException {
    checkLength(in, max);
    org.glassfish.grizzly.Buffer b = in.asBuffer();
    int len = b.getInt(b.position());
    if ((long) len + ((4 - (len & 3)) & 3) > b.remaining() - 4) {
      throw garbage("opaque of " + len + " bytes without its padding");
    }
    return len;
  }

  /**
   * Copies the next variable-length opaque (of {@link #opaqueLength} bytes) into {@code dst} and
   * moves past it and its padding. One copy straight from the record's buffers: oncrpc4j's
   * {@code xdrDecodeByteBuffer} first joins a record that arrived in several socket reads into one
   * new array (and the engine's file write then bounces a heap buffer once more).
   */
  static void opaqueInto(org.dcache.oncrpc4j.xdr.Xdr in, java.nio.ByteBuffer dst) throws IOException {
    org.glassfish.grizzly.Buffer b = in.asBuffer();
    int len = in.xdrDecodeInt();
    Verify.that(len == dst.remaining(), "opaque of %s bytes into a buffer of %s", len, dst.remaining());
    b.get(dst.duplicate()); // relative: from the record's position, which it moves past the data
    b.position(b.position() + ((4 - (len & 3)) & 3));
  }

  /**
   * Checks the length word of the next string or opaque against {@code max} and the bytes left,
   * so that a lying length never makes the decoder allocate (oncrpc4j allocates what it is told).
   */
  static void checkLength(XdrDecodingStream in, int max) throws IOException {
    if (!(in instanceof org.dcache.oncrpc4j.xdr.Xdr xdr)) {
      return;
    }
    org.glassfish.grizzly.Buffer b = xdr.asBuffer();
    if (b.remaining() < 4) {
      throw garbage("short message");
    }
    int len = b.getInt(b.position());
    if (len < 0 || len > max || len > b.remaining() - 4) {
      throw garbage("length " + len + " (max " + max + ", " + (b.remaining() - 4) + " bytes left)");
    }
  }

  static long time(XdrDecodingStream in) throws IOException {
    long sec = in.xdrDecodeInt() & 0xffffffffL;
    long nsec = in.xdrDecodeInt() & 0xffffffffL;
    return sec * 1_000_000_000L + Math.min(nsec, 999_999_999L);
  }

  static SetAttr sattr(XdrDecodingStream in) throws IOException {
    Integer mode = in.xdrDecodeBoolean() ? in.xdrDecodeInt() : null;
    Integer uid = in.xdrDecodeBoolean() ? in.xdrDecodeInt() : null;
    Integer gid = in.xdrDecodeBoolean() ? in.xdrDecodeInt() : null;
    Long size = in.xdrDecodeBoolean() ? in.xdrDecodeLong() : null;
    long atime = timeHow(in);
    long mtime = timeHow(in);
    return new SetAttr(mode, uid, gid, size, atime, mtime);
  }

  private static long timeHow(XdrDecodingStream in) throws IOException {
    int how = in.xdrDecodeInt();
    switch (how) {
      case 0:
        return SetAttr.DONT_CHANGE;
      case 1:
        return SetAttr.SERVER_TIME;
      case 2:
        return time(in);
      default:
        throw Xdr3.garbage("time_how " + how);
    }
  }

  static void time(XdrEncodingStream out, long nanos) {
    out.xdrEncodeInt((int) (nanos / 1_000_000_000L));
    out.xdrEncodeInt((int) (nanos % 1_000_000_000L));
  }

  static void fattr(XdrEncodingStream out, Attr a, long fsid) {
    out.xdrEncodeInt(a.type());
    out.xdrEncodeInt(a.mode());
    out.xdrEncodeInt(a.nlink());
    out.xdrEncodeInt(a.uid());
    out.xdrEncodeInt(a.gid());
    out.xdrEncodeLong(a.size());
    out.xdrEncodeLong(a.usedBytes());
    out.xdrEncodeInt(0); // rdev
    out.xdrEncodeInt(0);
    out.xdrEncodeLong(fsid);
    out.xdrEncodeLong(a.fileId());
    time(out, a.atimeNanos());
    time(out, a.mtimeNanos());
    time(out, a.ctimeNanos());
  }

  static void postOpAttr(XdrEncodingStream out, Attr a, long fsid) {
    out.xdrEncodeBoolean(a != null);
    if (a != null) {
      fattr(out, a, fsid);
    }
  }

  /** wcc_data without pre-operation attributes (allowed: pre_op_attr is optional). */
  static void wcc(XdrEncodingStream out, Attr after, long fsid) {
    out.xdrEncodeBoolean(false);
    postOpAttr(out, after, fsid);
  }

  /**
   * Variable-length opaque data (READ's data) appended to the reply without copying it when the
   * stream is oncrpc4j's {@link org.dcache.oncrpc4j.xdr.Xdr}: {@code data} must not change until the
   * reply is sent (each READ allocates its own).
   */
  static void opaqueNoCopy(XdrEncodingStream out, java.nio.ByteBuffer data) {
    if (out instanceof org.dcache.oncrpc4j.xdr.Xdr xdr) {
      xdr.xdrEncodeShallowByteBuffer(data);
    } else {
      out.xdrEncodeByteBuffer(data);
    }
  }

  static void postOpFh(XdrEncodingStream out, byte[] fh) {
    out.xdrEncodeBoolean(fh != null);
    if (fh != null) {
      out.xdrEncodeDynamicOpaque(fh);
    }
  }
}
