/**
 * A JSON reader that produces record Values directly. JSON.parse cannot be
 * used: it turns 9007199254740993 into 9007199254740992 and 1.0 into 1, and
 * OTLP distinguishes ints from doubles. Here an integer token within int64
 * becomes an exact bigint, an integer token outside int64 a double (as
 * JSON.parse would give; no OTLP type holds it exactly), and a token with a
 * fraction or exponent a double. Raw control characters inside strings are
 * accepted, as several loggers emit them.
 */
import type { Value } from "../../core/pipeline/record.js";

const MAX_DEPTH = 512;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Thrown without a stack: a failed parse is expected input, not a bug. */
const FAILED = Symbol("json-failed");

export interface FieldSink {
  add(key: string, value: Value): void;
}

export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
}

class Reader {
  pos = 0;
  depth = 0;
  error = "";
  private backslash = -1;

  constructor(readonly text: string) {}

  fail(message: string): never {
    this.error = `${message} at position ${this.pos}`;
    throw FAILED;
  }

  /** Skips whitespace and returns the next char code, or -1 at the end. */
  ws(): number {
    const text = this.text;
    let pos = this.pos;
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) {
        this.pos = pos;
        return c;
      }
      pos++;
    }
    this.pos = pos;
    return -1;
  }

  value(): Value {
    const c = this.ws();
    switch (c) {
      case 0x7b:
        return this.object();
      case 0x5b:
        return this.array();
      case 0x22:
        return this.string();
      case 0x74:
        return this.literal("true", true);
      case 0x66:
        return this.literal("false", false);
      case 0x6e:
        return this.literal("null", null);
      case -1:
        return this.fail("unexpected end of input");
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail("unexpected character");
    }
  }

  literal<T extends Value>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) this.fail("invalid literal");
    this.pos += word.length;
    return value;
  }

  number(): number | bigint {
    const text = this.text;
    const start = this.pos;
    let pos = start;
    if (text.charCodeAt(pos) === 0x2d) pos++;
    const intStart = pos;
    let c = text.charCodeAt(pos);
    if (c === 0x30) {
      pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      do c = text.charCodeAt(++pos);
      while (c >= 0x30 && c <= 0x39);
    } else {
      this.pos = pos;
      this.fail("invalid number");
    }
    const intDigits = pos - intStart;
    let integer = true;
    c = text.charCodeAt(pos);
    if (c === 0x2e) {
      integer = false;
      const fracStart = ++pos;
      for (c = text.charCodeAt(pos); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++pos));
      if (pos === fracStart) {
        this.pos = pos;
        this.fail("invalid number");
      }
    }
    if (c === 0x65 || c === 0x45) {
      integer = false;
      c = text.charCodeAt(++pos);
      if (c === 0x2b || c === 0x2d) pos++;
      const expStart = pos;
      for (c = text.charCodeAt(pos); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++pos));
      if (pos === expStart) {
        this.pos = pos;
        this.fail("invalid number");
      }
    }
    this.pos = pos;
    const token = text.slice(start, pos);
    if (!integer) return Number(token);
    // Up to 15 digits a double holds the value exactly, which is the cheap path.
    if (intDigits <= 15) return BigInt(Number(token));
    const big = BigInt(token);
    return big >= INT64_MIN && big <= INT64_MAX ? big : Number(token);
  }

  string(): string {
    const text = this.text;
    const start = this.pos + 1;
    const quote = text.indexOf('"', start);
    if (quote < 0) {
      this.pos = text.length;
      this.fail("unterminated string");
    }
    // The next backslash is found once and reused, so documents without
    // escapes are scanned once rather than once per string.
    if (this.backslash < start && this.backslash !== -2) {
      const b = text.indexOf("\\", start);
      this.backslash = b < 0 ? -2 : b;
    }
    if (this.backslash === -2 || this.backslash > quote) {
      this.pos = quote + 1;
      return text.slice(start, quote);
    }
    return this.escapedString(start);
  }

  escapedString(start: number): string {
    const text = this.text;
    let out = "";
    let chunk = start;
    let pos = start;
    for (;;) {
      if (pos >= text.length) {
        this.pos = pos;
        this.fail("unterminated string");
      }
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        this.pos = pos + 1;
        this.backslash = -1;
        return out + text.slice(chunk, pos);
      }
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(chunk, pos);
      const e = text.charCodeAt(pos + 1);
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += "\\";
          break;
        case 0x2f:
          out += "/";
          break;
        case 0x62:
          out += "\b";
          break;
        case 0x66:
          out += "\f";
          break;
        case 0x6e:
          out += "\n";
          break;
        case 0x72:
          out += "\r";
          break;
        case 0x74:
          out += "\t";
          break;
        case 0x75: {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.pos = pos;
            this.fail("invalid unicode escape");
          }
          out += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          this.pos = pos;
          this.fail("invalid escape");
      }
      pos += 2;
      chunk = pos;
    }
  }

  array(): Value[] {
    if (++this.depth > MAX_DEPTH) this.fail("nested too deeply");
    this.pos++;
    const out: Value[] = [];
    let c = this.ws();
    if (c === 0x5d) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      out.push(this.value());
      c = this.ws();
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return out;
      }
      this.fail("expected , or ]");
    }
  }

  object(): { [key: string]: Value } {
    const out: { [key: string]: Value } = {};
    this.members(out, undefined);
    return out;
  }

  /** Reads an object's members into `out`, or hands them to `sink` in document order. */
  members(out: { [key: string]: Value } | undefined, sink: FieldSink | undefined): void {
    if (++this.depth > MAX_DEPTH) this.fail("nested too deeply");
    this.pos++;
    let c = this.ws();
    if (c === 0x7d) {
      this.pos++;
      this.depth--;
      return;
    }
    for (;;) {
      if (c !== 0x22) this.fail("expected a string key");
      const key = this.string();
      if (this.ws() !== 0x3a) this.fail("expected :");
      this.pos++;
      const value = this.value();
      if (sink) {
        sink.add(key, value);
      } else if (out) {
        if (key === "__proto__") {
          Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
        } else {
          out[key] = value;
        }
      }
      c = this.ws();
      if (c === 0x2c) {
        this.pos++;
        c = this.ws();
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        this.depth--;
        return;
      }
      this.fail("expected , or }");
    }
  }

  end(): void {
    if (this.ws() !== -1) this.fail("unexpected text after the JSON value");
  }
}

/** Parses a whole JSON document. @throws JsonSyntaxError */
export function parseJson(text: string): Value {
  const reader = new Reader(text);
  try {
    const v = reader.value();
    reader.end();
    return v;
  } catch (err) {
    if (err === FAILED) throw new JsonSyntaxError(reader.error);
    throw err;
  }
}

/**
 * Parses a JSON object's members into `sink`, top-level keys in document
 * order. Returns undefined on success, null when the text is valid JSON but
 * not an object (nothing is added), or an error message. On error the sink
 * may hold some members already; callers buffer and discard them.
 */
export function parseJsonObjectInto(text: string, sink: FieldSink): string | null | undefined {
  const reader = new Reader(text);
  try {
    if (reader.ws() !== 0x7b) {
      reader.value();
      reader.end();
      return null;
    }
    reader.members(undefined, sink);
    reader.end();
    return undefined;
  } catch (err) {
    if (err === FAILED) return reader.error;
    throw err;
  }
}
