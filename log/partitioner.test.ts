import { Partitioners, type PartitionMetadata } from "kafkajs";
import { describe, expect, it } from "vitest";
import { murmur2, partitionFor } from "./partitioner.js";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

// Hashes from Apache Kafka's UtilsTest.testMurmur2 (Java client), plus the
// empty key, whose hash kafkajs's Long-based port also yields.
const HASH_VECTORS: ReadonlyArray<readonly [string, number]> = [
  ["21", -973932308],
  ["foobar", -790332482],
  ["a-little-bit-long-string", -985981536],
  ["a-little-bit-longer-string", -1486304829],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
  ["abc", 479470107],
  ["", 275646681],
];

// (hash & 0x7fffffff) % n for the hashes above, worked out separately.
const PARTITION_VECTORS: ReadonlyArray<readonly [string, number, number]> = [
  ["21", 3, 0],
  ["21", 100, 40],
  ["foobar", 12, 6],
  ["foobar", 100, 66],
  ["a-little-bit-long-string", 3, 2],
  ["a-little-bit-long-string", 12, 8],
  ["a-little-bit-longer-string", 6, 5],
  ["a-little-bit-longer-string", 12, 11],
  ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 100, 77],
  ["abc", 6, 3],
  ["abc", 100, 7],
  ["", 12, 9],
];

/** Small deterministic PRNG so the cross-check covers the same keys every run. */
function xorshift(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

function kafkajsPartition(key: Uint8Array, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = [];
  for (let p = 0; p < partitions; p++) {
    partitionMetadata.push({ partitionErrorCode: 0, partitionId: p, leader: 1, replicas: [1], isr: [1] });
  }
  return partitioner({
    topic: "t",
    partitionMetadata,
    message: { key: Buffer.from(key.buffer, key.byteOffset, key.byteLength), value: null },
  });
}

describe("murmur2", () => {
  it.each(HASH_VECTORS)("hashes %j like the Java client", (key, expected) => {
    expect(murmur2(utf8(key))).toBe(expected);
  });

  it("handles bytes >= 0x80 as unsigned", () => {
    const key = new Uint8Array([0xff, 0x80, 0x7f, 0x00, 0xfe]);
    expect(murmur2(key)).toBe(murmur2(Buffer.from(key)));
    const expected = kafkajsPartition(key, 1000);
    expect(partitionFor(key, 1000)).toBe(expected);
  });

  it("reads only the view, not the whole underlying buffer", () => {
    const backing = utf8("xxfoobaryy");
    expect(murmur2(backing.subarray(2, 8))).toBe(-790332482);
  });
});

describe("partitionFor", () => {
  it.each(PARTITION_VECTORS)("maps %j over %i partitions to %i", (key, partitions, expected) => {
    expect(partitionFor(utf8(key), partitions)).toBe(expected);
  });

  it("agrees with kafkajs DefaultPartitioner on random keys", () => {
    const next = xorshift(0x5eed);
    const counts = [1, 2, 3, 6, 7, 12, 50, 1000];
    let checked = 0;
    for (let i = 0; i < 500; i++) {
      const key = new Uint8Array(next() % 65);
      for (let j = 0; j < key.length; j++) key[j] = next() & 0xff;
      for (const n of counts) {
        expect(partitionFor(key, n), `key #${i} over ${n}`).toBe(kafkajsPartition(key, n));
        checked++;
      }
    }
    expect(checked).toBe(500 * counts.length);
  });

  it("agrees with kafkajs on textual keys", () => {
    for (let i = 0; i < 200; i++) {
      const key = utf8(`service-${i}/host-${i * 7919}`);
      expect(partitionFor(key, 24)).toBe(kafkajsPartition(key, 24));
    }
  });

  it("always returns an in-range partition", () => {
    const next = xorshift(42);
    for (let i = 0; i < 2000; i++) {
      const key = new Uint8Array(4);
      new DataView(key.buffer).setUint32(0, next());
      const p = partitionFor(key, 9);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(9);
    }
  });

  it("rejects non-positive or fractional partition counts", () => {
    expect(() => partitionFor(utf8("k"), 0)).toThrow(RangeError);
    expect(() => partitionFor(utf8("k"), -1)).toThrow(RangeError);
    expect(() => partitionFor(utf8("k"), 1.5)).toThrow(RangeError);
    expect(() => partitionFor(utf8("k"), Number.NaN)).toThrow(RangeError);
  });
});
