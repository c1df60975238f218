/** OTLP/gRPC checks against LogsService/Export. */
import { type GrpcAnswer, type GrpcClient, grpcClient, statusDetailsBin } from "./grpc-client.js";
import {
  decodeResponse,
  decodeStatus,
  GRPC_RETRYABLE,
  grpcName,
  partialUnset,
  protoRequest,
  protoRequestOfSize,
  rejectsNothing,
  rejectsOneRecord,
  retryDelayMs,
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

const OK = 0;
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const UNAVAILABLE = 14;

export interface GrpcContext {
  address: string;
  timeoutMs: number;
  maxMessageBytes?: number;
  overloadProbe?: number;
  badDataCodes: { check: string; code: number; retryInfo: boolean }[];
}

export function grpcContext(options: ConformanceOptions & { grpc: string }): GrpcContext {
  return {
    address: options.grpc.replace(/^grpc:\/\/|^http:\/\//, ""),
    timeoutMs: options.timeoutMs ?? 10_000,
    maxMessageBytes: options.maxGrpcBytes ?? options.maxBodyBytes,
    overloadProbe: options.overloadProbe,
    badDataCodes: [],
  };
}

async function withClient<T>(ctx: GrpcContext, gzip: boolean, fn: (c: GrpcClient) => Promise<T>): Promise<T> {
  const client = grpcClient(ctx.address, { gzip, timeoutMs: ctx.timeoutMs });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

function describeAnswer(a: GrpcAnswer): string {
  return a.code === OK ? "OK" : `${grpcName(a.code)} "${a.details}"`;
}

function detailsStatus(a: GrpcAnswer) {
  const bin = statusDetailsBin(a);
  if (!bin) return undefined;
  try {
    return decodeStatus(bin);
  } catch {
    return undefined;
  }
}

function hasRetryInfo(a: GrpcAnswer): boolean {
  const status = detailsStatus(a);
  return status !== undefined && retryDelayMs(status) !== undefined;
}

function success(check: Check, a: GrpcAnswer): Result {
  if (a.code !== OK) return fail(check, `expected OK, received ${describeAnswer(a)}`);
  let response: ReturnType<typeof decodeResponse>;
  try {
    response = decodeResponse(a.response ?? new Uint8Array(0));
  } catch (err) {
    return fail(check, `OK, but the response does not decode: ${errorText(err)}`);
  }
  const verdict = rejectsNothing(response.partialSuccess);
  return verdict.ok ? pass(check, `OK, ${verdict.text}`) : fail(check, verdict.text);
}

async function guarded(check: Check, body: () => Promise<Result>): Promise<Result> {
  try {
    return await body();
  } catch (err) {
    return fail(check, `call failed: ${errorText(err)}`);
  }
}

export async function grpcExport(ctx: GrpcContext): Promise<Result[]> {
  const check: Check = {
    id: "grpc.success",
    transport: "grpc",
    description: "export → OK with ExportLogsServiceResponse, nothing rejected",
  };
  const unset: Check = {
    id: "grpc.partial-unset",
    transport: "grpc",
    description: "full success leaves partial_success unset (or sends a warning with a message)",
  };
  try {
    const a = await withClient(ctx, false, (c) => c.export(protoRequest("conformance grpc")));
    const result = success(check, a);
    if (a.code !== OK) return [result, fail(unset, `expected OK, received ${describeAnswer(a)}`)];
    try {
      const verdict = partialUnset(decodeResponse(a.response ?? new Uint8Array(0)).partialSuccess);
      return [result, verdict.ok ? pass(unset, verdict.text) : fail(unset, verdict.text)];
    } catch (err) {
      return [result, fail(unset, `the response does not decode: ${errorText(err)}`)];
    }
  } catch (err) {
    return [check, unset].map((c) => fail(c, `call failed: ${errorText(err)}`));
  }
}

export function grpcGzip(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.gzip",
    transport: "grpc",
    description: "gzip-compressed message (grpc-encoding: gzip) → OK",
  };
  return guarded(check, () =>
    withClient(ctx, true, async (c) => success(check, await c.export(protoRequest("conformance grpc gzip")))),
  );
}

export function grpcEmpty(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.empty",
    transport: "grpc",
    description: "empty request (no resource logs) → OK (SHOULD)",
  };
  return guarded(check, () =>
    withClient(ctx, false, async (c) => success(check, await c.export(new Uint8Array(0)))),
  );
}

export function grpcUndecodable(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.undecodable",
    transport: "grpc",
    description: "undecodable protobuf → INVALID_ARGUMENT",
  };
  return guarded(check, () =>
    withClient(ctx, false, async (c) => {
      const a = await c.export(undecodableProtobuf());
      ctx.badDataCodes.push({ check: check.id, code: a.code, retryInfo: hasRetryInfo(a) });
      if (a.code !== INVALID_ARGUMENT)
        return fail(check, `expected INVALID_ARGUMENT, received ${describeAnswer(a)}`);
      const bin = statusDetailsBin(a);
      if (bin === undefined) return pass(check, `${describeAnswer(a)} (no grpc-status-details-bin)`);
      const status = detailsStatus(a);
      if (!status) return fail(check, "grpc-status-details-bin is present but is not a google.rpc.Status");
      if (status.code !== INVALID_ARGUMENT)
        return fail(
          check,
          `grpc-status-details-bin Status.code=${status.code}, expected ${INVALID_ARGUMENT}`,
        );
      return pass(check, `${describeAnswer(a)}, with a Status in grpc-status-details-bin`);
    }),
  );
}

export function grpcOversized(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.oversized",
    transport: "grpc",
    description: "message over the endpoint's limit → RESOURCE_EXHAUSTED without RetryInfo",
  };
  const limit = ctx.maxMessageBytes;
  if (limit === undefined)
    return Promise.resolve(notApplicable(check, "the endpoint's limit is unknown: pass --max-body-bytes"));
  return guarded(check, () =>
    withClient(ctx, false, async (c) => {
      const a = await c.export(protoRequestOfSize(limit + 1024));
      const retryInfo = hasRetryInfo(a);
      ctx.badDataCodes.push({ check: check.id, code: a.code, retryInfo });
      if (a.code !== RESOURCE_EXHAUSTED)
        return fail(check, `expected RESOURCE_EXHAUSTED over ${limit}B, received ${describeAnswer(a)}`);
      if (retryInfo)
        return fail(check, "RESOURCE_EXHAUSTED carries RetryInfo: clients would retry it forever");
      return pass(check, `${describeAnswer(a)}, no RetryInfo`);
    }),
  );
}

export function grpcPartialSuccess(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.partial-success",
    transport: "grpc",
    description: "record with a 2-byte trace_id → OK partial_success (1 rejected) or INVALID_ARGUMENT",
  };
  return guarded(check, () =>
    withClient(ctx, false, async (c) => {
      const a = await c.export(protoRequest("bad trace id", SHORT_TRACE_ID));
      if (a.code === INVALID_ARGUMENT) {
        ctx.badDataCodes.push({ check: check.id, code: a.code, retryInfo: hasRetryInfo(a) });
        return pass(check, `refuses the whole request: ${describeAnswer(a)}`);
      }
      if (a.code !== OK)
        return fail(
          check,
          `expected OK with partial_success or INVALID_ARGUMENT, received ${describeAnswer(a)}`,
        );
      let response: ReturnType<typeof decodeResponse>;
      try {
        response = decodeResponse(a.response ?? new Uint8Array(0));
      } catch (err) {
        return fail(check, `OK, but the response does not decode: ${errorText(err)}`);
      }
      const partial = response.partialSuccess;
      const judged = rejectsOneRecord(partial, "INVALID_ARGUMENT", "OK with none");
      return judged.ok ? pass(check, judged.text) : fail(check, judged.text);
    }),
  );
}

export function grpcBadDataNotRetryable(ctx: GrpcContext): Result {
  const check: Check = {
    id: "grpc.bad-data-not-retryable",
    transport: "grpc",
    description: "codes for bad data are non-retryable (RESOURCE_EXHAUSTED only without RetryInfo)",
  };
  if (ctx.badDataCodes.length === 0) return notApplicable(check, "no bad-data answer was observed");
  const seen = ctx.badDataCodes
    .map((s) => `${s.check}=${grpcName(s.code)}${s.retryInfo ? "+RetryInfo" : ""}`)
    .join(", ");
  const retryable = ctx.badDataCodes.filter(
    (s) => GRPC_RETRYABLE.has(s.code) || (s.code === RESOURCE_EXHAUSTED && s.retryInfo) || s.code === OK,
  );
  return retryable.length > 0
    ? fail(check, `expected non-retryable codes, received: ${seen}`)
    : pass(check, seen);
}

export async function grpcThrottling(ctx: GrpcContext): Promise<Result> {
  const check: Check = {
    id: "grpc.throttling.retry-info",
    transport: "grpc",
    description: "under load, RESOURCE_EXHAUSTED carries RetryInfo, else clients drop (--overload-probe)",
  };
  const count = ctx.overloadProbe ?? 0;
  if (count <= 0) return notApplicable(check, "overload not probed: pass --overload-probe N");
  const size = Math.min(256 * 1024, Math.floor((ctx.maxMessageBytes ?? 1024 * 1024) * 0.75));
  const body = protoRequestOfSize(size);
  const answers = await withClient(ctx, false, (c) =>
    Promise.all(Array.from({ length: count }, () => c.export(body))),
  );
  const tally = new Map<string, number>();
  for (const a of answers) tally.set(grpcName(a.code), (tally.get(grpcName(a.code)) ?? 0) + 1);
  const summary = [...tally].map(([k, n]) => `${k}×${n}`).join(" ");
  const exhausted = answers.filter((a) => a.code === RESOURCE_EXHAUSTED);
  const unavailable = answers.filter((a) => a.code === UNAVAILABLE);
  if (exhausted.length === 0 && unavailable.length === 0)
    return notApplicable(
      check,
      `no RESOURCE_EXHAUSTED/UNAVAILABLE in a burst of ${count} × ${size}B: ${summary}`,
    );
  const withoutInfo = exhausted.filter((a) => !hasRetryInfo(a));
  if (withoutInfo.length > 0)
    return fail(
      check,
      `expected RetryInfo on RESOURCE_EXHAUSTED under load, ${withoutInfo.length} of ${exhausted.length} had none (${summary})`,
    );
  const first = exhausted[0];
  const status = first ? detailsStatus(first) : undefined;
  const delay = status ? retryDelayMs(status) : undefined;
  return pass(
    check,
    exhausted.length > 0
      ? `${exhausted.length} RESOURCE_EXHAUSTED with RetryInfo, e.g. retry_delay=${delay}ms (${summary})`
      : `throttled with UNAVAILABLE, which is retryable without RetryInfo (${summary})`,
  );
}

export async function runGrpcChecks(ctx: GrpcContext): Promise<Result[]> {
  const results: Result[] = [];
  results.push(...(await grpcExport(ctx)));
  results.push(await grpcGzip(ctx));
  results.push(await grpcEmpty(ctx));
  results.push(await grpcUndecodable(ctx));
  results.push(await grpcOversized(ctx));
  results.push(await grpcPartialSuccess(ctx));
  results.push(grpcBadDataNotRetryable(ctx));
  results.push(await grpcThrottling(ctx));
  return results;
}
