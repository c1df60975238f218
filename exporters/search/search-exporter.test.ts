import { errors as esErrors } from "@elastic/elasticsearch";
import { errors as osErrors } from "@opensearch-project/opensearch";
import { describe, expect, it } from "vitest";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { SinkCode, SinkError } from "../common/codes.js";
import { batchOf, makeRecords, testDeps } from "../common/test-support.js";
import type { BulkItemResult, BulkResponseBody, IndexTemplateBody, SearchBackend } from "./backend.js";
import { describeRequestFailure } from "./backend.js";
import { searchConfigSchema } from "./config.js";
import { SearchExporter } from "./search-exporter.js";
import type { SearchFlavor } from "./template.js";

type ItemFn = (id: string, index: string, source: Record<string, unknown>, attempt: number) => BulkItemResult;

/** Stands in for the server: parses each NDJSON body and answers every item through itemFn. */
class FakeBackend implements SearchBackend {
  readonly templates: Array<{ name: string; body: IndexTemplateBody }> = [];
  readonly bodies: string[] = [];
  readonly attempts = new Map<string, number>();
  failRequest: ((n: number, body: string) => unknown) | undefined;
  failTemplate: unknown;
  closed = false;

  constructor(
    readonly flavor: SearchFlavor,
    private readonly itemFn: ItemFn = () => ({ status: 201 }),
  ) {}

  async putIndexTemplate(name: string, body: IndexTemplateBody): Promise<void> {
    if (this.failTemplate) throw this.failTemplate;
    this.templates.push({ name, body });
  }

  async bulk(ndjson: string): Promise<BulkResponseBody> {
    this.bodies.push(ndjson);
    const thrown = this.failRequest?.(this.bodies.length, ndjson);
    if (thrown) throw thrown;
    const lines = ndjson.split("\n").filter((l) => l !== "");
    const items: BulkResponseBody["items"] = [];
    for (let i = 0; i < lines.length; i += 2) {
      const action = JSON.parse(lines[i] as string).create as { _index: string; _id: string };
      const n = (this.attempts.get(action._id) ?? 0) + 1;
      this.attempts.set(action._id, n);
      items.push({ create: this.itemFn(action._id, action._index, JSON.parse(lines[i + 1] as string), n) });
    }
    return { errors: items.some((it) => (it.create?.status ?? 0) >= 300), items };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

function mappingProps(body: IndexTemplateBody | undefined): Record<string, Record<string, unknown>> {
  if (!body) throw new Error("no template installed");
  return (body.template.mappings as { properties: Record<string, Record<string, unknown>> }).properties;
}

function exporter(backend: FakeBackend, extra: Record<string, unknown> = {}) {
  const config = searchConfigSchema.parse({ endpoints: ["http://127.0.0.1:9200"], ...extra });
  return new SearchExporter("search", config, testDeps("/tmp"), {
    flavor: backend.flavor,
    backend: () => backend,
    retryBaseDelayMs: 1,
  });
}

async function caught(p: Promise<unknown>): Promise<SluiceError> {
  try {
    await p;
  } catch (err) {
    return err as SluiceError;
  }
  throw new Error("expected a rejection");
}

describe("SearchExporter.start", () => {
  it("installs a data stream template above the built-in logs template", async () => {
    const b = new FakeBackend("opensearch");
    const e = exporter(b);
    await e.start();
    expect(b.templates).toHaveLength(1);
    const t = b.templates[0];
    expect(t?.name).toBe("sluice.logs-_-_");
    expect(t?.body.index_patterns).toEqual(["logs-*-*"]);
    expect(t?.body.priority).toBe(250);
    expect(t?.body.data_stream).toEqual({});
    expect(t?.body.template.settings["index.mapping.total_fields.limit"]).toBe(2000);
    const props = mappingProps(t?.body);
    expect(props.attributes).toEqual({ type: "flat_object" });
    expect(props["@timestamp"]).toEqual({ type: "date_nanos" });
  });

  it("installs a plain-index template for daily indices, with flattened fields on Elasticsearch", async () => {
    const b = new FakeBackend("elasticsearch");
    await exporter(b, { mode: "daily_index", template: { replicas: 0 } }).start();
    const t = b.templates[0];
    expect(t?.body.index_patterns).toEqual(["logs-*-*-*"]);
    expect(t?.body.priority).toBe(251);
    expect(t?.body.data_stream).toBeUndefined();
    expect(t?.body.template.settings["index.number_of_replicas"]).toBe(0);
    const props = mappingProps(t?.body);
    expect(props.attributes?.type).toBe("flattened");
  });

  it("skips the template when told to", async () => {
    const b = new FakeBackend("opensearch");
    await exporter(b, { template: { install: false } }).start();
    expect(b.templates).toHaveLength(0);
  });

  it("reports an unreachable server as retryable and a refusal as a configuration error", async () => {
    const b = new FakeBackend("opensearch");
    b.failTemplate = new osErrors.ConnectionError("connect ECONNREFUSED 127.0.0.1:9200");
    const down = await caught(exporter(b).start());
    expect(down).toBeInstanceOf(SinkError);
    expect(down.retryable).toBe(true);
    expect((down as SinkError).sinkCode).toBe(SinkCode.SINK_UNAVAILABLE);

    b.failTemplate = new osErrors.ResponseError({
      body: {
        error: { type: "mapper_parsing_exception", reason: "unknown type [flat_object]" },
        status: 400,
      },
      statusCode: 400,
      headers: {},
      warnings: null,
      meta: {} as never,
    });
    const refused = await caught(exporter(b).start());
    expect(refused.retryable).toBe(false);
    expect(refused.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(refused.message).toContain("unknown type [flat_object]");

    const es = new FakeBackend("elasticsearch");
    es.failTemplate = new esErrors.ProductNotSupportedError("Elasticsearch", {} as never);
    const wrong = await caught(exporter(es).start());
    expect(wrong.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(wrong.message).toMatch(/not Elasticsearch.*opensearch exporter type/);
  });
});

describe("SearchExporter.write", () => {
  it("creates every record with _id = eventId in its index and reports nothing failed", async () => {
    const b = new FakeBackend("opensearch");
    const e = exporter(b);
    await e.start();
    const records = makeRecords(5, { firstOffset: 100n });
    const res = await e.write(batchOf(records));
    expect(res.failed).toEqual([]);
    expect(b.bodies).toHaveLength(1);
    const lines = (b.bodies[0] as string).trimEnd().split("\n");
    expect(lines).toHaveLength(10);
    expect(JSON.parse(lines[0] as string)).toEqual({
      create: { _index: "logs-generic-default", _id: records[0]?.eventId },
    });
    expect(JSON.parse(lines[1] as string)).toMatchObject({
      event_id: records[0]?.eventId,
      body: { text: "request 100 handled" },
    });
  });

  it("counts already-stored documents (409) as written on a replay", async () => {
    const stored = new Set<string>();
    const b = new FakeBackend("opensearch", (id) => {
      if (stored.has(id)) {
        return { status: 409, error: { type: "version_conflict_engine_exception", reason: "exists" } };
      }
      stored.add(id);
      return { status: 201 };
    });
    const e = exporter(b);
    await e.start();
    const records = makeRecords(4, { firstOffset: 7n });
    expect((await e.write(batchOf(records.slice(0, 3)))).failed).toEqual([]);
    expect((await e.write(batchOf(records))).failed).toEqual([]);
    expect(stored.size).toBe(4);
  });

  it("dead-letters mapping conflicts and retries only the items the server pushed back", async () => {
    const records = makeRecords(4, { firstOffset: 0n });
    const conflictId = records[1]?.eventId;
    const busyId = records[2]?.eventId;
    const b = new FakeBackend("opensearch", (id, _index, _source, attempt) => {
      if (id === conflictId) {
        return {
          status: 400,
          error: { type: "mapper_parsing_exception", reason: "failed to parse field [x] of type [long]" },
        };
      }
      if (id === busyId && attempt < 3) {
        return { status: 429, error: { type: "es_rejected_execution_exception", reason: "queue full" } };
      }
      return { status: 201 };
    });
    const e = exporter(b);
    await e.start();
    const res = await e.write(batchOf(records));
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0]?.record).toBe(records[1]);
    expect(res.failed[0]?.code).toBe(SinkCode.SINK_MAPPING_CONFLICT);
    expect(res.failed[0]?.reason).toContain(
      "logs-generic-default: mapper_parsing_exception: failed to parse field [x]",
    );
    expect(b.bodies).toHaveLength(3);
    expect((b.bodies[1] as string).split("\n").filter(Boolean)).toHaveLength(2);
    expect(b.attempts.get(busyId as string)).toBe(3);
    expect(b.attempts.get(records[0]?.eventId as string)).toBe(1);
  });

  it("throws retryable once pushback outlasts max_retries", async () => {
    const b = new FakeBackend("opensearch", () => ({
      status: 503,
      error: { type: "unavailable_shards_exception", reason: "primary shard is not active" },
    }));
    const e = exporter(b, { max_retries: 2 });
    await e.start();
    const err = await caught(e.write(batchOf(makeRecords(2))));
    expect(err.retryable).toBe(true);
    expect((err as SinkError).sinkCode).toBe(SinkCode.SINK_UNAVAILABLE);
    expect(err.message).toContain("primary shard is not active");
    expect(b.bodies).toHaveLength(3);
  });

  it("maps request failures: down or refusing credentials → retryable, malformed → not", async () => {
    const b = new FakeBackend("elasticsearch");
    const e = exporter(b);
    await e.start();
    b.failRequest = () => new esErrors.ConnectionError("connect ECONNREFUSED 127.0.0.1:9200");
    expect((await caught(e.write(batchOf(makeRecords(1))))).retryable).toBe(true);
    b.failRequest = () => new esErrors.TimeoutError("Request timed out");
    expect((await caught(e.write(batchOf(makeRecords(1))))).retryable).toBe(true);
    b.failRequest = () =>
      new esErrors.ResponseError({
        body: { error: { type: "security_exception", reason: "unable to authenticate user" }, status: 401 },
        statusCode: 401,
        headers: {},
        warnings: null,
        meta: {} as never,
      });
    const auth = await caught(e.write(batchOf(makeRecords(1))));
    expect(auth.retryable).toBe(true);
    expect(auth.message).toContain("security_exception: unable to authenticate user");
    b.failRequest = () =>
      new esErrors.ResponseError({
        body: { error: { type: "json_parse_exception", reason: "Unrecognized token" }, status: 400 },
        statusCode: 400,
        headers: {},
        warnings: null,
        meta: {} as never,
      });
    const bad = await caught(e.write(batchOf(makeRecords(1))));
    expect(bad.retryable).toBe(false);
    expect((bad as SinkError).sinkCode).toBe(SinkCode.SINK_REJECTED);
  });

  it("splits a request the server finds too large, and fails a lone document that still is", async () => {
    const records = makeRecords(4);
    const huge = records[3] as PipelineRecord;
    const b = new FakeBackend("opensearch");
    b.failRequest = (_n, body) =>
      body.split("\n").filter(Boolean).length > 2 || body.includes(huge.eventId)
        ? new osErrors.ResponseError({
            body: "",
            statusCode: 413,
            headers: {},
            warnings: null,
            meta: {} as never,
          })
        : undefined;
    const e = exporter(b);
    await e.start();
    const res = await e.write(batchOf(records));
    expect(res.failed.map((f) => f.record)).toEqual([huge]);
    expect(res.failed[0]?.code).toBe(SinkCode.SINK_REJECTED);
    expect(b.attempts.size).toBe(3);
  });

  it("splits batches by max_bulk_bytes", async () => {
    const b = new FakeBackend("opensearch");
    const e = exporter(b, { max_bulk_bytes: "4KiB" });
    await e.start();
    expect((await e.write(batchOf(makeRecords(10, { bodyBytes: 1500 })))).failed).toEqual([]);
    expect(b.bodies.length).toBeGreaterThanOrEqual(4);
    for (const body of b.bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(4096);
  });

  it("refuses writes after shutdown with a retryable error and closes the client", async () => {
    const b = new FakeBackend("opensearch");
    const e = exporter(b);
    await e.start();
    await e.shutdown();
    expect(b.closed).toBe(true);
    expect((await caught(e.write(batchOf(makeRecords(1))))).retryable).toBe(true);
  });
});

describe("describeRequestFailure", () => {
  it("reads both clients' errors the same way", () => {
    expect(describeRequestFailure(new osErrors.NoLivingConnectionsError("none", {} as never)).transport).toBe(
      true,
    );
    expect(describeRequestFailure(new esErrors.NoLivingConnectionsError("none", {} as never)).transport).toBe(
      true,
    );
    const f = describeRequestFailure(
      new osErrors.ResponseError({
        body: { error: { type: "cluster_block_exception", reason: "blocked" }, status: 429 },
        statusCode: 429,
        headers: {},
        warnings: null,
        meta: {} as never,
      }),
    );
    expect(f).toMatchObject({
      transport: false,
      status: 429,
      type: "cluster_block_exception",
      wrongProduct: false,
    });
    // What OpenSearch 3.8 answers the Elasticsearch 9 client.
    const versioned = describeRequestFailure(
      new esErrors.ResponseError({
        body: {
          error:
            "Content-Type header [application/vnd.elasticsearch+json; compatible-with=9] is not supported",
          status: 406,
        },
        statusCode: 406,
        headers: {},
        warnings: null,
        meta: {} as never,
      }),
    );
    expect(versioned.wrongProduct).toBe(true);
    expect(versioned.reason).toContain("compatible-with=9");
  });
});
