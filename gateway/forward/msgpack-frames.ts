/**
 * Finds the boundaries of msgpack objects in a TCP byte stream and decodes
 * complete ones. The Forward protocol has no length prefix: a frame ends
 * where its top-level msgpack object ends, so the stream is scanned
 * header by header (without decoding values) to know when a frame is
 * complete. The scan resumes where it stopped when more bytes arrive, so
 * a large frame sent in many packets costs one pass, and a frame that
 * declares or grows past the size limit is refused before it is buffered.
 */
import { Decoder, ExtData, ExtensionCodec } from "@msgpack/msgpack";

/** Why a stream was given up on; the connection is closed with this as the reason. */
export type FrameErrorReason = "malformed" | "too_large" | "truncated";

export class FrameError extends Error {
  constructor(
    readonly reason: FrameErrorReason,
    message: string,
  ) {
    super(message);
    this.name = "FrameError";
  }
}

/** Fluentd's EventTime (ext type 0): seconds and nanoseconds, both uint32 big-endian. */
export class EventTime {
  constructor(
    readonly seconds: number,
    readonly nanoseconds: number,
  ) {}

  toUnixNano(): bigint {
    return BigInt(this.seconds) * 1_000_000_000n + BigInt(this.nanoseconds);
  }
}

const EVENT_TIME_TYPE = 0;

const extensionCodec = new ExtensionCodec();
extensionCodec.register({
  type: EVENT_TIME_TYPE,
  // Only decoding matters here; the gateway never sends an EventTime.
  encode: () => null,
  decode: (data: Uint8Array) => {
    if (data.length !== 8) return new ExtData(EVENT_TIME_TYPE, data);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new EventTime(view.getUint32(0, false), view.getUint32(4, false));
  },
});

/**
 * 64-bit integers decode as bigint so uint64 timestamps and counters keep
 * every digit; smaller ones stay numbers.
 */
export function createDecoder(): Decoder {
  return new Decoder({ extensionCodec, useBigInt64: true });
}

/** Decodes every object of a buffer holding concatenated msgpack objects (PackedForward entries). */
export function decodeAll(decoder: Decoder, bytes: Uint8Array): unknown[] {
  const out: unknown[] = [];
  for (const v of decoder.decodeMulti(bytes)) out.push(v);
  return out;
}

const INCOMPLETE = -1;

/**
 * Bytes taken by the header of the object at `pos` plus, for strings,
 * binaries and extensions, by its payload; `children` receives how many
 * nested objects follow. Returns INCOMPLETE when the header itself is cut.
 */
function objectHead(buf: Uint8Array, pos: number, end: number, out: { children: number }): number {
  const b = buf[pos] as number;
  out.children = 0;
  if (b <= 0x7f || b >= 0xe0) return 1; // fixint
  if (b <= 0x8f) {
    out.children = (b & 0x0f) * 2;
    return 1;
  }
  if (b <= 0x9f) {
    out.children = b & 0x0f;
    return 1;
  }
  if (b <= 0xbf) return 1 + (b & 0x1f); // fixstr
  const avail = end - pos;
  const u8 = () => buf[pos + 1] as number;
  const u16 = () => ((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number);
  const u32 = () =>
    (buf[pos + 1] as number) * 0x1000000 +
    (((buf[pos + 2] as number) << 16) | ((buf[pos + 3] as number) << 8) | (buf[pos + 4] as number));
  switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
      return 1;
    case 0xc1:
      throw new FrameError("malformed", "invalid msgpack: byte 0xc1 is never used");
    case 0xc4: // bin 8
    case 0xd9: // str 8
      return avail < 2 ? INCOMPLETE : 2 + u8();
    case 0xc5:
    case 0xda:
      return avail < 3 ? INCOMPLETE : 3 + u16();
    case 0xc6:
    case 0xdb:
      return avail < 5 ? INCOMPLETE : 5 + u32();
    case 0xc7: // ext 8
      return avail < 3 ? INCOMPLETE : 3 + u8();
    case 0xc8:
      return avail < 4 ? INCOMPLETE : 4 + u16();
    case 0xc9:
      return avail < 6 ? INCOMPLETE : 6 + u32();
    case 0xca:
    case 0xd2:
    case 0xce:
      return 5;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return 9;
    case 0xcc:
    case 0xd0:
      return 2;
    case 0xcd:
    case 0xd1:
      return 3;
    case 0xd4:
      return 3; // fixext 1
    case 0xd5:
      return 4;
    case 0xd6:
      return 6;
    case 0xd7:
      return 10;
    case 0xd8:
      return 18;
    case 0xdc:
      if (avail < 3) return INCOMPLETE;
      out.children = u16();
      return 3;
    case 0xdd:
      if (avail < 5) return INCOMPLETE;
      out.children = u32();
      return 5;
    case 0xde:
      if (avail < 3) return INCOMPLETE;
      out.children = u16() * 2;
      return 3;
    default: // 0xdf, map 32
      if (avail < 5) return INCOMPLETE;
      out.children = u32() * 2;
      return 5;
  }
}

const MIN_CAPACITY = 64 * 1024;

/**
 * Splits a byte stream into complete top-level msgpack objects. Frames
 * are returned as views; the bytes behind a returned view are never
 * written again (a full buffer is replaced, not reused), so a frame and
 * any binary value decoded from it stay valid after later pushes.
 */
export class FrameSplitter {
  private buf: Uint8Array = new Uint8Array(0);
  /** Start of the first unfinished frame. */
  private start = 0;
  /** End of the buffered bytes. */
  private end = 0;
  /** Start of the next object header to scan, inside the unfinished frame. */
  private scan = 0;
  /** Objects still to scan before the unfinished frame is complete (0: none started). */
  private pending = 0;
  private readonly head = { children: 0 };

  constructor(private readonly maxFrameSize: number) {}

  /** Bytes of an unfinished frame held back. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Adds bytes and returns the frames they complete, in order. Throws FrameError. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length === 0) return [];
    if (this.end === this.start) {
      // Nothing held back: scan the chunk in place, keep only its tail.
      this.buf = chunk;
      this.start = 0;
      this.scan = 0;
      this.end = chunk.length;
    } else {
      this.append(chunk);
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      const done = this.scanFrame();
      if (done < 0) break;
      frames.push(this.buf.subarray(this.start, done));
      this.start = done;
      this.scan = done;
      this.pending = 0;
      if (this.start === this.end) break;
    }
    if (this.end > this.start && this.buf === chunk) {
      // The tail of a frame stays behind; own it rather than pin the socket's buffer.
      const tail = chunk.subarray(this.start, this.end);
      this.buf = new Uint8Array(Math.max(MIN_CAPACITY, tail.length * 2));
      this.buf.set(tail, 0);
      this.scan -= this.start;
      this.end = tail.length;
      this.start = 0;
    }
    return frames;
  }

  private append(chunk: Uint8Array): void {
    if (this.end + chunk.length > this.buf.length) {
      const held = this.end - this.start;
      const next = new Uint8Array(Math.max(MIN_CAPACITY, (held + chunk.length) * 2));
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.scan -= this.start;
      this.start = 0;
      this.end = held;
      this.buf = next;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /** End offset of the frame starting at `start` when complete; -1 when more bytes are needed. */
  private scanFrame(): number {
    const { buf, end, head } = this;
    if (this.pending === 0) this.pending = 1;
    let pos = this.scan;
    while (this.pending > 0) {
      if (pos >= end) break;
      const size = objectHead(buf, pos, end, head);
      if (size === INCOMPLETE) break;
      if (pos + size - this.start > this.maxFrameSize) {
        throw new FrameError("too_large", `frame exceeds max_message_size (${this.maxFrameSize} bytes)`);
      }
      if (pos + size > end) break;
      pos += size;
      this.pending += head.children - 1;
    }
    this.scan = pos;
    if (this.pending === 0) return pos;
    if (end - this.start > this.maxFrameSize) {
      throw new FrameError("too_large", `frame exceeds max_message_size (${this.maxFrameSize} bytes)`);
    }
    return -1;
  }
}

/** Offset just past the complete msgpack object starting at `pos`; throws when the bytes end first. */
export function skipObject(buf: Uint8Array, pos: number): number {
  const head = { children: 0 };
  let pending = 1;
  while (pending > 0) {
    if (pos >= buf.length) throw new FrameError("malformed", "msgpack object ends early");
    const size = objectHead(buf, pos, buf.length, head);
    if (size === INCOMPLETE || pos + size > buf.length) {
      throw new FrameError("malformed", "msgpack object ends early");
    }
    pos += size;
    pending += head.children - 1;
  }
  return pos;
}

/**
 * The payload bytes of element `index` of the array frame, when that
 * element is a str or bin. PackedForward entries are binary, but old
 * clients send them as str; decoding them as text would mangle them, so
 * they are cut from the frame's bytes instead.
 */
export function rawStringOrBinary(frame: Uint8Array, index: number): Uint8Array | undefined {
  const head = { children: 0 };
  const first = objectHead(frame, 0, frame.length, head);
  if (first === INCOMPLETE || head.children <= index) return undefined;
  let pos = first;
  for (let i = 0; i < index; i++) pos = skipObject(frame, pos);
  const b = frame[pos];
  if (b === undefined) return undefined;
  const size = objectHead(frame, pos, frame.length, head);
  if (size === INCOMPLETE || pos + size > frame.length) return undefined;
  let headerBytes: number;
  if (b >= 0xa0 && b <= 0xbf) headerBytes = 1;
  else if (b === 0xc4 || b === 0xd9) headerBytes = 2;
  else if (b === 0xc5 || b === 0xda) headerBytes = 3;
  else if (b === 0xc6 || b === 0xdb) headerBytes = 5;
  else return undefined;
  return frame.subarray(pos + headerBytes, pos + size);
}
