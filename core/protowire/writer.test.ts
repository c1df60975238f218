import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType as EsWireType } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { AnyValueSchema } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";
import { LogRecordSchema } from "../../proto/gen/opentelemetry/proto/logs/v1/logs_pb.js";
import {
  type Int64Parts,
  ProtoWriter,
  parseDecimal64,
  splitNumber64,
  varintSize32,
  WireType,
} from "./writer.js";

function ours(write: (w: ProtoWriter) => void, capacity = 64): Uint8Array {
  const w = new ProtoWriter(capacity);
  write(w);
  return w.finish();
}

function theirs(write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  return w.finish();
}

/** Compares bytes quickly and reports the first difference; deep equality on megabytes is slow. */
function expectBytes(got: Uint8Array, want: Uint8Array, label = ""): void {
  if (Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want)) return;
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  expect.fail(`${label} bytes differ at ${i} (lengths ${got.length} and ${want.length})`);
}

function partsToBigint(p: Int64Parts, signed: boolean): bigint {
  const u = (BigInt(p.hi) << 32n) | BigInt(p.lo);
  return signed ? BigInt.asIntN(64, u) : u;
}

/** Deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("varints", () => {
  const uint32s = [0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152, 268435455, 268435456, 4294967295];

  it("writes uint32 like BinaryWriter", () => {
    for (const v of uint32s) {
      expect(ours((w) => w.uint32(1, v))).toEqual(theirs((w) => w.tag(1, EsWireType.Varint).uint32(v)));
    }
  });

  it("sign-extends negative int32 to ten bytes", () => {
    for (const v of [-1, -2, -128, -2147483648, 0, 2147483647]) {
      const got = ours((w) => w.int32(3, v));
      expect(got).toEqual(theirs((w) => w.tag(3, EsWireType.Varint).int32(v)));
      if (v < 0) expect(got.length).toBe(11);
    }
  });

  it("writes large field numbers as multi-byte tags", () => {
    for (const field of [15, 16, 2047, 2048, 536870911]) {
      expect(ours((w) => w.uint32(field, 5))).toEqual(
        theirs((w) => w.tag(field, EsWireType.Varint).uint32(5)),
      );
    }
  });

  it("writes int64 and uint64 from numbers, bigints and decimal strings", () => {
    const int64s: (number | bigint | string)[] = [
      0,
      1,
      -1,
      2 ** 31,
      -(2 ** 31),
      2 ** 32,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2 ** 62,
      -(2 ** 63),
      9223372036854775807n,
      -9223372036854775808n,
      "9007199254740993",
      "-9007199254740993",
      "9223372036854775807",
      "-9223372036854775808",
      "-1",
      "0",
      "000123",
    ];
    for (const v of int64s) {
      expect(ours((w) => w.int64(2, v))).toEqual(theirs((w) => w.tag(2, EsWireType.Varint).int64(v)));
    }
    const uint64s: (number | bigint | string)[] = [
      0,
      1,
      2 ** 53,
      2 ** 63,
      18446744073709551615n,
      "18446744073709551615",
      "9223372036854775808",
    ];
    for (const v of uint64s) {
      expect(ours((w) => w.uint64(2, v))).toEqual(theirs((w) => w.tag(2, EsWireType.Varint).uint64(v)));
    }
  });

  it("rejects 64-bit values out of range or not integral", () => {
    const w = new ProtoWriter();
    expect(() => w.int64(1, 2 ** 63)).toThrow(RangeError);
    expect(() => w.int64(1, 9223372036854775808n)).toThrow(RangeError);
    expect(() => w.int64(1, "9223372036854775808")).toThrow(RangeError);
    expect(() => w.int64(1, "-9223372036854775809")).toThrow(RangeError);
    expect(() => w.int64(1, 1.5)).toThrow(RangeError);
    expect(() => w.uint64(1, -1)).toThrow(RangeError);
    expect(() => w.uint64(1, -1n)).toThrow(RangeError);
    expect(() => w.uint64(1, "-1")).toThrow(RangeError);
    expect(() => w.uint64(1, 2 ** 64)).toThrow(RangeError);
    expect(() => w.uint64(1, "18446744073709551616")).toThrow(RangeError);
    expect(() => w.fixed64(1, Number.NaN)).toThrow(RangeError);
    expect(w.length).toBe(0);
  });

  it("reports varint sizes", () => {
    for (const v of uint32s) {
      expect(varintSize32(v)).toBe(theirs((w) => w.uint32(v)).length);
    }
  });
});

describe("parseDecimal64", () => {
  const out: Int64Parts = { lo: 0, hi: 0 };

  it("agrees with BigInt on random digit strings of every length", () => {
    const next = rng(7);
    for (let len = 1; len <= 21; len++) {
      for (let k = 0; k < 200; k++) {
        let s = "";
        for (let i = 0; i < len; i++) s += String(Math.floor(next() * 10));
        for (const signed of [false, true]) {
          for (const text of signed ? [s, `-${s}`] : [s]) {
            const want = BigInt(text);
            const inRange = signed
              ? want >= -(2n ** 63n) && want < 2n ** 63n
              : want >= 0n && want < 2n ** 64n;
            expect(parseDecimal64(text, signed, out), text).toBe(inRange);
            if (inRange) expect(partsToBigint(out, signed), text).toBe(want);
          }
        }
      }
    }
  });

  it("accepts the extremes exactly", () => {
    expect(parseDecimal64("18446744073709551615", false, out)).toBe(true);
    expect(out).toEqual({ lo: 0xffffffff, hi: 0xffffffff });
    expect(parseDecimal64("-9223372036854775808", true, out)).toBe(true);
    expect(out).toEqual({ lo: 0, hi: 0x80000000 });
    expect(parseDecimal64("9223372036854775807", true, out)).toBe(true);
    expect(out).toEqual({ lo: 0xffffffff, hi: 0x7fffffff });
    expect(parseDecimal64("-1", true, out)).toBe(true);
    expect(out).toEqual({ lo: 0xffffffff, hi: 0xffffffff });
  });

  it("rejects anything but plain decimal digits", () => {
    for (const s of ["", "-", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "１", "12a", "--1", "-"]) {
      expect(parseDecimal64(s, true, out), JSON.stringify(s)).toBe(false);
    }
    expect(parseDecimal64("-1", false, out)).toBe(false);
    expect(parseDecimal64("-0", false, out)).toBe(false);
  });
});

describe("splitNumber64", () => {
  const out: Int64Parts = { lo: 0, hi: 0 };

  it("splits integral doubles exactly", () => {
    for (const v of [0, -0, 1, -1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32) - 1, 2 ** 53, 1.7e18, -(2 ** 63)]) {
      expect(splitNumber64(v, true, out)).toBe(true);
      expect(partsToBigint(out, true)).toBe(BigInt(v));
    }
    expect(splitNumber64(2 ** 64 - 2048, false, out)).toBe(true);
    expect(partsToBigint(out, false)).toBe(BigInt(2 ** 64 - 2048));
  });

  it("rejects fractions, non-finite and out-of-range values", () => {
    for (const v of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 63]) {
      expect(splitNumber64(v, true, out)).toBe(false);
    }
    expect(splitNumber64(-1, false, out)).toBe(false);
    expect(splitNumber64(2 ** 64, false, out)).toBe(false);
    expect(splitNumber64(-(2 ** 64), true, out)).toBe(false);
  });
});

describe("fixed-width and scalar fields", () => {
  it("writes fixed32 and fixed64 like BinaryWriter", () => {
    for (const v of [0, 1, 255, 0x12345678, 0xffffffff]) {
      expect(ours((w) => w.fixed32(8, v))).toEqual(theirs((w) => w.tag(8, EsWireType.Bit32).fixed32(v)));
    }
    for (const v of [
      0,
      1,
      1.7e18,
      "1700000000123456789",
      "18446744073709551615",
      18446744073709551615n,
      123n,
    ]) {
      expect(ours((w) => w.fixed64(1, v))).toEqual(theirs((w) => w.tag(1, EsWireType.Bit64).fixed64(v)));
    }
  });

  it("writes doubles bit-exactly", () => {
    for (const v of [0, -0, 1.5, -2.25e-300, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, 1 / 0, -1 / 0]) {
      expect(ours((w) => w.double(4, v))).toEqual(theirs((w) => w.tag(4, EsWireType.Bit64).double(v)));
    }
  });

  it("writes bools and raw bytes", () => {
    expect(ours((w) => w.bool(2, true))).toEqual(theirs((w) => w.tag(2, EsWireType.Varint).bool(true)));
    expect(ours((w) => w.bool(2, false))).toEqual(theirs((w) => w.tag(2, EsWireType.Varint).bool(false)));
    for (const n of [0, 1, 127, 128, 70000]) {
      const b = new Uint8Array(n).map((_, i) => i * 7);
      expectBytes(
        ours((w) => w.bytes(7, b)),
        theirs((w) => w.tag(7, EsWireType.LengthDelimited).bytes(b)),
      );
    }
  });
});

describe("strings", () => {
  const cases = [
    "",
    "a",
    "x".repeat(24),
    "x".repeat(25),
    "x".repeat(127),
    "x".repeat(128),
    "x".repeat(16384),
    "é",
    "naïve",
    "日本語のテキスト",
    "emoji 🎉🚀 mixed",
    // 64 two-byte characters: 64 UTF-16 units but 128 UTF-8 bytes, so the
    // length prefix outgrows the one byte first reserved for it.
    "é".repeat(64),
    "é".repeat(63),
    "€".repeat(43),
    "€".repeat(5462),
    "🎉".repeat(32),
    `${"a".repeat(20)}é`,
    `${"a".repeat(100)}😀`,
    "\u0000\u007f\u0080\u07ff\u0800\uffff",
  ];

  it("encodes like BinaryWriter, including where UTF-8 outgrows the reserved length", () => {
    for (const s of cases) {
      expectBytes(
        ours((w) => w.string(1, s)),
        theirs((w) => w.tag(1, EsWireType.LengthDelimited).string(s)),
        s.slice(0, 20),
      );
    }
  });

  it("replaces lone surrogates with U+FFFD, as TextEncoder does", () => {
    for (const s of ["\ud800", "a\udc00b", "\ud83d", `${"x".repeat(40)}\ud800`, "\udfff\ud800"]) {
      const got = ours((w) => w.string(1, s));
      expect(got).toEqual(theirs((w) => w.tag(1, EsWireType.LengthDelimited).string(s)));
      expect(Buffer.from(got.subarray(2)).toString("utf8")).toBe(s.replace(/[\ud800-\udfff]/g, "\ufffd"));
    }
  });

  it("grows the buffer for strings larger than it", () => {
    const s = "data ".repeat(100000);
    expectBytes(
      ours((w) => w.string(1, s), 64),
      theirs((w) => w.tag(1, EsWireType.LengthDelimited).string(s)),
    );
  });
});

describe("bytes from text", () => {
  it("decodes hex of either case", () => {
    const hex = "0123456789abcdefABCDEF00ff7f8010";
    const bytes = Buffer.from(hex, "hex");
    expect(ours((w) => expect(w.bytesFromHex(9, hex)).toBe(true))).toEqual(
      theirs((w) => w.tag(9, EsWireType.LengthDelimited).bytes(bytes)),
    );
  });

  it("writes nothing for bad hex", () => {
    for (const hex of ["0", "abc", "0g", "zz", "é0", "0\u0100", "+1", "  "]) {
      const w = new ProtoWriter();
      w.uint32(1, 1);
      expect(w.bytesFromHex(9, hex), hex).toBe(false);
      expect(w.finish()).toEqual(new Uint8Array([8, 1]));
    }
  });

  it("decodes base64 in both alphabets, with or without padding", () => {
    const next = rng(11);
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(n).map(() => Math.floor(next() * 256));
      const expected = theirs((w) => w.tag(7, EsWireType.LengthDelimited).bytes(bytes));
      const std = Buffer.from(bytes).toString("base64");
      const url = Buffer.from(bytes).toString("base64url");
      for (const text of [
        std,
        url,
        std.replace(/=+$/, ""),
        `${url}${"=".repeat((4 - (url.length % 4)) % 4)}`,
      ]) {
        expect(
          ours((w) => expect(w.bytesFromBase64(7, text)).toBe(true)),
          text,
        ).toEqual(expected);
      }
    }
  });

  it("writes nothing for bad base64", () => {
    for (const text of [
      "A",
      "AB=C",
      "A===",
      "AB=",
      "ABC==",
      "QQ== ",
      " QQ==",
      "QQ\n==",
      "QQ=\u00e9",
      "é",
      "Q!==",
      "ABCDA",
    ]) {
      const w = new ProtoWriter();
      expect(w.bytesFromBase64(7, text), JSON.stringify(text)).toBe(false);
      expect(w.length).toBe(0);
    }
  });
});

describe("nested messages", () => {
  const sizes = [0, 1, 127, 128, 300, 16383, 16384, 2097151, 2097152];

  it("back-patches canonical lengths whatever was reserved", () => {
    for (const size of sizes) {
      const body = new Uint8Array(size).fill(0x61);
      const expected = theirs((w) =>
        w.tag(5, EsWireType.LengthDelimited).fork().tag(1, EsWireType.LengthDelimited).bytes(body).join(),
      );
      for (const reserve of [1, 2, 3, 4, 5]) {
        const got = ours((w) => {
          w.beginMessage(5, reserve);
          w.bytes(1, body);
          w.endMessage();
        });
        expectBytes(got, expected, `size ${size} reserve ${reserve}`);
      }
    }
  });

  it("nests deeply and keeps sibling fields in place", () => {
    const depth = 120;
    const got = ours((w) => {
      w.uint32(1, 7);
      for (let i = 0; i < depth; i++) {
        w.beginMessage(2, (i % 3) + 1);
        w.string(3, `level ${i} ${"x".repeat(i * 3)}`);
      }
      for (let i = 0; i < depth; i++) w.endMessage();
      w.uint32(4, 9);
    });
    const expected = theirs((w) => {
      w.tag(1, EsWireType.Varint).uint32(7);
      for (let i = 0; i < depth; i++) {
        w.tag(2, EsWireType.LengthDelimited).fork();
        w.tag(3, EsWireType.LengthDelimited).string(`level ${i} ${"x".repeat(i * 3)}`);
      }
      for (let i = 0; i < depth; i++) w.join();
      w.tag(4, EsWireType.Varint).uint32(9);
    });
    expectBytes(got, expected);
  });

  it("refuses to finish with a message open, or to close one never opened", () => {
    const w = new ProtoWriter();
    w.beginMessage(1);
    expect(() => w.finish()).toThrow();
    w.endMessage();
    expect(() => w.endMessage()).toThrow();
    expect(w.finish()).toEqual(new Uint8Array([10, 0]));
  });
});

describe("decoded by generated code", () => {
  it("round-trips a LogRecord written by hand", () => {
    const w = new ProtoWriter(16);
    w.fixed64(1, "1700000000123456789");
    w.uint32(2, 9);
    w.string(3, "INFO");
    w.beginMessage(5);
    w.beginMessage(6);
    w.beginMessage(1);
    w.string(1, "k");
    w.beginMessage(2);
    w.int64(3, "-9223372036854775808");
    w.endMessage();
    w.endMessage();
    w.endMessage();
    w.endMessage();
    w.uint32(7, 3);
    w.fixed32(8, 1);
    expect(w.bytesFromHex(9, "5B8EFFF798038103D269B633813FC60C")).toBe(true);
    expect(w.bytesFromHex(10, "eee19b7ec3c1b174")).toBe(true);
    w.fixed64(11, 1700000000999999999n);
    w.string(12, "event");
    const bytes = w.finish();

    const expected = create(LogRecordSchema, {
      timeUnixNano: 1700000000123456789n,
      severityNumber: 9,
      severityText: "INFO",
      body: create(AnyValueSchema, {
        value: {
          case: "kvlistValue",
          value: {
            values: [{ key: "k", value: { value: { case: "intValue", value: -9223372036854775808n } } }],
          },
        },
      }),
      droppedAttributesCount: 3,
      flags: 1,
      traceId: Buffer.from("5b8efff798038103d269b633813fc60c", "hex"),
      spanId: Buffer.from("eee19b7ec3c1b174", "hex"),
      observedTimeUnixNano: 1700000000999999999n,
      eventName: "event",
    });
    expect(bytes).toEqual(toBinary(LogRecordSchema, expected));
    expect(fromBinary(LogRecordSchema, bytes).timeUnixNano).toBe(1700000000123456789n);
  });

  it("can be reset and reused", () => {
    const w = new ProtoWriter();
    w.string(1, "first");
    w.finish();
    w.reset();
    w.uint32(1, 1);
    expect(w.finish()).toEqual(new Uint8Array([8, 1]));
  });

  it("exposes wire type constants matching the protobuf spec", () => {
    expect(WireType).toEqual({ VARINT: 0, I64: 1, LEN: 2, I32: 5 });
  });
});
