import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { LogMessage, LogWriter, StoredMessage } from "../log.js";
import { partitionFor } from "../partitioner.js";

export interface EmbeddedLogOptions {
  /** SQLite file path; parent directories are created. */
  path: string;
  /** Partitions per topic, fixed when a topic is first created (then read from the file). */
  partitions: number;
  /**
   * Applied to every topic; undefined means unlimited. maxBytes bounds the
   * value bytes of a whole topic (all its partitions), oldest messages
   * going first; see README.md for why this differs from Kafka.
   */
  retention: { maxAgeMs: number | undefined; maxBytes: number | undefined };
  /** How often retention runs in the background. Default 60 000 ms. */
  retentionCheckIntervalMs?: number;
  /** Most messages written by one group-commit transaction. Default 50 000. */
  maxBatchMessages?: number;
}

export interface EmbeddedLogStats {
  /** Successful group-commit transactions. */
  flushes: number;
  /** Group-commit transactions that failed and rejected their appends. */
  failedFlushes: number;
  /** Messages made durable. */
  messages: number;
}

const SCHEMA_VERSION = 1;
const BUSY_TIMEOUT_MS = 5000;
// SQLite refuses strings and blobs over SQLITE_MAX_LENGTH (1e9 by default);
// rejecting those up front keeps one oversized append from failing the
// whole group it would have been committed with.
const MAX_MESSAGE_BYTES = 900_000_000;
// Bounds how long retention holds the write lock, so appends from this and
// other processes keep flowing while a large backlog is deleted.
const RETENTION_CHUNK_ROWS = 10_000;
const RETRY_AFTER_MS = 1000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS topics (
  topic_id   INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  partitions INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS partitions (
  topic_id     INTEGER NOT NULL,
  part         INTEGER NOT NULL,
  next_offset  INTEGER NOT NULL,
  start_offset INTEGER NOT NULL,
  bytes        INTEGER NOT NULL,
  PRIMARY KEY (topic_id, part)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  topic_id   INTEGER NOT NULL,
  part       INTEGER NOT NULL,
  msg_offset INTEGER NOT NULL,
  ts         INTEGER NOT NULL,
  size       INTEGER NOT NULL,
  key        BLOB NOT NULL,
  value      BLOB NOT NULL,
  PRIMARY KEY (topic_id, part, msg_offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumer_offsets (
  group_id    TEXT NOT NULL,
  topic       TEXT NOT NULL,
  part        INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  updated_ms  INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, part)
) WITHOUT ROWID;
`;

/**
 * Per-topic state. The scratch arrays are reused by every flush so the
 * write path allocates nothing per partition; `seen` holds the flush epoch
 * in which a partition's next offset was last loaded from the file.
 */
interface TopicState {
  readonly id: number;
  readonly name: string;
  readonly partitions: number;
  readonly next: Float64Array;
  readonly added: Float64Array;
  readonly seen: Float64Array;
}

interface PendingAppend {
  readonly topic: string;
  state: TopicState | undefined;
  readonly messages: readonly LogMessage[];
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface Statements {
  topicByName: Database.Statement<[string], { topic_id: number; partitions: number }>;
  insertTopic: Database.Statement<[string, number]>;
  insertPartition: Database.Statement<[number, number]>;
  topicNames: Database.Statement<[], string>;
  nextOffset: Database.Statement<[number, number], number>;
  insertMessage: Database.Statement<[number, number, number, number, number, Uint8Array, Uint8Array]>;
  advancePartition: Database.Statement<[number, number, number, number]>;
  readMessages: Database.Statement<[number, number, bigint, number], [number, number, Buffer, Buffer]>;
  bounds: Database.Statement<[number, number], { start_offset: number; next_offset: number; bytes: number }>;
  allTopics: Database.Statement<[], [number, number]>;
  topicBytes: Database.Statement<[number], number>;
  firstTs: Database.Statement<[number, number, number], number>;
  scanHead: Database.Statement<[number, number, number, number], [number, number, number]>;
  deleteBefore: Database.Statement<[number, number, number]>;
  trimPartition: Database.Statement<[number, number, number, number]>;
  commitOffset: Database.Statement<[string, string, number, bigint, number]>;
  committedOffset: Database.Statement<[string, string, number], bigint>;
}

/**
 * The one-machine backend of the durable log: SQLite in WAL mode with
 * synchronous=FULL, appends group-committed once per event-loop turn.
 * See README.md next to this file for the schema and the guarantees.
 */
export class EmbeddedLog implements LogWriter {
  private readonly opts: EmbeddedLogOptions;
  private readonly maxBatchMessages: number;
  private db: Database.Database | undefined;
  private st: Statements | undefined;
  private writeBatch: ((batch: PendingAppend[], ts: number) => void) | undefined;
  private ageStep: ((topicId: number, part: number, cutoffTs: number) => number) | undefined;
  private sizeStep: ((topicId: number, partitions: number, maxBytes: number) => number) | undefined;
  private readonly topicCache = new Map<string, TopicState>();
  private queue: PendingAppend[] = [];
  private spare: PendingAppend[] = [];
  private flushHandle: NodeJS.Immediate | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private epoch = 0;
  private readonly touchedTopics: TopicState[] = [];
  private readonly touchedParts: number[] = [];
  private healthy = false;
  private closing = false;
  private readonly counters: EmbeddedLogStats = { flushes: 0, failedFlushes: 0, messages: 0 };

  constructor(opts: EmbeddedLogOptions) {
    if (typeof opts.path !== "string" || opts.path === "" || opts.path === ":memory:") {
      throw invalidConfig("embedded log needs a file path (WAL does not work in memory)");
    }
    if (!Number.isInteger(opts.partitions) || opts.partitions < 1) {
      throw invalidConfig(`embedded log partitions must be a positive integer, got ${opts.partitions}`);
    }
    const { maxAgeMs, maxBytes } = opts.retention;
    if (maxAgeMs !== undefined && !(maxAgeMs > 0)) {
      throw invalidConfig(`retention maxAgeMs must be positive, got ${maxAgeMs}`);
    }
    if (maxBytes !== undefined && !(maxBytes >= 0)) {
      throw invalidConfig(`retention maxBytes must not be negative, got ${maxBytes}`);
    }
    const interval = opts.retentionCheckIntervalMs;
    if (interval !== undefined && !(interval > 0)) {
      throw invalidConfig(`retentionCheckIntervalMs must be positive, got ${interval}`);
    }
    const cap = opts.maxBatchMessages ?? 50_000;
    if (!Number.isInteger(cap) || cap < 1) {
      throw invalidConfig(`maxBatchMessages must be a positive integer, got ${cap}`);
    }
    this.opts = opts;
    this.maxBatchMessages = cap;
  }

  async start(): Promise<void> {
    if (this.closing) throw shuttingDown();
    if (this.db !== undefined) return;
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(this.opts.path), { recursive: true });
      db = new Database(this.opts.path, { timeout: BUSY_TIMEOUT_MS });
      // busy_timeout first: switching to WAL and creating the schema take
      // locks that another process opening the same file may hold.
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      const mode = db.pragma("journal_mode = WAL", { simple: true });
      if (String(mode).toLowerCase() !== "wal") {
        throw new Error(`could not enable WAL journal mode (got ${String(mode)})`);
      }
      // FULL makes every commit fsync the WAL, so a resolved append survives
      // power loss, not just a process crash.
      db.pragma("synchronous = FULL");
      // After a burst the WAL would otherwise keep its peak size forever.
      db.pragma("journal_size_limit = 67108864");
      const conn = db;
      conn
        .transaction(() => {
          const version = Number(conn.pragma("user_version", { simple: true }));
          if (version > SCHEMA_VERSION) {
            throw new SluiceError(
              ErrorCode.INVALID_CONFIG,
              `${this.opts.path} has schema version ${version}, newer than this build (${SCHEMA_VERSION})`,
            );
          }
          conn.exec(SCHEMA);
          if (version < SCHEMA_VERSION) conn.pragma(`user_version = ${SCHEMA_VERSION}`);
        })
        .immediate();
      this.st = prepare(conn);
      this.writeBatch = conn.transaction(this.writeBatchTx.bind(this)).immediate;
      this.ageStep = conn.transaction(this.ageStepTx.bind(this)).immediate;
      this.sizeStep = conn.transaction(this.sizeStepTx.bind(this)).immediate;
    } catch (err) {
      db?.close();
      this.st = undefined;
      if (err instanceof SluiceError) throw err;
      throw new SluiceError(
        ErrorCode.LOG_UNAVAILABLE,
        `cannot open embedded log ${this.opts.path}: ${msg(err)}`,
        {
          retryable: true,
          retryAfterMs: RETRY_AFTER_MS,
          cause: err,
        },
      );
    }
    this.db = db;
    this.healthy = true;
    const { maxAgeMs, maxBytes } = this.opts.retention;
    if (maxAgeMs !== undefined || maxBytes !== undefined) {
      this.retentionTimer = setInterval(() => {
        try {
          this.applyRetention();
        } catch {
          // A busy or failing database is already reported through append();
          // retention simply tries again on the next tick.
        }
      }, this.opts.retentionCheckIntervalMs ?? 60_000);
      this.retentionTimer.unref();
    }
  }

  /**
   * Queues messages for the next group commit and resolves once they are
   * fsynced. The caller must not mutate the messages or their bytes until
   * the promise settles: they are written from the caller's buffers, not
   * copies.
   */
  append(topic: string, messages: readonly LogMessage[]): Promise<void> {
    if (this.closing) return Promise.reject(shuttingDown());
    if (this.db === undefined) {
      return Promise.reject(
        new SluiceError(ErrorCode.LOG_UNAVAILABLE, "embedded log is not started", {
          retryable: true,
          retryAfterMs: RETRY_AFTER_MS,
        }),
      );
    }
    if (typeof topic !== "string" || topic === "") {
      return Promise.reject(new SluiceError(ErrorCode.INVALID_DATA, "topic must be a non-empty string"));
    }
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      if (m === undefined || !(m.key instanceof Uint8Array) || !(m.value instanceof Uint8Array)) {
        return Promise.reject(
          new SluiceError(ErrorCode.INVALID_DATA, `message ${i}: key and value must be Uint8Array`),
        );
      }
      if (m.key.length + m.value.length > MAX_MESSAGE_BYTES) {
        return Promise.reject(
          new SluiceError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            `message ${i} is ${m.key.length + m.value.length} bytes, over the embedded log limit of ${MAX_MESSAGE_BYTES}`,
          ),
        );
      }
    }
    if (messages.length === 0) return Promise.resolve();
    const state = this.topicCache.get(topic);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, state, messages, resolve, reject });
      if (this.flushHandle === undefined) this.flushHandle = setImmediate(this.flushTick);
    });
  }

  isHealthy(): boolean {
    return this.healthy && this.db !== undefined && !this.closing;
  }

  async shutdown(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.flushHandle !== undefined) {
      clearImmediate(this.flushHandle);
      this.flushHandle = undefined;
    }
    if (this.retentionTimer !== undefined) {
      clearInterval(this.retentionTimer);
      this.retentionTimer = undefined;
    }
    while (this.queue.length > 0) this.flushOnce();
    this.healthy = false;
    const db = this.db;
    this.db = undefined;
    this.st = undefined;
    this.writeBatch = undefined;
    this.ageStep = undefined;
    this.sizeStep = undefined;
    db?.close();
  }

  /** Counters for metrics and tests. */
  get stats(): Readonly<EmbeddedLogStats> {
    return { ...this.counters };
  }

  topics(): string[] {
    const st = this.statements();
    return guard("list topics", () => st.topicNames.all());
  }

  partitionCount(topic: string): number {
    return this.lookupTopic(topic)?.partitions ?? 0;
  }

  /**
   * Up to maxMessages messages of one partition, in offset order, starting
   * at the first retained offset >= fromOffset. A first offset above
   * fromOffset means retention removed what was asked for.
   */
  /**
   * Messages from `fromOffset` on: at most `maxMessages`, and no more once
   * their values pass `maxBytes` (the message that passes it is the last;
   * one is always returned). Rows are read one at a time, so a large backlog
   * is never loaded past the cut.
   */
  read(
    topic: string,
    partition: number,
    fromOffset: bigint,
    maxMessages: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): StoredMessage[] {
    const st = this.statements();
    if (!(maxMessages >= 1)) return [];
    const state = this.lookupTopic(topic);
    if (state === undefined || !validPartition(state, partition)) return [];
    const from = fromOffset < 0n ? 0n : fromOffset;
    return guard("read", () => {
      const out: StoredMessage[] = [];
      let bytes = 0;
      for (const r of st.readMessages.iterate(state.id, partition, from, Math.floor(maxMessages))) {
        const row = r as [number, number, Buffer, Buffer];
        out.push({
          topic: state.name,
          partition,
          offset: BigInt(row[0]),
          timestampMs: row[1],
          key: row[2],
          value: row[3],
        });
        bytes += row[3].length;
        if (bytes >= maxBytes) break;
      }
      return out;
    });
  }

  /** The offset the next message of this partition will get (high watermark). */
  endOffset(topic: string, partition: number): bigint {
    const b = this.bounds(topic, partition);
    return b === undefined ? 0n : BigInt(b.next_offset);
  }

  /** The oldest offset still retained; equals endOffset when the partition is empty. */
  startOffset(topic: string, partition: number): bigint {
    const b = this.bounds(topic, partition);
    return b === undefined ? 0n : BigInt(b.start_offset);
  }

  /** Records a consumer group's position; durable (fsynced) when it returns. */
  commit(group: string, topic: string, partition: number, nextOffset: bigint): void {
    const st = this.statements();
    if (typeof group !== "string" || group === "" || typeof topic !== "string" || topic === "") {
      throw new SluiceError(ErrorCode.INVALID_DATA, "group and topic must be non-empty strings");
    }
    if (!Number.isInteger(partition) || partition < 0) {
      throw new SluiceError(ErrorCode.INVALID_DATA, `invalid partition ${partition}`);
    }
    if (typeof nextOffset !== "bigint" || nextOffset < 0n) {
      throw new SluiceError(ErrorCode.INVALID_DATA, `invalid offset ${String(nextOffset)}`);
    }
    guard("commit offset", () => st.commitOffset.run(group, topic, partition, nextOffset, Date.now()));
  }

  committed(group: string, topic: string, partition: number): bigint | undefined {
    const st = this.statements();
    return guard("read committed offset", () => st.committedOffset.get(group, topic, partition));
  }

  /**
   * Deletes, per topic, the messages older than maxAgeMs and then the
   * oldest messages (by append time, across partitions) until the topic's
   * value bytes fit maxBytes. Only a prefix of each partition is ever
   * removed, so retained offsets stay contiguous and are never reused.
   */
  applyRetention(nowMs: number = Date.now()): { deletedMessages: number } {
    const st = this.statements();
    const ageStep = this.ageStep;
    const sizeStep = this.sizeStep;
    const { maxAgeMs, maxBytes } = this.opts.retention;
    if (ageStep === undefined || sizeStep === undefined) return { deletedMessages: 0 };
    let deleted = 0;
    const topics = guard("list topics", () => st.allTopics.all());
    for (const [topicId, partitions] of topics) {
      if (maxAgeMs !== undefined) {
        const cutoffTs = nowMs - maxAgeMs;
        for (let part = 0; part < partitions; part++) {
          // Read-only check first, so idle partitions never take the write lock.
          const b = guard("retention", () => st.bounds.get(topicId, part));
          if (b === undefined || b.start_offset >= b.next_offset) continue;
          const oldest = guard("retention", () => st.firstTs.get(topicId, part, b.start_offset));
          if (oldest === undefined || oldest >= cutoffTs) continue;
          for (;;) {
            const n = guard("retention", () => ageStep(topicId, part, cutoffTs));
            deleted += n;
            if (n < RETENTION_CHUNK_ROWS) break;
          }
        }
      }
      if (maxBytes !== undefined) {
        const total = guard("retention", () => st.topicBytes.get(topicId)) ?? 0;
        if (total <= maxBytes) continue;
        for (;;) {
          const n = guard("retention", () => sizeStep(topicId, partitions, maxBytes));
          deleted += n;
          if (n === 0) break;
        }
      }
    }
    return { deletedMessages: deleted };
  }

  // --- write path -------------------------------------------------------

  private readonly flushTick = (): void => {
    this.flushHandle = undefined;
    this.flushOnce();
    if (this.queue.length > 0 && this.flushHandle === undefined && !this.closing) {
      this.flushHandle = setImmediate(this.flushTick);
    }
  };

  /** Takes up to maxBatchMessages queued messages (whole appends) and commits them in one transaction. */
  private flushOnce(): void {
    const queue = this.queue;
    if (queue.length === 0) return;
    let take = 0;
    let count = 0;
    while (take < queue.length) {
      const n = (queue[take] as PendingAppend).messages.length;
      // An append bigger than the cap still goes, alone.
      if (take > 0 && count + n > this.maxBatchMessages) break;
      count += n;
      take++;
    }
    let batch: PendingAppend[];
    if (take === queue.length) {
      // Swap buffers instead of allocating a new queue every turn.
      batch = queue;
      this.queue = this.spare;
      this.spare = batch;
    } else {
      batch = queue.splice(0, take);
    }

    let failure: unknown;
    try {
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i] as PendingAppend;
        if (p.state === undefined) p.state = this.ensureTopic(p.topic);
      }
      const write = this.writeBatch;
      if (write === undefined) throw new Error("embedded log is closed");
      write(batch, Date.now());
    } catch (err) {
      failure = err;
    }

    if (failure === undefined) {
      this.healthy = true;
      this.counters.flushes++;
      this.counters.messages += count;
      for (let i = 0; i < batch.length; i++) (batch[i] as PendingAppend).resolve();
    } else {
      this.healthy = false;
      this.counters.failedFlushes++;
      const err = new SluiceError(ErrorCode.LOG_UNAVAILABLE, `embedded log write failed: ${msg(failure)}`, {
        retryable: true,
        retryAfterMs: RETRY_AFTER_MS,
        cause: failure,
      });
      for (let i = 0; i < batch.length; i++) (batch[i] as PendingAppend).reject(err);
    }
    if (batch === this.spare) batch.length = 0;
  }

  /**
   * Runs inside BEGIN IMMEDIATE: holding the write lock while reading each
   * partition's next offset is what keeps offsets dense and unique when
   * several processes append to the same file.
   */
  private writeBatchTx(batch: PendingAppend[], ts: number): void {
    const st = this.st as Statements;
    const epoch = ++this.epoch;
    const topics = this.touchedTopics;
    const parts = this.touchedParts;
    topics.length = 0;
    parts.length = 0;
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i] as PendingAppend;
      const t = pending.state as TopicState;
      const messages = pending.messages;
      for (let j = 0; j < messages.length; j++) {
        const m = messages[j] as LogMessage;
        const p = partitionFor(m.key, t.partitions);
        if (t.seen[p] !== epoch) {
          const next = st.nextOffset.get(t.id, p);
          if (next === undefined) throw new Error(`partition ${t.name}/${p} is missing from the log`);
          t.seen[p] = epoch;
          t.next[p] = next;
          t.added[p] = 0;
          topics.push(t);
          parts.push(p);
        }
        const offset = t.next[p] as number;
        st.insertMessage.run(t.id, p, offset, ts, m.value.length, m.key, m.value);
        t.next[p] = offset + 1;
        t.added[p] = (t.added[p] as number) + m.value.length;
      }
    }
    for (let i = 0; i < topics.length; i++) {
      const t = topics[i] as TopicState;
      const p = parts[i] as number;
      st.advancePartition.run(t.next[p] as number, t.added[p] as number, t.id, p);
    }
  }

  /**
   * Creates the topic in its own committed transaction (not the batch's),
   * so a batch that rolls back can never leave a cached topic id behind
   * that the file does not have.
   */
  private ensureTopic(name: string): TopicState {
    const cached = this.lookupTopic(name);
    if (cached !== undefined) return cached;
    const db = this.db as Database.Database;
    const st = this.st as Statements;
    const row = db
      .transaction(() => {
        st.insertTopic.run(name, this.opts.partitions);
        const r = st.topicByName.get(name);
        if (r === undefined) throw new Error(`topic ${name} vanished while being created`);
        // Rows for every partition up front: readers see 0/0 bounds for an
        // empty partition, and the write path can always read next_offset.
        for (let p = 0; p < r.partitions; p++) st.insertPartition.run(r.topic_id, p);
        return r;
      })
      .immediate();
    const state = topicState(name, row.topic_id, row.partitions);
    this.topicCache.set(name, state);
    return state;
  }

  // --- retention --------------------------------------------------------

  /** Deletes up to RETENTION_CHUNK_ROWS expired messages from the front of one partition. */
  private ageStepTx(topicId: number, part: number, cutoffTs: number): number {
    const st = this.st as Statements;
    const b = st.bounds.get(topicId, part);
    if (b === undefined) return 0;
    let removedBytes = 0;
    let cut = b.start_offset;
    let n = 0;
    for (const [offset, ts, size] of st.scanHead.iterate(
      topicId,
      part,
      b.start_offset,
      RETENTION_CHUNK_ROWS,
    )) {
      // Stop at the first young message even if older ones follow (a clock
      // step backwards): retention must never punch a hole mid-partition.
      if (!(ts < cutoffTs)) break;
      removedBytes += size;
      cut = offset + 1;
      n++;
    }
    if (n > 0) this.trim(topicId, part, cut, removedBytes);
    return n;
  }

  /**
   * Deletes the topic's oldest messages, merging the partitions' heads by
   * append time, until its value bytes fit maxBytes or this step's row
   * budget is spent. Returns how many it deleted; 0 once the topic fits.
   */
  private sizeStepTx(topicId: number, partitions: number, maxBytes: number): number {
    const st = this.st as Statements;
    const total = st.topicBytes.get(topicId) ?? 0;
    let excess = total - maxBytes;
    if (excess <= 0) return 0;
    const perPartition = Math.max(16, Math.ceil(RETENTION_CHUNK_ROWS / partitions));
    const heads: Array<[number, number, number][]> = new Array(partitions);
    const cursor = new Int32Array(partitions);
    const complete: boolean[] = new Array(partitions);
    for (let p = 0; p < partitions; p++) {
      const b = st.bounds.get(topicId, p);
      const rows = b === undefined ? [] : st.scanHead.all(topicId, p, b.start_offset, perPartition);
      heads[p] = rows;
      complete[p] = rows.length < perPartition;
    }
    let n = 0;
    while (excess > 0) {
      let pick = -1;
      let pickTs = Number.POSITIVE_INFINITY;
      let stalled = false;
      for (let p = 0; p < partitions; p++) {
        const rows = heads[p] as [number, number, number][];
        const row = rows[cursor[p] as number];
        if (row === undefined) {
          // Out of loaded rows for a partition that has more: its next
          // message might be the oldest, so end the step and reload.
          if (!complete[p]) stalled = true;
          continue;
        }
        if (row[1] < pickTs) {
          pickTs = row[1];
          pick = p;
        }
      }
      if (pick < 0 || stalled) break;
      const row = (heads[pick] as [number, number, number][])[cursor[pick] as number] as [
        number,
        number,
        number,
      ];
      excess -= row[2];
      cursor[pick] = (cursor[pick] as number) + 1;
      n++;
    }
    for (let p = 0; p < partitions; p++) {
      const taken = cursor[p] as number;
      if (taken === 0) continue;
      const rows = heads[p] as [number, number, number][];
      let bytes = 0;
      for (let i = 0; i < taken; i++) bytes += (rows[i] as [number, number, number])[2];
      this.trim(topicId, p, (rows[taken - 1] as [number, number, number])[0] + 1, bytes);
    }
    return n;
  }

  private trim(topicId: number, part: number, cut: number, removedBytes: number): void {
    const st = this.st as Statements;
    st.deleteBefore.run(topicId, part, cut);
    st.trimPartition.run(cut, removedBytes, topicId, part);
  }

  // --- helpers ----------------------------------------------------------

  private statements(): Statements {
    const st = this.st;
    if (st === undefined) {
      throw this.closing
        ? shuttingDown()
        : new SluiceError(ErrorCode.LOG_UNAVAILABLE, "embedded log is not started", { retryable: true });
    }
    return st;
  }

  /** Cached topic, else the file's (another process may have created it). */
  private lookupTopic(name: string): TopicState | undefined {
    const cached = this.topicCache.get(name);
    if (cached !== undefined) return cached;
    const st = this.statements();
    const row = guard("look up topic", () => st.topicByName.get(name));
    if (row === undefined) return undefined;
    const state = topicState(name, row.topic_id, row.partitions);
    this.topicCache.set(name, state);
    return state;
  }

  private bounds(
    topic: string,
    partition: number,
  ): { start_offset: number; next_offset: number; bytes: number } | undefined {
    const st = this.statements();
    const state = this.lookupTopic(topic);
    if (state === undefined || !validPartition(state, partition)) return undefined;
    return guard("read offsets", () => st.bounds.get(state.id, partition));
  }
}

function prepare(db: Database.Database): Statements {
  const stmt = <P extends unknown[], R = unknown>(sql: string): Database.Statement<P, R> =>
    db.prepare<P, R>(sql);
  return {
    topicByName: stmt("SELECT topic_id, partitions FROM topics WHERE name = ?"),
    insertTopic: stmt("INSERT OR IGNORE INTO topics (name, partitions) VALUES (?, ?)"),
    insertPartition: stmt(
      "INSERT OR IGNORE INTO partitions (topic_id, part, next_offset, start_offset, bytes) VALUES (?, ?, 0, 0, 0)",
    ),
    topicNames: stmt<[], string>("SELECT name FROM topics ORDER BY name").pluck(),
    nextOffset: stmt<[number, number], number>(
      "SELECT next_offset FROM partitions WHERE topic_id = ? AND part = ?",
    ).pluck(),
    insertMessage: stmt(
      "INSERT INTO messages (topic_id, part, msg_offset, ts, size, key, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ),
    advancePartition: stmt(
      "UPDATE partitions SET next_offset = ?, bytes = bytes + ? WHERE topic_id = ? AND part = ?",
    ),
    readMessages: stmt<[number, number, bigint, number], [number, number, Buffer, Buffer]>(
      `SELECT msg_offset, ts, key, value FROM messages
       WHERE topic_id = ? AND part = ? AND msg_offset >= ? ORDER BY msg_offset LIMIT ?`,
    ).raw(),
    bounds: stmt("SELECT start_offset, next_offset, bytes FROM partitions WHERE topic_id = ? AND part = ?"),
    allTopics: stmt<[], [number, number]>("SELECT topic_id, partitions FROM topics ORDER BY topic_id").raw(),
    topicBytes: stmt<[number], number>("SELECT SUM(bytes) FROM partitions WHERE topic_id = ?").pluck(),
    firstTs: stmt<[number, number, number], number>(
      "SELECT ts FROM messages WHERE topic_id = ? AND part = ? AND msg_offset >= ? ORDER BY msg_offset LIMIT 1",
    ).pluck(),
    scanHead: stmt<[number, number, number, number], [number, number, number]>(
      `SELECT msg_offset, ts, size FROM messages
       WHERE topic_id = ? AND part = ? AND msg_offset >= ? ORDER BY msg_offset LIMIT ?`,
    ).raw(),
    deleteBefore: stmt("DELETE FROM messages WHERE topic_id = ? AND part = ? AND msg_offset < ?"),
    trimPartition: stmt(
      "UPDATE partitions SET start_offset = ?, bytes = bytes - ? WHERE topic_id = ? AND part = ?",
    ),
    commitOffset: stmt(
      `INSERT INTO consumer_offsets (group_id, topic, part, next_offset, updated_ms) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (group_id, topic, part) DO UPDATE SET next_offset = excluded.next_offset, updated_ms = excluded.updated_ms`,
    ),
    committedOffset: stmt<[string, string, number], bigint>(
      "SELECT next_offset FROM consumer_offsets WHERE group_id = ? AND topic = ? AND part = ?",
    )
      .pluck()
      .safeIntegers(),
  };
}

function topicState(name: string, id: number, partitions: number): TopicState {
  return {
    id,
    name,
    partitions,
    next: new Float64Array(partitions),
    added: new Float64Array(partitions),
    seen: new Float64Array(partitions),
  };
}

function validPartition(state: TopicState, partition: number): boolean {
  return Number.isInteger(partition) && partition >= 0 && partition < state.partitions;
}

/** Database errors on the read and commit side surface as retryable LOG_UNAVAILABLE, like appends. */
function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError(ErrorCode.LOG_UNAVAILABLE, `embedded log: ${what} failed: ${msg(err)}`, {
      retryable: true,
      retryAfterMs: RETRY_AFTER_MS,
      cause: err,
    });
  }
}

function shuttingDown(): SluiceError {
  // Retryable: another gateway instance can take the request.
  return new SluiceError(ErrorCode.SHUTTING_DOWN, "embedded log is shutting down", { retryable: true });
}

function invalidConfig(message: string): SluiceError {
  return new SluiceError(ErrorCode.INVALID_CONFIG, message);
}

function msg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
