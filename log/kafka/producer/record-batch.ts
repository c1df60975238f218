/**
 * Kafka's RecordBatch (magic 2), written in place into a request buffer.
 * The checksum is CRC-32C over the batch from its attributes to its end,
 * computed natively over the bytes already in the buffer.
 */
import { crc32c } from "@node-rs/crc32";
import { type ByteWriter, varintSize } from "./wire.js";

export interface BatchRecord {
  key: Uint8Array;
  value: Uint8Array;
}

export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

/** Everything before the records: baseOffset through the record count. */
export const RECORD_BATCH_OVERHEAD = 61;
/** Bytes from the start of the batch to its attributes field (where the CRC starts). */
const CRC_FROM = 21;
const CRC_AT = 17;
const BATCH_LENGTH_AT = 8;
/** attributes bits 0-2: the codec. */
export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;

function recordBodySize(r: BatchRecord, offsetDelta: number): number {
  // attributes (1) + timestampDelta 0 (1) + offsetDelta + key + value + header count 0 (1)
  return (
    3 +
    varintSize(offsetDelta) +
    varintSize(r.key.length) +
    r.key.length +
    varintSize(r.value.length) +
    r.value.length
  );
}

/** Encoded size of one record at `offsetDelta` in an uncompressed batch, length prefix included. */
export function recordSize(r: BatchRecord, offsetDelta: number): number {
  const body = recordBodySize(r, offsetDelta);
  return varintSize(body) + body;
}

/** Encoded size of records [from, to) as they sit in an uncompressed batch. */
export function recordsSize(records: readonly BatchRecord[], from = 0, to = records.length): number {
  let size = 0;
  for (let i = from; i < to; i++) size += recordSize(records[i] as BatchRecord, i - from);
  return size;
}

/** Writes records [from, to) in their batch form (offset deltas counted from `from`). */
export function writeRecords(
  w: ByteWriter,
  records: readonly BatchRecord[],
  from = 0,
  to = records.length,
): void {
  for (let i = from; i < to; i++) {
    const r = records[i] as BatchRecord;
    const delta = i - from;
    w.varint(recordBodySize(r, delta));
    w.int8(0);
    w.varint(0);
    w.varint(delta);
    w.varint(r.key.length).bytes(r.key);
    w.varint(r.value.length).bytes(r.value);
    w.varint(0);
  }
}

/**
 * Writes a whole batch at the writer's offset. With `encodedRecords` the
 * records are taken as given (already compressed with `codec`); otherwise
 * they are written uncompressed straight from `records`.
 */
export function writeRecordBatch(
  w: ByteWriter,
  records: readonly BatchRecord[],
  from: number,
  to: number,
  id: BatchIdentity,
  timestampMs: number,
  encodedRecords?: { codec: number; bytes: Uint8Array },
): void {
  const start = w.offset;
  const count = to - from;
  w.int64(0n); // baseOffset: the broker assigns offsets
  w.int32(0); // batchLength, patched below
  w.int32(-1); // partitionLeaderEpoch
  w.int8(2); // magic
  w.uint32(0); // crc, patched below
  w.int16(encodedRecords?.codec ?? CODEC_NONE);
  w.int32(count - 1); // lastOffsetDelta
  w.int64FromNumber(timestampMs);
  w.int64FromNumber(timestampMs);
  w.int64(id.producerId);
  w.int16(id.producerEpoch);
  w.int32(id.baseSequence);
  w.int32(count);
  if (encodedRecords) w.bytes(encodedRecords.bytes);
  else writeRecords(w, records, from, to);
  const end = w.offset;
  w.buf.writeInt32BE(end - start - BATCH_LENGTH_AT - 4, start + BATCH_LENGTH_AT);
  w.buf.writeUInt32BE(crc32c(w.buf.subarray(start + CRC_FROM, end)), start + CRC_AT);
}
