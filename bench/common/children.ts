/** `sluice gateway` and `sluice process` as child processes a benchmark owns, killed and restarted by pid. */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { sleep } from "./otlp-client.js";

export interface RoleOptions {
  name: string;
  bin: string;
  args: string[];
  admin: string;
  logDir: string;
  log: (line: string) => void;
  /** Restart after an exit the owner did not cause (default true); either way the exit is recorded. */
  restartOnExit?: boolean;
}

/**
 * A sluice role that is expected to be up. An exit that the owner did not
 * cause is counted and (unless restartOnExit is false) answered with a
 * restart, so a crash is reported in the summary rather than stalling the
 * stream until the deadline.
 */
export class Role {
  private proc: ChildProcess | undefined;
  private incarnation = 0;
  private intended = false;
  unplannedExits: string[] = [];
  private exitWaiters: (() => void)[] = [];

  constructor(private readonly opts: RoleOptions) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(env: NodeJS.ProcessEnv = {}, ready = true): Promise<void> {
    this.incarnation++;
    const logFile = join(this.opts.logDir, `${this.opts.name}.${this.incarnation}.log`);
    const out = createWriteStream(logFile);
    const proc = spawn(this.opts.bin, this.opts.args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    proc.stdout?.pipe(out, { end: false });
    proc.stderr?.pipe(out, { end: false });
    this.proc = proc;
    this.intended = false;
    proc.once("exit", (code, signal) => {
      out.end();
      const waiters = this.exitWaiters;
      this.exitWaiters = [];
      for (const w of waiters) w();
      if (this.proc !== proc || this.intended) return;
      const what = `${this.opts.name} pid ${proc.pid} exited on its own (code ${code}, signal ${signal}); log ${logFile}`;
      this.unplannedExits.push(what);
      this.proc = undefined;
      if (this.opts.restartOnExit === false) {
        this.opts.log(what);
        return;
      }
      this.opts.log(`${what}; restarting`);
      void this.start().catch((e) => this.opts.log(`restart of ${this.opts.name} failed: ${e}`));
    });
    this.opts.log(`${this.opts.name} started (pid ${proc.pid}), log ${logFile}`);
    if (ready) await this.waitReady(proc);
  }

  private async waitReady(proc: ChildProcess, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${this.opts.name} exited before it was ready`);
      }
      const res = await fetch(`${this.opts.admin}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(
        () => undefined,
      );
      if (res?.status === 200) return;
      await sleep(100);
    }
    throw new Error(`${this.opts.name} not ready within ${timeoutMs} ms`);
  }

  private exited(proc: ChildProcess): Promise<void> {
    if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((r) => this.exitWaiters.push(r));
  }

  /** kill -9 of exactly this child's pid. */
  async kill9(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.intended = true;
    proc.kill("SIGKILL");
    await this.exited(proc);
    this.proc = undefined;
    this.opts.log(`${this.opts.name} pid ${proc.pid} killed with SIGKILL`);
  }

  /** Lets a self-inflicted SIGKILL (a failpoint) count as planned, and waits for it. */
  async expectSelfKill(timeoutMs: number): Promise<boolean> {
    const proc = this.proc;
    if (!proc) return false;
    this.intended = true;
    const done = await Promise.race([this.exited(proc).then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!done) {
      this.intended = false;
      return false;
    }
    this.proc = undefined;
    this.opts.log(`${this.opts.name} pid ${proc.pid} killed itself at the failpoint (${proc.signalCode})`);
    return true;
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.intended = true;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    await this.exited(proc);
    clearTimeout(timer);
    this.proc = undefined;
  }
}
