import { describe, expect, it } from "vitest";
import { archiveObjectKey, groupByHour } from "./hive-key.js";
import { makeRecord } from "./test-support.js";

const HOUR = 3_600_000_000_000n;
/** 2024-02-29T23:59:59.999999999Z */
const LEAP_END = 1_709_251_199_999_999_999n;

describe("archiveObjectKey", () => {
  it("builds the Hive layout with a 20-digit offset", () => {
    expect(
      archiveObjectKey({
        prefix: "logs",
        timeUnixNano: LEAP_END,
        topic: "sluice.logs",
        partition: 3,
        firstOffset: 1234n,
        extension: "jsonl.gz",
      }),
    ).toBe("logs/year=2024/month=02/day=29/hour=23/sluice.logs-p3-00000000000000001234.jsonl.gz");
  });

  it("handles empty and slashed prefixes, the largest offset and odd topics", () => {
    const base = { timeUnixNano: 0n, topic: "t", partition: 0, firstOffset: 0n, extension: "jsonl" };
    expect(archiveObjectKey({ ...base, prefix: "" })).toBe(
      "year=1970/month=01/day=01/hour=00/t-p0-00000000000000000000.jsonl",
    );
    expect(archiveObjectKey({ ...base, prefix: "/a/b/" })).toMatch(/^a\/b\/year=1970\//);
    expect(archiveObjectKey({ ...base, prefix: "", firstOffset: 2n ** 64n - 1n })).toMatch(
      /-p0-18446744073709551615\.jsonl$/,
    );
    expect(archiveObjectKey({ ...base, prefix: "", topic: "a/b c" })).toMatch(/\/a%2Fb%20c-p0-/);
  });

  it("places the largest OTLP time in 2554", () => {
    const key = archiveObjectKey({
      prefix: "p",
      timeUnixNano: 2n ** 64n - 1n,
      topic: "t",
      partition: 1,
      firstOffset: 1n,
      extension: "x",
    });
    expect(key).toMatch(/^p\/year=2554\/month=07\/day=21\/hour=23\//);
  });
});

describe("groupByHour", () => {
  it("splits by UTC hour, in hour order, each bucket in log order", () => {
    const at = (time: bigint, offset: bigint, index = 0) =>
      makeRecord({ timeUnixNano: time, origin: { ...makeRecord().origin, offset, index } });
    const a = at(LEAP_END, 10n);
    const b = at(LEAP_END + 1n, 11n);
    const c = at(LEAP_END - 5n, 12n, 1);
    const d = at(LEAP_END - 5n, 12n, 0);
    const e = at(LEAP_END + 1n + HOUR, 13n);
    const buckets = groupByHour([e, b, a, c, d]);
    expect(buckets.map((x) => x.hourStartUnixNano)).toEqual([
      LEAP_END + 1n - HOUR,
      LEAP_END + 1n,
      LEAP_END + 1n + HOUR,
    ]);
    expect(buckets[0]?.records).toEqual([a, d, c]);
    expect(buckets[1]?.records).toEqual([b]);
    expect(buckets[2]?.records).toEqual([e]);
  });

  it("places records without a time by observed, then receive time", () => {
    const origin = { ...makeRecord().origin, receiveTimeUnixNano: 5n * HOUR + 1n };
    const buckets = groupByHour([
      makeRecord({ timeUnixNano: 0n, observedTimeUnixNano: 2n * HOUR, origin }),
      makeRecord({ timeUnixNano: 0n, observedTimeUnixNano: 0n, origin }),
    ]);
    expect(buckets.map((x) => x.hourStartUnixNano)).toEqual([2n * HOUR, 5n * HOUR]);
  });
});
