package org.vsa.dtl;

/** Where DTL state changes go (the control plane places a new DTL on DEGRADED; logs; the API). */
public interface DtlEvents {
  void stateChanged(String vdisk, DtlState from, DtlState to, String why);

  /**
   * As above, naming the stream the change is about: its DTL at {@code peer} and the ownership
   * epoch it writes with. A vDisk's stream is replaced when its DTL moves, and the old one may
   * still report after that: a listener that places DTLs ties the state to the DTL it is about.
   */
  default void stateChanged(String vdisk, java.net.InetSocketAddress peer, long epoch, DtlState from, DtlState to,
      String why) {
    stateChanged(vdisk, from, to, why);
  }

  DtlEvents NONE = (vdisk, from, to, why) -> { };
}
