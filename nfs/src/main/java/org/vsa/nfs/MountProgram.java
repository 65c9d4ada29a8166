package org.vsa.nfs;

import java.io.IOException;
import java.util.List;
import org.dcache.oncrpc4j.rpc.OncRpcException;
import org.dcache.oncrpc4j.rpc.RpcCall;
import org.dcache.oncrpc4j.rpc.RpcDispatchable;
import org.dcache.oncrpc4j.xdr.XdrDecodingStream;
import org.dcache.oncrpc4j.xdr.XdrVoid;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * MOUNT (program 100005) versions 1 and 3 (RFC 1813 appendix I): MNT resolves an export path (or
 * a directory below it) to a file handle if the export's client rules admit the caller. The server
 * keeps no mount list (DUMP answers empty; UMNT and UMNTALL are accepted), as mount lists are
 * advisory.
 */
final class MountProgram implements RpcDispatchable {
  private static final Logger log = LoggerFactory.getLogger(MountProgram.class);
  static final int PROGRAM = 100005;
  static final int MNTPATHLEN = 1024;
  static final int FHSIZE_V1 = 32;

  static final int MNT_OK = 0;
  static final int MNT_NOENT = 2;
  static final int MNT_ACCES = 13;
  static final int MNT_NOTDIR = 20;
  static final int MNT_SERVERFAULT = 10006;
  static final int AUTH_UNIX = 1;

  /**
   * How long an MNT waits while its export's namespace is unavailable (JUKEBOX: a cluster takeover
   * under way, or this node not yet knowing the new owner) before it answers MNT3ERR_SERVERFAULT:
   * MOUNT has no retryable error, and a client's mount fails for good on that answer.
   */
  static final long UNAVAILABLE_WAIT_MILLIS = 15_000;
  private static final long UNAVAILABLE_RETRY_MILLIS = 100;

  private final ExportTable exports;

  MountProgram(ExportTable exports) {
    this.exports = exports;
  }

  @Override
  public void dispatchOncRpcCall(RpcCall call) throws OncRpcException, IOException {
    try {
      dispatch(call, call.getXdr());
    } catch (IOException | RuntimeException e) {
      log.debug("MOUNT procedure {}: {}", call.getProcedure(), e.toString());
      call.failRpcGarbage();
    }
  }

  private void dispatch(RpcCall call, XdrDecodingStream in) throws IOException {
    switch (call.getProcedure()) {
      case 0, 4 -> call.reply(XdrVoid.XDR_VOID); // NULL, UMNTALL
      case 1 -> mnt(call, Xdr3.string(in, MNTPATHLEN));
      case 2 -> call.reply(new Reply(out -> out.xdrEncodeBoolean(false))); // DUMP: no mount list kept
      case 3 -> {
        Xdr3.string(in, MNTPATHLEN); // UMNT
        call.reply(XdrVoid.XDR_VOID);
      }
      case 5 -> export(call);
      default -> call.failProcedureUnavailable();
    }
  }

  private void mnt(RpcCall call, String path) {
    boolean v1 = call.getProgramVersion() == 1;
    int status;
    byte[] fh = null;
    long deadline = System.nanoTime() + UNAVAILABLE_WAIT_MILLIS * 1_000_000L;
    try {
      while (true) {
        try {
          fh = resolve(call, path);
          break;
        } catch (NfsException e) {
          if (e.status() != Status.JUKEBOX || System.nanoTime() - deadline >= 0) {
            throw e;
          }
          Thread.sleep(UNAVAILABLE_RETRY_MILLIS); // the namespace comes back within a takeover
        }
      }
      status = MNT_OK;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      status = MNT_SERVERFAULT;
      log.info("MNT {} from {} refused: interrupted (the server stops)", path,
          call.getTransport().getRemoteSocketAddress());
    } catch (NfsException e) {
      status = switch (e.status()) {
        case Status.NOENT, Status.STALE -> MNT_NOENT;
        case Status.ACCES -> MNT_ACCES;
        case Status.NOTDIR -> MNT_NOTDIR;
        default -> MNT_SERVERFAULT;
      };
      log.info("MNT {} from {} refused: {}", path, call.getTransport().getRemoteSocketAddress(), e.getMessage());
    }
    int s = status;
    byte[] h = fh;
    call.reply(new Reply(out -> {
      out.xdrEncodeInt(s);
      if (s != MNT_OK) {
        return;
      }
      if (v1) {
        byte[] padded = new byte[FHSIZE_V1];
        System.arraycopy(h, 0, padded, 0, h.length);
        out.xdrEncodeOpaque(padded, FHSIZE_V1);
      } else {
        out.xdrEncodeDynamicOpaque(h);
        out.xdrEncodeIntVector(new int[] {AUTH_UNIX});
      }
    }));
  }

  private byte[] resolve(RpcCall call, String path) throws NfsException {
    String p = path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    for (Exported e : exports) {
      String root = e.export().path();
      if (!p.equals(root) && !p.startsWith(root + "/")) {
        continue;
      }
      if (Caller.rule(e.export(), call.getTransport().getRemoteSocketAddress()) == null) {
        throw Status.of(Status.ACCES, "client not admitted");
      }
      Namespace ns = e.namespace();
      long id = ns.rootId();
      for (String part : p.substring(root.length()).split("/")) {
        if (!part.isEmpty()) {
          id = ns.lookup(id, part);
        }
      }
      if (ns.getattr(id).type() != Attr.DIR) {
        throw Status.of(Status.NOTDIR, path);
      }
      return new FileHandle(ns.namespaceId(), id).encode();
    }
    throw Status.of(Status.NOENT, "no export " + path);
  }

  private void export(RpcCall call) {
    call.reply(new Reply(out -> {
      for (Exported e : exports) {
        out.xdrEncodeBoolean(true);
        out.xdrEncodeString(e.export().path());
        for (ClientRule r : e.export().clients()) {
          out.xdrEncodeBoolean(true);
          out.xdrEncodeString(r.host());
        }
        out.xdrEncodeBoolean(false);
      }
      out.xdrEncodeBoolean(false);
    }));
  }
}
