import { createRequire } from "node:module";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  CODEC_GZIP,
  RECORD_BATCH_OVERHEAD,
  recordsSize,
  writeRecordBatch,
  writeRecords,
} from "./record-batch.js";
import { ByteWriter, varintSize } from "./wire.js";

// The general-purpose client's own encoder and decoder serve as the independent reference.
const require = createRequire(import.meta.url);
const { RecordBatch: ReferenceBatch } = require("kafkajs/src/protocol/recordBatch/v0/index.js");
const ReferenceRecord = require("kafkajs/src/protocol/recordBatch/record/v0/index.js");
const Long = require("kafkajs/src/utils/long.js");
const ReferenceDecoder = require("kafkajs/src/protocol/decoder.js");
const decodeReferenceBatch = require("kafkajs/src/protocol/recordBatch/v0/decoder.js");

const records = Array.from({ length: 300 }, (_, i) => ({
  key: Buffer.from(`service-${i % 7}`),
  value: Buffer.alloc(i * 3 + (i === 150 ? 20_000 : 0), i & 0xff),
}));

function ours(from: number, to: number, seq: number, ts: number): Buffer {
  const w = ByteWriter.alloc(RECORD_BATCH_OVERHEAD + recordsSize(records, from, to));
  writeRecordBatch(w, records, from, to, { producerId: 4242n, producerEpoch: 3, baseSequence: seq }, ts);
  expect(w.offset).toBe(w.buf.length);
  return w.buf;
}

async function reference(from: number, to: number, seq: number, ts: number): Promise<Buffer> {
  const batch = await ReferenceBatch({
    firstTimestamp: ts,
    maxTimestamp: ts,
    partitionLeaderEpoch: -1,
    lastOffsetDelta: to - from - 1,
    producerId: Long.fromValue(4242),
    producerEpoch: 3,
    firstSequence: seq,
    records: records
      .slice(from, to)
      .map((r, i) => ReferenceRecord({ offsetDelta: i, timestampDelta: 0, key: r.key, value: r.value })),
  });
  return batch.buffer;
}

describe("record batch", () => {
  it("is byte-identical to the reference encoder, checksum included", async () => {
    const ts = 1_795_000_000_123;
    for (const [from, to, seq] of [
      [0, 1, 0],
      [0, 300, 17],
      [140, 160, 0x7fffff00],
    ] as const) {
      expect(ours(from, to, seq, ts).equals(await reference(from, to, seq, ts))).toBe(true);
    }
  });

  it("decodes back to the same keys, values, producer id and sequence", async () => {
    const buf = ours(10, 40, 99, 1_700_000_000_000);
    const batch = await decodeReferenceBatch(new ReferenceDecoder(buf));
    expect(batch.producerId).toBe("4242");
    expect(batch.firstSequence).toBe(99);
    expect(batch.records).toHaveLength(30);
    batch.records.forEach((r: { key: Buffer; value: Buffer; offset: string }, i: number) => {
      expect(r.key.equals(records[10 + i]?.key as Buffer)).toBe(true);
      expect(r.value.equals(records[10 + i]?.value as Buffer)).toBe(true);
      expect(r.offset).toBe(String(i));
    });
  });

  it("carries gzip-compressed records with the codec in the attributes", async () => {
    const plain = ByteWriter.alloc(recordsSize(records, 0, 5));
    writeRecords(plain, records, 0, 5);
    const { gzipSync } = await import("node:zlib");
    const compressed = gzipSync(plain.buf);
    const w = ByteWriter.alloc(RECORD_BATCH_OVERHEAD + compressed.length);
    writeRecordBatch(w, records, 0, 5, { producerId: 1n, producerEpoch: 0, baseSequence: 0 }, 1, {
      codec: CODEC_GZIP,
      bytes: compressed,
    });
    expect(w.buf.readInt16BE(21) & 7).toBe(CODEC_GZIP);
    expect(gunzipSync(w.buf.subarray(RECORD_BATCH_OVERHEAD)).equals(plain.buf)).toBe(true);
    const batch = await decodeReferenceBatch(new ReferenceDecoder(w.buf));
    expect(batch.records.map((r: { value: Buffer }) => r.value.length)).toEqual([0, 3, 6, 9, 12]);
  });
});

describe("varint size", () => {
  it("matches the zigzag encoding length at every boundary", () => {
    for (const v of [0, -1, 1, 63, -64, 64, -65, 8191, 8192, 1 << 20, -(1 << 27), 2 ** 31 - 1, -(2 ** 31)]) {
      const w = ByteWriter.alloc(8);
      w.varint(v);
      expect(w.offset).toBe(varintSize(v));
    }
  });
});
