/**
 * An idempotent Kafka producer for the gateway's append path, and only for
 * it: acks=all, one producer id, a sequence number per partition, and
 * produce requests encoded once into a buffer sized up front.
 *
 * Why not the general-purpose client: it builds every request through
 * growable, zero-filled buffers and checksums in JavaScript, and that was
 * most of the gateway's CPU per record. Topic creation and consuming still
 * use the general client.
 *
 * Contract with the caller: `send` calls do not overlap (the group commit
 * hands over one batch at a time). When `send` rejects, the outcome of what
 * was in flight is unknown, so the producer drops its identity and its
 * connections; the next `connect` gets a fresh producer id, so old sequence
 * numbers can never clash. Whatever was rejected is retried by the client,
 * and the pipeline's event ids make such a resend harmless downstream.
 */
import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import { ErrorCode, SluiceError } from "../../../core/errors.js";
import type { LogMessage } from "../../log.js";
import { partitionFor } from "../../partitioner.js";
import { BrokerConnection, connectionError } from "./broker-connection.js";
import { isResendable, KafkaErrorCode, kafkaErrorName } from "./kafka-error-codes.js";
import {
  type BrokerAddress,
  decodeInitProducerIdResponse,
  decodeMetadataResponse,
  decodeProduceResponse,
  encodeInitProducerIdRequest,
  encodeMetadataRequest,
  encodeProduceRequest,
  type ProduceTopic,
} from "./messages.js";
import {
  type BatchRecord,
  CODEC_GZIP,
  RECORD_BATCH_OVERHEAD,
  recordSize,
  recordsSize,
  writeRecordBatch,
  writeRecords,
} from "./record-batch.js";
import { ByteWriter } from "./wire.js";

const gzip = promisify(gzipCallback);

export interface IdempotentProducerOptions {
  brokers: string[];
  clientId: string;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
  /** Cap on one partition's record batch; keep it under the broker's message.max.bytes. */
  maxBatchBytes: number;
  compression: "none" | "gzip";
}

/** The broker allows five unacknowledged batches per partition from one idempotent producer. */
const MAX_IN_FLIGHT = 5;
/** One produce request carries at most this much, far under socket.request.max.bytes. */
const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
const RESEND_ATTEMPTS = 5;
const RESEND_BACKOFF_MS = 100;
const METADATA_MAX_AGE_MS = 5 * 60_000;

interface TopicLayout {
  partitions: number;
  /** Leader node id per partition; -1 while none is elected. */
  leaders: Int32Array;
}

/** One partition's share of a send: records [from, to) with their sequence fixed. */
interface PlannedBatch {
  topic: string;
  partition: number;
  records: BatchRecord[];
  from: number;
  to: number;
  baseSequence: number;
  compressed?: Uint8Array;
  size: number;
}

export class IdempotentProducer {
  private readonly brokers = new Map<number, BrokerAddress>();
  private readonly connections = new Map<number, BrokerConnection>();
  private readonly layouts = new Map<string, TopicLayout>();
  private readonly sequences = new Map<string, number[]>();
  private metadataAt = 0;
  private producerId = -1n;
  private producerEpoch = -1;
  private bootstrap: BrokerConnection | undefined;
  /** Called when a connection drops while no send is running, so the owner can probe the cluster. */
  onIdleConnectionLost: (() => void) | undefined;
  private sending = false;

  constructor(private readonly options: IdempotentProducerOptions) {}

  /** Learns the cluster and gets a producer id. Throws when no broker answers. */
  async connect(topics: readonly string[]): Promise<void> {
    await this.refreshMetadata(topics);
    await this.initProducerId();
  }

  get connected(): boolean {
    return this.producerId >= 0n;
  }

  /** Appends every message; resolves when the leaders of all partitions acknowledged with acks=all. */
  async send(byTopic: ReadonlyMap<string, readonly LogMessage[]>): Promise<void> {
    if (this.sending) throw new Error("IdempotentProducer.send calls must not overlap");
    this.sending = true;
    try {
      if (!this.connected) throw connectionError("kafka producer is not connected");
      if (Date.now() - this.metadataAt > METADATA_MAX_AGE_MS)
        await this.refreshMetadata([...this.layouts.keys()]);
      const planned = await this.plan(byTopic);
      await this.deliver(planned);
    } catch (err) {
      this.reset();
      throw err;
    } finally {
      this.sending = false;
    }
  }

  /** Fetches metadata from any broker; used to probe the cluster after a lost connection. */
  async probe(): Promise<void> {
    await this.refreshMetadata([...this.layouts.keys()]);
  }

  close(): void {
    this.reset();
  }

  private reset(): void {
    this.producerId = -1n;
    this.producerEpoch = -1;
    this.sequences.clear();
    this.metadataAt = 0;
    for (const c of this.connections.values()) quietClose(c);
    this.connections.clear();
    if (this.bootstrap) quietClose(this.bootstrap);
    this.bootstrap = undefined;
  }

  // --- planning: partition, split, sequence ---

  private async plan(byTopic: ReadonlyMap<string, readonly LogMessage[]>): Promise<PlannedBatch[]> {
    const planned: PlannedBatch[] = [];
    for (const [topic, messages] of byTopic) {
      let layout = this.layouts.get(topic);
      if (!layout) {
        await this.refreshMetadata([...this.layouts.keys(), topic]);
        layout = this.layouts.get(topic);
        if (!layout) throw unknownTopic(topic);
      }
      const perPartition: BatchRecord[][] = [];
      for (const m of messages) {
        const p = partitionFor(m.key, layout.partitions);
        let list = perPartition[p];
        if (!list) {
          list = [];
          perPartition[p] = list;
        }
        list.push(m);
      }
      perPartition.forEach((records, partition) => {
        if (records) this.split(topic, partition, records, planned);
      });
    }
    if (this.options.compression === "gzip") {
      await Promise.all(
        planned.map(async (b) => {
          const w = ByteWriter.alloc(recordsSize(b.records, b.from, b.to));
          writeRecords(w, b.records, b.from, b.to);
          b.compressed = await gzip(w.buf);
          b.size = RECORD_BATCH_OVERHEAD + b.compressed.length;
        }),
      );
    }
    return planned;
  }

  /** Cuts one partition's records into batches of at most maxBatchBytes and numbers them. */
  private split(topic: string, partition: number, records: BatchRecord[], out: PlannedBatch[]): void {
    const max = this.options.maxBatchBytes;
    let from = 0;
    while (from < records.length) {
      let to = from;
      let bytes = RECORD_BATCH_OVERHEAD;
      // Each record's size at its own offset delta, so the running total is the batch's exact size.
      while (to < records.length) {
        const one = recordSize(records[to] as BatchRecord, to - from);
        if (to > from && bytes + one > max) break;
        bytes += one;
        to++;
      }
      const size = bytes;
      out.push({
        topic,
        partition,
        records,
        from,
        to,
        baseSequence: this.nextSequence(topic, partition, to - from),
        size,
      });
      from = to;
    }
  }

  private nextSequence(topic: string, partition: number, count: number): number {
    let seqs = this.sequences.get(topic);
    if (!seqs) {
      seqs = [];
      this.sequences.set(topic, seqs);
    }
    const current = seqs[partition] ?? 0;
    // Sequences wrap to 0 after int32 max, as the broker expects.
    seqs[partition] = current > 0x7fffffff - count ? count - (0x7fffffff - current) - 1 : current + count;
    return current;
  }

  // --- delivery ---

  private async deliver(planned: PlannedBatch[]): Promise<void> {
    let pending = planned;
    for (let attempt = 1; pending.length; attempt++) {
      const failed = await this.sendOnce(pending);
      if (!failed.length) return;
      const codes = [...new Set(failed.map((f) => kafkaErrorName(f.code)))].join(", ");
      if (attempt >= RESEND_ATTEMPTS || failed.some((f) => !isResendable(f.code))) {
        const tooLarge = failed.some((f) => f.code === KafkaErrorCode.MESSAGE_TOO_LARGE);
        throw new SluiceError(ErrorCode.LOG_UNAVAILABLE, `kafka refused the append: ${codes}`, {
          retryable: !tooLarge,
          retryAfterMs: 1000,
        });
      }
      // The leader moved or is briefly short of replicas: learn the new layout and resend
      // the same batches, same sequences, so nothing can be written twice.
      await sleep(RESEND_BACKOFF_MS * attempt);
      await this.refreshMetadata([...this.layouts.keys()]);
      pending = failed.map((f) => f.batch);
    }
  }

  /** Sends every batch once; returns the batches the brokers refused, in order. */
  private async sendOnce(batches: PlannedBatch[]): Promise<{ batch: PlannedBatch; code: number }[]> {
    const byLeader = new Map<number, PlannedBatch[]>();
    const refused: { batch: PlannedBatch; code: number }[] = [];
    for (const b of batches) {
      const leader = this.layouts.get(b.topic)?.leaders[b.partition] ?? -1;
      if (leader < 0) {
        refused.push({ batch: b, code: KafkaErrorCode.LEADER_NOT_AVAILABLE });
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) {
        list = [];
        byLeader.set(leader, list);
      }
      list.push(b);
    }
    const results = await Promise.all([...byLeader].map(([leader, list]) => this.sendToLeader(leader, list)));
    for (const r of results) refused.push(...r);
    return refused;
  }

  private async sendToLeader(
    leader: number,
    batches: PlannedBatch[],
  ): Promise<{ batch: PlannedBatch; code: number }[]> {
    const conn = await this.connectionTo(leader);
    const requests = requestsFor(batches);
    const refused: { batch: PlannedBatch; code: number }[] = [];
    // A window of MAX_IN_FLIGHT pipelined requests on the one connection keeps per-partition
    // order (TCP order) within what the broker's idempotence check tracks.
    for (let i = 0; i < requests.length; i += MAX_IN_FLIGHT) {
      const window = requests.slice(i, i + MAX_IN_FLIGHT);
      const answers = await Promise.all(window.map((req) => this.produce(conn, req)));
      window.forEach((req, k) => {
        const outcome = answers[k] as Map<string, number>;
        for (const b of req) {
          const code = outcome.get(`${b.topic}\0${b.partition}`);
          if (code === undefined) {
            throw connectionError(
              `kafka broker ${conn.address} did not answer for ${b.topic}/${b.partition}`,
            );
          }
          // A duplicate sequence means an earlier attempt of this very batch was appended.
          if (code !== KafkaErrorCode.NONE && code !== KafkaErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
            refused.push({ batch: b, code });
          }
        }
      });
    }
    return refused;
  }

  private async produce(conn: BrokerConnection, batches: PlannedBatch[]): Promise<Map<string, number>> {
    const topics = new Map<string, ProduceTopic>();
    const timestamp = Date.now();
    const id = { producerId: this.producerId, producerEpoch: this.producerEpoch, baseSequence: 0 };
    for (const b of batches) {
      let t = topics.get(b.topic);
      if (!t) {
        t = { topic: b.topic, partitions: [] };
        topics.set(b.topic, t);
      }
      t.partitions.push({
        partition: b.partition,
        size: b.size,
        write: (w) => {
          id.baseSequence = b.baseSequence;
          const encoded = b.compressed ? { codec: CODEC_GZIP, bytes: b.compressed } : undefined;
          writeRecordBatch(w, b.records, b.from, b.to, id, timestamp, encoded);
        },
      });
    }
    const { clientId, requestTimeoutMs } = this.options;
    const body = await conn.request(
      (cid) => encodeProduceRequest(cid, clientId, -1, requestTimeoutMs, [...topics.values()]),
      requestTimeoutMs + 5000,
    );
    const outcome = new Map<string, number>();
    for (const o of decodeProduceResponse(body)) outcome.set(`${o.topic}\0${o.partition}`, o.errorCode);
    return outcome;
  }

  // --- cluster state ---

  private async connectionTo(nodeId: number): Promise<BrokerConnection> {
    const open = this.connections.get(nodeId);
    if (open?.isOpen) return open;
    const addr = this.brokers.get(nodeId);
    if (!addr) throw connectionError(`kafka broker ${nodeId} is not in the cluster metadata`);
    const conn = await BrokerConnection.open(addr.host, addr.port, this.options.connectionTimeoutMs);
    conn.onClose = () => {
      if (this.connections.get(nodeId) === conn) this.connections.delete(nodeId);
      if (!this.sending) this.onIdleConnectionLost?.();
    };
    this.connections.set(nodeId, conn);
    return conn;
  }

  /** Any live connection, else the first bootstrap broker that accepts one. */
  private async anyConnection(): Promise<BrokerConnection> {
    for (const c of this.connections.values()) if (c.isOpen) return c;
    if (this.bootstrap?.isOpen) return this.bootstrap;
    let last: unknown;
    for (const b of this.options.brokers) {
      const { host, port } = parseHostPort(b);
      try {
        this.bootstrap = await BrokerConnection.open(host, port, this.options.connectionTimeoutMs);
        return this.bootstrap;
      } catch (err) {
        last = err;
      }
    }
    throw connectionError(`no kafka broker reachable (${this.options.brokers.join(", ")})`, last);
  }

  private async refreshMetadata(topics: readonly string[]): Promise<void> {
    const conn = await this.anyConnection();
    const { clientId, requestTimeoutMs } = this.options;
    const body = await conn.request((cid) => encodeMetadataRequest(cid, clientId, topics), requestTimeoutMs);
    const md = decodeMetadataResponse(body);
    this.brokers.clear();
    for (const b of md.brokers) this.brokers.set(b.nodeId, b);
    for (const t of md.topics) {
      if (t.errorCode !== KafkaErrorCode.NONE && t.partitions.length === 0) {
        this.layouts.delete(t.name);
        continue;
      }
      const leaders = new Int32Array(t.partitions.length).fill(-1);
      for (const p of t.partitions) if (p.partition < leaders.length) leaders[p.partition] = p.leader;
      this.layouts.set(t.name, { partitions: t.partitions.length, leaders });
    }
    // Connections to brokers that left the cluster, or moved, are dropped.
    for (const [nodeId, c] of this.connections) {
      const addr = this.brokers.get(nodeId);
      if (!addr || c.address !== `${addr.host}:${addr.port}`) {
        this.connections.delete(nodeId);
        quietClose(c);
      }
    }
    this.metadataAt = Date.now();
  }

  private async initProducerId(): Promise<void> {
    const { clientId, requestTimeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      const conn = await this.anyConnection();
      const body = await conn.request((cid) => encodeInitProducerIdRequest(cid, clientId), requestTimeoutMs);
      const r = decodeInitProducerIdResponse(body);
      if (r.errorCode === KafkaErrorCode.NONE) {
        this.producerId = r.producerId;
        this.producerEpoch = r.producerEpoch;
        this.sequences.clear();
        return;
      }
      const transient =
        r.errorCode === KafkaErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
        r.errorCode === KafkaErrorCode.COORDINATOR_NOT_AVAILABLE ||
        r.errorCode === KafkaErrorCode.CONCURRENT_TRANSACTIONS;
      if (!transient || attempt >= RESEND_ATTEMPTS) {
        throw connectionError(`kafka refused a producer id: ${kafkaErrorName(r.errorCode)}`);
      }
      await sleep(RESEND_BACKOFF_MS * attempt);
    }
  }
}

/**
 * Groups one leader's batches into produce requests: a partition may appear
 * once per request (the broker takes one batch per partition), so a
 * partition's second batch goes into the next request, after its first.
 */
function requestsFor(batches: PlannedBatch[]): PlannedBatch[][] {
  const requests: { batches: PlannedBatch[]; bytes: number; members: Set<string> }[] = [];
  const nextFree = new Map<string, number>();
  for (const b of batches) {
    const tp = `${b.topic}\0${b.partition}`;
    let i = nextFree.get(tp) ?? 0;
    while (i < requests.length) {
      const r = requests[i] as (typeof requests)[number];
      if (!r.members.has(tp) && (r.bytes === 0 || r.bytes + b.size <= MAX_REQUEST_BYTES)) break;
      i++;
    }
    if (i === requests.length) requests.push({ batches: [], bytes: 0, members: new Set() });
    const r = requests[i] as (typeof requests)[number];
    r.batches.push(b);
    r.bytes += b.size;
    r.members.add(tp);
    nextFree.set(tp, i + 1);
  }
  return requests.map((r) => r.batches);
}

/** Closes a connection on purpose, without reporting it as lost. */
function quietClose(conn: BrokerConnection): void {
  conn.onClose = undefined;
  conn.close();
}

function unknownTopic(topic: string): SluiceError {
  return new SluiceError(ErrorCode.LOG_UNAVAILABLE, `kafka topic ${topic} does not exist`, {
    retryable: true,
    retryAfterMs: 1000,
  });
}

function parseHostPort(broker: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(broker);
  if (!m) return { host: broker, port: 9092 };
  return { host: m[1] as string, port: Number(m[2]) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
