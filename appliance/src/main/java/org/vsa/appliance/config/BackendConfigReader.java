package org.vsa.appliance.config;

import static org.vsa.appliance.config.Sizes.GiB;
import static org.vsa.appliance.config.Sizes.KiB;
import static org.vsa.appliance.config.Sizes.MiB;

import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.vsa.appliance.config.ApplianceConfig.Backend;
import org.vsa.appliance.config.ApplianceConfig.BackendType;
import org.vsa.appliance.config.ApplianceConfig.Store;
import org.vsa.appliance.config.ApplianceConfig.StoreType;
import org.vsa.appliance.config.Section.Range;
import org.vsa.backends.fragment.Compression;
import org.vsa.backends.fragment.EncryptionKey;
import org.vsa.backends.fragment.Policy;
import org.vsa.backends.fragment.Preset;
import org.vsa.backends.s3.S3Settings;

/**
 * Reads and checks the {@code backend:} section: type {@code local} (a directory), {@code s3}
 * (one bucket of an S3-compatible service) or {@code fragment} (erasure-coded presets over
 * several stores). Secrets (the S3 secret key, the encryption key) never appear in an error.
 */
final class BackendConfigReader {
  static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");
  static final String NAME_RULE = "1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or digit";
  static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");
  static final Pattern PREFIX = Pattern.compile("[A-Za-z0-9._/-]{0,200}");
  static final Range PART_SIZE = Range.sizes(5 * MiB, 5 * GiB);
  static final Range MAX_ATTEMPTS = Range.integers(1, 20);
  static final Range CALL_TIMEOUT_SECONDS = Range.integers(1, 3600);
  static final Range FRAGMENT_SIZE = Range.sizes(4 * KiB, 64 * MiB).multipleOf(4 * KiB);
  static final Range POLICY_K = Range.integers(1, 32);
  static final Range POLICY_M = Range.integers(0, 16);
  static final Range POLICY_X = Range.integers(1, 48);
  static final Range REPAIR_INTERVAL_SECONDS = Range.integers(10, 86_400);
  static final Range VERIFY_INTERVAL_HOURS = Range.integers(1, 8_760);
  static final int FRAGMENT_SIZE_DEFAULT = 256 * 1024;

  private BackendConfigReader() {}

  static Backend read(Section root, Path dataDir, Path workingDir) throws ConfigException {
    Section b = root.section("backend");
    BackendType type = BackendType.valueOf(
        b.choice("type", "local", names(BackendType.values())).toUpperCase(Locale.ROOT));
    Path dir = b.path("dir", dataDir.resolve("backend"), workingDir);
    S3Settings s3 = null;
    List<Store> stores = List.of();
    Preset preset = null;
    List<Preset> declared = List.of();
    EncryptionKey key = null;
    long repairSeconds = Backend.REPAIR_INTERVAL_SECONDS_DEFAULT;
    long verifyHours = Backend.VERIFY_INTERVAL_HOURS_DEFAULT;
    switch (type) {
      case LOCAL -> onlyFor(b, "local", "s3", "stores", "presets", "preset", "repairIntervalSeconds", "verifyIntervalHours");
      case S3 -> {
        onlyFor(b, "s3", "stores", "presets", "preset", "repairIntervalSeconds", "verifyIntervalHours");
        if (!b.has("s3")) {
          throw new ConfigException(b.keyPath("s3"), b.keyPath("s3")
              + " is missing: backend type s3 needs at least s3.bucket (and s3.endpoint for a service other than AWS)");
        }
        s3 = readS3(b.section("s3"));
      }
      case FRAGMENT -> {
        onlyFor(b, "fragment", "s3");
        stores = readStores(b, workingDir);
        Map<String, PresetAndKey> presets = readPresets(b, workingDir);
        String name = b.name("preset", presets.keySet().iterator().next(), NAME, NAME_RULE);
        PresetAndKey chosen = presets.get(name);
        if (chosen == null) {
          throw b.valueError("preset", com.fasterxml.jackson.databind.node.TextNode.valueOf(name),
              "names no declared preset; declared: " + String.join(", ", presets.keySet()));
        }
        preset = chosen.preset;
        key = chosen.key;
        declared = presets.values().stream().map(p -> p.preset).toList();
        checkStoresHoldAPolicy(b, preset, stores.size());
        repairSeconds = b.integer("repairIntervalSeconds", repairSeconds, REPAIR_INTERVAL_SECONDS);
        verifyHours = b.integer("verifyIntervalHours", verifyHours, VERIFY_INTERVAL_HOURS);
      }
      default -> throw new IllegalStateException(type.toString());
    }
    b.done();
    return new Backend(type, dir, s3, stores, preset, key, repairSeconds, verifyHours, declared);
  }

  /** Keys of other backend types are errors, not silently ignored. */
  private static void onlyFor(Section b, String type, String... otherKeys) throws ConfigException {
    for (String k : otherKeys) {
      if (b.has(k)) {
        throw new ConfigException(b.keyPath(k), b.keyPath(k) + " does not apply to backend type " + type
            + " (s3: needs type s3; stores, presets, preset, repairIntervalSeconds, verifyIntervalHours: type fragment)");
      }
    }
  }

  static S3Settings readS3(Section s) throws ConfigException {
    URI endpoint = null;
    String e = s.optionalText("endpoint", false);
    if (e != null) {
      try {
        endpoint = new URI(e);
      } catch (URISyntaxException ex) {
        endpoint = null;
      }
      if (endpoint == null || endpoint.getHost() == null
          || !("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))) {
        throw new ConfigException(s.keyPath("endpoint"), s.keyPath("endpoint") + " = " + e
            + " is not an http:// or https:// URL with a host (e.g. http://10.0.0.5:9000)");
      }
    }
    String region = s.optionalText("region", false);
    String bucket = s.optionalText("bucket", false);
    if (bucket == null) {
      throw new ConfigException(s.keyPath("bucket"), s.keyPath("bucket") + " is missing: name an existing bucket");
    }
    if (!BUCKET.matcher(bucket).matches()) {
      throw new ConfigException(s.keyPath("bucket"), s.keyPath("bucket") + " = " + bucket
          + " is not a valid bucket name: 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit");
    }
    String prefix = s.optionalText("prefix", false);
    if (prefix != null && !PREFIX.matcher(prefix).matches()) {
      throw new ConfigException(s.keyPath("prefix"), s.keyPath("prefix") + " = " + prefix
          + " may hold only A-Z a-z 0-9 . _ / - (at most 200)");
    }
    boolean pathStyle = s.bool("pathStyle", true);
    String access = s.optionalText("accessKey", false);
    String secret = s.optionalText("secretKey", true);
    if ((access == null) != (secret == null)) {
      String missing = access == null ? "accessKey" : "secretKey";
      throw new ConfigException(s.keyPath(missing), s.keyPath(missing) + " is missing: give accessKey and secretKey"
          + " together, or neither to take the credentials from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
    }
    long part = s.size("partSize", S3Settings.PART_SIZE_DEFAULT, PART_SIZE);
    long threshold = s.size("multipartThreshold", S3Settings.MULTIPART_THRESHOLD_DEFAULT, PART_SIZE);
    if (threshold < part) {
      throw new ConfigException(s.keyPath("multipartThreshold"), s.keyPath("multipartThreshold") + " = "
          + Sizes.format(threshold) + " must be at least partSize = " + Sizes.format(part));
    }
    int attempts = (int) s.integer("maxAttempts", S3Settings.MAX_ATTEMPTS_DEFAULT, MAX_ATTEMPTS);
    long timeout = s.integer("callTimeoutSeconds", S3Settings.CALL_TIMEOUT_DEFAULT.toSeconds(), CALL_TIMEOUT_SECONDS);
    s.done();
    return new S3Settings(endpoint, region == null ? "us-east-1" : region, bucket, prefix == null ? "" : prefix,
        pathStyle, access, secret, threshold, part, attempts, Duration.ofSeconds(timeout));
  }

  private static List<Store> readStores(Section b, Path workingDir) throws ConfigException {
    String example = "{name: ssd0, type: local, dir: /mnt/ssd0/vsa}";
    List<Section> items = b.list("stores", example);
    if (items == null || items.isEmpty()) {
      throw new ConfigException(b.keyPath("stores"), b.keyPath("stores")
          + " is missing: backend type fragment needs a list of stores like " + example);
    }
    List<Store> stores = new ArrayList<>();
    Set<String> names = new HashSet<>();
    for (int i = 0; i < items.size(); i++) {
      Section s = items.get(i);
      String name = s.name("name", "store" + i, NAME, NAME_RULE);
      if (!names.add(name)) {
        throw new ConfigException(s.keyPath("name"), s.keyPath("name") + " = " + name + " is declared twice");
      }
      StoreType t = StoreType.valueOf(s.choice("type", "local", names(StoreType.values())).toUpperCase(Locale.ROOT));
      if (t == StoreType.LOCAL) {
        if (!s.has("dir")) {
          throw new ConfigException(s.keyPath("dir"), s.keyPath("dir") + " is missing: a local store needs a directory");
        }
        if (s.has("s3")) {
          throw new ConfigException(s.keyPath("s3"), s.keyPath("s3") + " does not apply to a store of type local");
        }
        stores.add(new Store(name, t, s.path("dir", Path.of("."), workingDir), null));
      } else {
        if (s.has("dir")) {
          throw new ConfigException(s.keyPath("dir"), s.keyPath("dir") + " does not apply to a store of type s3");
        }
        if (!s.has("s3")) {
          throw new ConfigException(s.keyPath("s3"), s.keyPath("s3") + " is missing: a store of type s3 needs s3.bucket");
        }
        stores.add(new Store(name, t, null, readS3(s.section("s3"))));
      }
      s.done();
    }
    return stores;
  }

  private record PresetAndKey(Preset preset, EncryptionKey key) {}

  private static Map<String, PresetAndKey> readPresets(Section b, Path workingDir) throws ConfigException {
    String example = "{name: default, policies: [{k: 4, m: 2, c: 5, x: 1}], fragmentSize: 256KiB}";
    List<Section> items = b.list("presets", example);
    Map<String, PresetAndKey> out = new LinkedHashMap<>();
    if (items == null) {
      // The default: 2 data + 1 parity on three stores, or one copy + one parity on two.
      out.put("default", new PresetAndKey(new Preset("default",
          List.of(new Policy(2, 1, 3, 1), new Policy(1, 1, 2, 1)), FRAGMENT_SIZE_DEFAULT, Compression.NONE, false), null));
      return out;
    }
    if (items.isEmpty()) {
      throw new ConfigException(b.keyPath("presets"), b.keyPath("presets")
          + " = [] declares no preset; declare one like " + example + ", or remove the key for the default");
    }
    for (Section p : items) {
      String name = p.name("name", "default", NAME, NAME_RULE);
      if (out.containsKey(name)) {
        throw new ConfigException(p.keyPath("name"), p.keyPath("name") + " = " + name + " is declared twice");
      }
      List<Policy> policies = readPolicies(p);
      int fragmentSize = (int) p.size("fragmentSize", FRAGMENT_SIZE_DEFAULT, FRAGMENT_SIZE);
      Compression compression = Compression.parse(p.choice("compression", "none", List.of("none", "lz4", "zstd")));
      boolean encrypted = "aes-256-gcm".equals(p.choice("encryption", "none", List.of("none", "aes-256-gcm")));
      EncryptionKey key = null;
      if (encrypted) {
        if (!p.has("keyFile")) {
          throw new ConfigException(p.keyPath("keyFile"), p.keyPath("keyFile")
              + " is missing: encryption aes-256-gcm needs a key file (32 random bytes, or 64 hex characters;"
              + " e.g. head -c 32 /dev/urandom > backend.key && chmod 600 backend.key)");
        }
        Path file = p.path("keyFile", Path.of("."), workingDir);
        try {
          key = EncryptionKey.load(file);
        } catch (IOException e) {
          throw new ConfigException(p.keyPath("keyFile"), p.keyPath("keyFile") + ": " + e.getMessage());
        }
      } else if (p.has("keyFile")) {
        throw new ConfigException(p.keyPath("keyFile"), p.keyPath("keyFile")
            + " is set but encryption is none; set encryption: aes-256-gcm or remove the key file");
      }
      p.done();
      out.put(name, new PresetAndKey(new Preset(name, policies, fragmentSize, compression, encrypted), key));
    }
    return out;
  }

  private static List<Policy> readPolicies(Section p) throws ConfigException {
    String example = "{k: 4, m: 2, c: 5, x: 1}";
    List<Section> items = p.list("policies", example);
    if (items == null || items.isEmpty()) {
      throw new ConfigException(p.keyPath("policies"), p.keyPath("policies")
          + " is missing: a preset needs an ordered list of policies like [" + example + "] (best first)");
    }
    List<Policy> policies = new ArrayList<>();
    for (Section s : items) {
      int k = (int) s.integer("k", 2, POLICY_K);
      int m = (int) s.integer("m", 1, POLICY_M);
      Range cRange = Range.integers(k, k + m);
      int c = (int) s.integer("c", k + m, cRange);
      int x = (int) s.integer("x", 1, POLICY_X);
      s.done();
      policies.add(new Policy(k, m, c, x));
    }
    return policies;
  }

  private static void checkStoresHoldAPolicy(Section b, Preset preset, int stores) throws ConfigException {
    for (Policy p : preset.policies()) {
      if (stores * p.x() >= p.fragments()) {
        return;
      }
    }
    Policy last = preset.policies().get(preset.policies().size() - 1);
    throw new ConfigException(b.keyPath("stores"), b.keyPath("stores") + " declares " + stores
        + " stores: too few for any policy of preset " + preset.name() + " " + preset.policies() + "; the smallest, "
        + last + ", needs " + last.storesNeeded() + " (k+m fragments, at most x per store)");
  }

  /** The fragment size must leave at least one whole stripe in the smallest SCO. */
  static void checkFragmentSize(Backend backend, long smallestScoBytes, String vpool) throws ConfigException {
    if (backend.preset() == null) {
      return;
    }
    Preset p = backend.preset();
    int k = p.policies().get(0).k();
    long stripe = (long) k * p.fragmentSizeBytes();
    if (stripe > smallestScoBytes) {
      throw new ConfigException("backend.presets", "backend.presets: preset " + p.name() + " has fragmentSize "
          + Sizes.format(p.fragmentSizeBytes()) + " x k = " + k + " = " + Sizes.format(stripe)
          + ", more than the scoSize of vPool " + vpool + " (" + Sizes.format(smallestScoBytes)
          + "); use a fragmentSize of at most " + Sizes.format(smallestScoBytes / k / (4 * KiB) * (4 * KiB)));
    }
  }

  private static List<String> names(Enum<?>[] values) {
    return Arrays.stream(values).map(v -> v.name().toLowerCase(Locale.ROOT)).toList();
  }
}
