package org.vsa.appliance.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
 * A vDisk whose metadata cannot be read at start goes offline; the appliance starts and serves the
 * other one over iSCSI and NFS. The CLI lists it as offline with the reason; its LUN is there and
 * answers NOT READY, its NFS file is there and fails its reads; `vsa vdisk open` refuses (exit 4)
 * while the cause is there, and once it is fixed brings the vDisk online without a restart: the
 * iSCSI session that was logged in all along and NFS read back what was written before.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class OfflineVdiskEndToEndTest {
  @TempDir
  Path work;

  static final int BLOCKS = 128; // 64 KiB per WRITE(10)
  static final int BYTES = 4 << 20;

  private Appliance start() throws Exception {
    return Appliance.start(new ConfigLoader(work).parse("node: {dataDir: data}\ndtl: {port: 0}\n"
        + "management: {port: 0}\niscsi: {port: 0}\nnfs: {port: 0, mountPort: 0, portmap: none}\n"
        + "vpools: [{name: default, scoSize: 4MiB}]\nvdisks: [{name: good, size: 4MiB}, {name: bad, size: 4MiB}]\n"
        + "writeBuffer: {capacity: 256MiB}\nreadCache: {capacity: 16MiB}\n", "test", ConfigOverrides.none()));
  }

  @Test
  void anOfflineVdiskIsListedRefusesIoAndComesBackWithVsaVdiskOpen() throws Exception {
    byte[] good = new byte[BYTES];
    byte[] bad = new byte[BYTES];
    new Random(1).nextBytes(good);
    new Random(2).nextBytes(bad);
    try (Appliance a = start()) {
      int iscsi = a.iscsi().orElseThrow().localAddress().getPort();
      writeLun(iscsi, 0, good);
      writeLun(iscsi, 1, bad);
    }
    Path checkpoint = work.resolve("data").resolve("metadata").resolve("bad").resolve("checkpoint");
    byte[] intact = Files.readAllBytes(checkpoint);
    byte[] corrupt = intact.clone();
    corrupt[corrupt.length / 2] ^= 0x5a;
    Files.write(checkpoint, corrupt);

    try (Appliance a = start()) {
      int iscsi = a.iscsi().orElseThrow().localAddress().getPort();
      // the list shows the state and the reason
      CliRun list = CliRun.run(work, "vdisk", "list", "--data-dir", "data");
      assertEquals(0, list.exitCode(), list.err());
      String badRow = list.out().lines().filter(l -> l.startsWith("bad ")).findFirst().orElseThrow();
      assertTrue(badRow.contains("offline"), list.out());
      assertTrue(list.out().lines().anyMatch(l -> l.startsWith("good ") && l.contains("online")), list.out());
      assertTrue(list.out().contains("offline bad: vDisk bad could not be opened:") && list.out().contains("checkpoint"),
          list.out());
      CliRun json = CliRun.run(work, "vdisk", "show", "bad", "--data-dir", "data", "--json");
      assertEquals(0, json.exitCode(), json.err());
      assertTrue(json.out().contains("\"state\" : \"offline\"") && json.out().contains("\"reason\" : \"vDisk bad"),
          json.out());

      // the healthy vDisk serves over both front ends
      assertArrayEquals(good, readLun(iscsi, 0), "the healthy vDisk over iSCSI");
      assertArrayEquals(good, nfsCat(a, "good.raw", 0), "the healthy vDisk over NFS");

      try (RawInitiator session = new RawInitiator(iscsi)) {
        assertEquals(0, session.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
        // the offline LUN is there and not ready
        RawInitiator.Result r = session.scsi(1, RawInitiator.read10(0, BLOCKS), null, BLOCKS * 512);
        if (r.status() == 2 && (r.sense()[2] & 0x0f) == 6) {
          r = session.scsi(1, RawInitiator.read10(0, BLOCKS), null, BLOCKS * 512); // a unit attention first
        }
        assertEquals(2, r.status(), "CHECK CONDITION");
        assertEquals(2, r.sense()[2] & 0x0f, "NOT READY");
        assertEquals(0x04, r.sense()[12] & 0xff, "LOGICAL UNIT NOT READY");
        assertEquals(2, session.scsi(1, RawInitiator.write10(0, BLOCKS, true), new byte[BLOCKS * 512], 0).status());
        // its NFS file is there (not forgotten as a deleted vDisk's) and fails its reads with an I/O error
        String listing = nfsTool(a, "nfs-ls", "").out;
        assertTrue(listing.contains("bad.raw") && listing.contains("good.raw"), listing);
        Run cat = nfsTool(a, "nfs-cat", "bad.raw");
        assertNotEquals(0, cat.exit, "reading the offline vDisk's file over NFS must fail");
        assertTrue(cat.err.contains("Failed to read"), "the file opens (LOOKUP) and its READ fails: " + cat.err);

        // refused while the cause is there
        CliRun refused = CliRun.run(work, "vdisk", "open", "bad", "--data-dir", "data");
        assertEquals(4, refused.exitCode(), refused.out() + refused.err());
        assertTrue(refused.err().contains("stays offline") && refused.err().contains("checkpoint"), refused.err());
        CliRun snap = CliRun.run(work, "snapshot", "create", "bad", "s1", "--data-dir", "data");
        assertEquals(4, snap.exitCode(), snap.err());
        assertTrue(snap.err().contains("offline"), snap.err());
        CliRun delete = CliRun.run(work, "vdisk", "delete", "bad", "--data-dir", "data");
        assertEquals(4, delete.exitCode(), delete.err());
        assertTrue(delete.err().contains("offline"), delete.err());
        assertEquals(3, CliRun.run(work, "vdisk", "open", "nosuch", "--data-dir", "data").exitCode());
        assertEquals(0, CliRun.run(work, "vdisk", "open", "good", "--data-dir", "data").exitCode(), "online: a no-op");

        // fixed: it comes online without a restart, and the session logged in all along reads it
        Files.write(checkpoint, intact);
        CliRun open = CliRun.run(work, "vdisk", "open", "bad", "--data-dir", "data");
        assertEquals(0, open.exitCode(), open.err());
        assertTrue(open.out().contains("vDisk bad is online"), open.out());
        byte[] back = new byte[BYTES];
        for (int lba = 0; lba < BYTES / 512; lba += BLOCKS) {
          RawInitiator.Result rr = session.scsi(1, RawInitiator.read10(lba, BLOCKS), null, BLOCKS * 512);
          assertEquals(0, rr.status(), "READ(10) of LUN 1 at LBA " + lba + " once online");
          System.arraycopy(rr.data(), 0, back, lba * 512, BLOCKS * 512);
        }
        assertArrayEquals(bad, back, "the vDisk over the iSCSI session held while it was offline");
      }
      assertArrayEquals(bad, nfsCat(a, "bad.raw", 0), "the vDisk over NFS once online");
      CliRun after = CliRun.run(work, "vdisk", "list", "--data-dir", "data");
      assertTrue(after.out().lines().anyMatch(l -> l.startsWith("bad ") && l.contains("online")), after.out());
    }
  }

  private static void writeLun(int port, int lun, byte[] disk) throws Exception {
    try (RawInitiator i = new RawInitiator(port)) {
      assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
      for (int lba = 0; lba < disk.length / 512; lba += BLOCKS) {
        byte[] chunk = Arrays.copyOfRange(disk, lba * 512, (lba + BLOCKS) * 512);
        assertEquals(0, i.scsi(lun, RawInitiator.write10(lba, BLOCKS, true), chunk, 0).status());
      }
    }
  }

  private static byte[] readLun(int port, int lun) throws Exception {
    byte[] out = new byte[BYTES];
    try (RawInitiator i = new RawInitiator(port)) {
      assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, DtlProcessTestAccess.ops()).u8(36));
      for (int lba = 0; lba < BYTES / 512; lba += BLOCKS) {
        RawInitiator.Result r = i.scsi(lun, RawInitiator.read10(lba, BLOCKS), null, BLOCKS * 512);
        assertEquals(0, r.status(), "READ(10) of LUN " + lun + " at LBA " + lba);
        System.arraycopy(r.data(), 0, out, lba * 512, BLOCKS * 512);
      }
    }
    return out;
  }

  private Process nfsCatProcess(Appliance a, String file, Path out) throws Exception {
    int nfs = a.nfs().orElseThrow().localAddress().getPort();
    int mount = a.nfs().orElseThrow().mountAddress().getPort();
    String url = "nfs://127.0.0.1/default/" + file + "?nfsport=" + nfs + "&mountport=" + mount + "&version=3";
    if (!Files.isExecutable(Path.of("/usr/bin/nfs-cat"))) {
      fail("nfs-cat is not installed: run ./test.sh (apt-get install -y libnfs-utils)");
    }
    Process p = new ProcessBuilder(List.of("nfs-cat", url)).redirectOutput(out.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail("nfs-cat did not finish in 120 s");
    }
    return p;
  }

  private byte[] nfsCat(Appliance a, String file, int exit) throws Exception {
    Path out = Files.createTempFile(work, "nfs-cat", ".out");
    assertEquals(exit, nfsCatProcess(a, file, out).exitValue(), "nfs-cat " + file);
    return Files.readAllBytes(out);
  }

  private record Run(int exit, String out, String err) {}

  /** Runs a libnfs tool on the export (or a file of it): exit status, stdout, stderr. */
  private Run nfsTool(Appliance a, String tool, String file) throws Exception {
    int nfs = a.nfs().orElseThrow().localAddress().getPort();
    int mount = a.nfs().orElseThrow().mountAddress().getPort();
    String url = "nfs://127.0.0.1/default/" + file + "?nfsport=" + nfs + "&mountport=" + mount + "&version=3";
    Path out = Files.createTempFile(work, tool, ".out");
    Path err = Files.createTempFile(work, tool, ".err");
    Process p = new ProcessBuilder(List.of(tool, url)).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail(tool + " did not finish in 120 s");
    }
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }
}
