/**
 * Timestamps as logs write them, to Unix nanoseconds exact to the digit:
 * fractions are read from the text, never through a double. Numbers and
 * digit strings are Unix seconds, milliseconds, microseconds or
 * nanoseconds by magnitude (below 1e11 seconds, 1e14 milliseconds, 1e17
 * microseconds, else nanoseconds).
 */
import type { Value } from "../../core/pipeline/record.js";

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(?:([Zz]|UTC|GMT)|([+-])(\d{2})(?::?(\d{2}))?)?$/;
const ACCESS_LOG =
  /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:\s+([+-])(\d{2}):?(\d{2}))?$/;
const BSD = /^([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;
const UNIX = /^(\d+)(?:\.(\d+))?$/;

const MONTHS = new Map(
  ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map((m, i) => [m, i]),
);
const NS_PER_SECOND = 1_000_000_000n;
const MAX_NS = 2n ** 64n - 1n;
const DAY_MS = 86_400_000;
/** A syslog date further than this ahead of the reference time belongs to the previous year. */
const FUTURE_SLACK_MS = 7 * DAY_MS;

export interface TimeContext {
  /** Minutes east of UTC for timestamps that carry no offset. */
  offsetMinutes: number;
  /** Unix ns the year of year-less (RFC 3164) timestamps is taken from; 0 means now. */
  referenceNs: bigint;
}

function daysInMonth(year: number, month: number): number {
  if (month === 1) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 3 || month === 5 || month === 8 || month === 10 ? 30 : 31;
}

/** The first nine fraction digits as nanoseconds. */
function fractionNs(digits: string | undefined): number {
  if (!digits) return 0;
  return digits.length >= 9 ? Number(digits.slice(0, 9)) : Number(digits) * 10 ** (9 - digits.length);
}

function fromParts(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fraction: string | undefined,
  offsetMinutes: number,
): bigint | undefined {
  if (year < 1970 || month < 0 || month > 11 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const seconds = Date.UTC(year, month, day, hour, minute, second) / 1000 - offsetMinutes * 60;
  if (seconds < 0) return undefined;
  const ns = BigInt(seconds) * NS_PER_SECOND + BigInt(fractionNs(fraction));
  return ns > MAX_NS ? undefined : ns;
}

function offsetOf(
  sign: string | undefined,
  hh: string | undefined,
  mm: string | undefined,
  fallback: number,
) {
  if (sign === undefined) return fallback;
  const minutes = Number(hh) * 60 + (mm === undefined ? 0 : Number(mm));
  return sign === "-" ? -minutes : minutes;
}

/** Unix time in digits, unit chosen by the integer part's magnitude. */
function unixFromDigits(intPart: string, fraction: string | undefined): bigint | undefined {
  const magnitude = Number(intPart);
  if (magnitude === 0) return undefined;
  const scale = magnitude < 1e11 ? 9 : magnitude < 1e14 ? 6 : magnitude < 1e17 ? 3 : 0;
  let ns = BigInt(intPart) * 10n ** BigInt(scale);
  if (fraction && scale > 0) {
    const digits = fraction.length >= scale ? fraction.slice(0, scale) : fraction.padEnd(scale, "0");
    ns += BigInt(digits);
  }
  return ns > MAX_NS ? undefined : ns;
}

function bsdTimestamp(m: RegExpExecArray, ctx: TimeContext): bigint | undefined {
  const month = MONTHS.get(m[1] as string);
  if (month === undefined) return undefined;
  const referenceMs = ctx.referenceNs > 0n ? Number(ctx.referenceNs / 1_000_000n) : Date.now();
  const offsetMs = ctx.offsetMinutes * 60_000;
  let year = new Date(referenceMs + offsetMs).getUTCFullYear();
  const day = Number(m[2]);
  const args = [Number(m[3]), Number(m[4]), Number(m[5])] as const;
  const candidate = Date.UTC(year, month, day, ...args) - offsetMs;
  if (candidate > referenceMs + FUTURE_SLACK_MS) year -= 1;
  return fromParts(year, month, day, ...args, m[6], ctx.offsetMinutes);
}

/** Unix ns for a timestamp value, or undefined when it is not a recognised timestamp. */
export function parseTimestamp(v: Value, ctx: TimeContext): bigint | undefined {
  if (typeof v === "bigint") return v > 0n ? unixFromDigits(v.toString(), undefined) : undefined;
  if (typeof v === "number") {
    if (!Number.isFinite(v) || v <= 0) return undefined;
    // The shortest round-trip text of a double is what the producer wrote
    // whenever it wrote 17 significant digits or fewer.
    const m = UNIX.exec(Number.isInteger(v) ? BigInt(v).toString() : String(v));
    return m ? unixFromDigits(m[1] as string, m[2]) : undefined;
  }
  if (typeof v !== "string") return undefined;
  const text = v.length > 64 ? "" : v.trim();
  const c = text.charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) {
    let m = ISO.exec(text);
    if (m) {
      return fromParts(
        Number(m[1]),
        Number(m[2]) - 1,
        Number(m[3]),
        Number(m[4]),
        Number(m[5]),
        m[6] === undefined ? 0 : Number(m[6]),
        m[7],
        m[8] !== undefined ? 0 : offsetOf(m[9], m[10], m[11], ctx.offsetMinutes),
      );
    }
    m = UNIX.exec(text);
    if (m) return unixFromDigits(m[1] as string, m[2]);
    m = ACCESS_LOG.exec(text);
    if (m) {
      const month = MONTHS.get(m[2] as string);
      if (month === undefined) return undefined;
      return fromParts(
        Number(m[3]),
        month,
        Number(m[1]),
        Number(m[4]),
        Number(m[5]),
        Number(m[6]),
        m[7],
        offsetOf(m[8], m[9], m[10], ctx.offsetMinutes),
      );
    }
    return undefined;
  }
  const m = BSD.exec(text);
  return m ? bsdTimestamp(m, ctx) : undefined;
}
