package org.vsa.dtl;

/** Where DTL state changes go (the control plane places a new DTL on DEGRADED; logs; the API). */
public interface DtlEvents {
  void stateChanged(String vdisk, DtlState from, DtlState to, String why);

  DtlEvents NONE = (vdisk, from, to, why) -> { };
}
