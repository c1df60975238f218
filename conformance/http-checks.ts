/** OTLP/HTTP checks: one function per behaviour the specification fixes for /v1/logs. */
import { gzipSync } from "node:zlib";
import {
  decodeResponse,
  decodeStatus,
  HTTP_RETRYABLE,
  jsonRequest,
  partialUnset,
  protoRequest,
  protoRequestOfSize,
  rejectsNothing,
  rejectsOneRecord,
  SHORT_TRACE_ID,
  undecodableProtobuf,
} from "./messages.js";
import {
  type Check,
  type ConformanceOptions,
  errorText,
  fail,
  notApplicable,
  pass,
  type Result,
} from "./types.js";

const PROTOBUF = "application/x-protobuf";
const JSON_TYPE = "application/json";

interface HttpAnswer {
  status: number;
  contentType: string;
  headers: Headers;
  body: Uint8Array;
}

export interface HttpContext {
  url: string;
  timeoutMs: number;
  maxBodyBytes?: number;
  overloadProbe?: number;
  /** Status codes the endpoint chose for bad data, gathered for the retryability check. */
  badDataStatuses: { check: string; status: number }[];
}

export function httpContext(options: ConformanceOptions & { http: string }): HttpContext {
  const base = options.http.replace(/\/+$/, "");
  return {
    url: `${base}${options.httpLogsPath ?? "/v1/logs"}`,
    timeoutMs: options.timeoutMs ?? 10_000,
    maxBodyBytes: options.maxBodyBytes,
    overloadProbe: options.overloadProbe,
    badDataStatuses: [],
  };
}

async function post(
  ctx: HttpContext,
  body: Uint8Array | string,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<HttpAnswer> {
  const res = await fetch(ctx.url, {
    method: "POST",
    body: typeof body === "string" ? body : Buffer.from(body),
    headers,
    signal: signal ?? AbortSignal.timeout(ctx.timeoutMs),
  });
  return {
    status: res.status,
    contentType: res.headers.get("content-type") ?? "",
    headers: res.headers,
    body: new Uint8Array(await res.arrayBuffer()),
  };
}

const mediaType = (contentType: string) => (contentType.split(";")[0] ?? "").trim().toLowerCase();
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
const snippet = (bytes: Uint8Array) => {
  const s = text(bytes).replace(/\s+/g, " ");
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
};

function received(a: HttpAnswer): string {
  return `${a.status} ${a.contentType || "(no content-type)"} ${a.body.length}B`;
}

/** Runs a check body and turns a thrown error (refused connection, timeout) into a failure. */
async function guarded(check: Check, body: () => Promise<Result>): Promise<Result> {
  try {
    return await body();
  } catch (err) {
    return fail(check, `request failed: ${errorText(err)}`);
  }
}

type Partial = Parameters<typeof partialUnset>[0];
type Decoded = { ok: true; partial: Partial } | { ok: false; text: string };

function decodeProtoSuccess(a: HttpAnswer): Decoded {
  if (a.status !== 200) return { ok: false, text: `expected 200, received ${received(a)}` };
  try {
    return { ok: true, partial: decodeResponse(a.body).partialSuccess };
  } catch (err) {
    return {
      ok: false,
      text: `expected an ExportLogsServiceResponse, body does not decode: ${errorText(err)}`,
    };
  }
}

function decodeJsonSuccess(a: HttpAnswer): Decoded {
  if (a.status !== 200) return { ok: false, text: `expected 200, received ${received(a)}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text(a.body));
  } catch {
    return {
      ok: false,
      text: `expected an ExportLogsServiceResponse in JSON, received "${snippet(a.body)}"`,
    };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return { ok: false, text: `expected a JSON object, received "${snippet(a.body)}"` };
  const partial = (
    parsed as { partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string } }
  ).partialSuccess;
  return {
    ok: true,
    partial: partial && {
      rejectedLogRecords: BigInt(partial.rejectedLogRecords ?? 0),
      errorMessage: partial.errorMessage ?? "",
    },
  };
}

/** 200, a response that decodes, and nothing rejected. */
function successResult(check: Check, decoded: Decoded, a: HttpAnswer): Result {
  if (!decoded.ok) return fail(check, decoded.text);
  const verdict = rejectsNothing(decoded.partial);
  const body = mediaType(a.contentType) === JSON_TYPE ? ` ${snippet(a.body)}` : "";
  return verdict.ok ? pass(check, `200${body}, ${verdict.text}`) : fail(check, verdict.text);
}

function partialUnsetResult(check: Check, decoded: Decoded): Result {
  if (!decoded.ok) return fail(check, decoded.text);
  const verdict = partialUnset(decoded.partial);
  return verdict.ok ? pass(check, verdict.text) : fail(check, verdict.text);
}

const protoSuccess = (check: Check, a: HttpAnswer) => successResult(check, decodeProtoSuccess(a), a);
const jsonSuccess = (check: Check, a: HttpAnswer) => successResult(check, decodeJsonSuccess(a), a);

function contentTypeMatches(check: Check, a: HttpAnswer, expected: string): Result {
  return mediaType(a.contentType) === expected
    ? pass(check, `${a.status} with ${a.contentType}`)
    : fail(
        check,
        `expected Content-Type ${expected}, received ${a.contentType || "none"} (status ${a.status})`,
      );
}

export async function httpProtobufExport(ctx: HttpContext): Promise<Result[]> {
  const success: Check = {
    id: "http.protobuf.success",
    transport: "http",
    description: "protobuf export → 200 with ExportLogsServiceResponse, nothing rejected",
  };
  const type: Check = {
    id: "http.protobuf.response-type",
    transport: "http",
    description: "response to a protobuf request is application/x-protobuf",
  };
  const unset: Check = {
    id: "http.protobuf.partial-unset",
    transport: "http",
    description: "full success leaves partial_success unset (or sends a warning with a message)",
  };
  try {
    const a = await post(ctx, protoRequest("conformance protobuf"), { "content-type": PROTOBUF });
    return [
      protoSuccess(success, a),
      contentTypeMatches(type, a, PROTOBUF),
      partialUnsetResult(unset, decodeProtoSuccess(a)),
    ];
  } catch (err) {
    return [success, type, unset].map((c) => fail(c, `request failed: ${errorText(err)}`));
  }
}

export async function httpJsonExport(ctx: HttpContext): Promise<Result[]> {
  const success: Check = {
    id: "http.json.success",
    transport: "http",
    description: "JSON export → 200 with ExportLogsServiceResponse in JSON, nothing rejected",
  };
  const type: Check = {
    id: "http.json.response-type",
    transport: "http",
    description: "response to a JSON request is application/json",
  };
  const unset: Check = {
    id: "http.json.partial-unset",
    transport: "http",
    description: "full success leaves partialSuccess unset (or sends a warning with a message)",
  };
  try {
    const a = await post(ctx, jsonRequest("conformance json"), { "content-type": JSON_TYPE });
    return [
      jsonSuccess(success, a),
      contentTypeMatches(type, a, JSON_TYPE),
      partialUnsetResult(unset, decodeJsonSuccess(a)),
    ];
  } catch (err) {
    return [success, type, unset].map((c) => fail(c, `request failed: ${errorText(err)}`));
  }
}

export function httpGzipProtobuf(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.protobuf.gzip",
    transport: "http",
    description: "gzip-compressed protobuf body (Content-Encoding: gzip) → 200",
  };
  return guarded(check, async () =>
    protoSuccess(
      check,
      await post(ctx, gzipSync(protoRequest("conformance gzip protobuf")), {
        "content-type": PROTOBUF,
        "content-encoding": "gzip",
      }),
    ),
  );
}

export function httpGzipJson(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.json.gzip",
    transport: "http",
    description: "gzip-compressed JSON body (Content-Encoding: gzip) → 200",
  };
  return guarded(check, async () =>
    jsonSuccess(
      check,
      await post(ctx, gzipSync(jsonRequest("conformance gzip json")), {
        "content-type": JSON_TYPE,
        "content-encoding": "gzip",
      }),
    ),
  );
}

export function httpEmptyProtobuf(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.protobuf.empty",
    transport: "http",
    description: "empty protobuf request (no resource logs) → success (SHOULD)",
  };
  return guarded(check, async () =>
    protoSuccess(check, await post(ctx, new Uint8Array(0), { "content-type": PROTOBUF })),
  );
}

export function httpEmptyJson(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.json.empty",
    transport: "http",
    description: "empty JSON request {} → success (SHOULD)",
  };
  return guarded(check, async () => jsonSuccess(check, await post(ctx, "{}", { "content-type": JSON_TYPE })));
}

export function httpUndecodableProtobuf(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.protobuf.undecodable",
    transport: "http",
    description: "undecodable protobuf → 400 with a protobuf google.rpc.Status",
  };
  return guarded(check, async () => {
    const a = await post(ctx, undecodableProtobuf(), { "content-type": PROTOBUF });
    ctx.badDataStatuses.push({ check: check.id, status: a.status });
    if (a.status !== 400) return fail(check, `expected 400, received ${received(a)}`);
    if (mediaType(a.contentType) !== PROTOBUF)
      return fail(
        check,
        `expected a Status in ${PROTOBUF}, received Content-Type ${a.contentType || "none"}`,
      );
    try {
      const status = decodeStatus(a.body);
      return pass(check, `400, Status{code=${status.code}, message=${JSON.stringify(status.message)}}`);
    } catch (err) {
      return fail(check, `expected a google.rpc.Status body, it does not decode: ${errorText(err)}`);
    }
  });
}

export function httpInvalidJson(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.json.invalid",
    transport: "http",
    description: "invalid JSON → 400 with a JSON google.rpc.Status",
  };
  return guarded(check, async () => {
    const a = await post(ctx, '{"resourceLogs": [', { "content-type": JSON_TYPE });
    ctx.badDataStatuses.push({ check: check.id, status: a.status });
    if (a.status !== 400) return fail(check, `expected 400, received ${received(a)}`);
    if (mediaType(a.contentType) !== JSON_TYPE)
      return fail(
        check,
        `expected a Status in ${JSON_TYPE}, received Content-Type ${a.contentType || "none"}`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(text(a.body));
    } catch {
      return fail(check, `expected a JSON Status, received "${snippet(a.body)}"`);
    }
    const status = parsed as { code?: unknown; message?: unknown };
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      return fail(check, `expected a JSON Status object, received "${snippet(a.body)}"`);
    if (status.message !== undefined && typeof status.message !== "string")
      return fail(check, `Status.message is not a string: "${snippet(a.body)}"`);
    return pass(check, `400 ${snippet(a.body)}`);
  });
}

export function httpUnsupportedMediaType(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.unsupported-media-type",
    transport: "http",
    description: "Content-Type text/plain → 415 (HTTP semantics; OTLP names no code)",
  };
  return guarded(check, async () => {
    const a = await post(ctx, "not otlp", { "content-type": "text/plain" });
    ctx.badDataStatuses.push({ check: check.id, status: a.status });
    return a.status === 415 ? pass(check, received(a)) : fail(check, `expected 415, received ${received(a)}`);
  });
}

export function httpOversized(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.oversized",
    transport: "http",
    description: "body over the endpoint's size limit → 413",
  };
  const limit = ctx.maxBodyBytes;
  if (limit === undefined)
    return Promise.resolve(notApplicable(check, "the endpoint's limit is unknown: pass --max-body-bytes"));
  return guarded(check, async () => {
    const a = await post(ctx, protoRequestOfSize(limit + 1024), { "content-type": PROTOBUF });
    ctx.badDataStatuses.push({ check: check.id, status: a.status });
    return a.status === 413
      ? pass(check, `${received(a)} for a ${limit + 1024}B+ body`)
      : fail(check, `expected 413 for a body over ${limit}B, received ${received(a)}`);
  });
}

export function httpPartialSuccess(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.partial-success",
    transport: "http",
    description:
      "record with a 2-byte trace_id → 200 partial_success (1 rejected) or 400 for the whole request",
  };
  return guarded(check, async () => {
    const a = await post(ctx, protoRequest("bad trace id", SHORT_TRACE_ID), { "content-type": PROTOBUF });
    if (a.status === 400) {
      ctx.badDataStatuses.push({ check: check.id, status: a.status });
      return pass(check, "refuses the whole request: 400");
    }
    if (a.status !== 200)
      return fail(check, `expected 200 with partial_success or 400, received ${received(a)}`);
    let response: ReturnType<typeof decodeResponse>;
    try {
      response = decodeResponse(a.body);
    } catch (err) {
      return fail(check, `200 but the body does not decode: ${errorText(err)}`);
    }
    const partial = response.partialSuccess;
    const judged = rejectsOneRecord(partial, "400", "200 with none");
    return judged.ok ? pass(check, judged.text) : fail(check, judged.text);
  });
}

/** Runs after the bad-data checks: every status chosen for bad data must tell clients not to retry. */
export function httpBadDataNotRetryable(ctx: HttpContext): Result {
  const check: Check = {
    id: "http.bad-data-not-retryable",
    transport: "http",
    description: "statuses for bad data are non-retryable (not 429/502/503/504)",
  };
  if (ctx.badDataStatuses.length === 0) return notApplicable(check, "no bad-data answer was observed");
  const seen = ctx.badDataStatuses.map((s) => `${s.check}=${s.status}`).join(", ");
  const retryable = ctx.badDataStatuses.filter((s) => HTTP_RETRYABLE.has(s.status));
  if (retryable.length > 0)
    return fail(check, `expected non-retryable statuses, received retryable ones: ${seen}`);
  const notError = ctx.badDataStatuses.filter((s) => s.status < 400);
  if (notError.length > 0) return fail(check, `bad data was accepted: ${seen}`);
  return pass(check, seen);
}

/**
 * A bounded burst of large concurrent requests. Provoking overload depends on
 * the endpoint, so seeing no throttling is n/a rather than a failure.
 */
export async function httpThrottling(ctx: HttpContext): Promise<Result> {
  const check: Check = {
    id: "http.throttling.retry-after",
    transport: "http",
    description: "under load, 429/503 carries Retry-After in seconds (spec: MAY; --overload-probe)",
  };
  const count = ctx.overloadProbe ?? 0;
  if (count <= 0) return notApplicable(check, "overload not probed: pass --overload-probe N");
  const size = Math.min(256 * 1024, Math.floor((ctx.maxBodyBytes ?? 1024 * 1024) * 0.75));
  const body = protoRequestOfSize(size);
  const signal = AbortSignal.timeout(Math.max(ctx.timeoutMs, 30_000));
  const answers = await Promise.allSettled(
    Array.from({ length: count }, () => post(ctx, body, { "content-type": PROTOBUF }, signal)),
  );
  const throttled: HttpAnswer[] = [];
  const tally = new Map<string, number>();
  for (const a of answers) {
    const key = a.status === "fulfilled" ? String(a.value.status) : "error";
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (a.status === "fulfilled" && (a.value.status === 429 || a.value.status === 503))
      throttled.push(a.value);
  }
  const summary = [...tally].map(([k, n]) => `${k}×${n}`).join(" ");
  if (throttled.length === 0)
    return notApplicable(check, `no 429/503 in a burst of ${count} × ${size}B: ${summary}`);
  const missing = throttled.filter((a) => !/^\d+$/.test((a.headers.get("retry-after") ?? "").trim()));
  if (missing.length > 0)
    return fail(
      check,
      `expected Retry-After: <seconds> on every 429/503, ${missing.length} of ${throttled.length} had ` +
        `${JSON.stringify(missing[0]?.headers.get("retry-after") ?? "none")} (${summary})`,
    );
  const first = throttled[0];
  return pass(
    check,
    `${throttled.length} throttled answers, e.g. ${first?.status} Retry-After: ${first?.headers.get("retry-after")} (${summary})`,
  );
}

export async function runHttpChecks(ctx: HttpContext): Promise<Result[]> {
  const results: Result[] = [];
  results.push(...(await httpProtobufExport(ctx)));
  results.push(...(await httpJsonExport(ctx)));
  results.push(await httpGzipProtobuf(ctx));
  results.push(await httpGzipJson(ctx));
  results.push(await httpEmptyProtobuf(ctx));
  results.push(await httpEmptyJson(ctx));
  results.push(await httpUndecodableProtobuf(ctx));
  results.push(await httpInvalidJson(ctx));
  results.push(await httpUnsupportedMediaType(ctx));
  results.push(await httpOversized(ctx));
  results.push(await httpPartialSuccess(ctx));
  results.push(httpBadDataNotRetryable(ctx));
  results.push(await httpThrottling(ctx));
  return results;
}
