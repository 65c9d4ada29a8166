package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

  private final Map<Long, Exported> byNamespace;
  private final byte[] writeVerifier;

  Nfs3Program(Map<Long, Exported> byNamespace, byte[] writeVerifier) {
    this.byNamespace = byNamespace;
    this.writeVerifier = writeVerifier.clone();
  }

  /** A resolved file handle: which export, which file, and who asks. */
  private record Target(Exported exp, long fileId, Caller caller) {
    Namespace ns() {
      return exp.namespace();
    }

    long fsid() {
      return exp.namespace().namespaceId();
    }
  }

  @Override
  public void dispatchOncRpcCall(RpcCall call) throws OncRpcException, IOException {
    try {
      dispatch(call, call.getProcedure(), call.getXdr());
    } catch (IOException | RuntimeException e) {
      // Arguments that do not decode (short, lying lengths, bad enums): GARBAGE_ARGS, connection kept.
      log.debug("NFS procedure {} from {}: {}", call.getProcedure(), call.getTransport().getRemoteSocketAddress(),
          e.toString());
      call.failRpcGarbage();
    }
  }

  private void dispatch(RpcCall call, int proc, XdrDecodingStream in) throws IOException {
    switch (proc) {
      case 0 -> call.reply(XdrVoid.XDR_VOID);
      case 1 -> getattr(call, in);
      case 2 -> setattr(call, in);
      case 3 -> lookup(call, in);
      case 4 -> access(call, in);
      case 5 -> readlink(call, in);
      case 6 -> read(call, in);
      case 7 -> write(call, in);
      case 8 -> create(call, in);
      case 9 -> mkdir(call, in);
      case 10 -> symlink(call, in);
      case 11 -> notSupportedDirOp(call, in); // MKNOD
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

  private static int code(NfsException e) {
    return e.status();
  }

  // --- procedures

  private void getattr(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    try {
      Target t = target(call, fh);
      Attr a = t.ns().getattr(t.fileId());
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.fattr(out, a, t.fsid());
      }));
    } catch (NfsException e) {
      call.reply(new Reply(out -> status(out, code(e))));
    }
  }

  private void setattr(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    SetAttr s = Xdr3.sattr(in);
    boolean guard = in.xdrDecodeBoolean();
    long guardCtime = guard ? Xdr3.time(in) : 0;
    Target t = null;
    try {
      t = target(call, fh);
      writable(t);
      Attr a = t.ns().getattr(t.fileId());
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
      Attr after = t.ns().setattr(t.fileId(), s);
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.wcc(out, after, fsid);
      }));
    } catch (NfsException e) {
      Attr after = attrOrNull(t, t == null ? 0 : t.fileId());
      long fsid = t == null ? 0 : t.fsid();
      call.reply(new Reply(out -> {
        status(out, code(e));
        Xdr3.wcc(out, after, fsid);
      }));
    }
  }

  private void lookup(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    Target t = null;
    try {
      t = target(call, fh);
      Attr dir = t.ns().getattr(t.fileId());
      if (dir.type() != Attr.DIR) {
        throw Status.of(Status.NOTDIR, "not a directory");
      }
      need(t, dir, 1, false);
      long id = t.ns().lookup(t.fileId(), name);
      Attr a = t.ns().getattr(id);
      byte[] h = handle(t, id);
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        out.xdrEncodeDynamicOpaque(h);
        Xdr3.postOpAttr(out, a, fsid);
        Xdr3.postOpAttr(out, dir, fsid);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void replyWithAttr(RpcCall call, NfsException e, Target t) {
    Attr a = attrOrNull(t, t == null ? 0 : t.fileId());
    long fsid = t == null ? 0 : t.fsid();
    call.reply(new Reply(out -> {
      status(out, code(e));
      Xdr3.postOpAttr(out, a, fsid);
    }));
  }

  private void access(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    int asked = in.xdrDecodeInt();
    Target t = null;
    try {
      t = target(call, fh);
      Attr a = t.ns().getattr(t.fileId());
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
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
        out.xdrEncodeInt(result);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void readlink(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Target t = null;
    try {
      t = target(call, fh);
      String target = t.ns().readlink(t.fileId());
      Attr a = t.ns().getattr(t.fileId());
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
        out.xdrEncodeString(target);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void read(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    long offset = in.xdrDecodeLong();
    int count = (int) Math.min(in.xdrDecodeInt() & 0xffffffffL, RTMAX);
    Target t = null;
    try {
      t = target(call, fh);
      Attr before = t.ns().getattr(t.fileId());
      if (before.type() == Attr.DIR) {
        throw Status.of(Status.ISDIR, "read of a directory");
      }
      need(t, before, 4, true);
      if (offset < 0) {
        throw Status.of(Status.INVAL, "offset");
      }
      // Allocate what the file can return, not what the client asks (up to rtmax per call).
      ByteBuffer buf = ByteBuffer.allocate((int) Math.max(0, Math.min(count, before.size() - Math.min(offset,
          before.size()))));
      int n = t.ns().read(t.fileId(), offset, buf);
      buf.flip();
      Attr a = t.ns().getattr(t.fileId());
      boolean eof = offset + n >= a.size();
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
        out.xdrEncodeInt(n);
        out.xdrEncodeBoolean(eof);
        out.xdrEncodeByteBuffer(buf);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void write(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    long offset = in.xdrDecodeLong();
    long count = in.xdrDecodeInt() & 0xffffffffL;
    int stable = in.xdrDecodeInt();
    if (stable < UNSTABLE || stable > FILE_SYNC) {
      throw Xdr3.garbage("stable_how " + stable);
    }
    ByteBuffer data = Xdr3.data(in, (int) RpcGuard.MESSAGE_BYTES_MAX); // in memory already; INVAL below if > wtmax
    Target t = null;
    try {
      t = target(call, fh);
      writable(t);
      if (count > WTMAX || data.remaining() > WTMAX) {
        throw Status.of(Status.INVAL, "write of more than wtmax");
      }
      if (data.remaining() > count) {
        data.limit(data.position() + (int) count);
      }
      Attr a = t.ns().getattr(t.fileId());
      if (a.type() == Attr.DIR) {
        throw Status.of(Status.ISDIR, "write to a directory");
      }
      need(t, a, 2, true);
      // stable_how -> Durability, here at the edge: FILE_SYNC and DATA_SYNC are durable on reply.
      Durability d = stable == UNSTABLE ? Durability.BUFFERED : Durability.DURABLE;
      Namespace.Written w = t.ns().write(t.fileId(), offset, data, d);
      Attr after = t.ns().getattr(t.fileId());
      long fsid = t.fsid();
      int committed = w.durable() ? FILE_SYNC : UNSTABLE;
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.wcc(out, after, fsid);
        out.xdrEncodeInt(w.count());
        out.xdrEncodeInt(committed);
        out.xdrEncodeOpaque(writeVerifier, 8);
      }));
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }

  private void replyWcc(RpcCall call, NfsException e, Target t) {
    Attr a = attrOrNull(t, t == null ? 0 : t.fileId());
    long fsid = t == null ? 0 : t.fsid();
    call.reply(new Reply(out -> {
      status(out, code(e));
      Xdr3.wcc(out, a, fsid);
    }));
  }

  /** The reply of CREATE, MKDIR, SYMLINK: the new handle and attributes, the directory's wcc. */
  private void replyCreated(RpcCall call, Target t, long id) {
    byte[] h = handle(t, id);
    Attr a = attrOrNull(t, id);
    Attr dir = attrOrNull(t, t.fileId());
    long fsid = t.fsid();
    call.reply(new Reply(out -> {
      status(out, Status.OK);
      Xdr3.postOpFh(out, h);
      Xdr3.postOpAttr(out, a, fsid);
      Xdr3.wcc(out, dir, fsid);
    }));
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
    SetAttr s = SetAttr.NONE;
    long verifier = 0;
    switch (how) {
      case 0, 1 -> s = Xdr3.sattr(in);
      case 2 -> verifier = in.xdrDecodeLong();
      default -> throw Xdr3.garbage("createmode3 " + how);
    }
    Target t = null;
    try {
      t = target(call, fh);
      dirWritable(t);
      int[] o = owner(t, s);
      long id = how == 2 ? t.ns().createExclusive(t.fileId(), name, o[0], o[1], verifier)
          : t.ns().create(t.fileId(), name, o[0], o[1], s, how != 0);
      replyCreated(call, t, id);
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }

  private void mkdir(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    SetAttr s = Xdr3.sattr(in);
    Target t = null;
    try {
      t = target(call, fh);
      dirWritable(t);
      int[] o = owner(t, s);
      long id = t.ns().mkdir(t.fileId(), name, o[0], o[1], s);
      replyCreated(call, t, id);
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }

  private void symlink(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    SetAttr s = Xdr3.sattr(in);
    String target = Xdr3.string(in, Xdr3.PATH_MAX);
    Target t = null;
    try {
      t = target(call, fh);
      dirWritable(t);
      int[] o = owner(t, s);
      long id = t.ns().symlink(t.fileId(), name, target, o[0], o[1],
          s.mode() == null ? new SetAttr(0777, null, null, null, s.atimeNanos(), s.mtimeNanos()) : s);
      replyCreated(call, t, id);
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }

  /** MKNOD: devices, sockets and FIFOs are not stored here. */
  private void notSupportedDirOp(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Xdr3.string(in, Xdr3.NAME_MAX);
    Target t = null;
    try {
      t = target(call, fh);
      writable(t);
      throw Status.of(Status.NOTSUPP, "MKNOD");
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }

  private void remove(RpcCall call, XdrDecodingStream in, boolean dir) throws IOException {
    byte[] fh = Xdr3.fh(in);
    String name = Xdr3.string(in, Xdr3.NAME_MAX);
    Target t = null;
    try {
      t = target(call, fh);
      Attr d = dirWritable(t);
      checkSticky(t, d, name);
      if (dir) {
        t.ns().rmdir(t.fileId(), name);
      } else {
        t.ns().remove(t.fileId(), name);
      }
      replyWcc(call, new NfsException(Status.OK, ""), t);
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
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
      renameReply(call, Status.OK, from, to);
    } catch (NfsException e) {
      renameReply(call, e.status(), from, to);
    }
  }

  private void renameReply(RpcCall call, int s, Target from, Target to) {
    Attr fa = attrOrNull(from, from == null ? 0 : from.fileId());
    Attr ta = attrOrNull(to, to == null ? 0 : to.fileId());
    long fsid = from == null ? 0 : from.fsid();
    call.reply(new Reply(out -> {
      status(out, s);
      Xdr3.wcc(out, fa, fsid);
      Xdr3.wcc(out, ta, fsid);
    }));
  }

  /** LINK: hard links are not supported (a file has one name; FSINFO does not claim FSF3_LINK). */
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
    Attr a = attrOrNull(t, t == null ? 0 : t.fileId());
    long fsid = t == null ? 0 : t.fsid();
    int st = s;
    call.reply(new Reply(out -> {
      status(out, st);
      Xdr3.postOpAttr(out, a, fsid);
      Xdr3.wcc(out, null, fsid);
    }));
  }

  private void readdir(RpcCall call, XdrDecodingStream in, boolean plus) throws IOException {
    byte[] fh = Xdr3.fh(in);
    long cookie = in.xdrDecodeLong();
    in.xdrDecodeOpaque(8);
    int dircount = in.xdrDecodeInt();
    int maxcount = plus ? in.xdrDecodeInt() : dircount;
    long budget = Math.min(maxcount & 0xffffffffL, DIR_REPLY_BYTES_MAX);
    Target t = null;
    try {
      t = target(call, fh);
      Attr dir = t.ns().getattr(t.fileId());
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
      Target tt = t;
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
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
            Xdr3.postOpFh(out, attrs.get(i) == null ? null : handle(tt, e.fileId()));
          }
        }
        out.xdrEncodeBoolean(false);
        out.xdrEncodeBoolean(eof);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void fsstat(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Target t = null;
    try {
      t = target(call, fh);
      Attr a = t.ns().getattr(t.fileId());
      long[] cap = t.ns().capacity();
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
        out.xdrEncodeLong(cap[0]);
        out.xdrEncodeLong(cap[1]);
        out.xdrEncodeLong(cap[1]);
        out.xdrEncodeLong(1L << 32);
        out.xdrEncodeLong((1L << 32) - 1);
        out.xdrEncodeLong((1L << 32) - 1);
        out.xdrEncodeInt(0);
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void fsinfo(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Target t = null;
    try {
      t = target(call, fh);
      Attr a = t.ns().getattr(t.fileId());
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
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
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void pathconf(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    Target t = null;
    try {
      t = target(call, fh);
      Attr a = t.ns().getattr(t.fileId());
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.postOpAttr(out, a, fsid);
        out.xdrEncodeInt(1); // linkmax: no hard links
        out.xdrEncodeInt(LocalNamespace.NAME_BYTES_MAX);
        out.xdrEncodeBoolean(true); // no_trunc
        out.xdrEncodeBoolean(true); // chown_restricted
        out.xdrEncodeBoolean(false); // case_insensitive
        out.xdrEncodeBoolean(true); // case_preserving
      }));
    } catch (NfsException e) {
      replyWithAttr(call, e, t);
    }
  }

  private void commit(RpcCall call, XdrDecodingStream in) throws IOException {
    byte[] fh = Xdr3.fh(in);
    in.xdrDecodeLong();
    in.xdrDecodeInt();
    Target t = null;
    try {
      t = target(call, fh);
      t.ns().commit(t.fileId());
      Attr a = t.ns().getattr(t.fileId());
      long fsid = t.fsid();
      call.reply(new Reply(out -> {
        status(out, Status.OK);
        Xdr3.wcc(out, a, fsid);
        out.xdrEncodeOpaque(writeVerifier, 8);
      }));
    } catch (NfsException e) {
      replyWcc(call, e, t);
    }
  }
}
