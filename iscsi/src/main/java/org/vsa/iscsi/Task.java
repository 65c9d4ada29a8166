package org.vsa.iscsi;

/** One SCSI command of a connection, from its command PDU until its response. */
final class Task {
  final int itt;
  final int lun;
  final byte[] cdb;
  final int expectedLength;
  final boolean read;
  final boolean write;
  /** Data-out collected so far (writes only); sized to the expected transfer length. */
  final byte[] dataOut;
  int received;
  /** Offset up to which data has been solicited (unsolicited burst included). */
  int solicitedEnd;
  int ttt = -1;
  int expDataSn;
  int r2tSn;
  boolean unsolicitedOpen;
  boolean submitted;
  /** Bytes of the target's data-out budget this task holds until it completes. */
  int reservedBytes;
  /** A Data-Out came with the wrong DataSN: the command fails when its burst ends. */
  boolean dataSnError;
  boolean aborted;
  /** The worker finished (its result may have been dropped because the task was aborted). */
  boolean done;
  /** Data-out bytes the CDB asks for (-1: none or unknown), for the residual. */
  long dataOutNeeded = -1;
  /** Run on the event loop when the worker finishes: task management waits for aborted tasks. */
  final java.util.List<Runnable> waiters = new java.util.ArrayList<>(0);

  Task(int itt, int lun, byte[] cdb, int expectedLength, boolean read, boolean write, int dataOutBytes) {
    this.itt = itt;
    this.lun = lun;
    this.cdb = cdb;
    this.expectedLength = expectedLength;
    this.read = read;
    this.write = write;
    this.dataOut = new byte[dataOutBytes];
  }
}
