package org.vsa.dtl;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DTL client side of one node: opens a {@link DtlStream} per vDisk towards its DTL peer,
 * keeps each vDisk's ownership epoch (bumped at every open, so that a restarted owner fences its
 * previous incarnation), and fetches a vDisk's DTL content for a restore.
 *
 * <p>Epoch file {@code <stateDir>/<vdisk id>.epoch}: u32 magic 'VDTE', u16 version 1, u16 zero,
 * u64 epoch, u32 crc32c of the 16 bytes before; written to a temp file, forced, renamed.
 */
public final class DtlConnector implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DtlConnector.class);
  private static final int EPOCH_MAGIC = 0x56445445; // "VDTE"

  private final Path stateDir;
  private final ClientConfig cfg;
  private final Function<String, Optional<InetSocketAddress>> peerOf;
  private final DtlEvents events;
  private final EventLoopGroup group;
  /** DTL peers set at runtime (by the control plane), by vDisk name: they win over {@code peerOf}. */
  private final java.util.Map<String, InetSocketAddress> placed = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param stateDir where the epochs are kept (local flash)
   * @param peerOf the DTL peer of a vDisk, by name (empty: none configured)
   */
  public DtlConnector(Path stateDir, ClientConfig cfg, Function<String, Optional<InetSocketAddress>> peerOf,
      DtlEvents events) throws IOException {
    Files.createDirectories(stateDir);
    this.stateDir = stateDir;
    this.cfg = cfg;
    this.peerOf = peerOf;
    this.events = events;
    this.group = new MultiThreadIoEventLoopGroup(2, new DefaultThreadFactory("dtl-client", true),
        NioIoHandler.newFactory());
  }

  /** The DTL peer of a vDisk, if one is configured. */
  public Optional<InetSocketAddress> peerOf(String vdiskName) {
    InetSocketAddress p = placed.get(vdiskName);
    return p != null ? Optional.of(p) : peerOf.apply(vdiskName);
  }

  /**
   * Places the vDisk's DTL on {@code peer} from now on (streams opened later go there; the engine
   * reopens the running stream). Null goes back to the configured peer.
   */
  public void setPeer(String vdiskName, InetSocketAddress peer) {
    if (peer == null) {
      placed.remove(vdiskName);
    } else {
      placed.put(vdiskName, peer);
    }
  }

  /**
   * Opens the stream of a vDisk whose recovered history ends at {@code lastSeq} in SCO
   * {@code lastSco}. {@code sealRequest} is called (on another thread) when the DTL needs an open
   * SCO sealed and uploaded to catch up.
   */
  public DtlStream open(UUID vdisk, String name, DtlMode mode, long lastSeq, long lastSco, LongConsumer sealRequest)
      throws IOException {
    return open(vdisk, name, mode, lastSeq, lastSco, sealRequest, to -> { });
  }

  /**
   * As above; {@code leftSync} is called with the new state whenever the stream leaves OK_SYNC,
   * inline on the client's thread before any waiting writer is released, so it must not block
   * (the engine asks for a local force there: a write acknowledged on the DTL's force alone must
   * not stay unforced locally once the DTL stops protecting it).
   */
  public DtlStream open(UUID vdisk, String name, DtlMode mode, long lastSeq, long lastSco, LongConsumer sealRequest,
      java.util.function.Consumer<DtlState> leftSync) throws IOException {
    return open(vdisk, name, mode, lastSeq, lastSco, sealRequest, leftSync, 0, () -> { });
  }

  /**
   * As above, with the ownership epoch given: {@code ownerEpoch} > 0 is the epoch the cluster's
   * arbiter granted this node for the vDisk (the stream writes with it, so that the DTL fences
   * every earlier owner and a later one fences this one); 0 takes the next local epoch, as a
   * single node does (each open fences the previous incarnation of this node). {@code fenced} is
   * called once (inline on the client's thread, before any waiting writer is released; it must not
   * block) when the DTL refuses the stream's epoch: another owner with a higher epoch exists.
   */
  public DtlStream open(UUID vdisk, String name, DtlMode mode, long lastSeq, long lastSco, LongConsumer sealRequest,
      java.util.function.Consumer<DtlState> leftSync, long ownerEpoch, Runnable fenced) throws IOException {
    if (mode == DtlMode.NONE) {
      return DtlStream.standalone(mode, "DTL mode none");
    }
    Optional<InetSocketAddress> peer = peerOf(name);
    if (peer.isEmpty()) {
      log.warn("vDisk {}: DTL mode {} but no DTL peer is configured; running standalone", name, mode.configName());
      return DtlStream.standalone(mode, "no DTL peer configured");
    }
    long epoch = ownerEpoch > 0 ? ownerEpoch : readEpoch(vdisk) + 1;
    if (epoch > readEpoch(vdisk)) {
      writeEpoch(vdisk, epoch);
    }
    return new DtlClient(name, vdisk, mode, epoch, lastSeq, lastSco, cfg, peer.get(), group, sealRequest, leftSync,
        fenced, events);
  }

  /** What a vDisk's DTL held when it was fetched for a restore. */
  public record Fetched(long epoch, long streamEpoch, long baseSeq, List<Entry> entries) {}

  /**
   * For a restore: claims a new epoch for the vDisk at its DTL (fencing every earlier owner), then
   * reads every entry the DTL holds. Blocking, bounded by the ack timeout per request.
   */
  public Fetched fetch(UUID vdisk, String name) throws IOException {
    InetSocketAddress peer = peerOf(name)
        .orElseThrow(() -> new IOException("vDisk " + name + " has no DTL peer to restore from"));
    return fetch(vdisk, name, peer, 0);
  }

  /**
   * For a takeover by another node: reads the vDisk's entries from the DTL at {@code peer} (the
   * previous owner's) under exactly {@code ownerEpoch}, the epoch the cluster granted this node,
   * which the DTL records first: from then on it refuses the previous owner (a lower epoch). Throws
   * {@link StaleEpochException} if the DTL has seen a higher epoch (a newer owner exists). With
   * {@code ownerEpoch} 0, claims the next epoch above every one seen, as {@link #fetch(UUID, String)}.
   */
  public Fetched fetch(UUID vdisk, String name, InetSocketAddress peer, long ownerEpoch) throws IOException {
    int timeoutMillis = (int) Math.max(1000, cfg.ackTimeoutNanos() / 1_000_000 * 5);
    try (Socket s = new Socket()) {
      s.connect(peer, timeoutMillis);
      s.setSoTimeout(timeoutMillis);
      s.setTcpNoDelay(true);
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      // learn the highest epoch the DTL has seen (a Hello with epoch 0 changes nothing), then claim a higher one
      out.write(toArray(WireCodec.encode(new Msg.Hello(vdisk, 0))));
      out.flush();
      Msg probe = read(in);
      long highest = probe instanceof Msg.Reject r && r.code() == Msg.Code.STALE ? r.highestEpoch() : 0;
      if (ownerEpoch > 0 && highest > ownerEpoch) {
        throw new StaleEpochException("DTL " + peer + " has seen epoch " + highest + " of vDisk " + name
            + ", higher than this node's " + ownerEpoch + ": a newer owner exists", highest);
      }
      long epoch = ownerEpoch > 0 ? ownerEpoch : Math.max(readEpoch(vdisk), highest) + 1;
      Msg.HelloOk ok = null;
      for (int attempt = 0; attempt < 3 && ok == null; attempt++) {
        if (epoch > readEpoch(vdisk)) {
          writeEpoch(vdisk, epoch);
        }
        out.write(toArray(WireCodec.encode(new Msg.Hello(vdisk, epoch))));
        out.flush();
        Msg m = read(in);
        if (m instanceof Msg.HelloOk h) {
          ok = h;
        } else if (m instanceof Msg.Reject r && r.code() == Msg.Code.STALE) {
          if (ownerEpoch > 0) {
            throw new StaleEpochException("DTL " + peer + " has seen epoch " + r.highestEpoch() + " of vDisk " + name
                + ", higher than this node's " + ownerEpoch + ": a newer owner exists", r.highestEpoch());
          }
          epoch = r.highestEpoch() + 1;
        } else {
          throw new IOException("DTL " + peer + " answered " + m + " to a Hello");
        }
      }
      if (ok == null) {
        throw new IOException("DTL " + peer + " kept refusing the epochs of vDisk " + name);
      }
      List<Entry> entries = new ArrayList<>();
      long after = ok.baseSeq();
      while (true) {
        out.write(toArray(WireCodec.encode(new Msg.Fetch(epoch, after, 8 << 20))));
        out.flush();
        Msg m = read(in);
        if (!(m instanceof Msg.Entries e)) {
          throw new IOException("DTL " + peer + " answered " + m + " to a Fetch");
        }
        for (Entry en : e.entries()) {
          if (en.seq() != after + 1) {
            throw new IOException("DTL " + peer + " sent entry " + en.seq() + " after " + after);
          }
          entries.add(en);
          after = en.seq();
        }
        if (!e.more()) {
          log.info("vDisk {}: fetched {} DTL entries ({}, {}] of epoch {} from {} with epoch {}", name, entries.size(),
              ok.baseSeq(), after, ok.streamEpoch(), peer, epoch);
          return new Fetched(epoch, ok.streamEpoch(), ok.baseSeq(), entries);
        }
        if (e.entries().isEmpty()) {
          throw new IOException("DTL " + peer + " says there is more but sent nothing");
        }
      }
    } catch (WireCodec.BadFrameException e) {
      throw new IOException("DTL " + peer + " sent a bad frame: " + e.getMessage(), e);
    }
  }

  /** The DTL has seen a higher epoch than the one this node was granted: a newer owner exists. */
  public static final class StaleEpochException extends IOException {
    private final long highestEpoch;

    public StaleEpochException(String message, long highestEpoch) {
      super(message);
      this.highestEpoch = highestEpoch;
    }

    public long highestEpoch() {
      return highestEpoch;
    }
  }

  private static byte[] toArray(ByteBuffer b) {
    byte[] a = new byte[b.remaining()];
    b.get(a);
    return a;
  }

  private static Msg read(DataInputStream in) throws IOException, WireCodec.BadFrameException {
    byte[] head = new byte[WireCodec.HEADER_BYTES];
    in.readFully(head);
    int len = WireCodec.frameLength(ByteBuffer.wrap(head));
    byte[] frame = new byte[len];
    System.arraycopy(head, 0, frame, 0, head.length);
    in.readFully(frame, head.length, len - head.length);
    return WireCodec.decode(ByteBuffer.wrap(frame));
  }

  long readEpoch(UUID vdisk) throws IOException {
    Path p = stateDir.resolve(vdisk + ".epoch");
    if (!Files.exists(p)) {
      return 0;
    }
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p));
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, Math.min(16, b.limit()));
    if (b.limit() != 20 || b.getInt(0) != EPOCH_MAGIC || b.getShort(4) != 1 || b.getInt(16) != (int) crc.getValue()) {
      throw new IOException(p + " is not a valid DTL epoch file; an administrator must check which node owns vDisk "
          + vdisk + " before removing it");
    }
    return b.getLong(8);
  }

  void writeEpoch(UUID vdisk, long epoch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(20).putInt(EPOCH_MAGIC).putShort((short) 1).putShort((short) 0).putLong(epoch);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 16);
    b.putInt((int) crc.getValue()).flip();
    Path p = stateDir.resolve(vdisk + ".epoch");
    Path tmp = stateDir.resolve(vdisk + ".epoch.tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      DtlServer.writeFully(ch, b, 0);
      ch.force(true);
    }
    Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    DtlServer.fsyncDirectory(stateDir);
  }

  @Override
  public void close() {
    group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
  }
}
