/**
 * Inserting a batch whose rows ClickHouse may refuse one by one. A block
 * insert is all or nothing, so when the server blames the data, the batch is
 * split in halves until every bad row stands alone; the good halves go in.
 *
 * Every sub-insert carries a deduplication token derived from the batch's
 * token and the row range it covers. The splits depend only on which rows
 * fail, so an exact replay of the batch walks the same ranges with the same
 * tokens, and the halves that went in last time are dropped by the server as
 * duplicates instead of being stored twice.
 */
import { SinkCode } from "../common/codes.js";
import { type ClickHouseFailure, classifyClickHouseError } from "./errors.js";

export type InsertRows<R> = (rows: R[], token: string) => Promise<void>;

export interface RejectedRow {
  /** Position of the row in the batch. */
  index: number;
  code: string;
  reason: string;
}

/** Thrown when a failure is not about the rows: the caller decides what to do with the whole batch. */
export class BatchInsertError extends Error {
  constructor(
    readonly failure: ClickHouseFailure,
    options: { cause: unknown },
  ) {
    super(failure.reason, options);
    this.name = "BatchInsertError";
  }
}

export function subToken(batchToken: string, from: number, to: number): string {
  return `${batchToken}:${from}-${to}`;
}

/**
 * Inserts rows, isolating the ones the server refuses. Resolves with the
 * refused rows (every other row is stored); rejects with BatchInsertError
 * when the server is unavailable or misconfigured, whatever was stored by
 * then being safe to send again.
 */
export async function insertIsolatingBadRows<R>(
  rows: readonly R[],
  batchToken: string,
  insert: InsertRows<R>,
  classify: (err: unknown) => ClickHouseFailure = classifyClickHouseError,
): Promise<RejectedRow[]> {
  const rejected: RejectedRow[] = [];
  const attempt = async (from: number, to: number, token: string): Promise<void> => {
    try {
      await insert(rows.slice(from, to), token);
      return;
    } catch (err) {
      const failure = classify(err);
      if (failure.kind !== "data") throw new BatchInsertError(failure, { cause: err });
      if (to - from === 1) {
        rejected.push({
          index: from,
          code: failure.recordCode ?? SinkCode.SINK_REJECTED,
          reason: failure.reason,
        });
        return;
      }
      const mid = from + Math.ceil((to - from) / 2);
      await attempt(from, mid, subToken(batchToken, from, mid));
      await attempt(mid, to, subToken(batchToken, mid, to));
    }
  };
  if (rows.length > 0) await attempt(0, rows.length, batchToken);
  return rejected;
}
