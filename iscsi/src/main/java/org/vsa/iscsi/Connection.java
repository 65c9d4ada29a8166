package org.vsa.iscsi;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.iscsi.pdu.Framing;
import org.vsa.iscsi.pdu.Opcode;
import org.vsa.iscsi.pdu.Pdu;
import org.vsa.iscsi.scsi.Commands;
import org.vsa.iscsi.scsi.LogicalUnit;
import org.vsa.iscsi.scsi.ScsiRequest;
import org.vsa.iscsi.scsi.ScsiResult;
import org.vsa.iscsi.scsi.Sense;
import org.vsa.volume.Verify;

/**
 * One iSCSI connection and, since MaxConnections is 1, its session: login, then full feature
 * phase. All state is touched on the channel's event loop only; SCSI commands run on the target's
 * worker pool and come back to the event loop to be answered, in whatever order they finish.
 */
final class Connection extends ChannelInboundHandlerAdapter {
  private static final Logger log = LoggerFactory.getLogger(Connection.class);

  enum Phase { LOGIN, FULL_FEATURE, CLOSED }

  private final IscsiTarget target;
  private final Framing framing;
  private final Params params = new Params();
  private final Login login;
  private ChannelHandlerContext ctx;
  private ScheduledFuture<?> loginTimer;
  Phase phase = Phase.LOGIN;

  // Session, set by the login.
  String initiatorName;
  long isid;
  int tsih;
  boolean discovery;
  IscsiConfig.Target targetConfig;
  Map<Integer, LogicalUnit> luns = Map.of();
  List<Integer> lunList = List.of();

  // Sequence numbers (serial arithmetic, RFC 1982).
  int statSn;
  int expCmdSn;
  private int maxCmdSnSent;
  private int nextTtt = 1;

  private final Map<Integer, Task> tasks = new HashMap<>();
  private byte[] textPending;
  private int textOffset;
  private int textTtt;
  /** Commands that arrived ahead of a gap in CmdSN, held until it fills (bounded by the window). */
  private final TreeMap<Integer, Pdu> early = new TreeMap<>((a, b) -> Integer.compare(a - expCmdSn, b - expCmdSn));

  Connection(IscsiTarget target, Framing framing) {
    this.target = target;
    this.framing = framing;
    this.login = new Login(this, target);
  }

  IscsiConfig config() {
    return target.config();
  }

  Params params() {
    return params;
  }

  ChannelHandlerContext ctx() {
    return ctx;
  }

  IscsiTarget target() {
    return target;
  }

  String nexus() {
    return initiatorName + ",i,0x" + String.format("%012x", isid);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) {
    this.ctx = ctx;
    target.connectionOpened(this);
    long ms = config().loginTimeout().toMillis();
    loginTimer = ctx.executor().schedule(() -> {
      if (phase == Phase.LOGIN) {
        log.warn("iSCSI connection from {}: no login within {} ms; closing it", ctx.channel().remoteAddress(), ms);
        ctx.close();
      }
    }, ms, TimeUnit.MILLISECONDS);
    ctx.fireChannelActive();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    phase = Phase.CLOSED;
    if (loginTimer != null) {
      loginTimer.cancel(false);
    }
    for (Task t : tasks.values()) {
      t.aborted = true;
      if (!t.submitted) {
        releaseBuffer(t);
      }
    }
    tasks.clear();
    early.values().forEach(Pdu::release);
    early.clear();
    target.connectionClosed(this);
    ctx.fireChannelInactive();
  }

  /**
   * Back-pressure: while the initiator does not read our responses, we stop reading its
   * commands, so that the outbound buffer stays bounded by the commands already in flight.
   */
  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    ctx.channel().config().setAutoRead(ctx.channel().isWritable());
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    log.warn("iSCSI connection from {}: {}; closing it", ctx.channel().remoteAddress(), cause.toString());
    ctx.close();
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Pdu pdu = (Pdu) msg;
    if (log.isTraceEnabled()) {
      log.trace("{} <- {} cmdSN={} expCmdSn={}", ctx.channel().remoteAddress(), pdu, pdu.i32(24), expCmdSn);
    }
    boolean keep = false;
    try {
      if (phase == Phase.LOGIN) {
        if (pdu.opcode() != Opcode.LOGIN_REQUEST) {
          protocolError("opcode 0x" + Integer.toHexString(pdu.opcode()) + " before login completed");
          return;
        }
        login.onLoginRequest(pdu);
      } else if (phase == Phase.FULL_FEATURE) {
        keep = onFullFeature(pdu);
      }
    } catch (RuntimeException e) {
      log.warn("iSCSI connection from {}: failed on {}; closing it", ctx.channel().remoteAddress(), pdu, e);
      ctx.close();
    } finally {
      if (!keep) {
        pdu.release();
      }
    }
  }

  void protocolError(String why) {
    log.warn("iSCSI connection from {}: protocol error: {}; closing it", ctx.channel().remoteAddress(), why);
    phase = Phase.CLOSED;
    ctx.close();
  }

  /**
   * Called by the login just before the final login response is sent: the session counts as
   * logged in (for the in-use checks of rollback and delete, and reinstatement) before the
   * initiator can learn that it is.
   */
  void sessionStarting() {
    if (!discovery) {
      target.sessionStarted(this);
    }
  }

  /** Called by the login once the final login response is written. */
  void enterFullFeature() {
    phase = Phase.FULL_FEATURE;
    loginTimer.cancel(false);
    framing.headerDigest = params.headerDigest;
    framing.dataDigest = params.dataDigest;
    maxCmdSnSent = expCmdSn - 1 + config().queueDepth();
  }

  // ---- full feature phase ----

  /** @return true if the PDU was kept (held for a CmdSN gap) and must not be released */
  private boolean onFullFeature(Pdu pdu) {
    int op = pdu.opcode();
    if (op == Opcode.DATA_OUT) {
      onDataOut(pdu);
      return false;
    }
    if (op == Opcode.LOGIN_REQUEST || op == Opcode.SNACK || !isInitiatorOpcode(op)) {
      reject(pdu, op == Opcode.LOGIN_REQUEST ? 0x0b : 0x05);
      return false;
    }
    if (discovery && (op == Opcode.SCSI_COMMAND || op == Opcode.TASK_MGMT_REQUEST)) {
      reject(pdu, 0x05);
      return false;
    }
    if (pdu.immediate()) {
      dispatch(pdu);
      return false;
    }
    int cmdSn = pdu.i32(24);
    if (cmdSn == expCmdSn) {
      expCmdSn++;
      dispatch(pdu);
      drainEarly();
      return false;
    }
    if (serialGreater(cmdSn, expCmdSn) && !serialGreater(cmdSn, maxCmdSnSent) && !early.containsKey(cmdSn)) {
      early.put(cmdSn, pdu);
      return true;
    }
    log.debug("iSCSI {}: CmdSN {} outside [{}, {}]; ignored", nexus(), cmdSn, expCmdSn, maxCmdSnSent);
    return false;
  }

  private static boolean isInitiatorOpcode(int op) {
    return op <= Opcode.LOGOUT_REQUEST;
  }

  private void drainEarly() {
    while (!early.isEmpty() && early.firstKey() == expCmdSn && phase == Phase.FULL_FEATURE) {
      Pdu p = early.pollFirstEntry().getValue();
      expCmdSn++;
      try {
        dispatch(p);
      } finally {
        p.release();
      }
    }
  }

  private void dispatch(Pdu pdu) {
    switch (pdu.opcode()) {
      case Opcode.NOP_OUT -> onNopOut(pdu);
      case Opcode.SCSI_COMMAND -> onScsiCommand(pdu);
      case Opcode.TASK_MGMT_REQUEST -> TaskManagement.handle(this, pdu);
      case Opcode.TEXT_REQUEST -> onText(pdu);
      case Opcode.LOGOUT_REQUEST -> onLogout(pdu);
      default -> reject(pdu, 0x05);
    }
  }

  private void onNopOut(Pdu pdu) {
    if (pdu.itt() == Pdu.RESERVED_TAG) {
      return; // a reply to our NOP-In, or a ping that wants no answer
    }
    byte[] echo = new byte[Math.min(pdu.dataLength(), params.maxSendDataSegment)];
    pdu.data().getBytes(pdu.data().readerIndex(), echo);
    Pdu in = Pdu.out(Opcode.NOP_IN).flags(0x80).itt(pdu.itt()).i32(20, Pdu.RESERVED_TAG).data(echo);
    System.arraycopy(pdu.bhs(), 8, in.bhs(), 8, 8);
    send(in, true);
  }

  private void onText(Pdu pdu) {
    if (textPending != null && pdu.i32(20) == textTtt) {
      sendTextChunk(pdu.itt());
      return;
    }
    textPending = null;
    Map<String, String> keys = TextKeys.parse(bytesOf(pdu));
    Map<String, String> out = new LinkedHashMap<>();
    StringBuilder targets = new StringBuilder();
    String st = keys.get("SendTargets");
    if (st != null) {
      InetSocketAddress local = (InetSocketAddress) ctx.channel().localAddress();
      String host = local.getAddress().getHostAddress();
      if (host.contains(":")) {
        host = "[" + host + "]";
      }
      if (discovery) {
        target.sendTargets(host + ":" + local.getPort() + ",1").forEach((iqn, address) -> {
          if (st.equals("All") || st.equalsIgnoreCase(iqn)) {
            targets.append("TargetName=").append(iqn).append('\0')
                .append("TargetAddress=").append(address).append('\0');
          }
        });
      } else if (targetConfig != null && (st.isEmpty() || st.equalsIgnoreCase(targetConfig.iqn()))) {
        targets.append("TargetName=").append(targetConfig.iqn()).append('\0')
            .append("TargetAddress=").append(host).append(':').append(local.getPort()).append(",1").append('\0');
      }
    }
    keys.forEach((k, v) -> {
      if (!k.equals("SendTargets")) {
        out.put(k, "NotUnderstood");
      }
    });
    byte[] a = targets.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] b = TextKeys.encode(out);
    byte[] data = new byte[a.length + b.length];
    System.arraycopy(a, 0, data, 0, a.length);
    System.arraycopy(b, 0, data, a.length, b.length);
    textPending = data;
    textOffset = 0;
    textTtt = nextTtt++ & 0x7fffffff;
    sendTextChunk(pdu.itt());
  }

  /** A text response longer than the initiator's MaxRecvDataSegmentLength goes out in pieces (C bit). */
  private void sendTextChunk(int itt) {
    int n = Math.min(params.maxSendDataSegment, textPending.length - textOffset);
    boolean last = textOffset + n == textPending.length;
    byte[] chunk = java.util.Arrays.copyOfRange(textPending, textOffset, textOffset + n);
    textOffset += n;
    Pdu resp = Pdu.out(Opcode.TEXT_RESPONSE).flags(last ? 0x80 : 0x40).itt(itt)
        .i32(20, last ? Pdu.RESERVED_TAG : textTtt).data(chunk);
    if (last) {
      textPending = null;
    }
    send(resp, true);
  }

  private void onLogout(Pdu pdu) {
    int reason = pdu.flags() & 0x7f;
    Pdu resp = Pdu.out(Opcode.LOGOUT_RESPONSE).flags(0x80).itt(pdu.itt());
    resp.u8(2, reason <= 2 ? 0 : 0x03);
    stampAndCount(resp);
    phase = Phase.CLOSED;
    abortAll(-1);
    ctx.writeAndFlush(resp).addListener(ChannelFutureListener.CLOSE);
  }

  // ---- SCSI commands ----

  private void onScsiCommand(Pdu pdu) {
    int itt = pdu.itt();
    if (tasks.containsKey(itt)) {
      reject(pdu, 0x09);
      return;
    }
    boolean read = (pdu.flags() & 0x40) != 0;
    boolean write = (pdu.flags() & 0x20) != 0;
    int edtl = pdu.i32(20);
    byte[] cdb = cdbOf(pdu);
    if (edtl < 0 || (write && edtl > IscsiTarget.MAX_DATA_OUT_BYTES)) {
      Task t = new Task(itt, pdu.lun(), cdb, 0, read, false, 0);
      tasks.put(itt, t);
      complete(t, ScsiResult.invalidField(0));
      return;
    }
    int imm = pdu.dataLength();
    if (imm > 0 && (!write || !params.immediateData || imm > params.firstBurst || imm > edtl)) {
      protocolError("immediate data of " + imm + " bytes not allowed (EDTL " + edtl + ")");
      return;
    }
    // Write buffers, and the read buffers that wait for a slow initiator, share the target's budget.
    int bufferBytes = write ? edtl : read ? Math.min(Math.max(edtl, 0), IscsiTarget.MAX_DATA_OUT_BYTES) : 0;
    if (tasks.size() >= 2 * config().queueDepth() || (bufferBytes > 0 && !target.reserveDataOut(bufferBytes))) {
      // Immediate commands bypass the CmdSN window, and write buffers share one budget: both bounded.
      Task busy = new Task(itt, pdu.lun(), cdb, 0, read, false, 0);
      tasks.put(itt, busy);
      complete(busy, ScsiResult.status(ScsiResult.TASK_SET_FULL));
      return;
    }
    Task t = new Task(itt, pdu.lun(), cdb, edtl, read, write, bufferBytes);
    t.reservedBytes = bufferBytes;
    tasks.put(itt, t);
    if (imm > 0) {
      pdu.data().getBytes(pdu.data().readerIndex(), t.dataOut, 0, imm);
      t.received = imm;
    }
    if (write && edtl > 0) {
      boolean unsolicited = !params.initialR2t && !pdu.finalFlag();
      t.solicitedEnd = unsolicited ? Math.min(edtl, params.firstBurst) : imm;
      t.unsolicitedOpen = unsolicited && t.received < t.solicitedEnd;
      if (!t.unsolicitedOpen) {
        nextBurst(t);
      }
      return;
    }
    submit(t);
  }

  private static byte[] cdbOf(Pdu pdu) {
    byte[] ahs = pdu.ahs();
    byte[] cdb;
    // Extended CDB AHS (type 1): AHSLength(2), type(1), reserved(1), CDB bytes 16...
    if (ahs.length >= 4 && ahs[2] == 1) {
      int len = ((ahs[0] & 0xff) << 8) | (ahs[1] & 0xff);
      int extra = Math.max(0, Math.min(len - 1, ahs.length - 4));
      cdb = new byte[16 + extra];
      System.arraycopy(ahs, 4, cdb, 16, extra);
    } else {
      cdb = new byte[16];
    }
    System.arraycopy(pdu.bhs(), 32, cdb, 0, 16);
    return cdb;
  }

  private void onDataOut(Pdu pdu) {
    Task t = tasks.get(pdu.itt());
    if (t == null || t.submitted || !t.write) {
      return; // data for an aborted or finished task: drop it
    }
    int ttt = pdu.i32(20);
    int offset = pdu.i32(40);
    int len = pdu.dataLength();
    int dataSn = pdu.i32(36);
    if (len > params.maxSendDataSegment && len > Params.OUR_MAX_RECV_DATA_SEGMENT) {
      protocolError("Data-Out longer than MaxRecvDataSegmentLength");
      return;
    }
    boolean solicited = ttt != Pdu.RESERVED_TAG;
    if ((solicited && ttt != t.ttt) || (!solicited && !t.unsolicitedOpen)) {
      protocolError("Data-Out with unexpected TTT 0x" + Integer.toHexString(ttt));
      return;
    }
    if (offset < 0 || len > t.solicitedEnd - offset || offset > t.solicitedEnd || len > t.solicitedEnd - t.received) {
      protocolError("Data-Out [" + offset + ", +" + len + ") outside the solicited range of ITT " + t.itt);
      return;
    }
    if (dataSn != t.expDataSn && !t.dataSnError) {
      // ERL 0 cannot ask for the PDU again: the command fails, the session lives on.
      log.warn("iSCSI {}: Data-Out DataSN {}, expected {} (ITT 0x{}); failing the command", nexus(), dataSn,
          t.expDataSn, Integer.toHexString(t.itt));
      t.dataSnError = true;
    }
    t.expDataSn++;
    pdu.data().getBytes(pdu.data().readerIndex(), t.dataOut, offset, len);
    t.received += len;
    Verify.that(t.received <= t.solicitedEnd || t.dataSnError, "ITT 0x%x received %d bytes, solicited %d",
        t.itt, t.received, t.solicitedEnd);
    if (pdu.finalFlag()) {
      t.unsolicitedOpen = false;
      if (t.dataSnError) {
        t.submitted = true;
        complete(t, ScsiResult.check(Sense.ABORTED_COMMAND, Sense.DATA_PHASE_ERROR));
        return;
      }
      nextBurst(t);
    }
  }

  /** Solicits the next burst with an R2T, or runs the command once everything is here. */
  private void nextBurst(Task t) {
    if (t.received >= t.expectedLength) {
      submit(t);
      return;
    }
    if (t.received != t.solicitedEnd) {
      protocolError("burst of ITT " + t.itt + " ended at " + t.received + " bytes, " + t.solicitedEnd + " solicited");
      return;
    }
    int offset = t.solicitedEnd;
    int len = Math.min(params.maxBurst, t.expectedLength - offset);
    t.solicitedEnd = offset + len;
    t.ttt = nextTtt++ & 0x7fffffff;
    t.expDataSn = 0;
    Pdu r2t = Pdu.out(Opcode.R2T).flags(0x80).lun(t.lun).itt(t.itt).i32(20, t.ttt);
    r2t.i32(36, t.r2tSn++).i32(40, offset).i32(44, len);
    stamp(r2t, false);
    ctx.writeAndFlush(r2t);
  }

  private void submit(Task t) {
    t.submitted = true;
    LogicalUnit lu = luns.get(t.lun);
    byte[] data = t.dataOut.length == t.received ? t.dataOut : java.util.Arrays.copyOf(t.dataOut, t.received);
    ScsiRequest req = new ScsiRequest(t.cdb, lu, lunList, data, t.expectedLength, nexus(), luns);
    t.dataOutNeeded = Commands.dataOutBytes(req);
    try {
      target.workers().execute(() -> {
        ScsiResult r = Commands.execute(req);
        try {
          ctx.executor().execute(() -> complete(t, r));
        } catch (RejectedExecutionException e) {
          r.release(); // the connection's event loop is gone
        }
      });
    } catch (RejectedExecutionException e) {
      complete(t, ScsiResult.status(ScsiResult.TASK_SET_FULL));
    }
  }

  /** Sends Data-In (with the status in the last one when it is GOOD) and/or the SCSI Response. */
  private void complete(Task t, ScsiResult r) {
    boolean answer = !t.aborted && phase == Phase.FULL_FEATURE && tasks.get(t.itt) == t;
    int heldForDataIn = answer && t.read ? t.reservedBytes : 0;
    if (heldForDataIn == 0) {
      releaseBuffer(t);
    }
    t.reservedBytes = 0;
    t.done = true;
    t.waiters.forEach(Runnable::run);
    t.waiters.clear();
    if (!answer) {
      r.release();
      return;
    }
    tasks.remove(t.itt);
    int produced = t.read ? r.dataInLength() : 0;
    int toSend = Math.min(produced, t.expectedLength);
    int residualFlags = 0;
    int residual = 0;
    if (t.read || !t.write) {
      if (produced > t.expectedLength) {
        residualFlags = 0x04;
        residual = produced - t.expectedLength;
      } else if (produced < t.expectedLength) {
        residualFlags = 0x02;
        residual = t.expectedLength - produced;
      }
    } else if (t.dataOutNeeded >= 0 && t.dataOutNeeded != t.expectedLength) {
      boolean under = t.expectedLength > t.dataOutNeeded;
      residualFlags = under ? 0x02 : 0x04;
      residual = (int) Math.min(Integer.MAX_VALUE, Math.abs(t.expectedLength - t.dataOutNeeded));
    }
    if (toSend < 0 || toSend > r.dataAvailable()) {
      r.release();
      Verify.that(false, "Data-In of %d bytes from a %d-byte buffer", toSend, r.dataAvailable());
    }
    boolean collapse = r.status() == ScsiResult.GOOD && toSend > 0;
    int dataSn = 0;
    int burst = 0;
    for (int off = 0; off < toSend; ) {
      int n = Math.min(params.maxSendDataSegment, toSend - off);
      boolean last = off + n == toSend;
      burst += n;
      boolean endOfBurst = last || burst >= params.maxBurst;
      if (endOfBurst) {
        burst = 0;
      }
      Pdu d = Pdu.out(Opcode.DATA_IN).itt(t.itt).i32(20, Pdu.RESERVED_TAG).i32(36, dataSn++).i32(40, off);
      d.data(r.dataBuf() != null ? r.dataBuf().retainedSlice(off, n) : Unpooled.wrappedBuffer(r.dataIn(), off, n));
      int flags = endOfBurst ? 0x80 : 0;
      if (last && collapse) {
        flags |= 0x01 | residualFlags;
        d.u8(3, r.status()).i32(44, residual);
        stamp(d, true);
      } else {
        stamp(d, false);
      }
      d.flags(flags);
      ctx.write(d);
      off += n;
    }
    r.release(); // each Data-In PDU holds its own slice
    if (!collapse) {
      Pdu resp = Pdu.out(Opcode.SCSI_RESPONSE).flags(0x80 | residualFlags).itt(t.itt);
      resp.u8(2, 0).u8(3, r.status()).i32(36, dataSn).i32(44, residual);
      if (r.sense().length > 0) {
        byte[] seg = new byte[2 + r.sense().length];
        seg[0] = (byte) (r.sense().length >>> 8);
        seg[1] = (byte) r.sense().length;
        System.arraycopy(r.sense(), 0, seg, 2, r.sense().length);
        resp.data(seg);
      }
      stamp(resp, true);
      ctx.write(resp);
    }
    if (heldForDataIn > 0) {
      // The read buffer stays counted until the socket took it (or the connection died).
      ctx.write(Unpooled.EMPTY_BUFFER).addListener(f -> target.releaseDataOut(heldForDataIn));
    }
    ctx.flush();
  }

  /** Aborts a task: no response will be sent for it. Returns it, or null if there is none. */
  Task abort(int itt) {
    Task t = tasks.remove(itt);
    if (t != null) {
      t.aborted = true;
      if (!t.submitted) {
        releaseBuffer(t);
      }
    }
    return t;
  }

  private void releaseBuffer(Task t) {
    if (t.reservedBytes > 0) {
      target.releaseDataOut(t.reservedBytes);
      t.reservedBytes = 0;
    }
  }

  /** Aborts every task of the LUN (-1: of every LUN). */
  List<Task> abortAll(int lun) {
    List<Integer> gone = new ArrayList<>();
    for (Task t : tasks.values()) {
      if (lun < 0 || t.lun == lun) {
        gone.add(t.itt);
      }
    }
    List<Task> out = new ArrayList<>();
    gone.forEach(itt -> out.add(abort(itt)));
    return out;
  }

  // ---- sending ----

  void reject(Pdu bad, int reason) {
    Pdu r = Pdu.out(Opcode.REJECT).flags(0x80).u8(2, reason).itt(Pdu.RESERVED_TAG).data(bad.bhs().clone());
    stamp(r, true);
    ctx.writeAndFlush(r);
  }

  void send(Pdu pdu, boolean countStatSn) {
    stamp(pdu, countStatSn);
    ctx.writeAndFlush(pdu);
  }

  private void stampAndCount(Pdu pdu) {
    stamp(pdu, true);
  }

  /**
   * Fills StatSN, ExpCmdSN and MaxCmdSN. The window shrinks with commands in flight, so that a
   * session never has more than queueDepth of them; MaxCmdSN never goes backwards.
   */
  void stamp(Pdu pdu, boolean countStatSn) {
    pdu.i32(24, countStatSn ? statSn++ : statSn);
    int candidate = expCmdSn - 1 + Math.max(0, config().queueDepth() - tasks.size() - early.size());
    if (serialGreater(candidate, maxCmdSnSent)) {
      maxCmdSnSent = candidate;
    }
    Verify.that(!serialGreater(expCmdSn - 1, maxCmdSnSent), "MaxCmdSN %d below ExpCmdSN %d - 1", maxCmdSnSent,
        expCmdSn);
    pdu.i32(28, expCmdSn).i32(32, maxCmdSnSent);
  }

  static boolean serialGreater(int a, int b) {
    return a != b && a - b > 0;
  }

  static byte[] bytesOf(Pdu pdu) {
    byte[] b = new byte[pdu.dataLength()];
    pdu.data().getBytes(pdu.data().readerIndex(), b);
    return b;
  }

  /**
   * On the event loop: if this connection belongs to target {@code iqn} (logged in, or past the
   * login's target lookup), it stops answering, aborts its tasks and closes; {@code closed} then
   * completes with true (false: another target's), {@code drained} once the aborted tasks that were
   * running have finished.
   */
  void dropIfTarget(String iqn, java.util.concurrent.CompletableFuture<Boolean> closed,
      java.util.concurrent.CompletableFuture<Void> drained) {
    if (discovery || targetConfig == null || !targetConfig.iqn().equalsIgnoreCase(iqn)
        || !ctx.channel().isOpen()) {
      drained.complete(null);
      closed.complete(false);
      return;
    }
    boolean wasLoggedIn = phase == Phase.FULL_FEATURE;
    phase = Phase.CLOSED; // from here on no response leaves (complete() answers in full feature phase only)
    List<Task> running = abortAll(-1).stream().filter(t -> t.submitted && !t.done).toList();
    log.info("iSCSI session {} to {}: dropped ({} command(s) running, never to be answered){}", nexus(), iqn,
        running.size(), wasLoggedIn ? "" : " while logging in");
    target.sessionDropped(this);
    ctx.close();
    if (running.isEmpty()) {
      drained.complete(null);
    } else {
      int[] left = {running.size()};
      for (Task t : running) {
        t.waiters.add(() -> {
          if (--left[0] == 0) {
            drained.complete(null);
          }
        });
      }
    }
    closed.complete(true);
  }

  /** Closes the connection (session reinstatement, target reset, shutdown). */
  void close(String why) {
    ctx.executor().execute(() -> {
      if (phase != Phase.CLOSED) {
        log.info("iSCSI session {}: closing: {}", nexus(), why);
      }
      phase = Phase.CLOSED;
      ctx.close();
    });
  }

  static String hexStatus(int classDetail) {
    return String.format("0x%04x", classDetail);
  }
}
