/**
 * NGINX and Apache "combined" access log lines. Both write
 *   client ident user [time] "request" status bytes "referer" "user-agent"
 * and NGINX's default "main" format appends more quoted fields, which are
 * accepted and ignored. Quoted fields escape quotes as \" (Apache) or
 * \x22 (NGINX, which also writes non-ASCII bytes as \xHH); both are
 * decoded, \xHH runs as UTF-8 when they form valid UTF-8 without control
 * characters.
 *
 * Attribute names follow the OTel HTTP semantic conventions, except that
 * the referer header is a single string rather than the convention's
 * string array, as an access log holds exactly one value.
 */
import type { FieldBuffer } from "./fields.js";

// Quoted fields use the unrolled [^"\\]*(?:\\.[^"\\]*)* form, which V8 runs
// without a backtracking entry per character, so megabyte lines are safe.
const Q = String.raw`"([^"\\]*(?:\\.[^"\\]*)*)"`;
const COMBINED = new RegExp(
  String.raw`^(\S+) (\S+) (\S+) \[([^\]]*)\] ${Q} (\d{3}) (\d{1,18}|-) ${Q} ${Q}(?:\s[\s\S]*)?$`,
);
const REQUEST = /^([A-Za-z]+) (\S+) ([A-Za-z]+)\/(\d+(?:\.\d+)?)$/;
const HEX_RUN = /(?:\\x[0-9a-fA-F]{2})+/g;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeHexRun(run: string): string {
  const bytes = new Uint8Array(run.length / 4);
  for (let i = 0; i < bytes.length; i++) {
    const b = Number.parseInt(run.slice(i * 4 + 2, i * 4 + 4), 16);
    // Control bytes (a TLS handshake sent to a plain HTTP port) read better escaped.
    if (b < 0x20 || b === 0x7f) return run;
    bytes[i] = b;
  }
  try {
    return utf8.decode(bytes);
  } catch {
    return run;
  }
}

function unescapeField(text: string): string {
  if (!text.includes("\\")) return text;
  return text.replace(HEX_RUN, decodeHexRun).replace(/\\(["\\])/g, "$1");
}

/** Keeps text that means "no value" ("-" or empty) out of the attributes. */
function addPresent(out: FieldBuffer, key: string, text: string): void {
  if (text !== "-" && text !== "") out.add(key, text);
}

export function parseCombined(text: string, out: FieldBuffer): string | undefined {
  const m = COMBINED.exec(text);
  if (!m) return "not a combined access log line";
  out.add("client.address", m[1] as string);
  addPresent(out, "user.name", m[3] as string);
  out.add("timestamp", m[4] as string);
  const request = unescapeField(m[5] as string);
  const r = REQUEST.exec(request);
  if (r) {
    out.add("http.request.method", r[1] as string);
    const target = r[2] as string;
    const q = target.indexOf("?");
    out.add("url.path", q < 0 ? target : target.slice(0, q));
    if (q >= 0) out.add("url.query", target.slice(q + 1));
    out.add("network.protocol.name", (r[3] as string).toLowerCase());
    out.add("network.protocol.version", r[4] as string);
  } else {
    // Port scanners and TLS handshakes sent to plain HTTP produce request
    // lines that are not "METHOD target PROTO/version"; keep them whole.
    addPresent(out, "http.request.line", request);
  }
  out.add("http.response.status_code", BigInt(m[6] as string));
  out.add("http.response.body.size", m[7] === "-" ? 0n : BigInt(m[7] as string));
  addPresent(out, "http.request.header.referer", unescapeField(m[8] as string));
  addPresent(out, "user_agent.original", unescapeField(m[9] as string));
  return undefined;
}
