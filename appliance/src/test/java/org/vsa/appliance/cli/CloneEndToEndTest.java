package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.DtlProcessTestAccess;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.RawInitiator;

/**
 * End to end: data written over iSCSI to LUN 0; a snapshot and a clone of it made with the CLI;
 * the clone read back over iSCSI as the new LUN 1 and over NFS (libnfs's nfs-cat) as
 * {@code /default/copy.raw}: the same bytes. Then the source is overwritten, the clone flattened
 * with the CLI, the snapshot deleted, and the clone still reads the same over both.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CloneEndToEndTest {
  @TempDir
  Path work;

  static final int BLOCKS = 128; // 64 KiB per WRITE(10)

  @Test
  void aCloneMadeWithTheCliIsANewLunAndANewNfsFileWithTheSnapshotsBytes() throws Exception {
    try (Appliance a = Appliance.start(new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\n"
        + "management: {port: 0}\niscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: [{name: src, size: 8MiB}]\n"
        + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n", "test", ConfigOverrides.none()))) {
      int iscsi = a.iscsi().orElseThrow().localAddress().getPort();
      byte[] disk = new byte[8 << 20];
      new Random(42).nextBytes(disk);
      try (RawInitiator i = new RawInitiator(iscsi)) {
        assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
        for (int lba = 0; lba < disk.length / 512; lba += BLOCKS) {
          byte[] chunk = Arrays.copyOfRange(disk, lba * 512, (lba + BLOCKS) * 512);
          assertEquals(0, i.scsi(0, RawInitiator.write10(lba, BLOCKS, true), chunk, 0).status());
        }
      }
      CliRun snap = CliRun.run(work, "snapshot", "create", "src", "s1", "--data-dir", "data");
      assertEquals(0, snap.exitCode(), snap.err());
      CliRun clone = CliRun.run(work, "clone", "create", "src", "s1", "copy", "--data-dir", "data", "--json");
      assertEquals(0, clone.exitCode(), clone.err());
      assertTrue(clone.out().contains("\"lun\" : 1"), clone.out());

      assertArrayEquals(disk, readLun(iscsi, 1, disk.length), "the clone over iSCSI, LUN 1");
      assertArrayEquals(disk, nfsCat(a, "copy.raw"), "the clone over NFS");

      // the source moves on; the clone is flattened and its snapshot deleted; it reads the same
      try (RawInitiator i = new RawInitiator(iscsi)) {
        assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
        assertEquals(0, i.scsi(0, RawInitiator.write10(0, BLOCKS, true), new byte[BLOCKS * 512], 0).status());
      }
      CliRun flat = CliRun.run(work, "clone", "flatten", "copy", "--data-dir", "data");
      assertEquals(0, flat.exitCode(), flat.err());
      CliRun del = CliRun.run(work, "snapshot", "delete", "src", "s1", "--data-dir", "data");
      assertEquals(0, del.exitCode(), del.err());
      assertArrayEquals(disk, readLun(iscsi, 1, disk.length), "the flattened clone over iSCSI");
      assertArrayEquals(disk, nfsCat(a, "copy.raw"), "the flattened clone over NFS");
    }
  }

  /**
   * NFSv3 has no sessions: a vDisk whose file was read over NFS within the last minute is in use,
   * and the CLI's rollback, template and delete are refused (exit 4) naming NFS; a vDisk of the same
   * appliance that NFS did not touch is rolled back.
   */
  @Test
  void aVdiskReadOverNfsLatelyIsInUse() throws Exception {
    try (Appliance a = Appliance.start(new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\n"
        + "management: {port: 0}\niscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: [{name: used, size: 4MiB}, {name: idle, size: 4MiB}]\n"
        + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n", "test", ConfigOverrides.none()))) {
      for (String v : List.of("used", "idle")) {
        CliRun snap = CliRun.run(work, "snapshot", "create", v, "s1", "--data-dir", "data");
        assertEquals(0, snap.exitCode(), snap.err());
      }
      assertEquals(4 << 20, nfsCat(a, "used.raw").length);

      for (String[] verb : List.of(new String[] {"snapshot", "rollback", "used", "s1"},
          new String[] {"template", "set", "used"}, new String[] {"vdisk", "delete", "used"})) {
        String[] args = Arrays.copyOf(verb, verb.length + 2);
        args[verb.length] = "--data-dir";
        args[verb.length + 1] = "data";
        CliRun refused = CliRun.run(work, args);
        assertEquals(4, refused.exitCode(), String.join(" ", verb) + ": " + refused.out() + refused.err());
        assertTrue(refused.err().contains("is in use: its file was read or written over NFS"), refused.err());
      }
      CliRun idle = CliRun.run(work, "snapshot", "rollback", "idle", "s1", "--data-dir", "data");
      assertEquals(0, idle.exitCode(), idle.err());
      assertEquals(4 << 20, nfsCat(a, "used.raw").length, "the refused delete left the file");
    }
  }

  private static byte[] readLun(int port, int lun, int bytes) throws Exception {
    byte[] out = new byte[bytes];
    try (RawInitiator i = new RawInitiator(port)) {
      assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
      for (int lba = 0; lba < bytes / 512; lba += BLOCKS) {
        RawInitiator.Result r = i.scsi(lun, RawInitiator.read10(lba, BLOCKS), null, BLOCKS * 512);
        assertEquals(0, r.status(), "READ(10) of LUN " + lun + " at LBA " + lba);
        System.arraycopy(r.data(), 0, out, lba * 512, BLOCKS * 512);
      }
    }
    return out;
  }

  private byte[] nfsCat(Appliance a, String file) throws Exception {
    int nfs = a.nfs().orElseThrow().localAddress().getPort();
    int mount = a.nfs().orElseThrow().mountAddress().getPort();
    String url = "nfs://127.0.0.1/default/" + file + "?nfsport=" + nfs + "&mountport=" + mount + "&version=3";
    if (!Files.isExecutable(Path.of("/usr/bin/nfs-cat"))) {
      fail("nfs-cat is not installed: run ./test.sh (apt-get install -y libnfs-utils)");
    }
    Path out = Files.createTempFile(work, "nfs-cat", ".out");
    Process p = new ProcessBuilder(List.of("nfs-cat", url)).redirectOutput(out.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("nfs-cat did not finish in 120 s");
    }
    assertEquals(0, p.exitValue(), "nfs-cat " + url);
    return Files.readAllBytes(out);
  }
}
