/**
 * Syslog lines as RFC 5424 and RFC 3164 (BSD) define them. Field names
 * follow the Collector's syslog parser: priority, facility, severity,
 * version, timestamp, hostname, appname, proc_id, msg_id, structured_data
 * (a kvlist of SD-ID → {param: value}) and message.
 */
import type { Value } from "../../core/pipeline/record.js";
import { setAttribute } from "../common/values.js";
import { type FieldBuffer, typedValue } from "./fields.js";

const RFC5424_HEADER = /^<(\d{1,3})>([1-9]\d?) (\S+) (\S+) (\S+) (\S+) (\S+) /y;
const RFC3164 =
  /^(?:<(\d{1,3})>)?([A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?|\d{4}-\d{2}-\d{2}T\S+) (?:(\S+) )?([\s\S]*)$/;
const TAG = /^([^\s[\]:]{1,64})(?:\[([^\]\s]{1,32})\])?:(?: |$)/;
const SD_NAME = /[^\s="\]]{1,32}/y;

function addPriority(out: FieldBuffer, text: string | undefined): boolean {
  if (text === undefined) return true;
  const pri = Number(text);
  if (pri > 191) return false;
  out.addText("priority", text);
  out.addText("facility", String(pri >> 3));
  out.addText("severity", String(pri & 7));
  return true;
}

function addUnlessNil(out: FieldBuffer, key: string, text: string): void {
  if (text !== "-") out.add(key, text);
}

/** Reads [id name="value" ...]... at `pos`; returns the kvlist and the index after it, or undefined. */
function structuredData(
  text: string,
  start: number,
  out: FieldBuffer,
): [{ [id: string]: Value }, number] | undefined {
  const data: { [id: string]: Value } = {};
  let pos = start;
  while (text.charCodeAt(pos) === 0x5b) {
    SD_NAME.lastIndex = pos + 1;
    const id = SD_NAME.exec(text);
    if (!id) return undefined;
    pos = SD_NAME.lastIndex;
    const params: { [name: string]: Value } = {};
    while (text.charCodeAt(pos) === 0x20) {
      SD_NAME.lastIndex = pos + 1;
      const name = SD_NAME.exec(text);
      if (
        !name ||
        text.charCodeAt(SD_NAME.lastIndex) !== 0x3d ||
        text.charCodeAt(SD_NAME.lastIndex + 1) !== 0x22
      ) {
        return undefined;
      }
      pos = SD_NAME.lastIndex + 2;
      let value = "";
      let chunk = pos;
      for (;;) {
        const c = text.charCodeAt(pos);
        if (Number.isNaN(c)) return undefined;
        if (c === 0x22) break;
        if (c === 0x5c) {
          const e = text.charCodeAt(pos + 1);
          // RFC 5424 escapes only '"', '\' and ']'; any other backslash is literal.
          if (e === 0x22 || e === 0x5c || e === 0x5d) {
            value += text.slice(chunk, pos);
            chunk = pos + 1;
            pos += 2;
            continue;
          }
        }
        pos++;
      }
      value += text.slice(chunk, pos);
      pos++;
      setAttribute(params, name[0], out.typed ? typedValue(value) : value);
    }
    if (text.charCodeAt(pos) !== 0x5d) return undefined;
    pos++;
    setAttribute(data, id[0], params);
  }
  return pos === start ? undefined : [data, pos];
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export function parseRfc5424(text: string, out: FieldBuffer): string | undefined {
  RFC5424_HEADER.lastIndex = 0;
  const header = RFC5424_HEADER.exec(text);
  if (!header) return "not an RFC 5424 syslog line";
  let pos = RFC5424_HEADER.lastIndex;
  if (!addPriority(out, header[1])) return "invalid syslog priority";
  out.addText("version", header[2] as string);
  addUnlessNil(out, "timestamp", header[3] as string);
  addUnlessNil(out, "hostname", header[4] as string);
  addUnlessNil(out, "appname", header[5] as string);
  if (header[6] !== "-") out.addText("proc_id", header[6] as string);
  addUnlessNil(out, "msg_id", header[7] as string);
  if (text.charCodeAt(pos) === 0x2d) {
    pos++;
  } else {
    const sd = structuredData(text, pos, out);
    if (!sd) return "invalid syslog structured data";
    out.add("structured_data", sd[0]);
    pos = sd[1];
  }
  if (pos < text.length) {
    if (text.charCodeAt(pos) !== 0x20) return "invalid syslog structured data";
    out.add("message", stripBom(text.slice(pos + 1)));
  }
  return undefined;
}

export function parseRfc3164(text: string, out: FieldBuffer): string | undefined {
  const m = RFC3164.exec(text);
  if (!m) return "not an RFC 3164 syslog line";
  if (!addPriority(out, m[1])) return "invalid syslog priority";
  out.add("timestamp", m[2] as string);
  let host = m[3];
  let rest = m[4] as string;
  // Lines logged locally often omit the hostname, so the first word is
  // already the tag ("su[123]:" or "cron:").
  if (host !== undefined && TAG.test(`${host} `)) {
    rest = `${host} ${rest}`;
    host = undefined;
  }
  if (host !== undefined) out.add("hostname", host);
  const tag = TAG.exec(rest);
  if (tag) {
    out.add("appname", tag[1] as string);
    if (tag[2] !== undefined) out.addText("proc_id", tag[2]);
    rest = rest.slice(tag[0].length);
  }
  out.add("message", rest);
  return undefined;
}
