/**
 * Bounds the request bytes the gateway holds between receipt and a durable
 * append. When the log slows down, the bound fills and new requests are
 * refused with a retryable answer instead of queueing without limit.
 */
export class InflightLimiter {
  private used = 0;

  constructor(
    readonly maxBytes: number,
    private readonly onChange?: (used: number) => void,
  ) {}

  get usedBytes(): number {
    return this.used;
  }

  /** True when a request of this size would not fit right now. */
  wouldExceed(bytes: number): boolean {
    // A single request larger than the whole budget is still let through when
    // nothing else is in flight, so the limit never refuses a legal body forever.
    return this.used > 0 && this.used + bytes > this.maxBytes;
  }

  tryAcquire(bytes: number): boolean {
    if (this.wouldExceed(bytes)) return false;
    this.used += bytes;
    this.onChange?.(this.used);
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.used < 0) this.used = 0;
    this.onChange?.(this.used);
  }
}
