/**
 * Forward receiver metrics, created on the process's registry on first use
 * and shared by every forward receiver instance (label `receiver`).
 */
import { Counter, Gauge, type Registry } from "prom-client";

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

export interface ForwardMetrics {
  connectionsClosed: Counter<"receiver" | "reason">;
  openConnections: Gauge<"receiver">;
  frames: Counter<"receiver" | "mode">;
  acks: Counter<"receiver">;
  invalidEntries: Counter<"receiver">;
  droppedFrames: Counter<"receiver" | "reason">;
  heartbeats: Counter<"receiver" | "transport">;
  authFailures: Counter<"receiver">;
}

export function forwardMetrics(registry: Registry): ForwardMetrics {
  return {
    connectionsClosed: counter(
      registry,
      "sluice_forward_connections_closed_total",
      "Forward connections closed, by reason: client (closed by the client), or why the gateway closed it.",
      ["receiver", "reason"],
    ),
    openConnections: gauge(registry, "sluice_forward_connections", "Open Forward connections.", ["receiver"]),
    frames: counter(
      registry,
      "sluice_forward_frames_total",
      "Forward event frames received, by event mode.",
      ["receiver", "mode"],
    ),
    acks: counter(
      registry,
      "sluice_forward_acks_total",
      "Chunks acknowledged after their records were durable.",
      ["receiver"],
    ),
    invalidEntries: counter(
      registry,
      "sluice_forward_invalid_entries_total",
      "Entries that were not [time, record]; they are stored with a fluent.error attribute.",
      ["receiver"],
    ),
    droppedFrames: counter(
      registry,
      "sluice_forward_dropped_frames_total",
      "Frames acknowledged but not stored, by reason (unsupported_signal: Fluent Bit metrics or traces).",
      ["receiver", "reason"],
    ),
    heartbeats: counter(registry, "sluice_forward_heartbeats_total", "Heartbeats answered, by transport.", [
      "receiver",
      "transport",
    ]),
    authFailures: counter(
      registry,
      "sluice_forward_auth_failures_total",
      "Handshakes refused (wrong shared key or user credentials).",
      ["receiver"],
    ),
  };
}
