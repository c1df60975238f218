import { describe, expect, it } from "vitest";
import type { PipelineRecord, Value } from "../../core/pipeline/record.js";
import { CTX, testDeps, testRecord, testResource } from "../common/testing.js";
import { luhnValid, REDACTION_COUNT_ATTRIBUTE, redactConfigSchema, redactProcessorFactory } from "./index.js";

function redactor(config: Record<string, unknown> = {}) {
  return redactProcessorFactory.create(
    "redact",
    redactProcessorFactory.configSchema.parse(config),
    testDeps(),
  );
}

function redactBody(body: string, config: Record<string, unknown> = {}): Value {
  const r = testRecord({ body });
  redactor(config).process([r], CTX);
  return r.body;
}

/** Appends the Luhn check digit. */
function withCheckDigit(payload: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(payload + d)) return payload + d;
  throw new Error("unreachable");
}

describe("redact: built-in patterns", () => {
  it("masks emails and keeps the text around them, whatever the script", () => {
    expect(redactBody("用户 ana.lópez+test@mail.example.co.uk 已登录 🎉 مرحبا")).toBe(
      "用户 **** 已登录 🎉 مرحبا",
    );
    expect(redactBody("écrire à josé@bücher.de — merci")).toBe("écrire à **** — merci");
    expect(redactBody("contact: bob@example.com, carol@sub.example.org.")).toBe("contact: ****, ****.");
    expect(redactBody("not an email: a@b, @example.com, user@localhost")).toBe(
      "not an email: a@b, @example.com, user@localhost",
    );
  });

  it("masks card numbers only when the Luhn check passes, keeping the last four digits", () => {
    expect(redactBody("card 4111 1111 1111 1111 ok")).toBe("card ****1111 ok");
    expect(redactBody("card 4111-1111-1111-1111")).toBe("card ****1111");
    expect(redactBody("amex 378282246310005, mc 5500000000000004")).toBe("amex ****0005, mc ****0004");
    expect(redactBody("discover=6011111111111117;")).toBe("discover=****1117;");
    // Order ids and other long numbers that fail the check stay.
    expect(redactBody("order 4111111111111112 shipped")).toBe("order 4111111111111112 shipped");
    expect(redactBody("order 5105105105105101")).toBe("order 5105105105105101");
    // Too short or too long runs of digits are not card numbers.
    expect(redactBody("id 411111111111 and 41111111111111111111")).toBe(
      "id 411111111111 and 41111111111111111111",
    );
  });

  it("leaves Luhn-valid numbers that cannot be cards (like nanosecond timestamps) alone", () => {
    const ts = withCheckDigit("170000000012345678");
    expect(luhnValid(ts)).toBe(true);
    expect(redactBody(`t=${ts}`)).toBe(`t=${ts}`);
  });

  it("keep_last_digits and mask are configurable", () => {
    expect(redactBody("4111111111111111", { keep_last_digits: 0, mask: "[card]" })).toBe("[card]");
    expect(redactBody("4111111111111111", { keep_last_digits: 2 })).toBe("****11");
  });

  it("luhnValid", () => {
    for (const ok of ["4111111111111111", "4012888888881881", "79927398713", "4111 1111 1111 1111"]) {
      expect(luhnValid(ok)).toBe(true);
    }
    for (const bad of ["4111111111111112", "79927398710", "1234567812345678"])
      expect(luhnValid(bad)).toBe(false);
  });

  it("masks bearer tokens and Authorization values in their usual spellings", () => {
    expect(redactBody("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-x")).toBe(
      "Authorization: ****",
    );
    expect(redactBody("curl -H 'Authorization: Basic dXNlcjpwYXNz' https://x")).toBe(
      "curl -H 'Authorization: ****' https://x",
    );
    expect(redactBody('{"authorization":"Token abc123","x":1}')).toBe('{"authorization":"****","x":1}');
    expect(redactBody("sent bearer abcdefgh12345678== to upstream")).toBe("sent bearer **** to upstream");
    expect(redactBody("the bearer of bad news")).toBe("the bearer of bad news");
  });

  it("masks valid dashed SSNs only", () => {
    expect(redactBody("ssn 123-45-6789.")).toBe("ssn ****.");
    expect(redactBody("ids 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000 1123-45-6789")).toBe(
      "ids 000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000 1123-45-6789",
    );
  });

  it("masks IPv4 addresses only when enabled", () => {
    const text = "from 192.168.1.20 via 10.0.0.1, version 1.2.3.4.5, bad 256.1.1.1";
    expect(redactBody(text)).toBe(text);
    expect(redactBody(text, { builtins: ["ipv4"] })).toBe(
      "from **** via ****, version 1.2.3.4.5, bad 256.1.1.1",
    );
  });

  it("only the chosen built-ins run", () => {
    expect(redactBody("a@example.com 4111111111111111", { builtins: ["credit_card"] })).toBe(
      "a@example.com ****1111",
    );
    expect(redactBody("a@example.com", { builtins: [] })).toBe("a@example.com");
  });
});

describe("redact: custom patterns and overlaps", () => {
  it("applies custom patterns after the built-ins, with $ substitutions", () => {
    const config = {
      patterns: [
        { name: "api_key", regex: "sk_(live|test)_[A-Za-z0-9]{8,}", replacement: "sk_$1_[redacted]" },
        { name: "employee", regex: "(?i)emp-\\d{5}" },
      ],
    };
    const r = testRecord({ body: "key sk_live_abcdefgh1234 by EMP-12345 and emp-54321 ☕" });
    const p = redactor({ ...config, add_redaction_count_attribute: true });
    p.process([r], CTX);
    expect(r.body).toBe("key sk_live_[redacted] by **** and **** ☕");
    expect(r.attributes[REDACTION_COUNT_ATTRIBUTE]).toBe(3n);
  });

  it("overlapping patterns: the first to match masks, later ones see the mask", () => {
    const body = "Authorization: Bearer user@example.com and user@example.com";
    expect(redactBody(body)).toBe("Authorization: **** and ****");
    const custom = redactBody("mail ops@example.com now", {
      patterns: [{ name: "ops", regex: "ops@example\\.com" }],
    });
    expect(custom).toBe("mail **** now");
  });

  it("refuses custom patterns that match empty text and unknown built-ins", () => {
    expect(
      redactConfigSchema.safeParse({ patterns: [{ name: "x", regex: "a*" }] }).error?.issues[0]?.message,
    ).toMatch(/matches empty text/);
    const r = redactConfigSchema.safeParse({ builtins: ["phone"] });
    expect(r.error?.issues[0]?.message).toMatch(/"email".*"credit_card".*"bearer_token".*"ipv4".*"us_ssn"/);
  });
});

describe("redact: attributes", () => {
  it("walks record attributes through arrays and kvlists, touching only strings", () => {
    const bytes = new Uint8Array([1, 2, 3]);
    const r = testRecord({
      attributes: {
        "user.email": "ana@example.com",
        contacts: ["bob@example.com", 42n, { nested: ["carol@example.com"] }],
        n: 4111111111111111n,
        raw: bytes,
      },
    });
    redactor().process([r], CTX);
    expect(r.attributes).toEqual({
      "user.email": "****",
      contacts: ["****", 42n, { nested: ["****"] }],
      n: 4111111111111111n,
      raw: bytes,
    });
  });

  it("replaces whole values of credential keys, by whole key, last segment or camelCase tail", () => {
    const r = testRecord({
      attributes: {
        password: "hunter2",
        "db.password": "x",
        client_secret: 12345n,
        accessToken: "abc",
        "http.request.header.authorization": ["Basic abc"],
        Authorization: "Bearer zzz",
        tokens_used: 1200n,
        tokenizer: "bpe",
        empty_token: "",
        config: { api_token: "t", nested: { Password: "p" } },
      },
    });
    redactor({ add_redaction_count_attribute: true }).process([r], CTX);
    expect(r.attributes).toEqual({
      password: "****",
      "db.password": "****",
      client_secret: "****",
      accessToken: "****",
      "http.request.header.authorization": "****",
      Authorization: "****",
      tokens_used: 1200n,
      tokenizer: "bpe",
      empty_token: "",
      config: { api_token: "****", nested: { Password: "****" } },
      [REDACTION_COUNT_ATTRIBUTE]: 8n,
    });
  });

  it("exclude_keys are never touched, even credential keys", () => {
    const r = testRecord({
      attributes: { "audit.email": "ana@example.com", token: "keep-me", other: "x@example.com" },
    });
    redactor({ exclude_keys: ["audit.email", "token"] }).process([r], CTX);
    expect(r.attributes).toEqual({ "audit.email": "ana@example.com", token: "keep-me", other: "****" });
  });

  it("structured bodies are walked like attributes", () => {
    const r = testRecord({
      body: { msg: "login ana@example.com", password: "p", list: ["4111111111111111"] },
    });
    redactor().process([r], CTX);
    expect(r.body).toEqual({ msg: "login ****", password: "****", list: ["****1111"] });
  });

  it("resource attributes only with include_resource, once per shared resource", () => {
    const shared = testResource({ "owner.email": "team@example.com" });
    const records = [testRecord({ resource: shared }), testRecord({ resource: shared })];
    redactor().process(records, CTX);
    expect(shared.attributes["owner.email"]).toBe("team@example.com");
    redactor({ include_resource: true, add_redaction_count_attribute: true }).process(records, CTX);
    expect(shared.attributes["owner.email"]).toBe("****");
    // Resource redactions are not attributed to any one record.
    expect(records[0]?.attributes[REDACTION_COUNT_ATTRIBUTE]).toBeUndefined();
  });

  it("adds no count attribute when nothing was redacted", () => {
    const r = testRecord({ body: "nothing here", attributes: { a: "b" } });
    redactor({ add_redaction_count_attribute: true }).process([r], CTX);
    expect(r.attributes).toEqual({ a: "b" });
    expect(r.body).toBe("nothing here");
  });
});

describe("redact: size and batches", () => {
  it("handles a 1 MB body with matches at both ends, quickly", () => {
    const filler = "lorem ipsum 数据 ".repeat(65_000);
    const started = performance.now();
    const out = redactBody(`a@example.com ${filler} 4111111111111111`) as string;
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out).toBe(`**** ${filler} ****1111`);
  });

  it("stays linear on 1 MB of text that almost matches", () => {
    const started = performance.now();
    for (const body of [
      "a".repeat(1 << 20),
      `${"a".repeat(1 << 20)}@`,
      "1".repeat(1 << 20),
      "1-".repeat(1 << 19),
    ]) {
      expect(redactBody(body, { builtins: ["email", "credit_card", "us_ssn", "ipv4", "bearer_token"] })).toBe(
        body,
      );
    }
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it("an empty batch passes through; records are never dropped", () => {
    const empty: PipelineRecord[] = [];
    expect(redactor().process(empty, CTX)).toBe(empty);
    const batch = [testRecord({ body: "x@example.com" })];
    expect(redactor().process(batch, CTX)).toBe(batch);
  });
});
