/**
 * Kafka protocol primitives over one buffer sized up front. Requests are
 * measured before they are written, so a produce request is allocated once
 * and every envelope is copied into it exactly once.
 */

/** Bytes of a zigzag varint (Kafka's "varint" for record fields). */
export function varintSize(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** Bytes of a protocol STRING (int16 length + UTF-8). */
export function stringSize(value: string): number {
  return 2 + Buffer.byteLength(value);
}

export class ByteWriter {
  offset = 0;

  constructor(readonly buf: Buffer) {}

  static alloc(size: number): ByteWriter {
    // allocUnsafe: every byte is written before the buffer leaves the writer.
    return new ByteWriter(Buffer.allocUnsafe(size));
  }

  int8(v: number): this {
    this.buf.writeInt8(v, this.offset);
    this.offset += 1;
    return this;
  }

  int16(v: number): this {
    this.buf.writeInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  int32(v: number): this {
    this.buf.writeInt32BE(v, this.offset);
    this.offset += 4;
    return this;
  }

  uint32(v: number): this {
    this.buf.writeUInt32BE(v, this.offset);
    this.offset += 4;
    return this;
  }

  int64(v: bigint): this {
    this.buf.writeBigInt64BE(v, this.offset);
    this.offset += 8;
    return this;
  }

  /** A millisecond timestamp as int64 without going through BigInt. */
  int64FromNumber(v: number): this {
    const high = Math.floor(v / 0x1_0000_0000);
    this.buf.writeInt32BE(high, this.offset);
    this.buf.writeUInt32BE(v - high * 0x1_0000_0000, this.offset + 4);
    this.offset += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  string(v: string): this {
    const len = this.buf.write(v, this.offset + 2, "utf8");
    this.buf.writeInt16BE(len, this.offset);
    this.offset += 2 + len;
    return this;
  }

  nullableString(v: string | null): this {
    return v === null ? this.int16(-1) : this.string(v);
  }

  varint(value: number): this {
    let v = ((value << 1) ^ (value >> 31)) >>> 0;
    const buf = this.buf;
    let o = this.offset;
    while (v >= 0x80) {
      buf[o++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[o++] = v;
    this.offset = o;
    return this;
  }

  bytes(src: Uint8Array): this {
    this.buf.set(src, this.offset);
    this.offset += src.length;
    return this;
  }
}

/** Thrown when a response is shorter or stranger than its schema says. */
export class MalformedResponse extends Error {}

export class ByteReader {
  offset = 0;

  constructor(private readonly buf: Buffer) {}

  private need(n: number): number {
    const at = this.offset;
    if (at + n > this.buf.length) throw new MalformedResponse(`response truncated at byte ${at}`);
    this.offset = at + n;
    return at;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }

  bool(): boolean {
    return this.int8() !== 0;
  }

  nullableString(): string | null {
    const len = this.int16();
    if (len < 0) return null;
    const at = this.need(len);
    return this.buf.toString("utf8", at, at + len);
  }

  string(): string {
    const s = this.nullableString();
    if (s === null) throw new MalformedResponse("null where a string is required");
    return s;
  }

  /** An int32-counted array; a null array (-1) reads as empty. */
  array<T>(item: (r: ByteReader) => T): T[] {
    const n = this.int32();
    if (n > this.buf.length - this.offset) throw new MalformedResponse(`array of ${n} items cannot fit`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
}
