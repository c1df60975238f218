/**
 * The last N distinct ids seen, in first-seen order: a Map from id to its
 * slot and a ring of ids for eviction. A duplicate does not move its id
 * forward, so the window (and the ttl) counts from the first sighting.
 * The ring grows to its capacity as ids arrive rather than being
 * allocated up front, so idle partitions stay small.
 *
 * Each slot also keeps the log position (offset, index in the envelope)
 * where the id was first seen. The consumer replays batches from its last
 * commit, and a replayed record is the same record, not a duplicate: it
 * must pass again or it would never reach the sink that missed it.
 */
export class IdWindow {
  private readonly slots = new Map<string, number>();
  private readonly ids: string[] = [];
  private readonly offsets: bigint[] = [];
  private readonly indexes: number[] = [];
  private readonly seenAt: number[] = [];
  /** Index of the oldest id in the ring. */
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    private readonly ttlMs: number | null,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Forgets ids older than the ttl; they are at the head, being oldest. */
  expire(now: number): void {
    if (this.ttlMs === null) return;
    const limit = now - this.ttlMs;
    while (this.count > 0 && (this.seenAt[this.head] as number) <= limit) this.evictHead();
  }

  /**
   * True when the id was seen at another log position within the window;
   * otherwise remembers it (if new) and returns false.
   */
  isDuplicate(id: string, offset: bigint, index: number, now: number): boolean {
    const slot = this.slots.get(id);
    if (slot !== undefined) {
      if (this.ttlMs === null || now - (this.seenAt[slot] as number) < this.ttlMs) {
        return this.offsets[slot] !== offset || this.indexes[slot] !== index;
      }
      // Expired but not yet evicted: treat as new; the old slot is dropped when it reaches the head.
    }
    if (this.count === this.capacity) this.evictHead();
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    this.ids[tail] = id;
    this.offsets[tail] = offset;
    this.indexes[tail] = index;
    if (this.ttlMs !== null) this.seenAt[tail] = now;
    this.slots.set(id, tail);
    this.count++;
    return false;
  }

  private evictHead(): void {
    const id = this.ids[this.head] as string;
    // The id may have been seen again after expiring and live in a newer slot.
    if (this.slots.get(id) === this.head) this.slots.delete(id);
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }
}
