package org.vsa.nfs;

import java.io.IOException;
import java.lang.reflect.Field;
import java.util.List;
import org.dcache.oncrpc4j.rpc.OncRpcSvc;
import org.dcache.oncrpc4j.rpc.RpcMessageParserTCP;
import org.dcache.oncrpc4j.rpc.RpcProtocolFilter;
import org.dcache.oncrpc4j.xdr.Xdr;
import org.glassfish.grizzly.Buffer;
import org.glassfish.grizzly.Connection;
import org.glassfish.grizzly.Grizzly;
import org.glassfish.grizzly.attributes.Attribute;
import org.glassfish.grizzly.filterchain.BaseFilter;
import org.glassfish.grizzly.filterchain.FilterChain;
import org.glassfish.grizzly.filterchain.FilterChainContext;
import org.glassfish.grizzly.filterchain.NextAction;
import org.glassfish.grizzly.nio.NIOTransport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.volume.Verify;

/**
 * Bounds what a client can make the server hold, where oncrpc4j 3.4.2 does not: its TCP record
 * parser buffers a message of any announced length, and its AUTH_SYS decoder allocates whatever
 * string length the credential claims. Two Grizzly filters are put into each service's chain:
 * {@link Framing} before the record parser (a fragment or message longer than
 * {@link #MESSAGE_BYTES_MAX}, marks included, drops the connection) and {@link Credentials} before
 * the RPC decoder (a credential or verifier body over 400 bytes, or an AUTH_SYS machine name or
 * group list that does not fit in it, drops the connection).
 */
final class RpcGuard {
  private static final Logger log = LoggerFactory.getLogger(RpcGuard.class);
  /** The largest call we accept: a WRITE of wtmax plus generous room for its header. */
  static final long MESSAGE_BYTES_MAX = Nfs3Program.WTMAX + (64 << 10);
  static final int AUTH_BYTES_MAX = 400;
  static final int MACHINE_NAME_BYTES_MAX = 255;
  static final int GIDS_MAX = 16;
  /**
   * Connections one service (NFS or MOUNT) keeps; more are closed at once. With the message bound
   * this caps what unfinished calls can hold at about {@code CONNECTIONS_MAX * MESSAGE_BYTES_MAX}.
   */
  static final int CONNECTIONS_MAX = 256;

  private RpcGuard() {}

  /** Inserts the filters into every transport of a started service. */
  static void install(OncRpcSvc svc) throws IOException {
    try {
      Field f = OncRpcSvc.class.getDeclaredField("_transports");
      f.setAccessible(true);
      for (Object t : (List<?>) f.get(svc)) {
        FilterChain chain = (FilterChain) ((NIOTransport) t).getProcessor();
        int parser = chain.indexOfType(RpcMessageParserTCP.class);
        Verify.that(parser > 0, "no RPC record parser in %s", chain);
        chain.add(parser, new Framing());
        int decoder = chain.indexOfType(RpcProtocolFilter.class);
        Verify.that(decoder > parser, "no RPC decoder after the parser in %s", chain);
        chain.add(decoder, new Credentials());
      }
    } catch (ReflectiveOperationException | ClassCastException e) {
      throw new IOException("cannot install the RPC input bounds into oncrpc4j's filter chain", e);
    }
  }

  /** Closes the connection, with one WARN line saying why (bytes already read after it are ignored silently). */
  private static NextAction drop(FilterChainContext ctx, String why) {
    Connection<?> c = ctx.getConnection();
    if (c.isOpen()) {
      log.warn("closing the RPC connection from {}: {}", c.getPeerAddress(), why);
      c.closeSilently();
    }
    return ctx.getStopAction();
  }

  /** Tracks record marks over the raw byte stream of one connection; caps the connections. */
  static final class Framing extends BaseFilter {
    private static final Attribute<State> STATE = Grizzly.DEFAULT_ATTRIBUTE_BUILDER.createAttribute("vsa.rpc.framing");
    private final java.util.concurrent.atomic.AtomicInteger connections = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public NextAction handleAccept(FilterChainContext ctx) throws IOException {
      if (connections.incrementAndGet() > CONNECTIONS_MAX) {
        connections.decrementAndGet();
        log.warn("refusing a connection from {}: {} connections already", ctx.getConnection().getPeerAddress(),
            CONNECTIONS_MAX);
        ctx.getConnection().closeSilently();
        return ctx.getStopAction();
      }
      STATE.set(ctx.getConnection(), new State());
      SocketReads.widen(ctx.getConnection());
      return ctx.getInvokeAction();
    }

    @Override
    public NextAction handleClose(FilterChainContext ctx) throws IOException {
      if (STATE.remove(ctx.getConnection()) != null) {
        connections.decrementAndGet();
      }
      return ctx.getInvokeAction();
    }

    static final class State {
      long bodyLeft;
      int mark;
      int markBytes;
      long messageBytes;
    }

    @Override
    public NextAction handleRead(FilterChainContext ctx) throws IOException {
      Connection<?> c = ctx.getConnection();
      State st = STATE.get(c);
      if (st == null) {
        return drop(ctx, "connection not admitted");
      }
      Buffer b = ctx.getMessage();
      int pos = b.position();
      int lim = b.limit();
      while (pos < lim) {
        if (st.bodyLeft > 0) {
          int skip = (int) Math.min(st.bodyLeft, lim - pos);
          pos += skip;
          st.bodyLeft -= skip;
          continue;
        }
        st.mark = (st.mark << 8) | (b.get(pos++) & 0xff);
        if (++st.markBytes < 4) {
          continue;
        }
        long len = st.mark & 0x7fffffffL;
        boolean last = st.mark < 0;
        st.mark = 0;
        st.markBytes = 0;
        st.messageBytes += 4 + len;
        if (st.messageBytes > MESSAGE_BYTES_MAX) {
          return drop(ctx, "RPC message of more than " + MESSAGE_BYTES_MAX + " bytes");
        }
        st.bodyLeft = len;
        if (last) {
          st.messageBytes = 0;
        }
      }
      return ctx.getInvokeAction();
    }
  }

  /** Checks the credential and verifier lengths of an assembled call before oncrpc4j decodes them. */
  static final class Credentials extends BaseFilter {
    @Override
    public NextAction handleRead(FilterChainContext ctx) throws IOException {
      Object m = ctx.getMessage();
      if (!(m instanceof Xdr xdr)) {
        return ctx.getInvokeAction();
      }
      Buffer b = xdr.asBuffer();
      String bad = check(b, b.position(), b.limit());
      return bad == null ? ctx.getInvokeAction() : drop(ctx, bad);
    }

    /** Null if the call's authentication fields are well-formed, else why not. */
    static String check(Buffer b, int p, int lim) {
      if (lim - p < 8 || b.getInt(p + 4) != 0) {
        return lim - p < 8 ? "short message" : null; // replies are the client side's business
      }
      p += 24; // xid, CALL, rpcvers, prog, vers, proc
      for (int part = 0; part < 2; part++) {
        if (lim - p < 8) {
          return "short message";
        }
        int flavor = b.getInt(p);
        int len = b.getInt(p + 4);
        if (len < 0 || len > AUTH_BYTES_MAX || len > lim - p - 8) {
          return "authentication body of " + len + " bytes";
        }
        if (part == 0 && flavor == 1 && !authSysFits(b, p + 8, len)) {
          return "malformed AUTH_SYS credential";
        }
        p += 8 + ((len + 3) & ~3);
      }
      return null;
    }

    private static boolean authSysFits(Buffer b, int p, int len) {
      if (len < 8) {
        return false;
      }
      int name = b.getInt(p + 4);
      if (name < 0 || name > MACHINE_NAME_BYTES_MAX) {
        return false;
      }
      int after = 8 + ((name + 3) & ~3); // stamp, name
      if (after + 12 > len) {
        return false;
      }
      int gids = b.getInt(p + after + 8);
      return gids >= 0 && gids <= GIDS_MAX && after + 12 + 4L * gids <= len;
    }
  }
}
