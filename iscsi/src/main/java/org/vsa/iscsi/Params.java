package org.vsa.iscsi;

/** Operational parameters of one connection/session, as negotiated at login (RFC 7143 section 13). */
final class Params {
  /** What this target declares and offers. */
  static final int OUR_MAX_RECV_DATA_SEGMENT = 262144;
  static final int OUR_MAX_BURST = 1 << 20;
  static final int OUR_FIRST_BURST = 262144;

  boolean headerDigest;
  boolean dataDigest;
  /** The initiator's MaxRecvDataSegmentLength: the largest data segment we may send. */
  int maxSendDataSegment = 8192;
  int maxBurst = 262144;
  int firstBurst = 65536;
  boolean immediateData = true;
  boolean initialR2t = true;
}
