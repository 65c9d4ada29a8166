package org.vsa.iscsi;

import java.util.Map;

/** Operational keys (RFC 7143 section 13): what we answer to each offer, and what it sets. */
final class Negotiation {
  private Negotiation() {}

  /** Keys that need no answer (declarations) or belong to the security stage. */
  private static final java.util.Set<String> SILENT = java.util.Set.of(
      "InitiatorName", "TargetName", "SessionType", "InitiatorAlias", "TargetAlias",
      "AuthMethod", "CHAP_A", "CHAP_I", "CHAP_C", "CHAP_N", "CHAP_R");

  static void negotiate(Map<String, String> keys, Map<String, String> out, Params p) {
    for (Map.Entry<String, String> e : keys.entrySet()) {
      String k = e.getKey();
      String v = e.getValue();
      if (SILENT.contains(k)) {
        continue;
      }
      String answer = switch (k) {
        case "HeaderDigest" -> {
          String d = digest(v);
          p.headerDigest = d.equals("CRC32C");
          yield d;
        }
        case "DataDigest" -> {
          String d = digest(v);
          p.dataDigest = d.equals("CRC32C");
          yield d;
        }
        case "MaxRecvDataSegmentLength" -> {
          p.maxSendDataSegment = clamp(number(v, 8192), 512, (1 << 24) - 1);
          yield null; // declarative: we declare ours separately
        }
        case "MaxBurstLength" -> {
          p.maxBurst = Math.min(clamp(number(v, 262144), 512, (1 << 24) - 1), Params.OUR_MAX_BURST);
          yield Integer.toString(p.maxBurst);
        }
        case "FirstBurstLength" -> {
          p.firstBurst = Math.min(clamp(number(v, 65536), 512, (1 << 24) - 1), Params.OUR_FIRST_BURST);
          yield Integer.toString(p.firstBurst);
        }
        case "ImmediateData" -> {
          p.immediateData = v.equals("Yes");
          yield p.immediateData ? "Yes" : "No";
        }
        case "InitialR2T" -> {
          p.initialR2t = !v.equals("No");
          yield p.initialR2t ? "Yes" : "No";
        }
        case "MaxOutstandingR2T", "MaxConnections" -> "1";
        case "ErrorRecoveryLevel", "DefaultTime2Retain" -> "0";
        case "DefaultTime2Wait" -> Integer.toString(Math.max(2, number(v, 2)));
        case "DataPDUInOrder", "DataSequenceInOrder" -> "Yes";
        case "IFMarker", "OFMarker" -> "No";
        case "IFMarkInt", "OFMarkInt" -> "Irrelevant";
        default -> "NotUnderstood";
      };
      if (answer != null) {
        out.put(k, answer);
      }
    }
    if (p.firstBurst > p.maxBurst) {
      p.firstBurst = p.maxBurst;
    }
  }

  private static String digest(String offered) {
    for (String s : offered.split(",")) {
      String d = s.trim();
      if (d.equals("CRC32C") || d.equals("None")) {
        return d;
      }
    }
    return "Reject";
  }

  private static int number(String v, int dflt) {
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      return dflt;
    }
  }

  private static int clamp(int v, int lo, int hi) {
    return Math.max(lo, Math.min(hi, v));
  }
}
