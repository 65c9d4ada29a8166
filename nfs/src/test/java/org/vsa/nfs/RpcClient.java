package org.vsa.nfs;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** A minimal ONC RPC client over TCP for tests: record marking, AUTH_SYS, raw frames for fuzzing. */
final class RpcClient implements Closeable {
  static final int NFS = 100003;
  static final int MOUNT = 100005;

  final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;
  private int xid = 1;
  int uid;
  int gid;

  RpcClient(InetSocketAddress addr, int uid, int gid) throws IOException {
    socket = new Socket();
    socket.connect(addr, 5000);
    socket.setSoTimeout(20_000);
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
    this.uid = uid;
    this.gid = gid;
  }

  /** An RPC error: the reply was not an accepted SUCCESS. */
  static final class RpcError extends IOException {
    final int replyStat;
    final int stat;

    RpcError(int replyStat, int stat) {
      super("reply_stat " + replyStat + ", stat " + stat);
      this.replyStat = replyStat;
      this.stat = stat;
    }
  }

  interface Args {
    void write(Out o);
  }

  XdrIn call(int prog, int vers, int proc, Args args) throws IOException {
    Out o = new Out();
    int id = callBody(o, prog, vers, proc, args);
    sendRecord(o.bytes());
    return reply(id);
  }

  /** One call as a whole record (record mark included), not sent; its xid is {@link #lastXid()}. */
  byte[] callRecord(int prog, int vers, int proc, Args args) {
    Out o = new Out();
    callBody(o, prog, vers, proc, args);
    byte[] body = o.bytes();
    return ByteBuffer.allocate(4 + body.length).putInt(0x80000000 | body.length).put(body).array();
  }

  int lastXid() {
    return xid - 1;
  }

  private int callBody(Out o, int prog, int vers, int proc, Args args) {
    int id = xid++;
    o.i(id).i(0).i(2).i(prog).i(vers).i(proc);
    o.i(1); // AUTH_SYS
    Out cred = new Out();
    cred.i(0).s("vsa-test").i(uid).i(gid).i(0);
    o.opaque(cred.bytes());
    o.i(0).i(0); // verifier AUTH_NONE
    args.write(o);
    return id;
  }

  /** Reads the next reply, which must be that of call {@code id}, up to its results. */
  XdrIn reply(int id) throws IOException {
    XdrIn r = readRecord();
    int rx = r.i();
    if (rx != id) {
      throw new IOException("xid " + rx + " != " + id);
    }
    return results(r);
  }

  /** Reads the next reply, whatever its call (a server answers concurrent calls in any order). */
  java.util.Map.Entry<Integer, XdrIn> anyReply() throws IOException {
    XdrIn r = readRecord();
    int rx = r.i();
    return java.util.Map.entry(rx, results(r));
  }

  private static XdrIn results(XdrIn r) throws IOException {
    r.i(); // REPLY
    int replyStat = r.i();
    if (replyStat != 0) {
      throw new RpcError(replyStat, r.i());
    }
    r.i();
    r.opaque();
    int accept = r.i();
    if (accept != 0) {
      throw new RpcError(0, accept);
    }
    return r;
  }

  /**
   * When positive, each call goes out as record fragments of at most this many bytes, each
   * fragment flushed on its own (the server then holds the call in several buffers).
   */
  int fragmentBytes;

  void sendRecord(byte[] body) throws IOException {
    if (fragmentBytes <= 0) {
      ByteBuffer b = ByteBuffer.allocate(4 + body.length);
      b.putInt(0x80000000 | body.length).put(body);
      out.write(b.array());
      out.flush();
      return;
    }
    for (int at = 0; at < body.length || at == 0; at += fragmentBytes) {
      int len = Math.min(fragmentBytes, body.length - at);
      boolean last = at + len == body.length;
      ByteBuffer b = ByteBuffer.allocate(4 + len);
      b.putInt((last ? 0x80000000 : 0) | len).put(body, at, len);
      out.write(b.array());
      out.flush();
      if (last) {
        break;
      }
    }
  }

  void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  XdrIn readRecord() throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    while (true) {
      int mark = in.readInt();
      int len = mark & 0x7fffffff;
      if (len > (16 << 20)) {
        throw new IOException("record of " + len + " bytes");
      }
      byte[] b = new byte[len];
      in.readFully(b);
      all.write(b);
      if (mark < 0) {
        return new XdrIn(ByteBuffer.wrap(all.toByteArray()));
      }
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  /** XDR writer. */
  static final class Out {
    private final ByteArrayOutputStream b = new ByteArrayOutputStream();

    Out i(int v) {
      b.write(v >>> 24);
      b.write(v >>> 16);
      b.write(v >>> 8);
      b.write(v);
      return this;
    }

    Out l(long v) {
      return i((int) (v >>> 32)).i((int) v);
    }

    Out b(boolean v) {
      return i(v ? 1 : 0);
    }

    Out opaque(byte[] v) {
      i(v.length);
      return fixed(v);
    }

    Out fixed(byte[] v) {
      b.write(v, 0, v.length);
      for (int p = v.length; p % 4 != 0; p++) {
        b.write(0);
      }
      return this;
    }

    /** Bytes as they are, without XDR padding (for malformed calls). */
    Out raw(byte... v) {
      b.write(v, 0, v.length);
      return this;
    }

    Out s(String v) {
      return opaque(v.getBytes(StandardCharsets.UTF_8));
    }

    /** An empty sattr3: change nothing. */
    Out noSattr() {
      return i(0).i(0).i(0).i(0).i(0).i(0);
    }

    byte[] bytes() {
      return b.toByteArray();
    }
  }

  /** XDR reader. */
  static final class XdrIn {
    final ByteBuffer b;

    XdrIn(ByteBuffer b) {
      this.b = b;
    }

    int i() {
      return b.getInt();
    }

    long l() {
      return b.getLong();
    }

    boolean bool() {
      return b.getInt() != 0;
    }

    byte[] opaque() {
      int n = b.getInt();
      return fixed(n);
    }

    byte[] fixed(int n) {
      byte[] v = new byte[n];
      b.get(v);
      b.position(b.position() + ((4 - n % 4) % 4));
      return v;
    }

    String s() {
      return new String(opaque(), StandardCharsets.UTF_8);
    }

    /** fattr3 reduced to what tests look at. */
    record Fattr(int type, int mode, int nlink, int uid, int gid, long size, long fsid, long fileId) {}

    Fattr fattr() {
      int type = i();
      int mode = i();
      int nlink = i();
      int uid = i();
      int gid = i();
      long size = l();
      l();
      l();
      long fsid = l();
      long fileId = l();
      b.position(b.position() + 24);
      return new Fattr(type, mode, nlink, uid, gid, size, fsid, fileId);
    }

    Fattr postOpAttr() {
      return bool() ? fattr() : null;
    }

    void wcc() {
      if (bool()) {
        b.position(b.position() + 24);
      }
      postOpAttr();
    }
  }
}
