package org.vsa.iscsi.scsi;

/**
 * What a command produced: SCSI status, sense data (CHECK CONDITION only), and data-in: the
 * command produced {@code dataInLength} bytes, of which {@code dataIn} (or {@code dataBuf}, when
 * not null) holds at least the first min(dataInLength, Expected Data Transfer Length) (the rest is
 * never sent).
 *
 * <p>{@code dataBuf} is a pooled buffer that READ fills straight from the volume and the Data-In
 * PDUs send without a copy; whoever ends up with the result releases it ({@link #release()}).
 */
public record ScsiResult(int status, byte[] sense, byte[] dataIn, int dataInLength, io.netty.buffer.ByteBuf dataBuf) {
  public ScsiResult(int status, byte[] sense, byte[] dataIn, int dataInLength) {
    this(status, sense, dataIn, dataInLength, null);
  }

  /** Bytes of data-in held. */
  public int dataAvailable() {
    return dataBuf != null ? dataBuf.readableBytes() : dataIn.length;
  }

  /** Releases {@code dataBuf}, if any. */
  public void release() {
    if (dataBuf != null) {
      dataBuf.release();
    }
  }

  public static final int GOOD = 0x00;
  public static final int CHECK_CONDITION = 0x02;
  public static final int CONDITION_MET = 0x04;
  public static final int BUSY = 0x08;
  public static final int RESERVATION_CONFLICT = 0x18;
  public static final int TASK_SET_FULL = 0x28;

  private static final byte[] NONE = new byte[0];
  public static final ScsiResult OK = new ScsiResult(GOOD, NONE, NONE, 0);

  public static ScsiResult good() {
    return OK;
  }

  public static ScsiResult data(byte[] data) {
    return new ScsiResult(GOOD, NONE, data, data.length);
  }

  /** Data truncated to the CDB's allocation length. */
  public static ScsiResult data(byte[] data, int allocationLength) {
    return new ScsiResult(GOOD, NONE, data, Math.min(data.length, allocationLength));
  }

  public static ScsiResult check(int key, int ascq) {
    return new ScsiResult(CHECK_CONDITION, Sense.fixed(key, ascq), NONE, 0);
  }

  public static ScsiResult check(byte[] sense) {
    return new ScsiResult(CHECK_CONDITION, sense, NONE, 0);
  }

  public static ScsiResult status(int status) {
    return new ScsiResult(status, NONE, NONE, 0);
  }

  public static ScsiResult illegal(int ascq) {
    return check(Sense.ILLEGAL_REQUEST, ascq);
  }

  public static ScsiResult invalidField(int cdbByte) {
    return check(Sense.invalidCdbField(cdbByte));
  }

  public static ScsiResult lbaOutOfRange() {
    return illegal(Sense.LBA_OUT_OF_RANGE);
  }
}
