/**
 * What the primary and its gateway workers say to each other over the
 * cluster IPC channel. Every type carries the "sluice:" prefix so that
 * messages of other users of the channel (prom-client's own cluster
 * support, for one) are never mistaken for these.
 */
import type { Registry } from "prom-client";
import type { ConfigSource } from "../config-source.js";

/** One registry's metrics as prom-client's getMetricsAsJSON gives them, the form it aggregates. */
export type MetricsJson = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;

/** What /readyz needs to know about one worker. */
export interface WorkerStatus {
  /** The worker's log writer takes appends. */
  log: boolean;
  /** The worker's receivers listen. */
  receivers: boolean;
}

export type ToWorker =
  | { type: "sluice:start"; index: number; config: ConfigSource }
  | { type: "sluice:metrics"; id: number }
  | { type: "sluice:shutdown" };

export type FromWorker =
  /** Sent once the worker listens for messages; the primary answers with sluice:start. */
  | { type: "sluice:hello" }
  | { type: "sluice:started"; endpoints: Record<string, string>; status: WorkerStatus }
  | { type: "sluice:failed"; message: string; code: string | undefined }
  | { type: "sluice:status"; status: WorkerStatus }
  | { type: "sluice:metrics"; id: number; metrics: MetricsJson };

function typed(message: unknown): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const type = (message as { type?: unknown }).type;
  return typeof type === "string" && type.startsWith("sluice:") ? type : undefined;
}

export function isToWorker(message: unknown): message is ToWorker {
  return typed(message) !== undefined;
}

export function isFromWorker(message: unknown): message is FromWorker {
  return typed(message) !== undefined;
}
