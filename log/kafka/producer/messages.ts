/**
 * The three requests a producer needs, at fixed versions that every broker
 * from Kafka 2.3 on accepts and that use no tagged fields: Metadata v8,
 * InitProducerId v1 and Produce v7. Each encoder returns a whole frame.
 */
import { ByteReader, ByteWriter, stringSize } from "./wire.js";

const API_PRODUCE = 0;
const API_METADATA = 3;
const API_INIT_PRODUCER_ID = 22;

/** Request header v1: api key, version, correlation id, client id. */
function headerSize(clientId: string): number {
  return 2 + 2 + 4 + stringSize(clientId);
}

function startFrame(size: number, apiKey: number, version: number, correlationId: number, clientId: string) {
  const total = 4 + headerSize(clientId) + size;
  const w = ByteWriter.alloc(total);
  w.int32(total - 4)
    .int16(apiKey)
    .int16(version)
    .int32(correlationId)
    .string(clientId);
  return w;
}

// --- Metadata v8 ---

export interface BrokerAddress {
  nodeId: number;
  host: string;
  port: number;
}

export interface PartitionLeader {
  partition: number;
  errorCode: number;
  leader: number;
}

export interface TopicMetadata {
  name: string;
  errorCode: number;
  partitions: PartitionLeader[];
}

export interface Metadata {
  brokers: BrokerAddress[];
  topics: TopicMetadata[];
}

export function encodeMetadataRequest(
  correlationId: number,
  clientId: string,
  topics: readonly string[],
): Buffer {
  let size = 4 + 3;
  for (const t of topics) size += stringSize(t);
  const w = startFrame(size, API_METADATA, 8, correlationId, clientId);
  w.int32(topics.length);
  for (const t of topics) w.string(t);
  w.bool(false); // allow_auto_topic_creation: topics are created on purpose, never by a typo
  w.bool(false);
  w.bool(false);
  return w.buf;
}

export function decodeMetadataResponse(body: Buffer): Metadata {
  const r = new ByteReader(body);
  r.int32(); // throttle_time_ms
  const brokers = r.array((b) => {
    const nodeId = b.int32();
    const host = b.string();
    const port = b.int32();
    b.nullableString(); // rack
    return { nodeId, host, port };
  });
  r.nullableString(); // cluster_id
  r.int32(); // controller_id
  const topics = r.array((t) => {
    const errorCode = t.int16();
    const name = t.string();
    t.bool(); // is_internal
    const partitions = t.array((p) => {
      const perr = p.int16();
      const partition = p.int32();
      const leader = p.int32();
      p.int32(); // leader_epoch
      p.array((x) => x.int32()); // replicas
      p.array((x) => x.int32()); // isr
      p.array((x) => x.int32()); // offline replicas
      return { partition, errorCode: perr, leader };
    });
    t.int32(); // topic_authorized_operations
    return { name, errorCode, partitions };
  });
  return { brokers, topics };
}

// --- InitProducerId v1 ---

export interface ProducerIdentity {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

export function encodeInitProducerIdRequest(correlationId: number, clientId: string): Buffer {
  const w = startFrame(2 + 4, API_INIT_PRODUCER_ID, 1, correlationId, clientId);
  w.nullableString(null); // no transactional id: an idempotent producer only
  w.int32(60_000);
  return w.buf;
}

export function decodeInitProducerIdResponse(body: Buffer): ProducerIdentity {
  const r = new ByteReader(body);
  r.int32(); // throttle_time_ms
  const errorCode = r.int16();
  const producerId = r.int64();
  const producerEpoch = r.int16();
  return { errorCode, producerId, producerEpoch };
}

// --- Produce v7 ---

/** One partition's record batch, written by `write` into exactly `size` bytes. */
export interface ProducePartition {
  partition: number;
  size: number;
  write: (w: ByteWriter) => void;
}

export interface ProduceTopic {
  topic: string;
  partitions: ProducePartition[];
}

export function encodeProduceRequest(
  correlationId: number,
  clientId: string,
  acks: number,
  timeoutMs: number,
  topics: readonly ProduceTopic[],
): Buffer {
  let size = 2 + 2 + 4 + 4;
  for (const t of topics) {
    size += stringSize(t.topic) + 4;
    for (const p of t.partitions) size += 4 + 4 + p.size;
  }
  const w = startFrame(size, API_PRODUCE, 7, correlationId, clientId);
  w.nullableString(null).int16(acks).int32(timeoutMs).int32(topics.length);
  for (const t of topics) {
    w.string(t.topic).int32(t.partitions.length);
    for (const p of t.partitions) {
      w.int32(p.partition).int32(p.size);
      const before = w.offset;
      p.write(w);
      if (w.offset - before !== p.size) {
        throw new Error(
          `record batch for ${t.topic}/${p.partition} wrote ${w.offset - before} of ${p.size} bytes`,
        );
      }
    }
  }
  return w.buf;
}

export interface PartitionOutcome {
  topic: string;
  partition: number;
  errorCode: number;
  baseOffset: bigint;
}

export function decodeProduceResponse(body: Buffer): PartitionOutcome[] {
  const r = new ByteReader(body);
  const out: PartitionOutcome[] = [];
  r.array((t) => {
    const topic = t.string();
    t.array((p) => {
      const partition = p.int32();
      const errorCode = p.int16();
      const baseOffset = p.int64();
      p.int64(); // log_append_time_ms
      p.int64(); // log_start_offset
      out.push({ topic, partition, errorCode, baseOffset });
    });
  });
  r.int32(); // throttle_time_ms
  return out;
}
