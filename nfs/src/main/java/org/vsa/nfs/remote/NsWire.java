package org.vsa.nfs.remote;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import org.vsa.nfs.Attr;
import org.vsa.nfs.SetAttr;
import org.vsa.volume.remote.Wire;

/**
 * The namespace-forwarding protocol, version 1, on the block-forwarding framing ({@link Wire}:
 * magic, version, type, flags, request id, length, CRC32C of header and payload, bounded length),
 * under its own magic {@code 'VNSF'}. A bad frame closes the connection; a good frame whose payload
 * does not decode gets a {@link #BAD_REQUEST} reply.
 *
 * <p>Request payloads start with the vPool's name (u16 length, UTF-8) and the namespace id the
 * client knows (u64; 0 in HELLO: a namespace recreated under the same vPool has another id, and its
 * file ids mean other files, so any other request for another id gets {@link #WRONG_NAMESPACE}), then the method's arguments
 * in order (ids and offsets u64, uid/gid/max u32, names and symlink targets as strings, SetAttr as
 * {@link #putSetAttr}, a WRITE's durability u8 then its data). Reply payloads start with a status
 * u8: {@link #OK} is followed by the owner's incarnation u64 and the namespace's writeEpoch u64, then
 * the method's result; {@link #NFS_ERROR} by the nfsstat3 u32 and a message; the others by a
 * message.
 */
final class NsWire {
  private NsWire() {}

  static final int MAGIC = 0x564e5346; // "VNSF"
  /** Largest READ or WRITE in one frame: the NFS server's rtmax and wtmax. */
  static final int MAX_IO_BYTES = Wire.MAX_IO_BYTES;

  static final int HELLO = 1;
  static final int GETATTR = 2;
  static final int LOOKUP = 3;
  static final int SETATTR = 4;
  static final int CREATE = 5;
  static final int CREATE_EXCLUSIVE = 6;
  static final int MKDIR = 7;
  static final int SYMLINK = 8;
  static final int READLINK = 9;
  static final int REMOVE = 10;
  static final int RMDIR = 11;
  static final int RENAME = 12;
  static final int READDIR = 13;
  static final int HAS_MORE = 14;
  static final int READ = 15;
  static final int WRITE = 16;
  static final int COMMIT = 17;
  static final int CAPACITY = 18;
  /** Added in version 1 before any release: u8 1 then vDisk name, size u64, attributes; or u8 0. */
  static final int LAYOUT = 19;
  static final int LAST_TYPE = LAYOUT;
  static final int REPLY = 0x80;

  /** Reply statuses. */
  static final int OK = 0;
  static final int NFS_ERROR = 1;
  static final int NOT_OWNER = 2;
  static final int BAD_REQUEST = 3;
  static final int SERVER_ERROR = 4;
  static final int WRONG_NAMESPACE = 5;

  static void putString(ByteBuf b, String s) {
    Wire.putName(b, s);
  }

  static String getString(ByteBuf b) {
    return Wire.getString(b);
  }

  /** A message, cut to what a string may hold. */
  static void putMessage(ByteBuf b, String m) {
    byte[] bytes = String.valueOf(m).getBytes(StandardCharsets.UTF_8);
    int n = Math.min(bytes.length, Wire.MAX_NAME_BYTES);
    b.writeShort(n);
    b.writeBytes(bytes, 0, n);
  }

  static final int ATTR_BYTES = 5 * 4 + 6 * 8 + 1;

  static void putAttr(ByteBuf b, Attr a) {
    b.writeInt(a.type());
    b.writeInt(a.mode());
    b.writeInt(a.nlink());
    b.writeInt(a.uid());
    b.writeInt(a.gid());
    b.writeLong(a.size());
    b.writeLong(a.usedBytes());
    b.writeLong(a.fileId());
    b.writeLong(a.atimeNanos());
    b.writeLong(a.mtimeNanos());
    b.writeLong(a.ctimeNanos());
    b.writeByte(a.vdisk() ? 1 : 0);
  }

  static Attr getAttr(ByteBuf b) {
    Wire.need(b, ATTR_BYTES);
    return new Attr(b.readInt(), b.readInt(), b.readInt(), b.readInt(), b.readInt(), b.readLong(), b.readLong(),
        b.readLong(), b.readLong(), b.readLong(), b.readLong(), b.readUnsignedByte() != 0);
  }

  /** flags u8 (bit 0 mode, 1 uid, 2 gid, 3 size), the present ones, then atime and mtime i64. */
  static void putSetAttr(ByteBuf b, SetAttr s) {
    int flags = (s.mode() != null ? 1 : 0) | (s.uid() != null ? 2 : 0) | (s.gid() != null ? 4 : 0)
        | (s.sizeBytes() != null ? 8 : 0);
    b.writeByte(flags);
    if (s.mode() != null) {
      b.writeInt(s.mode());
    }
    if (s.uid() != null) {
      b.writeInt(s.uid());
    }
    if (s.gid() != null) {
      b.writeInt(s.gid());
    }
    if (s.sizeBytes() != null) {
      b.writeLong(s.sizeBytes());
    }
    b.writeLong(s.atimeNanos());
    b.writeLong(s.mtimeNanos());
  }

  static SetAttr getSetAttr(ByteBuf b) {
    Wire.need(b, 1);
    int flags = b.readUnsignedByte();
    if ((flags & ~0xf) != 0) {
      throw new IllegalArgumentException("setattr flags 0x" + Integer.toHexString(flags));
    }
    Integer mode = null;
    Integer uid = null;
    Integer gid = null;
    Long size = null;
    if ((flags & 1) != 0) {
      Wire.need(b, 4);
      mode = b.readInt();
    }
    if ((flags & 2) != 0) {
      Wire.need(b, 4);
      uid = b.readInt();
    }
    if ((flags & 4) != 0) {
      Wire.need(b, 4);
      gid = b.readInt();
    }
    if ((flags & 8) != 0) {
      Wire.need(b, 8);
      size = b.readLong();
    }
    Wire.need(b, 16);
    return new SetAttr(mode, uid, gid, size, b.readLong(), b.readLong());
  }

  static long getLong(ByteBuf b) {
    Wire.need(b, 8);
    return b.readLong();
  }

  static int getInt(ByteBuf b) {
    Wire.need(b, 4);
    return b.readInt();
  }
}
