package org.vsa.iscsi;

import io.netty.channel.ChannelFutureListener;
import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.iscsi.pdu.Pdu;

/**
 * The login phase of one connection (RFC 7143 sections 6 and 13): security negotiation with
 * optional CHAP / mutual CHAP, operational negotiation, then full feature phase. Any failure is a
 * Login Response with a status class and detail, after which the connection is closed.
 */
final class Login {
  private static final Logger log = LoggerFactory.getLogger(Login.class);
  private static final int MAX_LOGIN_TEXT_BYTES = 64 << 10;

  static final int SUCCESS = 0x0000;
  static final int INITIATOR_ERROR = 0x0200;
  static final int AUTH_FAILED = 0x0201;
  static final int NOT_FOUND = 0x0203;
  static final int UNSUPPORTED_VERSION = 0x0205;
  static final int MISSING_PARAMETER = 0x0207;
  static final int SESSION_DOES_NOT_EXIST = 0x020a;
  static final int INVALID_DURING_LOGIN = 0x020b;
  static final int TARGET_ERROR = 0x0300;
  static final int SERVICE_UNAVAILABLE = 0x0301;
  static final int MOVED_TEMPORARILY = 0x0101;

  private enum Chap { NONE, WAIT_A, WAIT_R, DONE }

  private final Connection c;
  private final IscsiTarget target;
  private final ByteArrayOutputStream partial = new ByteArrayOutputStream();
  private boolean first = true;
  private boolean sentTpgt;
  private boolean sentOurMaxRecv;
  private boolean authRequired;
  private Chap chap = Chap.NONE;
  private int chapId;
  private byte[] chapChallenge;
  private int currentStage;

  Login(Connection c, IscsiTarget target) {
    this.c = c;
    this.target = target;
  }

  void onLoginRequest(Pdu pdu) {
    int flags = pdu.flags();
    boolean transit = (flags & 0x80) != 0;
    boolean cont = (flags & 0x40) != 0;
    int csg = (flags >>> 2) & 0x03;
    int nsg = flags & 0x03;
    if (first) {
      c.isid = pdu.i64(8) >>> 16;
      c.tsih = pdu.u16(14);
      c.expCmdSn = pdu.i32(24);
      c.statSn = pdu.i32(28);
      if (pdu.u8(3) > 0) {
        fail(pdu, UNSUPPORTED_VERSION, "version-min " + pdu.u8(3));
        return;
      }
      if (c.tsih != 0) {
        fail(pdu, SESSION_DOES_NOT_EXIST, "TSIH " + c.tsih + " (only new sessions; MaxConnections=1)");
        return;
      }
    }
    if (partial.size() + pdu.dataLength() > MAX_LOGIN_TEXT_BYTES) {
      fail(pdu, INITIATOR_ERROR, "login text longer than " + MAX_LOGIN_TEXT_BYTES + " bytes");
      return;
    }
    partial.writeBytes(Connection.bytesOf(pdu));
    if (cont) {
      respond(pdu, csg, 0, false, new byte[0]);
      return;
    }
    if (csg == 2 || (transit && (nsg == 2 || nsg <= csg)) || (!first && csg < currentStage)) {
      fail(pdu, INITIATOR_ERROR, "stage CSG " + csg + " NSG " + nsg);
      return;
    }
    currentStage = csg;
    Map<String, String> keys = TextKeys.parse(partial.toByteArray());
    partial.reset();
    log.debug("login CSG {} NSG {} T {}: {}", csg, nsg, transit, keys);
    Map<String, String> out = new LinkedHashMap<>();
    if (first) {
      if (!leadingKeys(pdu, keys)) {
        return;
      }
      first = false;
    }
    if (csg == 0 && !security(pdu, keys, out)) {
      return;
    }
    if (csg != 0 && authRequired && chap != Chap.DONE) {
      fail(pdu, AUTH_FAILED, "target requires CHAP; the initiator skipped security negotiation");
      return;
    }
    Negotiation.negotiate(keys, out, c.params());
    if (!sentTpgt && !c.discovery) {
      out.put("TargetPortalGroupTag", "1");
      sentTpgt = true;
    }
    if (csg == 1 && !sentOurMaxRecv) {
      out.put("MaxRecvDataSegmentLength", Integer.toString(Params.OUR_MAX_RECV_DATA_SEGMENT));
      sentOurMaxRecv = true;
    }
    if (transit && csg == 0 && authRequired && chap != Chap.DONE) {
      if (chap == Chap.NONE) {
        fail(pdu, AUTH_FAILED, "leaving security negotiation without authenticating");
        return;
      }
      transit = false; // the CHAP exchange goes on: stay in this stage (RFC 7143 6.3)
    }
    if (transit && nsg == 3) {
      c.tsih = target.newTsih();
      c.sessionStarting();
    }
    respond(pdu, csg, nsg, transit, TextKeys.encode(out));
    if (transit && nsg == 3) {
      c.enterFullFeature();
      log.info("iSCSI {} session of {} (ISID {}) from {} to {}", c.discovery ? "discovery" : "normal",
          c.initiatorName, String.format("%012x", c.isid), c.ctx().channel().remoteAddress(),
          c.discovery ? "-" : c.targetConfig.iqn());
    }
  }

  private boolean leadingKeys(Pdu pdu, Map<String, String> keys) {
    c.initiatorName = keys.get("InitiatorName");
    if (c.initiatorName == null || c.initiatorName.isEmpty()) {
      fail(pdu, MISSING_PARAMETER, "no InitiatorName");
      return false;
    }
    String type = keys.getOrDefault("SessionType", "Normal");
    c.discovery = type.equals("Discovery");
    if (!c.discovery && !type.equals("Normal")) {
      fail(pdu, 0x0209, "SessionType " + type);
      return false;
    }
    if (c.discovery) {
      return true;
    }
    String name = keys.get("TargetName");
    if (name == null) {
      fail(pdu, MISSING_PARAMETER, "no TargetName");
      return false;
    }
    TargetLocator.Location where;
    try {
      where = target.locate(name);
      if (where == null) {
        throw new IllegalStateException("the target locator answered null");
      }
    } catch (RuntimeException e) {
      log.warn("iSCSI login from {} ({}) to {}: the target locator failed", c.ctx().channel().remoteAddress(),
          c.initiatorName, name, e);
      fail(pdu, TARGET_ERROR, "the target locator failed on " + name + ": " + e);
      return false;
    }
    if (where instanceof TargetLocator.Unknown) {
      fail(pdu, NOT_FOUND, "unknown target " + name);
      return false;
    }
    if (where instanceof TargetLocator.Unavailable) {
      fail(pdu, SERVICE_UNAVAILABLE, "target " + name + " is served by no node right now (a takeover is under way)");
      return false;
    }
    if (where instanceof TargetLocator.Elsewhere e) {
      redirect(pdu, name, e);
      return false;
    }
    Optional<IscsiConfig.Target> t = c.config().target(name);
    if (t.isEmpty()) {
      fail(pdu, SERVICE_UNAVAILABLE, "target " + name + " is to be served here but is not set up (yet)");
      return false;
    }
    c.targetConfig = t.get();
    authRequired = c.targetConfig.chap().isPresent();
    target.bindLuns(c);
    return true;
  }

  /** AuthMethod and the CHAP exchange. */
  private boolean security(Pdu pdu, Map<String, String> keys, Map<String, String> out) {
    String methods = keys.remove("AuthMethod");
    if (methods != null) {
      boolean offersChap = contains(methods, "CHAP");
      boolean offersNone = contains(methods, "None");
      if (authRequired && !offersChap) {
        fail(pdu, AUTH_FAILED, "target requires CHAP; initiator offered " + methods);
        return false;
      }
      if (!authRequired && !offersNone) {
        out.put("AuthMethod", "Reject");
        return true;
      }
      out.put("AuthMethod", authRequired ? "CHAP" : "None");
      if (authRequired) {
        chap = Chap.WAIT_A;
      }
      return true;
    }
    if (chap == Chap.WAIT_A && keys.containsKey("CHAP_A")) {
      if (!contains(keys.remove("CHAP_A"), "5")) {
        fail(pdu, AUTH_FAILED, "CHAP algorithm other than MD5");
        return false;
      }
      chapId = org.vsa.iscsi.Chap.identifier();
      chapChallenge = org.vsa.iscsi.Chap.challenge();
      out.put("CHAP_A", "5");
      out.put("CHAP_I", Integer.toString(chapId));
      out.put("CHAP_C", org.vsa.iscsi.Chap.hex(chapChallenge));
      chap = Chap.WAIT_R;
      return true;
    }
    if (chap == Chap.WAIT_R) {
      return verifyChap(pdu, keys, out);
    }
    if (authRequired && chap != Chap.DONE) {
      fail(pdu, AUTH_FAILED, "CHAP expected");
      return false;
    }
    return true;
  }

  private boolean verifyChap(Pdu pdu, Map<String, String> keys, Map<String, String> out) {
    IscsiConfig.Chap cred = c.targetConfig.chap().orElseThrow();
    String n = keys.remove("CHAP_N");
    byte[] r = keys.containsKey("CHAP_R") ? org.vsa.iscsi.Chap.decode(keys.remove("CHAP_R")) : null;
    byte[] want = org.vsa.iscsi.Chap.response(chapId, cred.secret(), chapChallenge);
    if (n == null || r == null || !n.equals(cred.user()) || !MessageDigest.isEqual(r, want)) {
      fail(pdu, AUTH_FAILED, "CHAP response for user '" + n + "' does not match");
      return false;
    }
    String mi = keys.remove("CHAP_I");
    String mc = keys.remove("CHAP_C");
    Optional<IscsiConfig.Chap> mutual = c.targetConfig.mutualChap();
    if (mutual.isPresent()) {
      byte[] ic = mc == null ? null : org.vsa.iscsi.Chap.decode(mc);
      int id;
      try {
        id = mi == null ? -1 : Integer.parseInt(mi);
      } catch (NumberFormatException e) {
        id = -1;
      }
      if (ic == null || id < 0 || id > 255 || ic.length == 0 || java.util.Arrays.equals(ic, chapChallenge)) {
        fail(pdu, AUTH_FAILED, "mutual CHAP required but the initiator sent no valid challenge");
        return false;
      }
      out.put("CHAP_N", mutual.get().user());
      out.put("CHAP_R", org.vsa.iscsi.Chap.hex(org.vsa.iscsi.Chap.response(id, mutual.get().secret(), ic)));
    } else if (mi != null || mc != null) {
      fail(pdu, AUTH_FAILED, "initiator asked for mutual CHAP, which this target has no secret for");
      return false;
    }
    chap = Chap.DONE;
    return true;
  }

  private static boolean contains(String list, String v) {
    for (String s : list.split(",")) {
      if (s.trim().equals(v)) {
        return true;
      }
    }
    return false;
  }

  private void respond(Pdu req, int csg, int nsg, boolean transit, byte[] text) {
    Pdu resp = Pdu.out(Opcode.LOGIN_RESPONSE);
    resp.flags((transit ? 0x80 : 0) | (csg << 2) | (transit ? nsg : 0));
    resp.u8(2, 0).u8(3, 0);
    System.arraycopy(req.bhs(), 8, resp.bhs(), 8, 6);
    resp.u16(14, transit && nsg == 3 ? c.tsih : 0);
    resp.itt(req.itt());
    resp.i32(24, c.statSn++).i32(28, c.expCmdSn).i32(32, c.expCmdSn - 1 + c.config().queueDepth());
    resp.data(text);
    c.ctx().writeAndFlush(resp);
  }

  /**
   * Target moved temporarily (RFC 7143 11.13.5): the initiator logs in again at the TargetAddress.
   * A redirect to this very portal, or one more redirect of an initiator session that this node has
   * redirected {@link RedirectGuard#MAX_REDIRECTS} times within {@link RedirectGuard#WINDOW_NANOS}
   * (the nodes disagree on who serves the target: a loop), is refused instead, so that the
   * initiator gets an error rather than following the loop for ever.
   */
  private void redirect(Pdu req, String name, TargetLocator.Elsewhere e) {
    java.net.InetSocketAddress local = (java.net.InetSocketAddress) c.ctx().channel().localAddress();
    if (RedirectGuard.isPortal(e, local)) {
      fail(req, TARGET_ERROR, "the target locator sends " + name + " to " + e.targetAddress()
          + ", which is this portal");
      return;
    }
    if (!target.redirects().allow(c.initiatorName + "|" + Long.toHexString(c.isid) + "|" + name.toLowerCase(
        java.util.Locale.ROOT))) {
      fail(req, SERVICE_UNAVAILABLE, "redirect loop suspected: " + name + " redirected to " + e.targetAddress()
          + " more than " + RedirectGuard.MAX_REDIRECTS + " times within "
          + RedirectGuard.WINDOW_NANOS / 1_000_000_000L + " s for this initiator session");
      return;
    }
    log.info("iSCSI login from {} ({}) to {}: served at {}; redirecting", c.ctx().channel().remoteAddress(),
        c.initiatorName, name, e.targetAddress());
    Map<String, String> keys = new LinkedHashMap<>();
    keys.put("TargetAddress", e.targetAddress());
    close(req, MOVED_TEMPORARILY, TextKeys.encode(keys));
  }

  private void fail(Pdu req, int status, String why) {
    log.warn("iSCSI login from {} ({}) refused: {} (status {})", c.ctx().channel().remoteAddress(),
        c.initiatorName, why, Connection.hexStatus(status));
    close(req, status, new byte[0]);
  }

  /** A final Login Response with a non-zero status, then the connection closes once it is written. */
  private void close(Pdu req, int status, byte[] text) {
    Pdu resp = Pdu.out(Opcode.LOGIN_RESPONSE);
    resp.flags(req.flags() & 0x0c);
    System.arraycopy(req.bhs(), 8, resp.bhs(), 8, 6);
    resp.itt(req.itt());
    resp.i32(24, c.statSn).i32(28, c.expCmdSn).i32(32, c.expCmdSn);
    resp.u8(36, status >>> 8).u8(37, status & 0xff);
    resp.data(text);
    c.phase = Connection.Phase.CLOSED;
    c.ctx().writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
  }
}
