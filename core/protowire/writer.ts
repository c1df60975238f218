/**
 * A minimal protobuf wire-format writer for hand-written encoders on hot
 * paths, where building protobuf-es message objects first would double the
 * allocation and the work. Output is canonical: minimal varints, including
 * the length prefixes of nested messages.
 */

export const WireType = {
  VARINT: 0,
  I64: 1,
  LEN: 2,
  I32: 5,
} as const;

export type WireType = (typeof WireType)[keyof typeof WireType];

/** A 64-bit integer as two unsigned 32-bit halves (two's complement when signed). */
export interface Int64Parts {
  lo: number;
  hi: number;
}

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const UINT64_MAX = 0xffffffffffffffffn;
const INT64_MIN = -0x8000000000000000n;
const INT64_MAX = 0x7fffffffffffffffn;

/** Bytes needed by the varint encoding of an unsigned 32-bit value. */
export function varintSize32(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

function negateParts(out: Int64Parts): void {
  const lo = (~out.lo + 1) >>> 0;
  out.hi = (~out.hi + (lo === 0 ? 1 : 0)) >>> 0;
  out.lo = lo;
}

/**
 * Parses a decimal integer string exactly into `out`, without going through
 * a double (which would lose digits past 2^53) or allocating a bigint.
 * Accepts an optional leading "-" only when `signed`. Returns false for
 * anything that is not plain digits or is out of the int64/uint64 range.
 */
export function parseDecimal64(s: string, signed: boolean, out: Int64Parts): boolean {
  const n = s.length;
  let i = 0;
  let neg = false;
  if (n !== 0 && s.charCodeAt(0) === 45) {
    if (!signed) return false;
    neg = true;
    i = 1;
  }
  if (i === n) return false;
  let lo = 0;
  let hi = 0;
  if (n - i <= 15) {
    // Up to 15 digits always fit a double exactly.
    let v = 0;
    for (; i < n; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return false;
      v = v * 10 + d;
    }
    hi = Math.floor(v / TWO_32);
    lo = v - hi * TWO_32;
  } else {
    // Chunks of six digits keep every intermediate product below 2^53.
    while (i < n) {
      const end = Math.min(i + 6, n);
      let chunk = 0;
      let mul = 1;
      for (; i < end; i++) {
        const d = s.charCodeAt(i) - 48;
        if (d < 0 || d > 9) return false;
        chunk = chunk * 10 + d;
        mul *= 10;
      }
      lo = lo * mul + chunk;
      const carry = Math.floor(lo / TWO_32);
      lo -= carry * TWO_32;
      hi = hi * mul + carry;
      if (hi > 0xffffffff) return false;
    }
  }
  out.lo = lo;
  out.hi = hi;
  if (signed) {
    if (neg) {
      if (hi > 0x80000000 || (hi === 0x80000000 && lo !== 0)) return false;
      negateParts(out);
    } else if (hi >= 0x80000000) {
      return false;
    }
  }
  return true;
}

/**
 * Splits an integral double into `out`. Returns false for fractions, NaN,
 * infinities and values outside the int64 (signed) or uint64 range.
 */
export function splitNumber64(v: number, signed: boolean, out: Int64Parts): boolean {
  if (!Number.isInteger(v)) return false;
  if (v >= 0) {
    if (v >= (signed ? TWO_63 : TWO_64)) return false;
    out.hi = Math.floor(v / TWO_32);
    out.lo = v >>> 0;
    return true;
  }
  if (!signed || v < -TWO_63) return false;
  const m = -v;
  out.hi = Math.floor(m / TWO_32);
  out.lo = m >>> 0;
  negateParts(out);
  return true;
}

function splitBigint64(v: bigint, out: Int64Parts): void {
  const u = BigInt.asUintN(64, v);
  out.lo = Number(u & 0xffffffffn);
  out.hi = Number(u >> 32n);
}

/** Converts any accepted 64-bit input into parts, throwing RangeError when it cannot. */
function toParts(v: number | bigint | string, signed: boolean, out: Int64Parts): void {
  let ok: boolean;
  if (typeof v === "number") {
    ok = splitNumber64(v, signed, out);
  } else if (typeof v === "bigint") {
    ok = signed ? v >= INT64_MIN && v <= INT64_MAX : v >= 0n && v <= UINT64_MAX;
    if (ok) splitBigint64(v, out);
  } else {
    ok = parseDecimal64(v, signed, out);
  }
  if (!ok) throw new RangeError(`not a valid ${signed ? "int64" : "uint64"}: ${String(v)}`);
}

// -1 marks characters outside the alphabet; both base64 alphabets decode.
const HEX_VALUES = new Int8Array(128).fill(-1);
const BASE64_VALUES = new Int8Array(128).fill(-1);
{
  const digits = "0123456789abcdef";
  for (let i = 0; i < 16; i++) {
    HEX_VALUES[digits.charCodeAt(i)] = i;
    HEX_VALUES[digits.toUpperCase().charCodeAt(i)] = i;
  }
  const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (let i = 0; i < b64.length; i++) BASE64_VALUES[b64.charCodeAt(i)] = i;
  BASE64_VALUES[43] = 62; // +
  BASE64_VALUES[45] = 62; // -
  BASE64_VALUES[47] = 63; // /
  BASE64_VALUES[95] = 63; // _
}

function hexValue(c: number): number {
  return c < 128 ? (HEX_VALUES[c] as number) : -1;
}

function base64Value(c: number): number {
  return c < 128 ? (BASE64_VALUES[c] as number) : -1;
}

// Below this many UTF-16 units an inline ASCII loop beats the native UTF-8
// encoder, whose call overhead dominates for short strings such as keys.
const INLINE_ASCII_MAX = 24;

const DEFAULT_CAPACITY = 64 * 1024;

export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;
  /** Position of each open message's length slot, and how many bytes it reserved. */
  private readonly slots: number[] = [];
  private readonly reserved: number[] = [];
  private depth = 0;
  private readonly scratch: Int64Parts = { lo: 0, hi: 0 };

  constructor(initialCapacity: number = DEFAULT_CAPACITY) {
    // Unpooled and uninitialised: every byte handed out is written first.
    this.buf = Buffer.allocUnsafeSlow(Math.max(64, Math.ceil(initialCapacity)));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  /**
   * The written bytes as a view over the internal buffer (no copy). The
   * writer must not be used afterwards unless `reset()` is called, and
   * resetting overwrites what the view shows.
   */
  finish(): Uint8Array {
    if (this.depth !== 0) throw new Error(`${this.depth} message(s) still open`);
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }

  reset(): void {
    this.pos = 0;
    this.depth = 0;
  }

  private ensure(extra: number): void {
    if (this.pos + extra > this.buf.length) this.grow(extra);
  }

  private grow(extra: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private rawVarint32(v: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (v > 0x7f) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  private rawVarint64(lo: number, hi: number): void {
    const buf = this.buf;
    let p = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      buf[p++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[p++] = lo;
    this.pos = p;
  }

  private rawFixed32(v: number): void {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v & 0xff;
    buf[p + 1] = (v >>> 8) & 0xff;
    buf[p + 2] = (v >>> 16) & 0xff;
    buf[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  /** Writes a field key. Field numbers below 16 take the one-byte path. */
  tag(field: number, wireType: WireType): void {
    this.ensure(5);
    if (field < 16) {
      this.buf[this.pos++] = (field << 3) | wireType;
    } else {
      this.rawVarint32((field * 8 + wireType) >>> 0);
    }
  }

  /** uint32 (0..2^32-1); also right for non-negative int32 and enums. */
  uint32(field: number, v: number): void {
    this.tag(field, WireType.VARINT);
    this.ensure(5);
    this.rawVarint32(v >>> 0);
  }

  /** int32 and enums: negatives take ten bytes, sign-extended to 64 bits. */
  int32(field: number, v: number): void {
    if (v >= 0) {
      this.uint32(field, v);
      return;
    }
    this.varint64Parts(field, v >>> 0, 0xffffffff);
  }

  /** A varint from 64-bit two's complement halves: int64 and uint64 share this. */
  varint64Parts(field: number, lo: number, hi: number): void {
    this.tag(field, WireType.VARINT);
    this.ensure(10);
    this.rawVarint64(lo >>> 0, hi >>> 0);
  }

  int64(field: number, v: number | bigint | string): void {
    toParts(v, true, this.scratch);
    this.varint64Parts(field, this.scratch.lo, this.scratch.hi);
  }

  uint64(field: number, v: number | bigint | string): void {
    toParts(v, false, this.scratch);
    this.varint64Parts(field, this.scratch.lo, this.scratch.hi);
  }

  bool(field: number, v: boolean): void {
    this.tag(field, WireType.VARINT);
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  fixed32(field: number, v: number): void {
    this.tag(field, WireType.I32);
    this.ensure(4);
    this.rawFixed32(v >>> 0);
  }

  fixed64Parts(field: number, lo: number, hi: number): void {
    this.tag(field, WireType.I64);
    this.ensure(8);
    this.rawFixed32(lo);
    this.rawFixed32(hi);
  }

  /** Unsigned fixed64; a string must be decimal digits and is parsed exactly. */
  fixed64(field: number, v: number | bigint | string): void {
    toParts(v, false, this.scratch);
    this.fixed64Parts(field, this.scratch.lo, this.scratch.hi);
  }

  double(field: number, v: number): void {
    this.tag(field, WireType.I64);
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /**
   * UTF-8 string. Lone surrogates become U+FFFD, as with TextEncoder, so
   * the output is always valid UTF-8.
   */
  string(field: number, s: string): void {
    const n = s.length;
    // Tag, a length of up to five bytes, and the worst case of 3 bytes per unit.
    this.ensure(10 + n * 3);
    this.tag(field, WireType.LEN);
    const buf = this.buf;
    const slot = this.pos;
    if (n <= INLINE_ASCII_MAX) {
      let p = slot + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[slot] = n;
        this.pos = p;
        return;
      }
    }
    // UTF-8 takes at least one byte per UTF-16 unit, so the length prefix
    // needs at least varintSize32(n) bytes; reserve that and move the text
    // on the rare occasion the real length needs one more.
    const guess = varintSize32(n);
    const written = buf.write(s, slot + guess);
    const need = varintSize32(written);
    if (need !== guess) buf.copyWithin(slot + need, slot + guess, slot + guess + written);
    this.pos = slot;
    this.rawVarint32(written);
    this.pos += written;
  }

  bytes(field: number, b: Uint8Array): void {
    this.ensure(10 + b.length);
    this.tag(field, WireType.LEN);
    this.rawVarint32(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * Writes a bytes field from a hex string (either case), decoding straight
   * into the buffer. Returns false, writing nothing, for an odd length or a
   * non-hex character.
   */
  bytesFromHex(field: number, hex: string): boolean {
    const n = hex.length;
    if ((n & 1) !== 0) return false;
    const len = n >>> 1;
    this.ensure(10 + len);
    const start = this.pos;
    this.tag(field, WireType.LEN);
    this.rawVarint32(len);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i += 2) {
      const h = hexValue(hex.charCodeAt(i));
      const l = hexValue(hex.charCodeAt(i + 1));
      if ((h | l) < 0) {
        this.pos = start;
        return false;
      }
      buf[p++] = (h << 4) | l;
    }
    this.pos = p;
    return true;
  }

  /**
   * Writes a bytes field from base64, standard or URL-safe alphabet, with
   * or without padding, decoding straight into the buffer. Returns false,
   * writing nothing, for anything else (including whitespace).
   */
  bytesFromBase64(field: number, s: string): boolean {
    let n = s.length;
    let pad = 0;
    while (n > 0 && s.charCodeAt(n - 1) === 61) {
      n--;
      pad++;
    }
    const tail = n & 3;
    if (pad > 2 || tail === 1 || (pad !== 0 && ((n + pad) & 3) !== 0)) return false;
    const len = (n >>> 2) * 3 + (tail === 0 ? 0 : tail - 1);
    this.ensure(10 + len);
    const start = this.pos;
    this.tag(field, WireType.LEN);
    this.rawVarint32(len);
    const buf = this.buf;
    let p = this.pos;
    const whole = n - tail;
    let i = 0;
    for (; i < whole; i += 4) {
      const a = base64Value(s.charCodeAt(i));
      const b = base64Value(s.charCodeAt(i + 1));
      const c = base64Value(s.charCodeAt(i + 2));
      const d = base64Value(s.charCodeAt(i + 3));
      if ((a | b | c | d) < 0) {
        this.pos = start;
        return false;
      }
      buf[p++] = (a << 2) | (b >>> 4);
      buf[p++] = ((b & 0xf) << 4) | (c >>> 2);
      buf[p++] = ((c & 0x3) << 6) | d;
    }
    if (tail !== 0) {
      const a = base64Value(s.charCodeAt(i));
      const b = base64Value(s.charCodeAt(i + 1));
      const c = tail === 3 ? base64Value(s.charCodeAt(i + 2)) : 0;
      if ((a | b | c) < 0) {
        this.pos = start;
        return false;
      }
      buf[p++] = (a << 2) | (b >>> 4);
      if (tail === 3) buf[p++] = ((b & 0xf) << 4) | (c >>> 2);
    }
    this.pos = p;
    return true;
  }

  /**
   * Opens a length-delimited field whose body is written next, up to the
   * matching `endMessage()`. The length is unknown until then, so
   * `lengthBytes` are reserved for it: the best guess of the length's
   * varint size (1 for bodies under 128 bytes, 2 under 16 KiB, 3 under
   * 2 MiB). A wrong guess costs one move of the body, never a padded,
   * non-canonical varint.
   */
  beginMessage(field: number, lengthBytes = 1): void {
    this.tag(field, WireType.LEN);
    this.ensure(lengthBytes);
    const d = this.depth++;
    this.slots[d] = this.pos;
    this.reserved[d] = lengthBytes;
    this.pos += lengthBytes;
  }

  endMessage(): void {
    if (this.depth === 0) throw new Error("endMessage() without beginMessage()");
    const d = --this.depth;
    const slot = this.slots[d] as number;
    const guess = this.reserved[d] as number;
    const bodyStart = slot + guess;
    const len = this.pos - bodyStart;
    if (len < 0x80 && guess === 1) {
      this.buf[slot] = len;
      return;
    }
    const need = varintSize32(len);
    if (need !== guess) {
      if (need > guess) this.ensure(need - guess);
      this.buf.copyWithin(slot + need, bodyStart, this.pos);
    }
    const end = this.pos + need - guess;
    this.pos = slot;
    this.rawVarint32(len);
    this.pos = end;
  }
}
