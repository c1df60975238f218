/**
 * The log is the durable buffer between the gateway and the processors.
 * Two backends implement it: Kafka (how it scales) and the embedded log on
 * local disk (how it runs on one machine with nothing else installed).
 */

/** One message to append. The key picks the partition; equal keys keep order. */
export interface LogMessage {
  key: Uint8Array;
  value: Uint8Array;
}

/** A message as read back, with where it sits in the log. */
export interface StoredMessage {
  topic: string;
  partition: number;
  offset: bigint;
  /** Append time, Unix epoch milliseconds. */
  timestampMs: number;
  key: Uint8Array;
  value: Uint8Array;
}

/** The writing side of the log, used by the gateway. */
export interface LogWriter {
  /** Connects, creating topics that are missing. Throws when the log can't be reached at all. */
  start(): Promise<void>;
  /**
   * Appends messages to one topic. Resolves only once every message is
   * durable (Kafka acks=all, or fsync for the embedded log). Rejects with a
   * retryable SluiceError (LOG_UNAVAILABLE) when it is not.
   */
  append(topic: string, messages: readonly LogMessage[]): Promise<void>;
  /** False while the backend is known to be failing; receivers refuse early then. */
  isHealthy(): boolean;
  /** Flushes what is pending and releases resources. */
  shutdown(): Promise<void>;
}
