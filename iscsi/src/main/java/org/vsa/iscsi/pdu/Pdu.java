package org.vsa.iscsi.pdu;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;

/**
 * One iSCSI PDU: the 48-byte basic header segment, the additional header segments, and the data
 * segment (unpadded). Field accessors name the BHS offsets of RFC 7143 section 11; the meaning of
 * the opcode-specific fields is up to the session layer.
 *
 * <p>An inbound PDU's data is a retained slice of the receive buffer: whoever handles the PDU
 * calls {@link #release()}.
 */
public final class Pdu {
  public static final int BHS_BYTES = 48;
  public static final int RESERVED_TAG = 0xffffffff;

  private final byte[] bhs;
  private final byte[] ahs;
  private ByteBuf data;

  public Pdu(byte[] bhs, byte[] ahs, ByteBuf data) {
    if (bhs.length != BHS_BYTES) {
      throw new IllegalArgumentException("BHS must be 48 bytes; got " + bhs.length);
    }
    this.bhs = bhs;
    this.ahs = ahs;
    this.data = data;
  }

  /** An outbound PDU with the given opcode and an empty data segment. */
  public static Pdu out(int opcode) {
    byte[] bhs = new byte[BHS_BYTES];
    bhs[0] = (byte) opcode;
    return new Pdu(bhs, new byte[0], Unpooled.EMPTY_BUFFER);
  }

  public byte[] bhs() {
    return bhs;
  }

  public byte[] ahs() {
    return ahs;
  }

  public ByteBuf data() {
    return data;
  }

  public int dataLength() {
    return data.readableBytes();
  }

  public Pdu data(ByteBuf newData) {
    ReferenceCountUtil.release(data);
    this.data = newData;
    return this;
  }

  public Pdu data(byte[] bytes) {
    return data(Unpooled.wrappedBuffer(bytes));
  }

  public void release() {
    ReferenceCountUtil.release(data);
    data = Unpooled.EMPTY_BUFFER;
  }

  public int opcode() {
    return bhs[0] & 0x3f;
  }

  public boolean immediate() {
    return (bhs[0] & 0x40) != 0;
  }

  public Pdu immediate(boolean on) {
    bhs[0] = (byte) (on ? bhs[0] | 0x40 : bhs[0] & ~0x40);
    return this;
  }

  public int flags() {
    return bhs[1] & 0xff;
  }

  public Pdu flags(int f) {
    bhs[1] = (byte) f;
    return this;
  }

  public boolean finalFlag() {
    return (bhs[1] & 0x80) != 0;
  }

  public int u8(int off) {
    return bhs[off] & 0xff;
  }

  public Pdu u8(int off, int v) {
    bhs[off] = (byte) v;
    return this;
  }

  public int u16(int off) {
    return ((bhs[off] & 0xff) << 8) | (bhs[off + 1] & 0xff);
  }

  public Pdu u16(int off, int v) {
    bhs[off] = (byte) (v >>> 8);
    bhs[off + 1] = (byte) v;
    return this;
  }

  public int i32(int off) {
    return ((bhs[off] & 0xff) << 24) | ((bhs[off + 1] & 0xff) << 16) | ((bhs[off + 2] & 0xff) << 8)
        | (bhs[off + 3] & 0xff);
  }

  public Pdu i32(int off, int v) {
    bhs[off] = (byte) (v >>> 24);
    bhs[off + 1] = (byte) (v >>> 16);
    bhs[off + 2] = (byte) (v >>> 8);
    bhs[off + 3] = (byte) v;
    return this;
  }

  public long i64(int off) {
    return ((long) i32(off) << 32) | (i32(off + 4) & 0xffffffffL);
  }

  public Pdu i64(int off, long v) {
    i32(off, (int) (v >>> 32));
    return i32(off + 4, (int) v);
  }

  public int totalAhsWords() {
    return bhs[4] & 0xff;
  }

  /** DataSegmentLength as declared in the BHS (bytes 5..7). */
  public int declaredDataLength() {
    return ((bhs[5] & 0xff) << 16) | ((bhs[6] & 0xff) << 8) | (bhs[7] & 0xff);
  }

  /** Initiator task tag (bytes 16..19). */
  public int itt() {
    return i32(16);
  }

  public Pdu itt(int v) {
    return i32(16, v);
  }

  /** The LUN field (bytes 8..15) decoded per SAM (flat or peripheral addressing). */
  public int lun() {
    int b0 = bhs[8] & 0xff;
    int b1 = bhs[9] & 0xff;
    return ((b0 & 0x3f) << 8) | b1;
  }

  public Pdu lun(int lun) {
    int method = lun < 256 ? 0x00 : 0x40;
    bhs[8] = (byte) (method | ((lun >>> 8) & 0x3f));
    bhs[9] = (byte) lun;
    return this;
  }

  public long rawLun() {
    return i64(8);
  }

  @Override
  public String toString() {
    return String.format("Pdu[op=0x%02x flags=0x%02x itt=0x%08x data=%d]", opcode(), flags(), itt(), dataLength());
  }
}
