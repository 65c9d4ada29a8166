package org.vsa.iscsi.pdu;

/**
 * What the codec of one connection must know beyond the bytes: whether digests are on and the
 * largest data segment this side accepts. The session layer changes it once, after login; the
 * codec reads it on the event loop, so plain fields suffice.
 */
public final class Framing {
  public boolean headerDigest;
  public boolean dataDigest;
  /** Our MaxRecvDataSegmentLength: a longer inbound data segment drops the connection. */
  public int maxRecvDataSegmentBytes;

  public Framing(int maxRecvDataSegmentBytes) {
    this.maxRecvDataSegmentBytes = maxRecvDataSegmentBytes;
  }
}
