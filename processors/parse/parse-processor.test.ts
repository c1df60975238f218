import { describe, expect, it } from "vitest";
import type { PipelineRecord, Value } from "../../core/pipeline/record.js";
import { CTX, counterValue, testDeps, testRecord } from "../common/testing.js";
import { DROPPED_RECORDS, PROCESSED_RECORDS } from "../metrics.js";
import { parseProcessorFactory } from "./index.js";
import { parseTimestamp } from "./timestamp.js";

const ns = (iso: string, fraction = 0n) => BigInt(Date.parse(iso)) * 1_000_000n + fraction;

function parser(config: Record<string, unknown>, deps = testDeps()) {
  return parseProcessorFactory.create("parse", parseProcessorFactory.configSchema.parse(config), deps);
}

function parseOne(config: Record<string, unknown>, body: Value, fields: Partial<PipelineRecord> = {}) {
  const r = testRecord({ body, ...fields });
  parser(config).process([r], CTX);
  return r;
}

function configError(config: Record<string, unknown>): string {
  const r = parseProcessorFactory.configSchema.safeParse(config);
  if (r.success) throw new Error("expected the config to be refused");
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
}

describe("parse: json", () => {
  it("keeps JSON types: exact ints beyond 2^53, doubles, nested objects and arrays", () => {
    const r = parseOne(
      { format: "json" },
      '{"big": 9007199254740993, "max": 9223372036854775807, "min": -9223372036854775808,' +
        ' "huge": 18446744073709551616, "one": 1.0, "exp": 1e3, "neg": -0.25, "small": 42,' +
        ' "nested": {"a": {"b": [1, "two", null, true]}}, "none": null}',
    );
    expect(r.attributes.big).toBe(9007199254740993n);
    expect(r.attributes.max).toBe(9223372036854775807n);
    expect(r.attributes.min).toBe(-9223372036854775808n);
    // Outside int64 no OTLP type holds it exactly; it becomes a double.
    expect(r.attributes.huge).toBe(2 ** 64);
    expect(r.attributes.one).toBe(1);
    expect(typeof r.attributes.one).toBe("number");
    expect(r.attributes.exp).toBe(1000);
    expect(typeof r.attributes.exp).toBe("number");
    expect(r.attributes.neg).toBe(-0.25);
    expect(r.attributes.small).toBe(42n);
    expect(r.attributes.nested).toEqual({ a: { b: [1n, "two", null, true] } });
    expect(r.attributes.none).toBeNull();
  });

  it("lifts severity, exact timestamp and (optionally) the message", () => {
    const line =
      '{"time":"2024-05-01T12:34:56.123456789+02:00","level":"WARNING","message":"disk 91% full","disk":"/"}';
    const kept = parseOne({ format: "json" }, line);
    expect(kept.severityNumber).toBe(13);
    expect(kept.severityText).toBe("WARNING");
    expect(kept.timeUnixNano).toBe(ns("2024-05-01T10:34:56Z", 123456789n));
    expect(kept.body).toBe(line);
    expect(kept.attributes.message).toBe("disk 91% full");

    const moved = parseOne({ format: "json", keep_original_body: false }, line);
    expect(moved.body).toBe("disk 91% full");
    expect(moved.attributes.message).toBeUndefined();
    expect(moved.attributes.disk).toBe("/");

    const msg = parseOne({ format: "json", keep_original_body: false, body_from: "msg" }, '{"msg":{"k":1}}');
    expect(msg.body).toEqual({ k: 1n });
  });

  it("applies the prefix to every parsed key and reads a configured source attribute", () => {
    const r = parseOne({ format: "json", source: "attributes.log", prefix: "app." }, null, {
      attributes: { log: '{"user":"ana","n":3}' },
    });
    expect(r.attributes).toEqual({ log: '{"user":"ana","n":3}', "app.user": "ana", "app.n": 3n });
  });

  it("leaves records without a string source alone", () => {
    const kv = { a: "b" };
    const r = parseOne({ format: "json", mark_errors: true }, kv);
    expect(r.body).toBe(kv);
    expect(r.attributes).toEqual({});
    const missing = parseOne({ format: "json", source: "attributes.nope", mark_errors: true }, "{}");
    expect(missing.attributes).toEqual({});
  });

  it("leaves arrays and scalars alone, without an error mark", () => {
    for (const body of ["[1,2,3]", "42", '"text"', "null", "  [ ]  "]) {
      const r = parseOne({ format: "json", mark_errors: true }, body);
      expect(r.attributes).toEqual({});
      expect(r.body).toBe(body);
    }
  });

  it("bad JSON leaves the record unchanged; parse.error only with mark_errors", () => {
    for (const body of [
      '{"a":1',
      '{"a":1}}',
      '{"a":01}',
      "{'a':1}",
      '{"a":"\\x"}',
      "plain text",
      "",
      '{"a":1,}',
    ]) {
      const before = testRecord({ body, severityNumber: 0 });
      const r = structuredClone(before);
      parser({ format: "json" }).process([r], CTX);
      expect(r).toEqual(before);
      const marked = parseOne({ format: "json", mark_errors: true }, body);
      expect(marked.attributes).toEqual({ "parse.error": "invalid json" });
    }
  });

  it("does not let a __proto__ key replace the attributes' prototype", () => {
    const r = parseOne({ format: "json" }, '{"__proto__":{"polluted":true},"x":{"__proto__":1}}');
    expect(Object.getPrototypeOf(r.attributes)).toBe(Object.prototype);
    expect(Object.hasOwn(r.attributes, "__proto__")).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(r.attributes.x as object, "__proto__")).toBe(true);
  });

  it("keeps unicode (emoji, CJK, RTL, escapes, surrogate pairs) intact", () => {
    const r = parseOne(
      { format: "json" },
      '{"emoji":"deploy 🚀✅","cjk":"数据库连接失败","rtl":"مرحبا بالعالم","esc":"\\u00e9\\ud83d\\ude00\\n","名前":"値"}',
    );
    expect(r.attributes.emoji).toBe("deploy 🚀✅");
    expect(r.attributes.cjk).toBe("数据库连接失败");
    expect(r.attributes.rtl).toBe("مرحبا بالعالم");
    expect(r.attributes.esc).toBe("é😀\n");
    expect(r.attributes.名前).toBe("値");
  });

  it("parses a 1 MB JSON line", () => {
    const big = "x".repeat(1024 * 1024);
    const started = performance.now();
    const r = parseOne({ format: "json" }, `{"level":"error","payload":"${big}","n":1}`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect((r.attributes.payload as string).length).toBe(big.length);
    expect(r.severityNumber).toBe(17);
  });

  it("duplicate keys: the last one wins", () => {
    expect(parseOne({ format: "json" }, '{"a":1,"a":2}').attributes.a).toBe(2n);
  });
});

describe("parse: logfmt", () => {
  const line =
    'ts=2024-01-02T03:04:05.5Z level=info msg="user \\"ana\\" logged in\\n\\ttwice" path=/v1/x?a=b ' +
    "count=42 ratio=0.5 ok=true id=007 token=abc== empty= debug name=Zoë 城市=東京";

  it("reads quoted values with escapes, flags, empty values and typed values", () => {
    const r = parseOne({ format: "logfmt" }, line);
    expect(r.attributes).toEqual({
      ts: "2024-01-02T03:04:05.5Z",
      level: "info",
      msg: 'user "ana" logged in\n\ttwice',
      path: "/v1/x?a=b",
      count: 42n,
      ratio: 0.5,
      ok: true,
      id: "007",
      token: "abc==",
      empty: "",
      debug: true,
      name: "Zoë",
      城市: "東京",
    });
    expect(r.severityNumber).toBe(9);
    expect(r.timeUnixNano).toBe(ns("2024-01-02T03:04:05Z", 500_000_000n));
  });

  it("typed: false keeps every value a string", () => {
    const r = parseOne({ format: "logfmt", typed: false }, "count=42 ratio=0.5 ok=true flag");
    expect(r.attributes).toEqual({ count: "42", ratio: "0.5", ok: "true", flag: "" });
  });

  it("big integers: exact within int64, text beyond", () => {
    const r = parseOne({ format: "logfmt" }, "a=9007199254740993 b=99999999999999999999 c=-12");
    expect(r.attributes).toEqual({ a: 9007199254740993n, b: "99999999999999999999", c: -12n });
  });

  it("malformed lines change nothing", () => {
    for (const body of ['a="unterminated', 'a="x"b', 'a=b"c', "=value", "just some prose", '"quoted"']) {
      const r = parseOne({ format: "logfmt", mark_errors: true }, body);
      expect(Object.keys(r.attributes)).toEqual(["parse.error"]);
    }
  });

  it("ignores a trailing line terminator", () => {
    expect(parseOne({ format: "logfmt" }, "a=1 b=two\r\n").attributes).toEqual({ a: 1n, b: "two" });
  });

  it("parses a 1 MB value", () => {
    const big = "é".repeat(512 * 1024);
    const r = parseOne({ format: "logfmt" }, `level=debug blob="${big}" tail=1`);
    expect(r.attributes.blob).toBe(big);
    expect(r.attributes.tail).toBe(1n);
  });
});

describe("parse: regex", () => {
  const pattern =
    "(?<ts>\\S+) \\[(?<level>\\w+)\\] (?<component>[\\w.]+)(?: \\((?<code>\\d+)\\))?: (?<message>.*)";

  it("named groups become typed attributes; groups that did not take part are left out", () => {
    const r = parseOne(
      { format: "regex", pattern },
      "2024-03-01T00:00:00Z [ERROR] db.pool (503): 连接超时 ⏱",
    );
    expect(r.attributes).toEqual({
      ts: "2024-03-01T00:00:00Z",
      level: "ERROR",
      component: "db.pool",
      code: 503n,
      message: "连接超时 ⏱",
    });
    expect(r.severityNumber).toBe(17);
    const noCode = parseOne({ format: "regex", pattern }, "2024-03-01T00:00:00Z [info] api: ok");
    expect(noCode.attributes.code).toBeUndefined();
    expect(Object.hasOwn(noCode.attributes, "code")).toBe(false);
  });

  it("the pattern must match the whole text: a partial match changes nothing", () => {
    const partial = parseOne(
      { format: "regex", pattern: "(?<level>[A-Z]+) (?<n>\\d+)", mark_errors: true },
      "WARN 12 trailing",
    );
    expect(partial.attributes).toEqual({ "parse.error": "no match" });
    const prefix = parseOne({ format: "regex", pattern: "x(?<n>\\d+)" }, "y x12");
    expect(prefix.attributes).toEqual({});
    const none = parseOne({ format: "regex", pattern }, "nothing like the pattern");
    expect(none.attributes).toEqual({});
  });

  it("backtracks to a whole-line alternative rather than stopping at the first one", () => {
    const r = parseOne({ format: "regex", pattern: "(?<a>a|ab)(?<rest>c?)" }, "abc");
    expect(r.attributes).toEqual({ a: "ab", rest: "c" });
  });

  it("accepts RE2-style inline flags and matches astral characters as one", () => {
    const r = parseOne({ format: "regex", pattern: "(?i)level=(?<level>warn) (?<icon>.)" }, "LEVEL=Warn 🔥");
    expect(r.attributes).toEqual({ level: "Warn", icon: "🔥" });
  });

  it("handles a 1 MB line", () => {
    const big = "ü".repeat(1024 * 1024);
    const r = parseOne({ format: "regex", pattern: "(?<level>\\w+) (?<msg>.*)" }, `info ${big}`);
    expect(r.attributes.msg).toBe(big);
    const miss = parseOne(
      { format: "regex", pattern: "(?<level>\\d+) (?<msg>.*)", mark_errors: true },
      `info ${big}`,
    );
    expect(miss.attributes).toEqual({ "parse.error": "no match" });
  });

  it("refuses a missing pattern, a pattern without named groups and an invalid pattern", () => {
    expect(configError({ format: "regex" })).toMatch(/pattern: format: regex needs a pattern/);
    expect(configError({ format: "regex", pattern: "(\\d+)" })).toMatch(/pattern: .*named group/);
    expect(configError({ format: "regex", pattern: "(?<a>[" })).toMatch(
      /pattern: invalid regular expression/,
    );
    expect(configError({ format: "json", pattern: "(?<a>x)" })).toMatch(/pattern: pattern is only used/);
  });
});

describe("parse: nginx and apache combined", () => {
  const nginx =
    '203.0.113.9 - - [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?lang=en&x=1 HTTP/1.1" 200 2326 ' +
    '"http://www.example.com/start.html" "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"';

  it("parses a real nginx combined line into semantic-convention attributes", () => {
    const r = parseOne({ format: "nginx_combined" }, nginx);
    expect(r.attributes).toEqual({
      "client.address": "203.0.113.9",
      timestamp: "10/Oct/2000:13:55:36 -0700",
      "http.request.method": "GET",
      "url.path": "/apache_pb.gif",
      "url.query": "lang=en&x=1",
      "network.protocol.name": "http",
      "network.protocol.version": "1.1",
      "http.response.status_code": 200n,
      "http.response.body.size": 2326n,
      "http.request.header.referer": "http://www.example.com/start.html",
      "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    });
    expect(r.timeUnixNano).toBe(ns("2000-10-10T20:55:36Z"));
  });

  it("accepts nginx's default main format (extra quoted fields) and decodes \\xHH escapes as UTF-8", () => {
    const line =
      '10.1.2.3 - - [01/Jan/2024:00:00:00 +0000] "POST /api/\\xE6\\x9D\\xB1 HTTP/2.0" 201 0 "-" ' +
      '"curl \\x22quoted\\x22 \\xE2\\x9C\\x93" "198.51.100.7, 10.0.0.1"';
    const r = parseOne({ format: "nginx_combined" }, line);
    expect(r.attributes["url.path"]).toBe("/api/東");
    expect(r.attributes["user_agent.original"]).toBe('curl "quoted" ✓');
    expect(r.attributes["http.request.header.referer"]).toBeUndefined();
    expect(r.attributes["http.response.body.size"]).toBe(0n);
  });

  it("parses an apache combined line with a user, \\\" escapes and '-' for zero bytes", () => {
    const line =
      '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 304 - ' +
      '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav) \\"quoted\\""';
    const r = parseOne({ format: "apache_combined" }, line);
    expect(r.attributes["user.name"]).toBe("frank");
    expect(r.attributes["http.response.status_code"]).toBe(304n);
    expect(r.attributes["http.response.body.size"]).toBe(0n);
    expect(r.attributes["user_agent.original"]).toBe('Mozilla/4.08 [en] (Win98; I ;Nav) "quoted"');
    expect(r.timeUnixNano).toBe(ns("2000-10-10T20:55:36Z"));
  });

  it("keeps a request line that is not an HTTP request whole", () => {
    const line =
      '192.0.2.1 - - [10/Oct/2000:13:55:36 +0000] "\\x16\\x03\\x01\\x02\\x00\\x01" 400 157 "-" "-"';
    const r = parseOne({ format: "nginx_combined" }, line);
    expect(r.attributes["http.request.method"]).toBeUndefined();
    expect(r.attributes["http.request.line"]).toBe("\\x16\\x03\\x01\\x02\\x00\\x01");
    expect(r.attributes["http.response.status_code"]).toBe(400n);
    expect(r.attributes["user_agent.original"]).toBeUndefined();
  });

  it("a truncated or foreign line changes nothing", () => {
    for (const body of [
      nginx.slice(0, 60),
      "GET / HTTP/1.1",
      '1.2.3.4 - - [x] "GET / HTTP/1.1" 2000 1 "-" "-"',
    ]) {
      const r = parseOne({ format: "nginx_combined", mark_errors: true }, body);
      expect(r.attributes).toEqual({ "parse.error": "not a combined access log line" });
    }
  });

  it("handles a 1 MB user agent and a 1 MB line that is not a log line", () => {
    const ua = "A".repeat(1024 * 1024);
    const r = parseOne(
      { format: "nginx_combined" },
      `1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "${ua}"`,
    );
    expect(r.attributes["user_agent.original"]).toBe(ua);
    const started = performance.now();
    const bad = parseOne({ format: "nginx_combined" }, `1.2.3.4 - - [x] "${"\\".repeat(1024 * 1024)}`);
    expect(bad.attributes).toEqual({});
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe("parse: syslog RFC 5424", () => {
  const line =
    "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 " +
    '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high" note="a \\"b\\" \\] c\\\\"] ' +
    "\uFEFFAn application event log entry… ✓";

  it("parses header, structured data and message (BOM removed), with syslog severity", () => {
    const r = parseOne({ format: "syslog_rfc5424", keep_original_body: false }, line);
    expect(r.attributes).toEqual({
      priority: 165n,
      facility: 20n,
      severity: 5n,
      version: 1n,
      timestamp: "2003-10-11T22:14:15.003Z",
      hostname: "mymachine.example.com",
      appname: "evntslog",
      msg_id: "ID47",
      structured_data: {
        "exampleSDID@32473": { iut: 3n, eventSource: "Application", eventID: 1011n },
        "examplePriority@32473": { class: "high", note: 'a "b" ] c\\' },
      },
    });
    expect(r.body).toBe("An application event log entry… ✓");
    expect(r.severityNumber).toBe(10);
    expect(r.severityText).toBe("notice");
    expect(r.timeUnixNano).toBe(ns("2003-10-11T22:14:15Z", 3_000_000n));
  });

  it("maps every syslog severity by the OTel data model", () => {
    const expected = [21, 19, 18, 17, 13, 10, 9, 5];
    for (let sev = 0; sev < 8; sev++) {
      const r = parseOne({ format: "syslog_rfc5424" }, `<${8 + sev}>1 - host app 1 - - msg`);
      expect(r.severityNumber).toBe(expected[sev]);
    }
  });

  it("accepts NIL values and a line without a message; typed: false keeps strings", () => {
    const r = parseOne({ format: "syslog_rfc5424", typed: false }, "<34>1 - - - - - -");
    expect(r.attributes).toEqual({ priority: "34", facility: "4", severity: "2", version: "1" });
    expect(r.severityNumber).toBe(18);
    expect(r.timeUnixNano).toBe(0n);
  });

  it("rejects bad priorities, broken structured data and other formats", () => {
    for (const body of [
      "<999>1 - - - - - - msg",
      '<34>1 - h a p m [id x="unterminated] msg',
      '<34>1 - h a p m [id x="1"]glued',
      "<34>1 - h a p m nostructureddata msg",
      "<34>Oct 11 22:14:15 host su: msg",
    ]) {
      const r = parseOne({ format: "syslog_rfc5424", mark_errors: true }, body);
      expect(Object.keys(r.attributes)).toEqual(["parse.error"]);
    }
  });

  it("handles a 1 MB message", () => {
    const msg = "日本語".repeat(350_000);
    const r = parseOne({ format: "syslog_rfc5424" }, `<14>1 2024-01-01T00:00:00Z h a 1 - - ${msg}`);
    expect(r.attributes.message).toBe(msg);
  });
});

describe("parse: syslog RFC 3164", () => {
  // Received on 2024-06-01, so year-less dates fall in 2024.
  const observed = { observedTimeUnixNano: ns("2024-06-01T00:00:00Z") };

  it("parses a line with a PID", () => {
    const r = parseOne(
      { format: "syslog_rfc3164" },
      "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
      observed,
    );
    expect(r.attributes).toEqual({
      priority: 34n,
      facility: 4n,
      severity: 2n,
      timestamp: "Oct 11 22:14:15",
      hostname: "mymachine",
      appname: "su",
      proc_id: 230n,
      message: "'su root' failed for lonvick on /dev/pts/8",
    });
    expect(r.severityNumber).toBe(18);
    expect(r.severityText).toBe("crit");
    // October is after June: the previous year by the reference time.
    expect(r.timeUnixNano).toBe(ns("2023-10-11T22:14:15Z"));
  });

  it("parses a line without a PID, with a space-padded day, and applies the timezone", () => {
    const r = parseOne(
      { format: "syslog_rfc3164", timezone: "+02:00" },
      "<13>Feb  5 17:32:18 10.0.0.99 myapp: Use the BFG! 🔫",
      observed,
    );
    expect(r.attributes.hostname).toBe("10.0.0.99");
    expect(r.attributes.appname).toBe("myapp");
    expect(r.attributes.proc_id).toBeUndefined();
    expect(r.attributes.message).toBe("Use the BFG! 🔫");
    expect(r.timeUnixNano).toBe(ns("2024-02-05T15:32:18Z"));
  });

  it("parses lines without a priority or hostname, and untagged messages", () => {
    const r = parseOne({ format: "syslog_rfc3164" }, "Oct  1 08:00:00 cron[99]: job done", observed);
    expect(r.attributes).toEqual({
      timestamp: "Oct  1 08:00:00",
      appname: "cron",
      proc_id: 99n,
      message: "job done",
    });
    const untagged = parseOne(
      { format: "syslog_rfc3164" },
      "<6>Oct  1 08:00:00 host free text here",
      observed,
    );
    expect(untagged.attributes.hostname).toBe("host");
    expect(untagged.attributes.message).toBe("free text here");
    expect(untagged.attributes.appname).toBeUndefined();
  });

  it("takes the year from the record and rolls back over new year", () => {
    const r = parseOne({ format: "syslog_rfc3164" }, "<13>Dec 31 23:59:58 h app: late", {
      observedTimeUnixNano: ns("2025-01-01T00:00:05Z"),
    });
    expect(r.timeUnixNano).toBe(ns("2024-12-31T23:59:58Z"));
  });

  it("rejects what is not RFC 3164", () => {
    for (const body of [
      "<34>1 2003-10-11T22:14:15Z host app - - - msg",
      "just text",
      "<999>Oct 11 22:14:15 h a: m",
    ]) {
      const r = parseOne({ format: "syslog_rfc3164", mark_errors: true }, body);
      expect(Object.keys(r.attributes)).toEqual(["parse.error"]);
    }
  });
});

describe("parse: severity and timestamp rules", () => {
  it("keeps an existing severity and time unless told to overwrite", () => {
    const body = '{"level":"error","ts":1700000000}';
    const kept = parseOne({ format: "json" }, body, {
      severityNumber: 9,
      severityText: "INFO",
      timeUnixNano: 5n,
    });
    expect([kept.severityNumber, kept.severityText, kept.timeUnixNano]).toEqual([9, "INFO", 5n]);
    const over = parseOne({ format: "json", overwrite_severity: true, overwrite_timestamp: true }, body, {
      severityNumber: 9,
      timeUnixNano: 5n,
    });
    expect([over.severityNumber, over.severityText, over.timeUnixNano]).toEqual([
      17,
      "error",
      1_700_000_000_000_000_000n,
    ]);
  });

  it("tries the default keys in order, or only the configured key", () => {
    const r = parseOne({ format: "json" }, '{"severity":"debug","level":"fatal","ts":1,"time":1700000000}');
    expect(r.severityNumber).toBe(21);
    expect(r.timeUnixNano).toBe(1_700_000_000_000_000_000n);
    const custom = parseOne(
      { format: "json", severity_from: "sev", timestamp_from: "when" },
      '{"level":"error","sev":"crit","when":"2024-01-01T00:00:00Z"}',
    );
    expect(custom.severityNumber).toBe(21);
    expect(custom.timeUnixNano).toBe(ns("2024-01-01T00:00:00Z"));
  });

  it("maps level words and pino numbers; unknown levels leave the severity unset", () => {
    const cases: [Value, number][] = [
      ["trace", 1],
      ["DEBUG", 5],
      ["Info", 9],
      ["notice", 10],
      ["warn", 13],
      ["warning", 13],
      ["err", 17],
      ["error", 17],
      ["alert", 19],
      ["panic", 19],
      ["critical", 21],
      ["crit", 21],
      ["fatal", 21],
      ["emerg", 21],
      [30, 9],
      [50, 17],
      [60, 21],
      ["verbose-ish", 0],
      [7, 0],
      [true, 0],
    ];
    for (const [level, want] of cases) {
      const r = parseOne({ format: "json" }, JSON.stringify({ level }));
      expect([level, r.severityNumber]).toEqual([level, want]);
    }
  });

  it("an unrecognised timestamp leaves the time unset without failing the parse", () => {
    const r = parseOne({ format: "json", mark_errors: true }, '{"time":"yesterday","a":1}');
    expect(r.timeUnixNano).toBe(0n);
    expect(r.attributes).toEqual({ time: "yesterday", a: 1n });
  });
});

describe("parse: timestamps", () => {
  const ctx = { offsetMinutes: 0, referenceNs: ns("2024-06-01T00:00:00Z") };
  const cases: [Value, bigint | undefined][] = [
    ["2024-05-01T12:34:56Z", ns("2024-05-01T12:34:56Z")],
    ["2024-05-01T12:34:56.1Z", ns("2024-05-01T12:34:56Z", 100_000_000n)],
    ["2024-05-01T12:34:56.123456789-07:30", ns("2024-05-01T20:04:56Z", 123_456_789n)],
    ["2024-05-01T12:34:56.1234567891234Z", ns("2024-05-01T12:34:56Z", 123_456_789n)],
    ["2024-05-01 12:34:56,250", ns("2024-05-01T12:34:56Z", 250_000_000n)],
    ["2024-05-01T12:34:56+0100", ns("2024-05-01T11:34:56Z")],
    ["2024-02-30T00:00:00Z", undefined],
    ["2024-02-29T00:00:00Z", ns("2024-02-29T00:00:00Z")],
    ["10/Oct/2000:13:55:36 -0700", ns("2000-10-10T20:55:36Z")],
    ["Oct 11 22:14:15", ns("2023-10-11T22:14:15Z")],
    ["May  1 00:00:00.5", ns("2024-05-01T00:00:00Z", 500_000_000n)],
    [1700000000, 1_700_000_000_000_000_000n],
    [1700000000.123, 1_700_000_000_123_000_000n],
    [1700000000123, 1_700_000_000_123_000_000n],
    [1700000000123456n, 1_700_000_000_123_456_000n],
    [1700000000123456789n, 1_700_000_000_123_456_789n],
    ["1700000000.123456789", 1_700_000_000_123_456_789n],
    ["1700000000123.456789", 1_700_000_000_123_456_789n],
    ["0", undefined],
    [-5, undefined],
    ["soon", undefined],
    [null, undefined],
    ["9".repeat(30), undefined],
  ];
  it.each(cases)("%s", (input, want) => {
    expect(parseTimestamp(input, ctx)).toBe(want);
  });

  it("uses the configured offset when the text has none", () => {
    expect(parseTimestamp("2024-05-01T12:00:00", { offsetMinutes: 120, referenceNs: 0n })).toBe(
      ns("2024-05-01T10:00:00Z"),
    );
  });
});

describe("parse: batches, metrics and config", () => {
  it("an empty batch is returned as is", () => {
    const batch: PipelineRecord[] = [];
    expect(parser({ format: "logfmt" }).process(batch, CTX)).toBe(batch);
  });

  it("counts processed records and never drops any, failures included", async () => {
    const deps = testDeps();
    const p = parser({ format: "json" }, deps);
    const batch = [
      testRecord({ body: '{"a":1}' }),
      testRecord({ body: "not json" }),
      testRecord({ body: 7n }),
    ];
    expect(p.process(batch, CTX)).toHaveLength(3);
    expect(await counterValue(deps, PROCESSED_RECORDS, { processor: "parse" })).toBe(3);
    expect(await counterValue(deps, DROPPED_RECORDS, { processor: "parse" })).toBe(0);
  });

  it("config errors name the field and the allowed values", () => {
    expect(configError({ format: "xml" })).toMatch(/format: .*"json".*"logfmt".*"syslog_rfc3164"/);
    expect(configError({ format: "json", source: "resource.x" })).toMatch(
      /source: expected body or attributes\.<key>/,
    );
    expect(configError({ format: "json", timezone: "Europe/Paris" })).toMatch(
      /timezone: expected a UTC offset/,
    );
    expect(configError({ format: "json", colour: "blue" })).toMatch(/colour/);
  });

  it("defaults", () => {
    expect(parseProcessorFactory.configSchema.parse({ format: "json" })).toEqual({
      format: "json",
      source: "body",
      prefix: "",
      typed: true,
      overwrite_severity: false,
      overwrite_timestamp: false,
      timezone: "UTC",
      keep_original_body: true,
      body_from: "message",
      mark_errors: false,
    });
  });
});
