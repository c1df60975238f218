import { encode } from "@msgpack/msgpack";
import { describe, expect, it } from "vitest";
import { createDecoder, decodeAll, EventTime, FrameError, FrameSplitter } from "./msgpack-frames.js";

function eventTime(seconds: number, nanos: number): Uint8Array {
  const out = Buffer.alloc(10);
  out[0] = 0xd7; // fixext 8
  out[1] = 0x00; // type 0
  out.writeUInt32BE(seconds, 2);
  out.writeUInt32BE(nanos, 6);
  return out;
}

describe("FrameSplitter", () => {
  const frames = [
    encode(["app.a", 1700000000, { log: "one" }]),
    encode([
      "app.b",
      [[1700000001, { log: "two", nested: { a: [1, 2, "x".repeat(300)] } }]],
      { chunk: "c1" },
    ]),
    encode(["app.c", new Uint8Array(70_000), { size: 3 }]),
  ];
  const stream = Buffer.concat(frames);

  it("returns several frames from one chunk", () => {
    const s = new FrameSplitter(1 << 20);
    const out = s.push(stream);
    expect(out.map((f) => Buffer.from(f))).toEqual(frames.map((f) => Buffer.from(f)));
    expect(s.buffered).toBe(0);
  });

  it("reassembles frames split at every byte boundary", () => {
    const s = new FrameSplitter(1 << 20);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 7) {
      for (const f of s.push(stream.subarray(i, Math.min(stream.length, i + 7)))) out.push(Buffer.from(f));
    }
    expect(out).toEqual(frames.map((f) => Buffer.from(f)));
  });

  it("keeps returned frames intact while later bytes arrive", () => {
    const s = new FrameSplitter(1 << 20);
    const first = s.push(stream.subarray(0, frames[0]!.length + 5));
    const copy = Buffer.from(first[0]!);
    s.push(stream.subarray(frames[0]!.length + 5));
    expect(Buffer.from(first[0]!)).toEqual(copy);
  });

  it("refuses a frame that declares more than the limit before buffering it", () => {
    const s = new FrameSplitter(1024);
    const header = Buffer.from([0x93, 0xa1, 0x74, 0xc6, 0x01, 0x00, 0x00, 0x00]); // bin 32 of 16 MiB
    expect(() => s.push(header)).toThrowError(FrameError);
    try {
      new FrameSplitter(1024).push(header);
    } catch (err) {
      expect((err as FrameError).reason).toBe("too_large");
    }
  });

  it("refuses an unfinished frame that grows past the limit", () => {
    const s = new FrameSplitter(100);
    expect(() => s.push(Buffer.concat([Buffer.from([0xdc, 0xff, 0xff]), Buffer.alloc(200, 1)]))).toThrowError(
      /max_message_size/,
    );
  });

  it("refuses the never-used byte 0xc1 as malformed", () => {
    const s = new FrameSplitter(100);
    expect(() => s.push(Buffer.from([0x92, 0xc1]))).toThrowError(/0xc1/);
  });

  it("holds a truncated frame and reports it as buffered", () => {
    const s = new FrameSplitter(1 << 20);
    expect(s.push(frames[1]!.subarray(0, 10))).toEqual([]);
    expect(s.buffered).toBe(10);
  });
});

describe("decoding", () => {
  it("reads EventTime with nanoseconds and 64-bit integers exactly", () => {
    const d = createDecoder();
    const bytes = Buffer.concat([
      Buffer.from([0x93, 0xa3, 0x74, 0x61, 0x67]),
      eventTime(1700000000, 123456789),
      encode({ big: 2n ** 63n + 5n }, { useBigInt64: true }),
    ]);
    const v = d.decode(bytes) as [string, EventTime, { big: bigint }];
    expect(v[1]).toBeInstanceOf(EventTime);
    expect(v[1].toUnixNano()).toBe(1700000000123456789n);
    expect(v[2].big).toBe(2n ** 63n + 5n);
  });

  it("decodes concatenated entries", () => {
    const packed = Buffer.concat([encode([1, { a: 1 }]), encode([2, { b: 2 }])]);
    expect(decodeAll(createDecoder(), packed)).toEqual([
      [1, { a: 1 }],
      [2, { b: 2 }],
    ]);
  });
});
