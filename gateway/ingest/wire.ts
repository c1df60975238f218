/**
 * Minimal protobuf wire-format reading over a Uint8Array, for walking OTLP
 * requests without decoding them into objects. Every read checks bounds and
 * throws WireError, which the splitter turns into INVALID_ARGUMENT / 400.
 */

export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  SGROUP: 3,
  EGROUP: 4,
  I32: 5,
} as const;

export class WireError extends Error {
  override name = "WireError";
}

/**
 * A cursor over [pos, end) of buf. Fields are public so hot loops read them
 * without accessor calls.
 */
export class WireCursor {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Uint8Array, pos: number, end: number): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Reads a varint of up to 32 significant bits (tags, lengths, enums, uint32). */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw new WireError("truncated varint");
      const b = buf[pos++] as number;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return result >>> 0;
      }
      shift += 7;
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** Skips a varint of any width, validating its framing. */
  skipVarint(): void {
    const limit = Math.min(this.end, this.pos + 10);
    for (let pos = this.pos; pos < limit; pos++) {
      if ((this.buf[pos] as number) < 0x80) {
        this.pos = pos + 1;
        return;
      }
    }
    throw new WireError(this.end - this.pos < 10 ? "truncated varint" : "varint longer than 10 bytes");
  }

  /** Reads a varint as a signed 64-bit value; used only where a value is needed (keys). */
  int64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** Reads a length prefix and returns the end of the delimited bytes, checked against the parent. */
  lengthDelimitedEnd(): number {
    const len = this.uint32();
    const end = this.pos + len;
    if (end > this.end) throw new WireError("length-delimited field runs past its enclosing message");
    return end;
  }

  /** Skips one field's value of the given wire type. */
  skip(wireType: number): void {
    switch (wireType) {
      case WireType.VARINT:
        this.skipVarint();
        return;
      case WireType.I64:
        this.advance(8);
        return;
      case WireType.LEN:
        this.pos = this.lengthDelimitedEnd();
        return;
      case WireType.I32:
        this.advance(4);
        return;
      default:
        // Groups are deprecated and never appear in OTLP; refusing them keeps the walk bounded.
        throw new WireError(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (this.pos + n > this.end) throw new WireError("truncated fixed-width field");
    this.pos += n;
  }
}

/** Length in bytes of v written as a varint. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

/** Writes v (< 2^32) as a varint at pos; returns the new position. */
export function putVarint(buf: Uint8Array, pos: number, v: number): number {
  let value = v >>> 0;
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[pos++] = value;
  return pos;
}
