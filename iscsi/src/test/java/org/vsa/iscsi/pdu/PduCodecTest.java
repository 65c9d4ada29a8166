package org.vsa.iscsi.pdu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

@org.junit.jupiter.api.extension.ExtendWith(org.vsa.iscsi.LeakCheck.class)
class PduCodecTest {

  private static byte[] payload(int n) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 7 + 3);
    }
    return b;
  }

  private static ByteBuf encode(Framing f, Pdu pdu) {
    EmbeddedChannel enc = new EmbeddedChannel(new PduEncoder(f));
    assertTrue(enc.writeOutbound(pdu));
    ByteBuf out = Unpooled.buffer();
    for (ByteBuf b; (b = enc.readOutbound()) != null; ) {
      out.writeBytes(b);
      b.release();
    }
    enc.finishAndReleaseAll();
    return out;
  }

  private static Pdu sample(int dataBytes) {
    return Pdu.out(Opcode.SCSI_COMMAND).flags(0xa1).itt(0x12345678).i32(20, dataBytes).i32(24, 7)
        .data(payload(dataBytes));
  }

  @Test
  void roundTripWithPaddingAndSplitInput() {
    for (boolean digests : new boolean[] {false, true}) {
      Framing f = new Framing(8192);
      f.headerDigest = digests;
      f.dataDigest = digests;
      ByteBuf wire = encode(f, sample(13));
      assertEquals(48 + 16 + (digests ? 8 : 0), wire.readableBytes(), "13 bytes padded to 16");
      EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(f));
      // Byte by byte through half a header, then the rest in two pieces.
      for (int i = 0; i < 24; i++) {
        dec.writeInbound(wire.readRetainedSlice(1));
        assertNull(dec.readInbound(), "no PDU from a partial header");
      }
      dec.writeInbound(wire.readRetainedSlice(30));
      assertNull(dec.readInbound(), "no PDU without its data segment");
      dec.writeInbound(wire.readRetainedSlice(wire.readableBytes()));
      Pdu p = dec.readInbound();
      assertEquals(Opcode.SCSI_COMMAND, p.opcode());
      assertEquals(0x12345678, p.itt());
      assertEquals(7, p.i32(24));
      byte[] got = new byte[p.dataLength()];
      p.data().readBytes(got);
      assertArrayEquals(payload(13), got);
      p.release();
      assertTrue(dec.isActive());
      assertFalse(dec.finishAndReleaseAll());
      wire.release();
    }
  }

  @Test
  void twoPdusInOneRead() {
    Framing f = new Framing(8192);
    ByteBuf wire = Unpooled.buffer();
    wire.writeBytes(encode(f, sample(0)));
    wire.writeBytes(encode(f, sample(4)));
    EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(f));
    dec.writeInbound(wire);
    Pdu a = dec.readInbound();
    Pdu b = dec.readInbound();
    assertEquals(0, a.dataLength());
    assertEquals(4, b.dataLength());
    a.release();
    b.release();
    dec.finishAndReleaseAll();
  }

  @Test
  void oversizedSegmentDropsTheConnection() {
    Framing f = new Framing(8192);
    ByteBuf wire = encode(new Framing(1 << 20), sample(8193));
    EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(f));
    dec.writeInbound(wire.readRetainedSlice(48)); // the header alone says too much
    assertNull(dec.readInbound());
    assertFalse(dec.isActive(), "a lying or oversized length closes the connection");
    wire.release();
    dec.finishAndReleaseAll();
  }

  @Test
  void lyingLengthWaitsThenNothingLeaks() {
    Framing f = new Framing(8192);
    ByteBuf wire = encode(f, sample(100));
    wire.setMedium(5, 4000); // claims 4000 bytes, sends 100
    EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(f));
    dec.writeInbound(wire);
    assertNull(dec.readInbound(), "an incomplete frame is not consumed");
    assertTrue(dec.isActive());
    dec.finishAndReleaseAll();
  }

  @Test
  void digestMismatchDropsTheConnection() {
    Framing f = new Framing(8192);
    f.headerDigest = true;
    f.dataDigest = true;
    ByteBuf wire = encode(f, sample(8));
    wire.setByte(60, wire.getByte(60) ^ 1); // a data byte
    EmbeddedChannel dec = new EmbeddedChannel(new PduDecoder(f));
    dec.writeInbound(wire);
    assertNull(dec.readInbound());
    assertFalse(dec.isActive());
    dec.finishAndReleaseAll();
  }

  @Test
  void digestIsCrc32cLittleEndian() {
    Framing f = new Framing(8192);
    f.headerDigest = true;
    ByteBuf wire = encode(f, sample(0));
    byte[] bhs = new byte[48];
    wire.getBytes(0, bhs);
    CRC32C crc = new CRC32C();
    crc.update(bhs);
    assertEquals((int) crc.getValue(), wire.getIntLE(48));
    wire.release();
  }
}
