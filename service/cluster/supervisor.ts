/**
 * The primary's side of a multi-process gateway: forks one worker per
 * slot, each running the receivers and its own log writer, and keeps the
 * slots filled. node:cluster lets the workers share the listening ports
 * (the primary accepts and hands each connection to the next worker), so
 * load spreads per connection.
 *
 * The first worker starts alone and the others only once it listens: a
 * port that cannot be bound or a log that refuses to start then fails the
 * start-up once, with that worker's own error, and the first worker's log
 * writer creates any missing topics before the others race to.
 *
 * After start-up a worker that dies for any reason is replaced, after a
 * backoff that grows while replacements keep dying. Workers need nothing
 * from the primary to exit when it dies: node:cluster ends a worker whose
 * IPC channel closes unexpectedly.
 */
import cluster, { type Worker } from "node:cluster";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { ConfigSource } from "../config-source.js";
import {
  type FromWorker,
  isFromWorker,
  type MetricsJson,
  type ToWorker,
  type WorkerStatus,
} from "./messages.js";
import { type BackoffPolicy, DEFAULT_BACKOFF, RestartBackoff } from "./restart-backoff.js";

/** The compiled worker entry; workers start from dist/, so sources run by a test runner cannot fork them. */
const WORKER_ENTRY = fileURLToPath(new URL("./worker-main.js", import.meta.url));

export interface SupervisorOptions {
  workers: number;
  config: ConfigSource;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** How long a worker may take from fork to listening before it is killed and counted as failed. */
  startTimeoutMs?: number;
  /** How long a worker may drain after being asked to stop before it is killed. */
  stopTimeoutMs?: number;
  /** How long a /metrics scrape waits for each worker's registry. */
  metricsTimeoutMs?: number;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  /** Set once the worker listens; undefined while it starts or when it is gone. */
  status: WorkerStatus | undefined;
  forkedAt: number;
  backoff: RestartBackoff;
  restartTimer: NodeJS.Timeout | undefined;
}

interface MetricsRequest {
  worker: Worker;
  done: (metrics: MetricsJson | undefined) => void;
}

const errorCodes = new Set<string>(Object.values(ErrorCode));

export class WorkerSupervisor {
  private state: "idle" | "starting" | "running" | "stopping" = "idle";
  private readonly slots: Slot[];
  private boundEndpoints: Record<string, string> = {};
  private nextRequestId = 0;
  private readonly metricsRequests = new Map<number, MetricsRequest>();
  private stopped: Promise<void> | undefined;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly metricsTimeoutMs: number;

  constructor(private readonly options: SupervisorOptions) {
    this.slots = Array.from({ length: options.workers }, (_, i) => ({
      index: i + 1,
      worker: undefined,
      status: undefined,
      forkedAt: 0,
      backoff: new RestartBackoff(options.backoff ?? DEFAULT_BACKOFF),
      restartTimer: undefined,
    }));
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
    this.metricsTimeoutMs = options.metricsTimeoutMs ?? 2_000;
  }

  /** Bound addresses by receiver and protocol, as the first worker reported them. */
  get endpoints(): Record<string, string> {
    return this.boundEndpoints;
  }

  /** Pids of the workers alive now. */
  get pids(): number[] {
    return this.slots.flatMap((s) => (s.worker?.process.pid === undefined ? [] : [s.worker.process.pid]));
  }

  /** Every slot has a worker whose receivers listen. */
  receiversReady(): boolean {
    return this.state === "running" && this.slots.every((s) => s.worker && s.status?.receivers);
  }

  /** Every listening worker's log writer takes appends. */
  logReady(): boolean {
    return this.slots.every((s) => !s.status || s.status.log);
  }

  async start(): Promise<void> {
    if (this.state !== "idle") throw new Error("the worker supervisor starts once");
    if (!existsSync(WORKER_ENTRY)) {
      throw new SluiceError(
        ErrorCode.INTERNAL,
        `gateway workers need the compiled worker entry ${WORKER_ENTRY}; run \`npm run build\``,
      );
    }
    // Workers get the primary's node flags (execArgv) but none of its arguments: their configuration comes over IPC.
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [] });
    this.state = "starting";
    try {
      const [first, ...rest] = this.slots;
      if (first) await this.launch(first);
      await Promise.all(rest.map((s) => this.launch(s)));
    } catch (err) {
      await this.shutdown();
      throw err;
    }
    this.state = "running";
  }

  /** The registries of every listening worker; a worker that does not answer in time is left out of this scrape. */
  async collectMetrics(): Promise<MetricsJson[]> {
    const live = this.slots.flatMap((s) =>
      s.worker && s.status && s.worker.isConnected() ? [s.worker] : [],
    );
    const answers = await Promise.all(live.map((w) => this.requestMetrics(w)));
    return answers.filter((m): m is MetricsJson => m !== undefined);
  }

  /** Asks every worker to drain and exit, kills the ones that take too long, and replaces none. */
  shutdown(): Promise<void> {
    if (!this.stopped) {
      this.state = "stopping";
      for (const s of this.slots) clearTimeout(s.restartTimer);
      this.stopped = Promise.all(
        this.slots.map((s) => (s.worker ? this.stopWorker(s.worker) : undefined)),
      ).then(() => undefined);
    }
    return this.stopped;
  }

  /** Forks the slot's worker; resolves once it listens, rejects if it fails or exits first. */
  private launch(slot: Slot): Promise<void> {
    const { logger } = this.options;
    const worker = cluster.fork();
    const pid = worker.process.pid;
    slot.worker = worker;
    slot.status = undefined;
    slot.forkedAt = Date.now();
    let failure: string | undefined;
    let listening = false;

    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => {
        failure = `did not start within ${this.startTimeoutMs} ms`;
        settle(new SluiceError(ErrorCode.INTERNAL, `gateway worker ${slot.index} ${failure}`));
        worker.process.kill("SIGKILL");
      }, this.startTimeoutMs);

      // A send to a worker that just died fails here; its exit is handled below.
      worker.on("error", (err) =>
        logger.debug({ worker: slot.index, pid, err: err.message }, "worker IPC error"),
      );
      worker.on("message", (message: unknown) => {
        if (!isFromWorker(message)) return;
        this.onMessage(slot, worker, message, {
          started: () => {
            listening = true;
            settle();
          },
          failed: (m) => {
            failure = m.message;
            const code =
              m.code !== undefined && errorCodes.has(m.code) ? (m.code as ErrorCode) : ErrorCode.INTERNAL;
            settle(new SluiceError(code, `gateway worker ${slot.index} failed to start: ${m.message}`));
          },
        });
      });
      worker.on("exit", (code, signal) => {
        settle(
          new SluiceError(
            ErrorCode.INTERNAL,
            `gateway worker ${slot.index} exited before it listened (${signal ?? `code ${code}`})`,
          ),
        );
        this.onExit(slot, worker, { code, signal, beforeListening: !listening, failure });
      });
    });
  }

  private onMessage(
    slot: Slot,
    worker: Worker,
    message: FromWorker,
    launch: { started: () => void; failed: (m: { message: string; code: string | undefined }) => void },
  ): void {
    switch (message.type) {
      case "sluice:hello": {
        const start: ToWorker = { type: "sluice:start", index: slot.index, config: this.options.config };
        worker.send(start);
        return;
      }
      case "sluice:started":
        if (slot.worker !== worker) return;
        slot.status = message.status;
        if (Object.keys(this.boundEndpoints).length === 0) this.boundEndpoints = message.endpoints;
        this.options.logger.info(
          { worker: slot.index, pid: worker.process.pid, endpoints: message.endpoints },
          "gateway worker listening",
        );
        launch.started();
        return;
      case "sluice:failed":
        this.options.logger.error(
          { worker: slot.index, pid: worker.process.pid, err: message.message },
          "gateway worker failed to start",
        );
        launch.failed(message);
        return;
      case "sluice:status":
        if (slot.worker === worker && slot.status) slot.status = message.status;
        return;
      case "sluice:metrics": {
        const request = this.metricsRequests.get(message.id);
        request?.done(message.metrics);
        return;
      }
    }
  }

  private onExit(
    slot: Slot,
    worker: Worker,
    exit: { code: number; signal: string; beforeListening: boolean; failure: string | undefined },
  ): void {
    for (const [id, r] of this.metricsRequests) {
      if (r.worker === worker) {
        this.metricsRequests.delete(id);
        r.done(undefined);
      }
    }
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    slot.status = undefined;
    // While stopping every exit is expected; a worker lost during the first start fails the start instead.
    if (this.state === "stopping" || this.state === "idle") return;
    if (this.state === "starting" && exit.beforeListening) return;
    const delay = slot.backoff.next(Date.now() - slot.forkedAt);
    this.options.logger.error(
      {
        worker: slot.index,
        pid: worker.process.pid,
        code: exit.code,
        signal: exit.signal,
        err: exit.failure,
        restartInMs: delay,
      },
      "gateway worker exited; replacing it",
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.state === "stopping") return;
      this.launch(slot).then(
        () =>
          this.options.logger.info(
            { worker: slot.index, pid: slot.worker?.process.pid },
            "gateway worker replaced",
          ),
        // Its exit schedules the next attempt.
        () => {},
      );
    }, delay);
  }

  private requestMetrics(worker: Worker): Promise<MetricsJson | undefined> {
    const id = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.metricsRequests.delete(id);
        this.options.logger.debug({ pid: worker.process.pid }, "gateway worker sent no metrics in time");
        resolve(undefined);
      }, this.metricsTimeoutMs);
      this.metricsRequests.set(id, {
        worker,
        done: (metrics) => {
          clearTimeout(timer);
          this.metricsRequests.delete(id);
          resolve(metrics);
        },
      });
      const request: ToWorker = { type: "sluice:metrics", id };
      worker.send(request);
    });
  }

  private async stopWorker(worker: Worker): Promise<void> {
    if (worker.isDead()) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    if (worker.isConnected()) {
      const stop: ToWorker = { type: "sluice:shutdown" };
      worker.send(stop);
    } else {
      worker.process.kill("SIGTERM");
    }
    const timer = setTimeout(() => {
      this.options.logger.warn(
        { pid: worker.process.pid, timeoutMs: this.stopTimeoutMs },
        "gateway worker did not drain in time; killing it",
      );
      worker.process.kill("SIGKILL");
    }, this.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }
}
