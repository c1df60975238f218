/**
 * How long the primary waits before forking a replacement for a worker
 * that died. A worker that keeps dying at start (a port taken, a bug hit
 * by every request) must not turn into a fork loop that eats the CPU the
 * other workers need, so the delay doubles with each quick death up to a
 * cap; a worker that stayed up long enough earns its slot a fresh start.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A worker that ran at least this long resets its slot's count of quick deaths. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

export class RestartBackoff {
  private quickDeaths = 0;

  constructor(private readonly policy: BackoffPolicy = DEFAULT_BACKOFF) {}

  /** The delay before the next fork, given how long the worker that just died had run. */
  next(uptimeMs: number): number {
    if (uptimeMs >= this.policy.resetAfterMs) this.quickDeaths = 0;
    const delay = Math.min(this.policy.maxMs, this.policy.initialMs * 2 ** Math.min(this.quickDeaths, 30));
    this.quickDeaths++;
    return delay;
  }
}
