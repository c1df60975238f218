/**
 * Processor counters, created on first use in a registry and reused after
 * that: every processor instance (and every pipeline) in one process shares
 * the registry, and prom-client refuses a second registration of a name.
 */
import { Counter, type Registry } from "prom-client";

export const DROPPED_RECORDS = "sluice_processor_dropped_records_total";
export const PROCESSED_RECORDS = "sluice_processor_records_total";

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) {
    if (!(existing instanceof Counter)) throw new Error(`metric ${name} is registered with another type`);
    return existing as Counter<L>;
  }
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function droppedRecordsCounter(registry: Registry): Counter<"processor" | "reason"> {
  return counter(registry, DROPPED_RECORDS, "Records a processor removed from the stream, by reason.", [
    "processor",
    "reason",
  ]);
}

export function processedRecordsCounter(registry: Registry): Counter<"processor"> {
  return counter(registry, PROCESSED_RECORDS, "Records handed to a processor.", ["processor"]);
}

interface CounterChild {
  inc(value?: number): void;
}

/** One processor's counters, with label children resolved once rather than per batch. */
export class ProcessorStats {
  private readonly processedChild: CounterChild;
  private readonly dropped: Counter<"processor" | "reason">;
  private readonly droppedChildren = new Map<string, CounterChild>();

  constructor(
    registry: Registry,
    private readonly processor: string,
  ) {
    this.processedChild = processedRecordsCounter(registry).labels({ processor });
    this.dropped = droppedRecordsCounter(registry);
  }

  processed(count: number): void {
    if (count > 0) this.processedChild.inc(count);
  }

  droppedRecords(reason: string, count = 1): void {
    if (count <= 0) return;
    let child = this.droppedChildren.get(reason);
    if (!child) {
      child = this.dropped.labels({ processor: this.processor, reason });
      this.droppedChildren.set(reason, child);
    }
    child.inc(count);
  }
}
