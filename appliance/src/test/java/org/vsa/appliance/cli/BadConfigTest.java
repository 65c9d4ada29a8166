package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.vsa.appliance.config.ConfigException;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;

/**
 * Every bad config gives exit status 2 and one line on stderr naming the key path, the value and
 * what is allowed, through the real command line ({@code vsa serve --config FILE}), before
 * anything is created on disk; {@code vsa config check FILE} refuses it with the same line.
 */
class BadConfigTest {

  @TempDir
  Path work;

  /** A bad config: its YAML, the key path it must name (empty: about the file), fragments the message must contain. */
  record Bad(String name, String yaml, String keyPath, List<String> fragments) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Bad bad(String name, String yaml, String keyPath, String... fragments) {
    return new Bad(name, yaml, keyPath, List.of(fragments));
  }

  static Stream<Bad> badConfigs() {
    return Stream.of(
        // Sizes out of range, with the range in the message.
        bad("write buffer too small", "writeBuffer:\n  capacity: 10MiB\n", "writeBuffer.capacity",
            "writeBuffer.capacity = 10MiB is out of range [64MiB, 64TiB]"),
        bad("write buffer too large", "writeBuffer: {capacity: 65TiB}", "writeBuffer.capacity",
            "writeBuffer.capacity = 65TiB is out of range [64MiB, 64TiB]"),
        bad("write buffer negative", "writeBuffer: {capacity: -1}", "writeBuffer.capacity",
            "writeBuffer.capacity = -1 is out of range [64MiB, 64TiB]"),
        bad("write buffer huge integer", "writeBuffer: {capacity: 99999999999999999999999}", "writeBuffer.capacity",
            "writeBuffer.capacity = 99999999999999999999999 is out of range [64MiB, 64TiB]"),
        bad("write buffer below 2 SCOs", "writeBuffer: {capacity: 64MiB}\nvpools: [{name: a, scoSize: 4MiB}, {name: b, scoSize: 64MiB}]",
            "writeBuffer.capacity",
            "writeBuffer.capacity = 64MiB is too small", "2 x the largest scoSize", "vPool b: 64MiB", ">= 128MiB"),
        bad("read cache too small", "readCache: {capacity: 1MiB}", "readCache.capacity",
            "readCache.capacity = 1MiB is out of range: allowed are 0 (disabled) or [16MiB, 16TiB]"),
        bad("read cache too large", "readCache: {capacity: 17TiB}", "readCache.capacity",
            "readCache.capacity = 17TiB is out of range", "[16MiB, 16TiB]"),
        bad("metadata cache too small", "metadata: {cacheSize: 512KiB}", "metadata.cacheSize",
            "metadata.cacheSize = 512KiB is out of range [1MiB, 64GiB]"),
        bad("group commit wait too long", "groupCommit: {maxWaitMicros: 100001}", "groupCommit.maxWaitMicros",
            "groupCommit.maxWaitMicros = 100001 is out of range [0, 100000]"),
        bad("group commit wait negative", "groupCommit: {maxWaitMicros: -5}", "groupCommit.maxWaitMicros",
            "groupCommit.maxWaitMicros = -5 is out of range [0, 100000]"),
        bad("group commit bytes too small", "groupCommit: {maxBytes: 2KiB}", "groupCommit.maxBytes",
            "groupCommit.maxBytes = 2KiB is out of range [4KiB, 1GiB]"),
        bad("no upload threads", "upload: {threads: 0}", "upload.threads",
            "upload.threads = 0 is out of range [1, 64]"),
        bad("too many upload threads", "upload: {threads: 65}", "upload.threads",
            "upload.threads = 65 is out of range [1, 64]"),
        bad("SCO too small", "vpools: [{name: p, scoSize: 3MiB}]", "vpools[0].scoSize",
            "vpools[0].scoSize = 3MiB is out of range: it must be a multiple of 4KiB in [4MiB, 128MiB]"),
        bad("SCO too large", "vpools: [{name: p, scoSize: 256MiB}]", "vpools[0].scoSize",
            "vpools[0].scoSize = 256MiB is out of range", "a multiple of 4KiB in [4MiB, 128MiB]"),
        bad("SCO not a multiple of 4KiB", "vpools: [{name: p, scoSize: 4194816}]", "vpools[0].scoSize",
            "vpools[0].scoSize = 4194816 is not a multiple of 4KiB in [4MiB, 128MiB]"),
        bad("vDisk too small", "vdisks: [{name: d, size: 512KiB}]", "vdisks[0].size",
            "vdisks[0].size = 512KiB is out of range", "a multiple of 4KiB in [1MiB, 64TiB]"),
        bad("vDisk too large", "vdisks: [{name: d, size: 65TiB}]", "vdisks[0].size",
            "vdisks[0].size = 65TiB is out of range", "[1MiB, 64TiB]"),
        bad("vDisk size not a multiple of 4KiB", "vdisks: [{name: d, size: 1000000000}]", "vdisks[0].size",
            "vdisks[0].size = 1000000000 is not a multiple of 4KiB in [1MiB, 64TiB]"),
        bad("vDisk DTL mode", "vdisks: [{name: d, dtlMode: fast}]", "vdisks[0].dtlMode",
            "vdisks[0].dtlMode = fast is not allowed; allowed values: none, async, sync"),
        bad("vDisk read-cache quota too small", "vdisks: [{name: d, readCacheQuota: 1MiB}]", "vdisks[0].readCacheQuota",
            "vdisks[0].readCacheQuota = 1MiB is out of range", "0 (disabled) or", "[16MiB, 16TiB]"),
        bad("vDisk dedupe not a boolean", "vdisks: [{name: d, dedupe: yes please}]", "vdisks[0].dedupe",
            "vdisks[0].dedupe = \"yes please\" is not allowed; allowed values: true, false"),
        bad("vDisk SCO size", "vdisks: [{name: d, scoSize: 3MiB}]", "vdisks[0].scoSize",
            "vdisks[0].scoSize = 3MiB", "a multiple of 4KiB in [4MiB, 128MiB]"),
        bad("snapshot interval unit", "snapshots: {every: 1 hour}", "snapshots.every",
            "snapshots.every = \"1 hour\" is not a duration", "m (minutes), h, d or w"),
        bad("snapshot retention empty", "snapshots: {retention: []}", "snapshots.retention",
            "snapshots.retention = [] keeps nothing"),
        bad("snapshot retention tier shorter than its step", "snapshots: {retention: [{every: 1d, for: 1h}]}",
            "snapshots.retention[0].for", "must be at least snapshots.retention[0].every"),
        bad("snapshot retention tiers out of order",
            "snapshots: {retention: [{every: 1h, for: 7d}, {every: 1d, for: 2d}]}",
            "snapshots.retention[1].for", "must be longer than the previous tier's"),
        bad("snapshot schedule of an unknown vPool", "snapshots: {vpool: nope}", "snapshots.vpool",
            "snapshots.vpool = nope is not a declared vPool"),
        bad("scrub fill ratio", "scrub: {fillPercent: 150}", "scrub.fillPercent",
            "scrub.fillPercent = 150 is out of range [0, 100]"),
        bad("scrub rate too low", "scrub: {rate: 1KiB}", "scrub.rate", "scrub.rate = 1KiB is out of range"),
        bad("scrub unknown key", "scrub: {fillRatio: 0.5}", "scrub.fillRatio", "fillRatio"),
        bad("vDisk block size", "vdisks: [{name: d, blockSize: 1024}]", "vdisks[0].blockSize",
            "vdisks[0].blockSize = 1024 is not allowed; allowed values: 512, 4096"),
        bad("vDisk block size as text", "vdisks: [{name: d, blockSize: 4k}]", "vdisks[0].blockSize",
            "vdisks[0].blockSize = 4k is not allowed; allowed values: 512, 4096"),

        // Values that are not what the key takes.
        bad("size with an unknown unit", "writeBuffer: {capacity: 8 gigs}", "writeBuffer.capacity",
            "writeBuffer.capacity = \"8 gigs\" has an unknown unit 'gigs'", "KiB, MiB, GiB, TiB"),
        bad("size that is words", "metadata: {cacheSize: lots}", "metadata.cacheSize",
            "metadata.cacheSize = lots is not a size", "KiB, MiB, GiB, TiB"),
        bad("fractional bytes", "groupCommit: {maxBytes: 4096.5}", "groupCommit.maxBytes",
            "groupCommit.maxBytes = 4096.5 is not a whole number of bytes", "[4KiB, 1GiB]"),
        bad("size that is a list", "writeBuffer: {capacity: [1, 2]}", "writeBuffer.capacity",
            "writeBuffer.capacity must be a size like 8GiB, not a list"),
        bad("size with no value", "writeBuffer:\n  capacity:\n", "writeBuffer.capacity",
            "writeBuffer.capacity has no value", "remove the key for the default"),
        bad("integer as text", "upload: {threads: \"2\"}", "upload.threads",
            "upload.threads = \"2\" is not an integer; allowed: [1, 64]"),
        bad("integer as fraction", "upload: {threads: 2.5}", "upload.threads",
            "upload.threads = 2.5 is not an integer; allowed: [1, 64]"),
        bad("integer as words", "groupCommit: {maxWaitMicros: soon}", "groupCommit.maxWaitMicros",
            "groupCommit.maxWaitMicros = soon is not an integer; allowed: [0, 100000]"),
        bad("section that is a list", "writeBuffer: [8GiB]", "writeBuffer",
            "writeBuffer must be a map of keys, not a list"),
        bad("section that is text", "node: storage-1", "node",
            "node must be a map of keys, not text storage-1"),
        bad("list that is a map", "vpools: {name: default}", "vpools",
            "vpools must be a list of maps like {name: default, scoSize: 64MiB, cachePolicy: on-read}, not a map"),
        bad("list entry that is text", "vpools: [default]", "vpools[0]",
            "vpools[0] = default must be a map like {name: default"),
        bad("path that is a map", "metadata: {dir: {a: b}}", "metadata.dir",
            "metadata.dir must be a path, not a map"),
        bad("empty path", "node: {dataDir: ''}", "node.dataDir",
            "node.dataDir = \"\" must not be empty"),
        bad("name that is a list", "node: {name: [a]}", "node.name", "node.name must be a single value like ", "not a list"),
        bad("cache policy", "vpools: [{name: p, cachePolicy: always}]", "vpools[0].cachePolicy",
            "vpools[0].cachePolicy = always is not allowed; allowed values: on-read, on-write, none"),
        bad("backend type", "backend: {type: swift}", "backend.type",
            "backend.type = swift is not allowed; allowed values: local, s3, fragment"),

        // Backends: S3.
        bad("S3 without its section", "backend: {type: s3}", "backend.s3", "backend.s3 is missing", "s3.bucket"),
        bad("S3 without a bucket", "backend: {type: s3, s3: {endpoint: 'http://127.0.0.1:9000'}}", "backend.s3.bucket",
            "backend.s3.bucket is missing"),
        bad("S3 bad bucket name", "backend: {type: s3, s3: {bucket: My_Bucket}}", "backend.s3.bucket",
            "backend.s3.bucket = My_Bucket is not a valid bucket name"),
        bad("S3 endpoint not a URL", "backend: {type: s3, s3: {bucket: vsa, endpoint: 'ftp://x'}}", "backend.s3.endpoint",
            "backend.s3.endpoint = ftp://x is not an http:// or https:// URL"),
        bad("S3 access key without secret", "backend: {type: s3, s3: {bucket: vsa, accessKey: AKIA1}}",
            "backend.s3.secretKey", "backend.s3.secretKey is missing", "AWS_ACCESS_KEY_ID"),
        bad("S3 secret without access key", "backend: {type: s3, s3: {bucket: vsa, secretKey: topsecret-123456}}",
            "backend.s3.accessKey", "backend.s3.accessKey is missing"),
        bad("S3 secret that is a list", "backend: {type: s3, s3: {bucket: vsa, accessKey: a, secretKey: [topsecret]}}",
            "backend.s3.secretKey", "backend.s3.secretKey must be non-empty text"),
        bad("S3 part size too small", "backend: {type: s3, s3: {bucket: vsa, partSize: 1MiB}}", "backend.s3.partSize",
            "backend.s3.partSize = 1MiB is out of range [5MiB, 5GiB]"),
        bad("S3 threshold below the part size", "backend: {type: s3, s3: {bucket: vsa, partSize: 64MiB}}",
            "backend.s3.multipartThreshold", "must be at least partSize = 64MiB"),
        bad("S3 retries", "backend: {type: s3, s3: {bucket: vsa, maxAttempts: 0}}", "backend.s3.maxAttempts",
            "backend.s3.maxAttempts = 0 is out of range [1, 20]"),
        bad("S3 settings on a local backend", "backend: {s3: {bucket: vsa}}", "backend.s3",
            "backend.s3 does not apply to backend type local"),
        bad("unknown S3 key", "backend: {type: s3, s3: {bucket: vsa, pathstyle: true}}", "backend.s3.pathstyle",
            "did you mean pathStyle?"),

        // Backends: fragments, presets and policies.
        bad("fragment without stores", "backend: {type: fragment}", "backend.stores",
            "backend.stores is missing", "{name: ssd0, type: local, dir: /mnt/ssd0/vsa}"),
        bad("local store without a directory", "backend: {type: fragment, stores: [{name: a}]}", "backend.stores[0].dir",
            "backend.stores[0].dir is missing"),
        bad("S3 store without a bucket", "backend: {type: fragment, stores: [{name: a, type: s3, s3: {region: x}}]}",
            "backend.stores[0].s3.bucket", "is missing"),
        bad("store named twice", "backend: {type: fragment, stores: [{name: a, dir: /x/a}, {name: a, dir: /x/b}]}",
            "backend.stores[1].name", "backend.stores[1].name = a is declared twice"),
        bad("stores on a local backend", "backend: {stores: [{name: a, dir: /x/a}]}", "backend.stores",
            "backend.stores does not apply to backend type local"),
        bad("policy k zero", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 0, m: 1}]}]", "backend.presets[0].policies[0].k",
            "backend.presets[0].policies[0].k = 0 is out of range [1, 32]"),
        bad("policy m negative", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: -1}]}]", "backend.presets[0].policies[0].m",
            "backend.presets[0].policies[0].m = -1 is out of range [0, 16]"),
        bad("policy c above k+m", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1, c: 4}]}]",
            "backend.presets[0].policies[0].c", "backend.presets[0].policies[0].c = 4 is out of range [2, 3]"),
        bad("policy c below k", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1, c: 1}]}]",
            "backend.presets[0].policies[0].c", "backend.presets[0].policies[0].c = 1 is out of range [2, 3]"),
        bad("policy x zero", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1, x: 0}]}]",
            "backend.presets[0].policies[0].x", "backend.presets[0].policies[0].x = 0 is out of range [1, 48]"),
        bad("preset without policies", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p}]", "backend.presets[0].policies",
            "backend.presets[0].policies is missing", "best first"),
        bad("too few stores for every policy", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 4, m: 2}, {k: 2, m: 2}]}]",
            "backend.stores", "backend.stores declares 3 stores: too few for any policy of preset p", "needs 4"),
        bad("fragment size not a multiple of 4KiB", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], fragmentSize: 5000}]",
            "backend.presets[0].fragmentSize", "is not a multiple of 4KiB in [4KiB, 64MiB]"),
        bad("fragment size larger than a SCO allows",
            "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], fragmentSize: 4MiB}]\nvpools: [{name: small, scoSize: 4MiB}]",
            "backend.presets", "fragmentSize 4MiB x k = 2 = 8MiB, more than the scoSize of vPool small (4MiB)",
            "at most 2MiB"),
        bad("compression", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], compression: gzip}]",
            "backend.presets[0].compression", "allowed values: none, lz4, zstd"),
        bad("encryption", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], encryption: aes-128}]",
            "backend.presets[0].encryption", "allowed values: none, aes-256-gcm"),
        bad("encryption without a key file", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], encryption: aes-256-gcm}]",
            "backend.presets[0].keyFile", "backend.presets[0].keyFile is missing", "head -c 32 /dev/urandom"),
        bad("key file that does not exist",
            "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], encryption: aes-256-gcm, keyFile: none.key}]",
            "backend.presets[0].keyFile", "none.key does not exist"),
        bad("key file without encryption", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}], keyFile: a.key}]",
            "backend.presets[0].keyFile", "is set but encryption is none"),
        bad("preset that is not declared", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  preset: fast\n  presets: [{name: slow, policies: [{k: 2, m: 1}]}]",
            "backend.preset", "backend.preset = fast names no declared preset; declared: slow"),
        bad("preset named twice", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1}]}, {name: p, policies: [{k: 1, m: 1}]}]",
            "backend.presets[1].name", "is declared twice"),
        bad("store directory inside the write buffer",
            "writeBuffer: {dir: /x/wb}\nbackend: {type: fragment, stores: [{name: a, dir: /x/wb/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]}",
            "backend.stores[0].dir", "backend.stores[0].dir = /x/wb/a is inside writeBuffer.dir = /x/wb"),
        bad("policy unknown key", "backend:\n  type: fragment\n  stores: [{name: a, dir: /x/a}, {name: b, dir: /x/b}, {name: c, dir: /x/c}]\n  presets: [{name: p, policies: [{k: 2, m: 1, n: 3}]}]",
            "backend.presets[0].policies[0].n", "is not a known key", "k, m, c, x"),
        bad("bind address host name", "node: {bindAddress: localhost}", "node.bindAddress",
            "node.bindAddress = localhost is not an IP address literal"),
        bad("bind address bad octet", "node: {bindAddress: 256.1.1.1}", "node.bindAddress",
            "node.bindAddress = 256.1.1.1 is not an IP address literal"),
        bad("bind address short form", "node: {bindAddress: 127.1}", "node.bindAddress",
            "node.bindAddress = 127.1 is not an IP address literal"),
        bad("bind address bad IPv6", "node: {bindAddress: '1:2:3:4:5:6:7:8:9'}", "node.bindAddress",
            "node.bindAddress = 1:2:3:4:5:6:7:8:9 is not an IP address literal"),
        bad("node name", "node: {name: -storage}", "node.name",
            "node.name = -storage is not a valid name"),
        bad("vDisk name with a space", "vdisks: [{name: my disk}]", "vdisks[0].name",
            "vdisks[0].name = \"my disk\" is not a valid name"),

        // Names that clash or point nowhere.
        bad("no vPool", "vpools: []", "vpools", "vpools = [] declares no vPool"),
        bad("duplicate vPool", "vpools: [{name: a}, {name: b}, {name: a}]", "vpools[2].name",
            "vpools[2].name = a is a duplicate: vpools[0].name has the same name"),
        bad("duplicate vDisk", "vdisks: [{name: d}, {name: d, size: 2GiB}]", "vdisks[1].name",
            "vdisks[1].name = d is a duplicate: vdisks[0].name has the same name"),
        bad("undeclared vPool", "vpools: [{name: fast}]\nvdisks: [{name: d, vpool: slow}]", "vdisks[0].vpool",
            "vdisks[0].vpool = slow is not a declared vPool; declared vPools: fast"),
        bad("vDisk in the default vPool when it is not declared", "vpools: [{name: fast}]\nvdisks: [{name: d}]",
            "vdisks[0].vpool", "vdisks[0].vpool = default is not a declared vPool; declared vPools: fast"),
        bad("same directory twice", "writeBuffer: {dir: /x/a}\nmetadata: {dir: /x/a}", "metadata.dir",
            "metadata.dir = /x/a is the same place as writeBuffer.dir"),
        bad("nested directories", "writeBuffer: {dir: /x/wb}\nbackend: {dir: /x/wb/backend}", "backend.dir",
            "backend.dir = /x/wb/backend is inside writeBuffer.dir = /x/wb"),
        bad("directory is the data dir", "node: {dataDir: /x}\nbackend: {dir: /x}", "backend.dir",
            "backend.dir = /x must not be node.dataDir itself"),

        // Unknown keys, with the known ones.
        bad("typo in a key", "writeBuffer:\n  capcity: 8GiB\n", "writeBuffer.capcity",
            "writeBuffer.capcity is not a known key (did you mean capacity?); known keys in writeBuffer: dir, capacity"),
        bad("wrong case in a section", "writebuffer: {capacity: 8GiB}", "writebuffer",
            "writebuffer is not a known key (did you mean writeBuffer?); known top-level keys: node, writeBuffer,"
                + " readCache, metadata, backend, groupCommit, upload, vpools, vdisks, iscsi, nfs"),
        bad("snake case", "readCache: {capacity: 1GiB}\nmetadata: {cache_size: 1GiB}", "metadata.cache_size",
            "metadata.cache_size is not a known key", "known keys in metadata: dir, cacheSize"),
        bad("unknown section", "dtlserver: {port: 26203}", "dtlserver",
            "dtlserver is not a known key; known top-level keys: node,"),

        // iSCSI.
        bad("iSCSI port out of range", "iscsi: {port: 70000}", "iscsi.port",
            "iscsi.port = 70000 is out of range [0, 65535]"),
        bad("iSCSI enabled not a boolean", "iscsi: {enabled: yes please}", "iscsi.enabled",
            "allowed values: true, false"),
        bad("iSCSI target name", "iscsi: {targets: [{iqn: 'my target'}]}", "iscsi.targets[0].iqn",
            "is not a valid name: iqn.YYYY-MM"),
        bad("iSCSI duplicate target", "iscsi: {targets: [{iqn: iqn.2026-11.org.x:a}, {iqn: iqn.2026-11.org.x:a}]}",
            "iscsi.targets[1].iqn", "is a duplicate: iscsi.targets[0].iqn"),
        bad("iSCSI LUN out of range", "iscsi: {targets: [{iqn: iqn.2026-11.org.x:a, luns: [{lun: 16384, vdisk: d}]}]}",
            "iscsi.targets[0].luns[0].lun", "is out of range [0, 16383]"),
        bad("iSCSI LUN twice", "iscsi: {targets: [{iqn: iqn.2026-11.org.x:a, luns: [{lun: 1, vdisk: d}, {lun: 1, vdisk: e}]}]}",
            "iscsi.targets[0].luns[1].lun", "is used twice"),
        bad("iSCSI short CHAP secret", "iscsi: {targets: [{iqn: iqn.2026-11.org.x:a, chap: {user: u, secret: short}}]}",
            "iscsi.targets[0].chap.secret", "12 to 255 printable characters"),
        bad("iSCSI mutual CHAP without CHAP",
            "iscsi: {targets: [{iqn: iqn.2026-11.org.x:a, mutualChap: {user: t, secret: abcdefghijklm}}]}",
            "iscsi.targets[0].mutualChap", "needs iscsi.targets[0].chap"),
        bad("NFS port out of range", "nfs: {mountPort: -1}", "nfs.mountPort", "is out of range [0, 65535]"),
        bad("NFS portmap mode", "nfs: {portmap: rpcbind}", "nfs.portmap",
            "allowed values: register-or-embed, none"),
        bad("NFS export of an undeclared vPool", "nfs: {exports: [{vpool: fast, clients: [{host: '*'}]}]}",
            "nfs.exports[0].vpool", "is not a declared vPool"),
        bad("NFS export without clients", "nfs: {exports: [{vpool: default}]}", "nfs.exports[0].clients",
            "must list at least one client rule"),
        bad("NFS bad squash", "nfs: {exports: [{vpool: default, clients: [{host: '*', squash: squash_all}]}]}",
            "nfs.exports[0].clients[0].squash", "allowed values: root_squash, no_root_squash, all_squash"),
        bad("NFS bad CIDR", "nfs: {exports: [{vpool: default, clients: [{host: 10.0.0.0/40}]}]}",
            "nfs.exports[0].clients[0].host", "bad CIDR"),
        bad("NFS relative export path", "nfs: {exports: [{vpool: default, path: default, clients: [{host: '*'}]}]}",
            "nfs.exports[0].path", "an absolute path"),
        bad("iSCSI unknown key", "iscsi: {porrt: 3260}", "iscsi.porrt", "did you mean port?"),
        bad("unknown key in a list entry", "vpools: [{name: p, scosize: 8MiB}]", "vpools[0].scosize",
            "vpools[0].scosize is not a known key (did you mean scoSize?); known keys in vpools[0]: name, scoSize, cachePolicy"),
        bad("unknown key in a vDisk", "vdisks: [{name: d, sise: 2GiB}]", "vdisks[0].sise",
            "vdisks[0].sise is not a known key (did you mean size?); known keys in vdisks[0]: name, vpool, size, blockSize"),

        // The file as a whole.
        bad("YAML syntax", "node:\n  name: a\n bad indentation: [\n", "",
            "YAML error at line 3", "vsa.yaml"),
        bad("duplicate YAML key", "upload:\n  threads: 2\n  threads: 3\n", "",
            "YAML error at line 3", "threads"),
        bad("top level is a list", "- node\n- writeBuffer\n", "",
            "the top level must be a map of sections (node:, writeBuffer:, ...), not a list"),
        bad("top level is text", "hello", "", "the top level must be a map of sections", "not the value hello"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badConfigs")
  // a config wrongly accepted would start the appliance and block: fail instead of hanging the build
  @org.junit.jupiter.api.Timeout(value = 60, threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
  void isRefusedWithExitTwoAndOneLineNamingKeyAndAllowedValues(Bad bad) throws Exception {
    Path file = work.resolve("vsa.yaml");
    Files.writeString(file, bad.yaml());

    CliRun run = CliRun.run(work, "serve", "--config", "vsa.yaml");

    assertEquals(2, run.exitCode(), run.err());
    String line = run.oneErrLine();
    assertTrue(line.startsWith("config error: " + bad.keyPath()), line);
    for (String fragment : bad.fragments()) {
      assertTrue(line.contains(fragment), "missing '" + fragment + "' in: " + line);
    }
    assertEquals("", run.out());
    assertFalse(line.contains("topsecret"), "a secret is never shown: " + line);
    assertFalse(Files.exists(work.resolve("vsa-data")), "nothing is created for a bad config");

    ConfigException e = assertThrows(ConfigException.class,
        () -> new ConfigLoader(work).load(file, ConfigOverrides.none()));
    assertEquals(bad.keyPath().isEmpty() ? Optional.empty() : Optional.of(bad.keyPath()), e.keyPath());
    assertEquals(line, "config error: " + e.getMessage());

    CliRun check = CliRun.run(work, "config", "check", "vsa.yaml");
    assertEquals(2, check.exitCode(), check.err());
    assertEquals(line, check.oneErrLine(), "'vsa config check' refuses what 'vsa serve' refuses, in the same words");
    assertEquals("", check.out());
  }
}
