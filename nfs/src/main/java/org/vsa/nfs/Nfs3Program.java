package org.vsa.nfs;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.CompletionHandler;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcDispatchable;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrEncodingStream;
import org.dcache.oncrpc4j.xdr.XdrVoid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.Durability;

/**
 * NFS version 3 (program 100003, RFC 1813): decodes each procedure's arguments, checks the export
 * rules and permissions, calls the {@link Namespace} and encodes the reply. {@code stable_how} is
 * mapped to {@link Durability} here and goes no deeper.
 */
final class Nfs3Program implements RpcDispatchable {
  private static final Logger log = LoggerFactory.getLogger(Nfs3Program.class);
  static final int PROGRAM = 100003;
  static final int VERSION = 3;
  static final int RTMAX = 1 << 20;
  static final int WTMAX = 1 << 20;
  static final int DTPREF = 64 << 10;
  /** Upper bound of a READDIR(PLUS) reply we build, whatever the client asks. */
  static final int DIR_REPLY_BYTES_MAX = 1 << 20;

  static final int UNSTABLE = 0;
  static final int DATA_SYNC = 1;
  static final int FILE_SYNC = 2;

  static final int ACCESS_READ = 0x01;
  static final int ACCESS_LOOKUP = 0x02;
  static final int ACCESS_MODIFY = 0x04;
  static final int ACCESS_EXTEND = 0x08;
  static final int ACCESS_DELETE = 0x10;
  static final int ACCESS_EXECUTE = 0x20;

  private final ExportTable byNamespace;
  private final byte[] writeVerifier;
  private final DirectBuffers directBuffers = new DirectBuffers();
  private final ReadAhead readAhead;
  private final Executor workers;
  private final WriteLanes lanes;

  /**
   * {@code workers} run every procedure but WRITE, and the durability waits of stable WRITEs;
   * {@code lanes} run each file's WRITEs in order, one at a time (see {@link WriteLanes}).
   */
  Nfs3Program(ExportTable byNamespace, byte[] writeVerifier, Executor workers, WriteLanes lanes) {
    this.byNamespace = byNamespace;
    this.writeVerifier = writeVerifier.clone();
    this.workers = workers;
    this.lanes = lanes;
    this.readAhead = new ReadAhead(directBuffers, workers);
  }

  /** Lets go of what is read ahead (the server is closing). */
  void close() {
    readAhead.close();
    if (readAhead.served() + readAhead.wasted() > 0) {
      log.info("NFS read-ahead: {} READs answered from ranges read ahead, {} ranges read for nothing",
          readAhead.served(), readAhead.wasted());
    }
  }

  /** READs answered from a range read ahead, and ranges read ahead for nothing (tests). */
  long[] readAheadCounts() {
    return new long[] {readAhead.served(), readAhead.wasted()};
  }

  /** Waits for the ranges being read ahead (tests). */
  boolean awaitReadAhead(long timeoutMillis) throws InterruptedException {
    return readAhead.awaitFilled(timeoutMillis);
  }

  /** A resolved file handle: which export, which file, and who asks. */
  private record Target(Exported exp, long fileId, Caller caller) {
    Namespace ns() {
      return exp.namespace();
    }

    long fsid() {
      return exp.namespace().namespaceId();
    }

    Attr attr() throws NfsException {
      return ns().getattr(fileId);
    }
  }

  /**
   * Runs on the connection's selector thread (oncrpc4j is given a direct executor): a WRITE's
   * arguments but its data are decoded here and the call goes to its file's lane; every other call
   * goes to a worker. Nothing here waits.
   */
  @Override
  public void dispatchOncRpcCall(RpcCall call) throws OncRpcException, IOException {
    if (call.getProcedure() == 7) {
      WriteArgs a;
      try {
        a = WriteArgs.decode(call.getXdr());
      } catch (IOException | RuntimeException e) {
        garbage(call, e);
        return;
      }
      FileHandle h = FileHandle.decode(a.fh());
      WriteCall w = new WriteCall(call, a);
      if (h == null) {
        workers.execute(w::run); // BADHANDLE, from a worker like any other error
      } else {
        lanes.submit(h, a.dataBytes(), w);
      }
      return;
    }
    if (call.getProcedure() == 6) {
      dispatchRead(call);
      return;
    }
    workers.execute(() -> guarded(call, () -> dispatch(call, call.getProcedure(), call.getXdr())));
  }

  private interface CallBody {
    void run() throws IOException;
  }

  private static void guarded(RpcCall call, CallBody body) {
    try {
      body.run();
    } catch (IOException | RuntimeException e) {
      garbage(call, e);
    }
  }

  /** Arguments that do not decode (short, lying lengths, bad enums): GARBAGE_ARGS, connection kept. */
  private static void garbage(RpcCall call, Exception e) {
    log.debug("NFS procedure {} from {}: {}", call.getProcedure(), call.getTransport().getRemoteSocketAddress(),
        e.toString());
    call.failRpcGarbage();
  }

  private void dispatch(RpcCall call, int proc, XdrDecodingStream in) throws IOException {
    switch (proc) {
      case 0 -> call.reply(XdrVoid.XDR_VOID);
      case 1 -> getattr(call, in);
      case 2 -> setattr(call, in);
      case 3 -> lookup(call, in);
      case 4 -> access(call, in);
      case 5 -> readlink(call, in);
      case 6 -> read(call, ReadArgs.decode(in), null);
      case 7 -> new WriteCall(call, WriteArgs.decode(in)).run();
      case 8 -> create(call, in);
      case 9 -> mkdir(call, in);
      case 10 -> symlink(call, in);
      case 11 -> mknod(call, in);
      case 12 -> remove(call, in, false);
      case 13 -> remove(call, in, true);
      case 14 -> rename(call, in);
      case 15 -> link(call, in);
      case 16 -> readdir(call, in, false);
      case 17 -> readdir(call, in, true);
      case 18 -> fsstat(call, in);
      case 19 -> fsinfo(call, in);
      case 20 -> pathconf(call, in);
      case 21 -> commit(call, in);
      default -> call.failProcedureUnavailable();
    }
  }

  // --- resolution and checks

  private Target target(RpcCall call, byte[] fh) throws NfsException {
    FileHandle h = FileHandle.decode(fh);
    if (h == null) {
      throw Status.of(Status.BADHANDLE, "not a vsa file handle");
    }
    Exported e = byNamespace.get(h.namespaceId());
    if (e == null) {
      throw Status.of(Status.STALE, "unknown namespace");
    }
    Caller c = Caller.of(call, e.export());
    if (c == null) {
      throw Status.of(Status.ACCES, "client not admitted by " + e.export().path());
    }
    return new Target(e, h.fileId(), c);
  }

  private static byte[] handle(Target t, long fileId) {
    return new FileHandle(t.fsid(), fileId).encode();
  }

  private static Attr attrOrNull(Target t, long fileId) {
    if (t == null) {
      return null;
    }
    try {
      return t.ns().getattr(fileId);
    } catch (NfsException e) {
      return null;
    }
  }

  private static void writable(Target t) throws NfsException {
    if (t.caller().readOnly()) {
      throw Status.of(Status.ROFS, "read-only export");
    }
  }

  private static void need(Target t, Attr a, int bits, boolean ownerMay) throws NfsException {
    if (ownerMay && a.uid() == t.caller().uid()) {
      return;
    }
    if ((t.caller().permissions(a) & bits) != bits) {
      throw Status.of(Status.ACCES, "permission denied");
    }
  }

  /** The caller may change entries of this directory. */
  private static Attr dirWritable(Target t) throws NfsException {
    writable(t);
    Attr d = t.ns().getattr(t.fileId());
    if (d.type() != Attr.DIR) {
      throw Status.of(Status.NOTDIR, "not a directory");
    }
    need(t, d, 3, false);
    return d;
  }

  private static void status(XdrEncodingStream out, int s) {
    out.xdrEncodeInt(s);
  }

  // --- the shape every procedure shares

  /** Which attributes of the handle's file a failed procedure's reply carries after the status (RFC 1813's resfail bodies). */
  private enum Fail {
    /** Nothing (GETATTR). */
    NONE,
    /** post_op_attr of the handle's file. */
    POST_OP,
    /** wcc_data of the handle's file. */
    WCC
  }

  /** A procedure's work on its resolved handle: the OK reply's body after the status. */
  @FunctionalInterface
  private interface Procedure {
    Reply.Body run(Target t) throws NfsException;
  }

  /** A procedure whose OK reply starts with the file's post_op_attr (or wcc_data) and goes on with the returned body. */
  @FunctionalInterface
  private interface AttrProcedure {
    Reply.Body run(Target t, Attr a) throws NfsException;
  }

  /**
   * Resolves {@code fh}, runs {@code p} and replies OK with its body, or on an {@link NfsException}
   * the status followed by the file's attributes as {@code fail} says.
   */
  private void serve(RpcCall call, byte[] fh, Fail fail, Procedure p) {
    Target t = null;
    Reply.Body body;
    int s;
    try {
      t = target(call, fh);
      body = p.run(t);
      s = Status.OK;
    } catch (NfsException e) {
      s = e.status();
      body = attrs(fail, t);
    }
    reply(call, s, body);
  }

  /** {@link #serve} for a procedure that reads the file's attributes first and replies them as post_op_attr. */
  private void serveWithAttr(RpcCall call, byte[] fh, AttrProcedure p) {
    serve(call, fh, Fail.POST_OP, t -> {
      Attr a = t.attr();
      Reply.Body rest = p.run(t, a);
      long fsid = t.fsid();
      return out -> {
        Xdr3.postOpAttr(out, a, fsid);
        rest.encode(out);
      };
    });
  }

  private static Reply.Body attrs(Fail fail, Target t) {
    if (fail == Fail.NONE) {
      return out -> { };
    }
    Attr a = attrOrNull(t, t == null ? 0 : t.fileId());
    long fsid = t == null ? 0 : t.fsid();
    return fail == Fail.WCC ? out -> Xdr3.wcc(out, a, fsid) : out -> Xdr3.postOpAttr(out, a, fsid);
  }

  /** The post-operation attributes of a changed file, and then {@code rest}. */
  private static Reply.Body wccThen(Target t, Attr after, Reply.Body rest) {
    long fsid = t.fsid();
    return out -> {
      Xdr3.wcc(out, after, fsid);
      rest.encode(out);
    };
  }

  private static final Reply.Body EMPTY = out -> { };

  /**
   * Sends status and body, unless the client's connection is closed already: then the reply is
   * dropped here, once logged per connection, instead of oncrpc4j logging an ERROR per reply.
   */
  private void reply(RpcCall call, int s, Reply.Body body) {
    if (!call.getTransport().isOpen()) {
      DroppedReplies.dropped(call);
      return;
    }
    call.reply(new Reply(out -> {
      status(out, s);
      body.encode(out);
    }));
  }

  // --- procedures

  private void getattr(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    serve(call, fh, Fail.NONE, t -> {
      Attr a = t.attr();
      long fsid = t.fsid();
      return out -> Xdr3.fattr(out, a, fsid);
    });
  }

  private void setattr(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    SetAttr s = Xdr3.sattr(in);
    boolean guard = in.xdrDecodeBoolean();
    long guardCtime = guard ? Xdr3.time(in) : 0;
    serve(call, fh, Fail.WCC, t -> {
      writable(t);
      Attr a = t.attr();
      if (guard && a.ctimeNanos() != guardCtime) {
        throw Status.of(Status.NOT_SYNC, "ctime guard");
      }
      boolean owner = t.caller().uid() == 0 || a.uid() == t.caller().uid();
      if ((s.mode() != null || s.gid() != null || s.atimeNanos() >= 0 || s.mtimeNanos() >= 0) && !owner) {
        throw Status.of(Status.PERM, "not the owner");
      }
      if (s.uid() != null && s.uid() != a.uid() && t.caller().uid() != 0) {
        throw Status.of(Status.PERM, "only root changes owners");
      }
      if (s.sizeBytes() != null) {
        need(t, a, 2, true);
      }
      return wccThen(t, t.ns().setattr(t.fileId(), s), EMPTY);
    });
  }

  private void lookup(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    serve(call, fh, Fail.POST_OP, t -> {
      Attr dir = t.attr();
      if (dir.type() != Attr.DIR) {
        throw Status.of(Status.NOTDIR, "not a directory");
      }
      need(t, dir, 1, false);
      long id = t.ns().lookup(t.fileId(), name);
      Attr a = t.ns().getattr(id);
      byte[] h = handle(t, id);
      long fsid = t.fsid();
      return out -> {
        out.xdrEncodeDynamicOpaque(h);
        Xdr3.postOpAttr(out, a, fsid);
        Xdr3.postOpAttr(out, dir, fsid);
      };
    });
  }

  private void access(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    int asked = in.xdrDecodeInt();
    serveWithAttr(call, fh, (t, a) -> {
      int p = t.caller().permissions(a);
      int granted = 0;
      if ((p & 4) != 0) {
        granted |= ACCESS_READ;
      }
      if ((p & 2) != 0) {
        granted |= ACCESS_MODIFY | ACCESS_EXTEND | (a.type() == Attr.DIR ? ACCESS_DELETE : 0);
      }
      if ((p & 1) != 0) {
        granted |= a.type() == Attr.DIR ? ACCESS_LOOKUP : 0;
        if (a.type() != Attr.DIR && (t.caller().uid() != 0 || (a.mode() & 0111) != 0)) {
          granted |= ACCESS_EXECUTE;
        }
      }
      if (t.caller().readOnly()) {
        granted &= ~(ACCESS_MODIFY | ACCESS_EXTEND | ACCESS_DELETE);
      }
      int result = granted & asked;
      return out -> out.xdrEncodeInt(result);
    });
  }

  private void readlink(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    serveWithAttr(call, fh, (t, a) -> {
      String target = t.ns().readlink(t.fileId());
      return out -> out.xdrEncodeString(target);
    });
  }

  /** READ's arguments, decoded on the selector thread. */
  record ReadArgs(byte[] fh, long offset, int count) {
    static ReadArgs decode(XdrDecodingStream in) throws IOException {
      byte[] fh = Xdr3.fh(in);
      long offset = in.xdrDecodeLong();
      int count = (int) Math.min(in.xdrDecodeInt() & 0xffffffffL, RTMAX);
      return new ReadArgs(fh, offset, count);
    }
  }

  /**
   * On the selector thread: a READ that a range read ahead will probably answer is answered here
   * (a buffer to send, no read, no hand-off); any other goes to a worker.
   */
  private void dispatchRead(RpcCall call) {
    ReadArgs a;
    try {
      a = ReadArgs.decode(call.getXdr());
    } catch (IOException | RuntimeException e) {
      garbage(call, e);
      return;
    }
    FileHandle h = FileHandle.decode(a.fh());
    Exported x = h == null ? null : byNamespace.get(h.namespaceId());
    if (x == null) {
      workers.execute(() -> read(call, a, null));
      return;
    }
    Namespace ns = x.namespace();
    ReadAhead.Ticket ticket = readAhead.arrived(ns, h.fileId(), a.offset(), a.count());
    Runnable r = () -> {
      try {
        read(call, a, ticket);
      } finally {
        readAhead.left(ticket);
      }
    };
    if (!Caller.ruleNeedsLookup(x.export(), call.getTransport().getRemoteSocketAddress())
        && readAhead.likelyHit(ns, h.fileId(), a.offset(), a.count())) {
      r.run();
      return;
    }
    try {
      workers.execute(r);
    } catch (RuntimeException e) {
      readAhead.left(ticket);
      throw e;
    }
  }

  private void read(RpcCall call, ReadArgs a, ReadAhead.Ticket ticket) {
    long offset = a.offset();
    int count = a.count();
    serve(call, a.fh(), Fail.POST_OP, t -> {
      Attr before = t.attr();
      if (before.type() == Attr.DIR) {
        throw Status.of(Status.ISDIR, "read of a directory");
      }
      need(t, before, 4, true);
      if (offset < 0) {
        throw Status.of(Status.INVAL, "offset");
      }
      ByteBuffer buf;
      int got;
      Attr after;
      ReadAhead.Range ahead = readAhead.take(t.ns(), t.fileId(), offset, count, before.size());
      if (ahead != null) {
        buf = ahead.buffer();
        got = ahead.got();
        after = before;
      } else {
        // Take what the file can return, not what the client asks (up to rtmax per call).
        buf = directBuffers.take((int) Math.max(0, Math.min(count, before.size() - Math.min(offset,
            before.size()))));
        Namespace.Read r;
        try {
          r = t.ns().read(t.fileId(), offset, buf);
        } catch (NfsException | RuntimeException e) {
          directBuffers.give(buf);
          throw e;
        }
        buf.flip();
        got = r.count();
        after = r.after();
      }
      readAhead.after(ticket, t.ns(), t.fileId(), offset, count, got, after.size());
      boolean eof = offset + got >= after.size();
      long fsid = t.fsid();
      // The reply refers to buf until it is sent: only then is buf reused.
      call.registerSendOnceListener(new CompletionHandler<Integer, InetSocketAddress>() {
        @Override
        public void completed(Integer result, InetSocketAddress attachment) {
          directBuffers.give(buf);
        }

        @Override
        public void failed(Throwable exc, InetSocketAddress attachment) {
          directBuffers.give(buf);
        }
      });
      return out -> {
        Xdr3.postOpAttr(out, after, fsid);
        out.xdrEncodeInt(got);
        out.xdrEncodeBoolean(eof);
        Xdr3.opaqueNoCopy(out, buf);
      };
    });
  }

  /** WRITE's arguments up to its data, which stays in the call's record until the write runs. */
  record WriteArgs(byte[] fh, long offset, long count, int stable, XdrDecodingStream in, int dataBytes) {
    static WriteArgs decode(XdrDecodingStream in) throws IOException {
      byte[] fh = Xdr3.fh(in);
      long offset = in.xdrDecodeLong();
      long count = in.xdrDecodeInt() & 0xffffffffL;
      int stable = in.xdrDecodeInt();
      if (stable < UNSTABLE || stable > FILE_SYNC) {
        throw Xdr3.garbage("stable_how " + stable);
      }
      int len = -1;
      if (in instanceof org.dcache.oncrpc4j.xdr.Xdr xdr) {
        len = Xdr3.opaqueLength(xdr, (int) RpcGuard.MESSAGE_BYTES_MAX);
      }
      return new WriteArgs(fh, offset, count, stable, in, len);
    }
  }

  /** One WRITE call: its data taken out of the record once, then written here and now or in its lane. */
  private final class WriteCall implements WriteLanes.Write {
    private final RpcCall call;
    private final WriteArgs a;
    private ByteBuffer data; // pooled direct, once decoded
    private boolean pooled;

    WriteCall(RpcCall call, WriteArgs a) {
      this.call = call;
      this.a = a;
    }

    @Override
    public boolean tryHere() {
      FileHandle h = FileHandle.decode(a.fh());
      Exported x = h == null ? null : byNamespace.get(h.namespaceId());
      if (x == null || Caller.ruleNeedsLookup(x.export(), call.getTransport().getRemoteSocketAddress())) {
        return false; // errors and DNS lookups are answered from a lane thread
      }
      boolean done = true;
      try {
        decodeData();
        done = write(call, a.fh(), a.offset(), a.count(), a.stable(), data, true);
      } catch (IOException | RuntimeException e) {
        garbage(call, e);
      } finally {
        if (done) {
          release();
        }
      }
      return done;
    }

    @Override
    public void run() {
      try {
        decodeData();
        write(call, a.fh(), a.offset(), a.count(), a.stable(), data, false);
      } catch (IOException | RuntimeException e) {
        garbage(call, e);
      } finally {
        release();
      }
    }

    private void decodeData() throws IOException {
      if (data != null) {
        return;
      }
      if (a.dataBytes() >= 0 && a.dataBytes() <= WTMAX && a.in() instanceof org.dcache.oncrpc4j.xdr.Xdr xdr) {
        // One copy from the record's buffers into a pooled direct buffer, which the engine writes
        // to its file without a bounce; the buffer is reused once the data is written.
        ByteBuffer b = directBuffers.take(a.dataBytes());
        pooled = true;
        data = b;
        Xdr3.opaqueInto(xdr, b);
        return;
      }
      // Not oncrpc4j's stream, or more than wtmax (in memory already; INVAL below).
      data = Xdr3.data(a.in(), (int) RpcGuard.MESSAGE_BYTES_MAX);
    }

    private void release() {
      if (pooled) {
        pooled = false;
        directBuffers.give(data);
      }
    }
  }

  /**
   * WRITE with its decoded arguments; {@code data} is only read before this returns. The wait for
   * a stable write's durability is left to a worker, which then replies: a lane never waits for it.
   * {@code atOnce}: only if the write needs no wait; false if it would (nothing done, no reply).
   */
  private boolean write(RpcCall call, byte[] fh, long offset, long count, int stable, ByteBuffer data, boolean atOnce) {
    Target t;
    Namespace.Written w;
    long epoch;
    try {
      t = target(call, fh);
    } catch (NfsException e) {
      reply(call, e.status(), attrs(Fail.WCC, null));
      return true;
    }
    try {
      writable(t);
      if (count > WTMAX || data.remaining() > WTMAX) {
        throw Status.of(Status.INVAL, "write of more than wtmax");
      }
      if (data.remaining() > count) {
        data.limit(data.position() + (int) count);
      }
      Attr a = t.attr();
      if (a.type() == Attr.DIR) {
        throw Status.of(Status.ISDIR, "write to a directory");
      }
      need(t, a, 2, true);
      // stable_how -> Durability, here at the edge: FILE_SYNC and DATA_SYNC are durable on reply.
      Durability d = stable == UNSTABLE ? Durability.BUFFERED : Durability.DURABLE;
      // the verifier as it was before the write: if its vDisk's owner moves meanwhile, the client
      // sees a COMMIT verifier that differs from this WRITE's and resends
      epoch = t.ns().writeEpoch();
      if (atOnce) {
        w = t.ns().writeAtOnce(t.fileId(), offset, data, d);
        if (w == null) {
          return false;
        }
      } else {
        w = t.ns().writeDeferred(t.fileId(), offset, data, d);
      }
    } catch (NfsException e) {
      reply(call, e.status(), attrs(Fail.WCC, t));
      return true;
    }
    if (w.settle() == Namespace.Settle.NONE) {
      replyWritten(call, t, w, epoch);
      return true;
    }
    Target target = t;
    workers.execute(() -> {
      try {
        w.settle().await();
      } catch (NfsException e) {
        reply(call, e.status(), attrs(Fail.WCC, target));
        return;
      } catch (RuntimeException e) {
        log.warn("NFS WRITE to file {}: {}", target.fileId(), e.toString(), e);
        reply(call, Status.SERVERFAULT, attrs(Fail.WCC, target));
        return;
      }
      replyWritten(call, target, w, epoch);
    });
    return true;
  }

  private void replyWritten(RpcCall call, Target t, Namespace.Written w, long epoch) {
    int committed = w.durable() ? FILE_SYNC : UNSTABLE;
    byte[] verifier = verifier(epoch);
    reply(call, Status.OK, wccThen(t, w.after(), out -> {
      out.xdrEncodeInt(w.count());
      out.xdrEncodeInt(committed);
      out.xdrEncodeOpaque(verifier, 8);
    }));
  }

  /** The write verifier: random at the start, changed by each epoch of possibly lost writes. */
  private byte[] verifier(long epoch) {
    if (epoch == 0) {
      return writeVerifier;
    }
    byte[] v = writeVerifier.clone();
    long x = epoch * 0x9E3779B97F4A7C15L;
    for (int i = 0; i < 8; i++) {
      v[i] ^= (byte) (x >>> (8 * i));
    }
    return v;
  }

  /** The reply of CREATE, MKDIR, SYMLINK: the new handle and attributes, the directory's wcc. */
  private static Reply.Body created(Target t, long id) {
    byte[] h = handle(t, id);
    Attr a = attrOrNull(t, id);
    Attr dir = attrOrNull(t, t.fileId());
    long fsid = t.fsid();
    return out -> {
      Xdr3.postOpFh(out, h);
      Xdr3.postOpAttr(out, a, fsid);
      Xdr3.wcc(out, dir, fsid);
    };
  }

  private int[] owner(Target t, SetAttr s) {
    int uid = t.caller().uid();
    int gid = t.caller().gid();
    if (t.caller().uid() == 0) {
      uid = s.uid() != null ? s.uid() : uid;
      gid = s.gid() != null ? s.gid() : gid;
    }
    return new int[] {uid, gid};
  }

  private void create(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    int how = in.xdrDecodeInt();
    SetAttr s = how == 0 || how == 1 ? Xdr3.sattr(in) : SetAttr.NONE;
    if (how < 0 || how > 2) {
      throw Xdr3.garbage("createmode3 " + how);
    }
    long verifier = how == 2 ? in.xdrDecodeLong() : 0;
    serve(call, fh, Fail.WCC, t -> {
      dirWritable(t);
      int[] o = owner(t, s);
      return created(t, how == 2 ? t.ns().createExclusive(t.fileId(), name, o[0], o[1], verifier)
          : t.ns().create(t.fileId(), name, o[0], o[1], s, how != 0));
    });
  }

  private void mkdir(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    SetAttr s = Xdr3.sattr(in);
    serve(call, fh, Fail.WCC, t -> {
      dirWritable(t);
      int[] o = owner(t, s);
      return created(t, t.ns().mkdir(t.fileId(), name, o[0], o[1], s));
    });
  }

  private void symlink(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    SetAttr s = Xdr3.sattr(in);
    String target = Xdr3.string(in, Xdr3.PATH_MAX);
    serve(call, fh, Fail.WCC, t -> {
      dirWritable(t);
      int[] o = owner(t, s);
      return created(t, t.ns().symlink(t.fileId(), name, target, o[0], o[1],
          s.mode() == null ? new SetAttr(0777, null, null, null, s.atimeNanos(), s.mtimeNanos()) : s));
    });
  }

  /**
   * MKNOD: NOTSUPP. Devices, sockets and FIFOs are not stored in a vPool's namespace (a datastore
   * for VM disks has no use for them); the arguments are still decoded, so malformed ones get
   * GARBAGE_ARGS.
   */
  private void mknod(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Xdr3.string(in, Xdr3.NAME_MAX);
    int type = in.xdrDecodeInt();
    if (type == 3 || type == 4) { // NF3CHR, NF3BLK: sattr3 then specdata3
      Xdr3.sattr(in);
      in.xdrDecodeInt();
      in.xdrDecodeInt();
    } else if (type == 6 || type == 7) { // NF3SOCK, NF3FIFO: sattr3
      Xdr3.sattr(in);
    }
    serve(call, fh, Fail.WCC, t -> {
      writable(t);
      throw Status.of(Status.NOTSUPP, "MKNOD");
    });
  }

  private void remove(RpcCall call, XdrDecodingStream in, boolean dir) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    serve(call, fh, Fail.WCC, t -> {
      Attr d = dirWritable(t);
      checkSticky(t, d, name);
      if (dir) {
        t.ns().rmdir(t.fileId(), name);
      } else {
        t.ns().remove(t.fileId(), name);
      }
      return attrs(Fail.WCC, t);
    });
  }

  /** In a sticky directory only the owner of the entry (or of the directory, or root) may remove it. */
  private static void checkSticky(Target t, Attr dir, String name) throws NfsException {
    if ((dir.mode() & 01000) == 0 || t.caller().uid() == 0 || dir.uid() == t.caller().uid()) {
      return;
    }
    long id = t.ns().lookup(t.fileId(), name);
    if (t.ns().getattr(id).uid() != t.caller().uid()) {
      throw Status.of(Status.ACCES, "sticky directory");
    }
  }

  private void rename(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fromFh = Xdr3.fh(in);
    String fromName = Xdr3.string(in, Xdr3.NAME_MAX);
    byte[] toFh = Xdr3.fh(in);
    String toName = Xdr3.string(in, Xdr3.NAME_MAX);
    Target from = null;
    Target to = null;
    int s = Status.OK;
    try {
      from = target(call, fromFh);
      to = target(call, toFh);
      if (from.exp() != to.exp()) {
        throw Status.of(Status.XDEV, "rename across exports");
      }
      Attr fd = dirWritable(from);
      dirWritable(to);
      checkSticky(from, fd, fromName);
      from.ns().rename(from.fileId(), fromName, to.fileId(), toName);
    } catch (NfsException e) {
      s = e.status();
    }
    reply(call, s, attrs(Fail.WCC, from), attrs(Fail.WCC, to));
  }

  /** Sends status, then two bodies (RENAME's and LINK's two files). */
  private void reply(RpcCall call, int s, Reply.Body first, Reply.Body second) {
    reply(call, s, out -> {
      first.encode(out);
      second.encode(out);
    });
  }

  /**
   * LINK: NOTSUPP. A file has exactly one name here: a vDisk file's name is what iSCSI and the
   * engine know it by, directory entries are journaled by name, and PATHCONF says linkmax 1 and
   * FSINFO does not claim FSF3_LINK, so clients do not try. ESXi does not need hard links.
   */
  private void link(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Xdr3.fh(in);
    Xdr3.string(in, Xdr3.NAME_MAX);
    Target t = null;
    int s = Status.NOTSUPP;
    try {
      t = target(call, fh);
    } catch (NfsException e) {
      s = e.status();
    }
    reply(call, s, attrs(Fail.POST_OP, t), attrs(Fail.WCC, null));
  }

  private void readdir(RpcCall call, XdrDecodingStream in, boolean plus) throws IOException {
    byte[] fh = Xdr3.fh(in);
    long cookie = in.xdrDecodeLong();
    in.xdrDecodeOpaque(8);
    int dircount = in.xdrDecodeInt();
    int maxcount = plus ? in.xdrDecodeInt() : dircount;
    long budget = Math.min(maxcount & 0xffffffffL, DIR_REPLY_BYTES_MAX);
    serve(call, fh, Fail.POST_OP, t -> {
      Attr dir = t.attr();
      if (dir.type() != Attr.DIR) {
        throw Status.of(Status.NOTDIR, "not a directory");
      }
      need(t, dir, 4, false);
      long used = 4 + 88 + 8 + 8; // status, post_op_attr, cookieverf, end of list and eof
      int perEntry = plus ? 24 + 88 + 8 + FileHandle.BYTES + 3 : 24;
      List<Namespace.Entry> page = t.ns().readdir(t.fileId(), cookie, (int) Math.max(1, budget / perEntry) + 1);
      List<Namespace.Entry> entries = new ArrayList<>();
      List<Attr> attrs = new ArrayList<>();
      for (Namespace.Entry e : page) {
        int size = perEntry + ((e.name().getBytes(StandardCharsets.UTF_8).length + 3) & ~3);
        if (used + size > budget) {
          break;
        }
        used += size;
        entries.add(e);
        if (plus) {
          attrs.add(attrOrNull(t, e.fileId()));
        }
      }
      if (entries.isEmpty() && !page.isEmpty()) {
        throw Status.of(Status.TOOSMALL, "reply budget too small for one entry");
      }
      long last = entries.isEmpty() ? cookie : entries.get(entries.size() - 1).cookie();
      boolean eof = !t.ns().hasMoreAfter(t.fileId(), last);
      long fsid = t.fsid();
      return out -> {
        Xdr3.postOpAttr(out, dir, fsid);
        out.xdrEncodeOpaque(new byte[8], 8);
        for (int i = 0; i < entries.size(); i++) {
          Namespace.Entry e = entries.get(i);
          out.xdrEncodeBoolean(true);
          out.xdrEncodeLong(e.fileId());
          out.xdrEncodeString(e.name());
          out.xdrEncodeLong(e.cookie());
          if (plus) {
            Xdr3.postOpAttr(out, attrs.get(i), fsid);
            Xdr3.postOpFh(out, attrs.get(i) == null ? null : handle(t, e.fileId()));
          }
        }
        out.xdrEncodeBoolean(false);
        out.xdrEncodeBoolean(eof);
      };
    });
  }

  private void fsstat(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    serveWithAttr(call, fh, (t, a) -> {
      long[] cap = t.ns().capacity();
      return out -> {
        out.xdrEncodeLong(cap[0]);
        out.xdrEncodeLong(cap[1]);
        out.xdrEncodeLong(cap[1]);
        out.xdrEncodeLong(1L << 32);
        out.xdrEncodeLong((1L << 32) - 1);
        out.xdrEncodeLong((1L << 32) - 1);
        out.xdrEncodeInt(0);
      };
    });
  }

  private void fsinfo(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    serveWithAttr(call, fh, (t, a) -> out -> {
      out.xdrEncodeInt(RTMAX);
      out.xdrEncodeInt(RTMAX);
      out.xdrEncodeInt(4096);
      out.xdrEncodeInt(WTMAX);
      out.xdrEncodeInt(WTMAX);
      out.xdrEncodeInt(4096);
      out.xdrEncodeInt(DTPREF);
      out.xdrEncodeLong(LocalNamespace.MAX_FILE_BYTES);
      out.xdrEncodeInt(0); // time_delta: 1 ns
      out.xdrEncodeInt(1);
      out.xdrEncodeInt(0x0002 | 0x0008 | 0x0010); // FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME
    });
  }

  private void pathconf(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    serveWithAttr(call, fh, (t, a) -> out -> {
      out.xdrEncodeInt(1); // linkmax: no hard links
      out.xdrEncodeInt(LocalNamespace.NAME_BYTES_MAX);
      out.xdrEncodeBoolean(true); // no_trunc
      out.xdrEncodeBoolean(true); // chown_restricted
      out.xdrEncodeBoolean(false); // case_insensitive
      out.xdrEncodeBoolean(true); // case_preserving
    });
  }

  private void commit(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    in.xdrDecodeLong();
    in.xdrDecodeInt();
    serve(call, fh, Fail.WCC, t -> {
      t.ns().commit(t.fileId());
      byte[] verifier = verifier(t.ns().writeEpoch()); // after the commit: a loss it found changes it
      return wccThen(t, t.attr(), out -> out.xdrEncodeOpaque(verifier, 8));
    });
  }
}
