/**
 * Compares what a place holds (a sink, a log topic) with what the client was
 * told was durable: per record seq, acknowledged or not, found how many times.
 */
import { UID_DIGITS } from "./records.js";

/** What a load client knows: records handed out (seqs 0..sent-1), which were acknowledged, which resent. */
export interface AckLedger {
  readonly sent: number;
  readonly acked: Uint8Array;
  /** Records whose request was sent more than once: the only ones a client can duplicate. */
  readonly resent: Uint8Array;
}

/** A growable ledger for a client that hands out seqs as it goes. */
export class GrowableLedger implements AckLedger {
  sent = 0;
  acked: Uint8Array;
  resent: Uint8Array;

  constructor(initial = 1 << 20) {
    this.acked = new Uint8Array(initial);
    this.resent = new Uint8Array(initial);
  }

  /** Hands out `count` new seqs and returns the first. */
  take(count: number): number {
    const first = this.sent;
    this.sent += count;
    if (this.sent > this.acked.length) {
      let size = this.acked.length;
      while (size < this.sent) size *= 2;
      const acked = new Uint8Array(size);
      acked.set(this.acked);
      const resent = new Uint8Array(size);
      resent.set(this.resent);
      this.acked = acked;
      this.resent = resent;
    }
    return first;
  }

  markAcked(first: number, count: number): void {
    this.acked.fill(1, first, first + count);
  }

  markResent(first: number, count: number): void {
    this.resent.fill(1, first, first + count);
  }

  ackedCount(): number {
    return countOnes(this.acked, this.sent);
  }
}

export function countOnes(a: Uint8Array, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) c += a[i] ?? 0;
  return c;
}

/** How many copies of each seq a place holds (saturating at 255), plus ids that are not this run's. */
export class IdCounts {
  readonly counts: Uint8Array;
  /** Ids (or copies) outside this run's seqs: another run's, or never sent. */
  foreign = 0;

  constructor(readonly capacity: number) {
    this.counts = new Uint8Array(capacity);
  }

  add(seq: number | undefined, n = 1): void {
    if (seq === undefined || !(seq >= 0 && seq < this.capacity)) {
      this.foreign += 1;
      return;
    }
    this.counts[seq] = Math.min(255, (this.counts[seq] as number) + n);
  }

  /** From a map of id → copies (what the sink readers return), through a parser of this run's ids. */
  static fromMap(
    capacity: number,
    found: Map<string, number>,
    seqOf: (uid: string) => number | undefined,
  ): IdCounts {
    const c = new IdCounts(capacity);
    for (const [uid, n] of found) c.add(seqOf(uid), n);
    return c;
  }
}

/**
 * Counts every `<run>-<digits>` id in a buffer (an envelope in the log, a
 * decompressed archive object): each record carries its id once, as a
 * string, so the occurrences are the records, without decoding anything.
 * Ids must have exactly `digits` digits (RequestTemplate's fixed width):
 * in protobuf the byte after a string may itself be an ASCII digit.
 * Returns how many were found.
 */
export function scanIds(buf: Buffer, run: string, into: IdCounts, digits = UID_DIGITS): number {
  const marker = Buffer.from(`${run}-`);
  let found = 0;
  for (let at = buf.indexOf(marker); at >= 0; at = buf.indexOf(marker, at + marker.length)) {
    const start = at + marker.length;
    let n = 0;
    let p = start;
    for (; p < start + digits && p < buf.length; p++) {
      const c = buf[p] as number;
      if (c < 48 || c > 57) break;
      n = n * 10 + (c - 48);
    }
    into.add(p === start + digits ? n : undefined);
    found++;
  }
  return found;
}

export interface Audit {
  name: string;
  routedAcked: number;
  foundUnique: number;
  missing: number;
  /** Ids present more than once, and the surplus copies they add up to. */
  duplicatedIds: number;
  surplusCopies: number;
  extraUnacked: number;
  /** Ids this place should never have received: another run's, or routed elsewhere. */
  misrouted: number;
  /** Duplicated ids whose request the client had to resend, i.e. ones a dedup window should have caught. */
  duplicatedResent: number;
  sampleMissing: number[];
  sampleDuplicated: number[];
}

export function audit(
  name: string,
  ledger: AckLedger,
  found: IdCounts,
  routed: (seq: number) => boolean = () => true,
): Audit {
  const a: Audit = {
    name,
    routedAcked: 0,
    foundUnique: 0,
    missing: 0,
    duplicatedIds: 0,
    surplusCopies: 0,
    extraUnacked: 0,
    misrouted: found.foreign,
    duplicatedResent: 0,
    sampleMissing: [],
    sampleDuplicated: [],
  };
  for (let seq = 0; seq < found.capacity; seq++) {
    const n = found.counts[seq] as number;
    if (n > 0) {
      a.foundUnique++;
      if (seq >= ledger.sent || !routed(seq)) {
        a.misrouted++;
        continue;
      }
      if (n > 1) {
        a.duplicatedIds++;
        a.surplusCopies += n - 1;
        if (ledger.resent[seq]) a.duplicatedResent++;
        if (a.sampleDuplicated.length < 10) a.sampleDuplicated.push(seq);
      }
      if (!ledger.acked[seq]) a.extraUnacked++;
    }
  }
  a.foundUnique += found.foreign;
  for (let seq = 0; seq < ledger.sent; seq++) {
    if (!ledger.acked[seq] || !routed(seq)) continue;
    a.routedAcked++;
    if (seq >= found.capacity || !found.counts[seq]) {
      a.missing++;
      if (a.sampleMissing.length < 10) a.sampleMissing.push(seq);
    }
  }
  return a;
}

/** Exactly once: nothing missing, nothing twice, nothing that does not belong. */
export function failedExactlyOnce(a: Audit): boolean {
  return a.missing > 0 || a.duplicatedIds > 0 || a.misrouted > 0;
}

/** At least once: nothing missing and nothing that does not belong; copies are allowed. */
export function failedAtLeastOnce(a: Audit): boolean {
  return a.missing > 0 || a.misrouted > 0;
}

/** A markdown table with one row per audit. */
export function auditTable(
  audits: Audit[],
  opts: { nameHeader?: string; failed?: (a: Audit) => boolean } = {},
): string {
  const failed = opts.failed ?? failedExactlyOnce;
  const header = [
    opts.nameHeader ?? "sink",
    "routed acked",
    "found unique",
    "missing",
    "duplicated",
    "extra-unacked",
    "misrouted",
    "verdict",
  ];
  const rows = audits.map((a) => [
    a.name,
    String(a.routedAcked),
    String(a.foundUnique),
    String(a.missing),
    a.duplicatedIds === 0 ? "0" : `${a.duplicatedIds} ids (+${a.surplusCopies} copies)`,
    String(a.extraUnacked),
    String(a.misrouted),
    failed(a) ? "FAIL" : "ok",
  ]);
  return markdownTable(header, rows);
}

export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}
