package org.vsa.appliance.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;

/**
 * The cluster's member addresses, kept in the shared backend (namespace {@value #NAMESPACE}, one
 * object per member) by {@code vsa node add}: a node that starts with the same backend asks these
 * addresses (and its configured seeds) to let it join, so adding a host needs no change on the
 * others.
 *
 * <p>Each object is one JSON record: {@code {"magic":"vsa-member","version":1,"address":...,
 * "crc":...}}, the CRC32C over the address. A record that does not check out is logged and skipped.
 */
public final class MemberRegistry {
  private static final Logger log = LoggerFactory.getLogger(MemberRegistry.class);
  public static final String NAMESPACE = "cluster";
  static final String PREFIX = "member.";
  static final String MAGIC = "vsa-member";
  static final int VERSION = 1;
  private static final ObjectMapper json = new ObjectMapper();

  private final ObjectStore store;

  public MemberRegistry(ObjectStore store) {
    this.store = store;
  }

  /** Records {@code address} (host:port); adding one that is there already changes nothing. */
  public void add(String address) throws IOException {
    store.createNamespace(NAMESPACE);
    ObjectNode n = json.createObjectNode();
    n.put("magic", MAGIC);
    n.put("version", VERSION);
    n.put("address", address);
    n.put("crc", crc(address));
    store.put(NAMESPACE, objectName(address), json.writeValueAsBytes(n));
  }

  /** Forgets {@code address}; true when it was recorded. */
  public boolean remove(String address) throws IOException {
    if (!store.namespaceExists(NAMESPACE) || !store.exists(NAMESPACE, objectName(address))) {
      return false;
    }
    store.delete(NAMESPACE, objectName(address));
    return true;
  }

  /** The recorded addresses, sorted. */
  public List<String> addresses() throws IOException {
    List<String> out = new ArrayList<>();
    if (!store.namespaceExists(NAMESPACE)) {
      return out;
    }
    for (String name : store.list(NAMESPACE, PREFIX)) {
      byte[] b;
      try {
        b = store.get(NAMESPACE, name);
      } catch (NoSuchObjectException e) {
        continue; // removed meanwhile
      }
      String bad = null;
      String address = null;
      try {
        JsonNode n = json.readTree(b);
        if (n == null || !MAGIC.equals(n.path("magic").asText())) {
          bad = "no magic";
        } else if (n.path("version").asInt() != VERSION) {
          bad = "version " + n.path("version").asText() + " is not " + VERSION;
        } else {
          address = n.path("address").asText();
          if (n.path("crc").asLong(-1) != crc(address)) {
            bad = "checksum mismatch";
          }
        }
      } catch (IOException e) {
        bad = "not JSON: " + e.getMessage();
      }
      if (bad != null) {
        log.warn("cluster: member record {}/{} skipped: {}", NAMESPACE, name, bad);
        continue;
      }
      out.add(address);
    }
    return out;
  }

  /** host:port to an object name of [A-Za-z0-9._-]: other characters (IPv6's : [ ]) as _xx hex. */
  static String objectName(String address) {
    StringBuilder b = new StringBuilder(PREFIX);
    for (char c : address.toCharArray()) {
      if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
        b.append(c);
      } else {
        b.append('_').append(String.format("%02x", (int) c & 0xff));
      }
    }
    return b.toString();
  }

  private static long crc(String s) {
    CRC32C c = new CRC32C();
    c.update(s.getBytes(StandardCharsets.UTF_8));
    return c.getValue();
  }
}
