package org.vsa.nfs;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;

/** NFSv3 and MOUNT calls for tests, on top of {@link RpcClient}; each returns the nfsstat3 and fills results. */
final class Nfs3Client implements Closeable {
  final RpcClient nfs;
  final RpcClient mount;

  Nfs3Client(Fixture fx, int uid, int gid) throws IOException {
    this(new RpcClient(new InetSocketAddress("127.0.0.1", fx.nfsPort()), uid, gid),
        new RpcClient(new InetSocketAddress("127.0.0.1", fx.mountPort()), uid, gid));
  }

  Nfs3Client(RpcClient nfs, RpcClient mount) {
    this.nfs = nfs;
    this.mount = mount;
  }

  /** MNT (v3): the root handle, or an exception naming the mount status. */
  byte[] mnt(String path) throws IOException {
    RpcClient.XdrIn r = mount.call(RpcClient.MOUNT, 3, 1, o -> o.s(path));
    int st = r.i();
    if (st != 0) {
      throw new MountError(st);
    }
    return r.opaque();
  }

  static final class MountError extends IOException {
    final int status;

    MountError(int status) {
      super("mount status " + status);
      this.status = status;
    }
  }

  record Res(int status, byte[] fh, RpcClient.XdrIn.Fattr attr, RpcClient.XdrIn rest) {}

  Res getattr(byte[] fh) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 1, o -> o.opaque(fh));
    int st = r.i();
    return new Res(st, fh, st == 0 ? r.fattr() : null, r);
  }

  Res lookup(byte[] dir, String name) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 3, o -> o.opaque(dir).s(name));
    int st = r.i();
    if (st != 0) {
      return new Res(st, null, null, r);
    }
    byte[] fh = r.opaque();
    return new Res(st, fh, r.postOpAttr(), r);
  }

  private Res created(RpcClient.XdrIn r) {
    int st = r.i();
    if (st != 0) {
      r.wcc();
      return new Res(st, null, null, r);
    }
    byte[] fh = r.bool() ? r.opaque() : null;
    RpcClient.XdrIn.Fattr a = r.postOpAttr();
    r.wcc();
    return new Res(st, fh, a, r);
  }

  /** CREATE; mode 0 UNCHECKED, 1 GUARDED. */
  Res create(byte[] dir, String name, int how) throws IOException {
    return created(nfs.call(RpcClient.NFS, 3, 8, o -> o.opaque(dir).s(name).i(how).noSattr()));
  }

  /** CREATE UNCHECKED with size 0: what open(O_CREAT|O_TRUNC) sends; truncates an existing file. */
  Res createTruncating(byte[] dir, String name) throws IOException {
    return created(nfs.call(RpcClient.NFS, 3, 8, o -> o.opaque(dir).s(name).i(0).i(0).i(0).i(0).i(1).l(0).i(0).i(0)));
  }

  Res mkdir(byte[] dir, String name) throws IOException {
    return created(nfs.call(RpcClient.NFS, 3, 9, o -> o.opaque(dir).s(name).noSattr()));
  }

  Res symlink(byte[] dir, String name, String target) throws IOException {
    return created(nfs.call(RpcClient.NFS, 3, 10, o -> o.opaque(dir).s(name).noSattr().s(target)));
  }

  String readlink(byte[] fh) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 5, o -> o.opaque(fh));
    int st = r.i();
    r.postOpAttr();
    return st == 0 ? r.s() : "status " + st;
  }

  int mknod(byte[] dir, String name) throws IOException {
    // NF3FIFO, then a sattr3 that sets nothing (four absent values, two DONT_CHANGE times).
    return nfs.call(RpcClient.NFS, 3, 11, o -> o.opaque(dir).s(name).i(7).i(0).i(0).i(0).i(0).i(0).i(0)).i();
  }

  int link(byte[] file, byte[] dir, String name) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 15, o -> o.opaque(file).opaque(dir).s(name)).i();
  }

  int remove(byte[] dir, String name) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 12, o -> o.opaque(dir).s(name)).i();
  }

  int rmdir(byte[] dir, String name) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 13, o -> o.opaque(dir).s(name)).i();
  }

  int rename(byte[] from, String fromName, byte[] to, String toName) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 14, o -> o.opaque(from).s(fromName).opaque(to).s(toName)).i();
  }

  int setSize(byte[] fh, long size) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 2, o -> o.opaque(fh).i(0).i(0).i(0).i(1).l(size).i(0).i(0).i(0)).i();
  }

  int setMode(byte[] fh, int mode) throws IOException {
    return nfs.call(RpcClient.NFS, 3, 2, o -> o.opaque(fh).i(1).i(mode).i(0).i(0).i(0).i(0).i(0).i(0)).i();
  }

  /** WRITE result: status, count, committed (stable_how), verifier. */
  record Wrote(int status, int count, int committed, byte[] verifier) {}

  Wrote write(byte[] fh, long offset, byte[] data, int stable) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 7, o -> o.opaque(fh).l(offset).i(data.length).i(stable).opaque(data));
    int st = r.i();
    r.wcc();
    if (st != 0) {
      return new Wrote(st, 0, -1, null);
    }
    return new Wrote(st, r.i(), r.i(), r.fixed(8));
  }

  /** READ: the data (status in the array's absence: null). */
  byte[] read(byte[] fh, long offset, int count) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 6, o -> o.opaque(fh).l(offset).i(count));
    int st = r.i();
    r.postOpAttr();
    if (st != 0) {
      return null;
    }
    r.i();
    r.bool();
    return r.opaque();
  }

  /** COMMIT: the verifier, or null on error. */
  byte[] commit(byte[] fh) throws IOException {
    RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 21, o -> o.opaque(fh).l(0).i(0));
    int st = r.i();
    r.wcc();
    return st == 0 ? r.fixed(8) : null;
  }

  /** READDIR with a small budget, following cookies to the end: every name. */
  List<String> readdir(byte[] dir, int count) throws IOException {
    List<String> names = new ArrayList<>();
    long cookie = 0;
    while (true) {
      long c = cookie;
      RpcClient.XdrIn r = nfs.call(RpcClient.NFS, 3, 16, o -> o.opaque(dir).l(c).fixed(new byte[8]).i(count));
      int st = r.i();
      r.postOpAttr();
      if (st != 0) {
        throw new IOException("READDIR status " + st);
      }
      r.fixed(8);
      while (r.bool()) {
        r.l();
        names.add(r.s());
        cookie = r.l();
      }
      if (r.bool()) {
        return names;
      }
    }
  }

  @Override
  public void close() throws IOException {
    nfs.close();
    mount.close();
  }
}
