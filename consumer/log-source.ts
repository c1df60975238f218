/**
 * A consumer-group view of the log: batches of messages per partition, in
 * offset order, with the committed position advanced only by commit().
 * Two implementations: Kafka consumer groups and embedded-log groups.
 */

export interface SourceMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: Uint8Array;
  value: Uint8Array;
}

export interface PartitionBatch {
  topic: string;
  partition: number;
  messages: SourceMessage[];
}

export interface BatchControl {
  /** False once the source is stopping or lost the partition; the handler should give up without committing. */
  isActive(): boolean;
  /** Keeps group membership alive during long retries. */
  heartbeat(): Promise<void>;
}

/** Handles one batch; resolves when every sink has it durably. The source then commits past it. */
export type BatchHandler = (batch: PartitionBatch, control: BatchControl) => Promise<void>;

export interface PartitionLag {
  group: string;
  topic: string;
  partition: number;
  /** Next offset the group will read (its committed position). */
  committed: bigint;
  /** Next offset to be written to the partition. */
  end: bigint;
  lag: bigint;
}

export interface LogSource {
  readonly group: string;
  /** Starts consuming; resolves once consumption has begun. */
  start(handler: BatchHandler): Promise<void>;
  stop(): Promise<void>;
  lag(): Promise<PartitionLag[]>;
}

export class HandlerAborted extends Error {
  override name = "HandlerAborted";
}
