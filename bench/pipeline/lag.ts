/**
 * Consumer lag per group, read from this process the way `sluice lag`
 * reads it (the broker's committed offsets and high watermarks; the
 * embedded log's consumer_offsets table), so that watching the drain costs
 * the measured processor nothing.
 */
import { type Admin, Kafka, logLevel } from "kafkajs";
import { EmbeddedLogSource } from "../../consumer/embedded-source.js";
import { EmbeddedLog } from "../../log/embedded/embedded-log.js";

export interface LagReader {
  /** Total lag (messages, all topics and partitions) of each group; a group whose lag is unknown right now is left out. */
  lag(groups: string[]): Promise<Map<string, bigint>>;
  /**
   * Of these groups, those whose consumer has joined and is consuming (Kafka: the group is Stable
   * with a member). Absent for a log without group membership (embedded: a consumer reads as soon
   * as it starts).
   */
  joined?(groups: string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export class EmbeddedLagReader implements LagReader {
  private readonly log: EmbeddedLog;
  private started = false;

  constructor(
    path: string,
    partitions: number,
    private readonly topics: string[],
  ) {
    this.log = new EmbeddedLog({ path, partitions, retention: { maxAgeMs: undefined, maxBytes: undefined } });
  }

  async lag(groups: string[]): Promise<Map<string, bigint>> {
    if (!this.started) {
      await this.log.start();
      this.started = true;
    }
    const out = new Map<string, bigint>();
    for (const group of groups) {
      const source = new EmbeddedLogSource(this.log, {
        group,
        topics: this.topics,
        maxBatchMessages: 1,
        lingerMs: 0,
      });
      out.set(
        group,
        (await source.lag()).reduce((sum, l) => sum + l.lag, 0n),
      );
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.started) await this.log.shutdown();
  }
}

export class KafkaLagReader implements LagReader {
  private readonly admin: Admin;
  private connected = false;

  constructor(
    brokers: string[],
    private readonly topics: string[],
  ) {
    this.admin = new Kafka({ brokers, clientId: "sluice-bench-lag", logLevel: logLevel.NOTHING }).admin();
  }

  async lag(groups: string[]): Promise<Map<string, bigint>> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const ends = new Map<string, { partition: number; low: bigint; high: bigint }[]>();
    for (const t of this.topics) {
      ends.set(
        t,
        (await this.admin.fetchTopicOffsets(t)).map((o) => ({
          partition: o.partition,
          low: BigInt(o.low),
          high: BigInt(o.high),
        })),
      );
    }
    const out = new Map<string, bigint>();
    for (const group of groups) {
      // Right after the offsets topic appears the broker may answer NOT_COORDINATOR for a while:
      // the group's lag is then unknown for this sample (left out), not an error.
      const committed = await this.admin
        .fetchOffsets({ groupId: group, topics: this.topics })
        .catch(() => undefined);
      if (committed === undefined) continue;
      let total = 0n;
      for (const [topic, parts] of ends) {
        const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
        for (const p of parts) {
          const c = mine.find((x) => x.partition === p.partition);
          const pos = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : p.low;
          if (p.high > pos) total += p.high - pos;
        }
      }
      out.set(group, total);
    }
    return out;
  }

  /**
   * Waits until the broker answers offset fetches: the first group on a new broker creates the
   * offsets topic, and the group that happens to be first should not pay for that on the clock.
   */
  async warmUp(timeoutMs: number): Promise<void> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < 10_000; attempt++) {
      try {
        await this.admin.fetchOffsets({ groupId: "sluice-bench.warm-up", topics: this.topics });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`offset fetches still fail: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async joined(groups: string[]): Promise<Set<string>> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const { groups: described } = await this.admin.describeGroups(groups);
    return new Set(
      described.filter((g) => g.state === "Stable" && g.members.length > 0).map((g) => g.groupId),
    );
  }

  async close(): Promise<void> {
    if (this.connected) await this.admin.disconnect().catch(() => undefined);
  }
}
