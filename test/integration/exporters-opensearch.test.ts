/**
 * The opensearch exporter against a real OpenSearch node: a batch, its
 * exact replay and a replay that is a superset leave one document per
 * record with every field intact, and a document the server refuses is
 * reported alone while the rest of its batch lands.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode, type SluiceError } from "../../core/errors.js";
import type { Exporter } from "../../core/pipeline/component.js";
import type { PipelineRecord } from "../../core/pipeline/record.js";
import { SinkCode } from "../../exporters/common/codes.js";
import { batchOf, makeRecords, testDeps } from "../../exporters/common/test-support.js";
import { elasticsearchExporterFactory, openSearchExporterFactory } from "../../exporters/search/index.js";
import { OpenSearchServer } from "../../scripts/services/opensearch.js";

const SETUP_TIMEOUT_MS = 600_000;

interface SearchResponse {
  hits: { hits: Hit[] };
}

interface Hit {
  _id: string;
  _index: string;
  _source: Record<string, unknown>;
}

describe("opensearch exporter on a real server", () => {
  let dataDir: string;
  let server: OpenSearchServer;
  const exporters: Exporter[] = [];

  async function call(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, json: await res.json() };
  }

  async function allDocs(index: string): Promise<Hit[]> {
    expect((await call("POST", `/${index}/_refresh`)).status).toBe(200);
    const { status, json } = await call("POST", `/${index}/_search`, {
      size: 1000,
      query: { match_all: {} },
      sort: [{ time_unix_nano: "asc" }],
    });
    expect(status).toBe(200);
    return (json as SearchResponse).hits.hits;
  }

  async function newExporter(config: Record<string, unknown>): Promise<Exporter> {
    const parsed = openSearchExporterFactory.configSchema.parse({
      endpoints: [server.url],
      template: { replicas: 0 },
      ...config,
    });
    const e = openSearchExporterFactory.create("opensearch", parsed, testDeps(dataDir));
    await e.start();
    exporters.push(e);
    return e;
  }

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-exp-opensearch-"));
    server = new OpenSearchServer({ dataDir: join(dataDir, "server") });
    await server.start();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    for (const e of exporters) await e.shutdown();
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it("writes once per record across an exact replay and a superset replay", async () => {
    const e = await newExporter({});
    const template = await call("GET", "/_index_template/sluice.logs-_-_");
    expect(template.status).toBe(200);

    const records = makeRecords(15, { firstOffset: 100n });
    const nginx = records[14] as PipelineRecord;
    nginx.attributes = { ...nginx.attributes, "data_stream.dataset": "nginx.access" };
    const first = batchOf(records.slice(0, 10));
    expect((await e.write(first)).failed).toEqual([]);
    expect((await e.write(first)).failed).toEqual([]);
    expect((await e.write(batchOf(records))).failed).toEqual([]);

    const docs = await allDocs("logs-generic-default");
    expect(docs.map((d) => d._id)).toEqual(records.slice(0, 14).map((r) => r.eventId));
    expect(docs.every((d) => d._index.startsWith(".ds-logs-generic-default-"))).toBe(true);
    const nginxDocs = await allDocs("logs-nginx.access-default");
    expect(nginxDocs.map((d) => d._id)).toEqual([nginx.eventId]);

    const r0 = records[0] as PipelineRecord;
    expect(docs[0]?._source).toEqual({
      "@timestamp": "2024-05-01T12:34:56.123Z",
      time_unix_nano: r0.timeUnixNano.toString(),
      observed_timestamp: "2024-05-01T12:34:56.124Z",
      observed_time_unix_nano: r0.observedTimeUnixNano.toString(),
      event_id: r0.eventId,
      kind: "logs",
      severity_text: "INFO",
      severity_number: 9,
      body: { text: "request 100 handled" },
      attributes: { "http.method": "GET", "http.status_code": 200, "user.id": "u0" },
      resource: { attributes: { "service.name": "checkout", "host.name": "node-1" } },
      scope: { name: "app.logger", version: "1.2.3", attributes: {} },
    });

    // The attribute maps are searchable by their dotted keys.
    const found = await call("POST", "/logs-generic-default/_search", {
      query: {
        bool: {
          filter: [
            { term: { "attributes.user.id": "u3" } },
            { term: { "resource.attributes.service.name": "checkout" } },
          ],
        },
      },
    });
    expect((found.json as SearchResponse).hits.hits.map((h) => h._id)).toEqual([records[3]?.eventId]);
  });

  it("reports a document the mapping refuses alone, with the server's reason, and stores the rest", async () => {
    const e = await newExporter({ mode: "daily_index", logs_index: "conflict-{dataset}-{namespace}" });
    // An index someone created by hand with a typed field our records also carry.
    const pre = await call("PUT", "/conflict-generic-default-2024.05.01", {
      settings: { "index.number_of_replicas": 0 },
      mappings: { properties: { event_name: { type: "long" } } },
    });
    expect(pre.status).toBe(200);

    const records = makeRecords(6, { firstOffset: 500n });
    const typed = records[1] as PipelineRecord;
    typed.eventName = "user.login";
    // One attribute value past Lucene's 32766-byte term limit, which flat_object cannot skip.
    const immense = records[4] as PipelineRecord;
    immense.attributes = { ...immense.attributes, "stack.dump": "x".repeat(40_000) };

    const result = await e.write(batchOf(records));
    expect(result.failed.map((f) => f.record)).toEqual([typed, immense]);
    expect(result.failed.map((f) => f.code)).toEqual([
      SinkCode.SINK_MAPPING_CONFLICT,
      SinkCode.SINK_MAPPING_CONFLICT,
    ]);
    expect(result.failed[0]?.reason).toMatch(
      /conflict-generic-default-2024\.05\.01: mapper_parsing_exception: failed to parse field \[event_name\] of type \[long\]/,
    );
    expect(result.failed[1]?.reason).toMatch(/immense term/);

    // A replay reports the same refusals and still stores nothing twice.
    const again = await e.write(batchOf(records));
    expect(again.failed.map((f) => f.record)).toEqual([typed, immense]);
    const docs = await allDocs("conflict-generic-default-2024.05.01");
    expect(docs.map((d) => d._id)).toEqual(
      records.filter((r) => r !== typed && r !== immense).map((r) => r.eventId),
    );
  });

  it("refuses to run the elasticsearch type against OpenSearch, naming the right type", async () => {
    const config = elasticsearchExporterFactory.configSchema.parse({ endpoints: [server.url] });
    const e = elasticsearchExporterFactory.create("elasticsearch", config, testDeps(dataDir));
    const err = (await e.start().catch((x: unknown) => x)) as SluiceError;
    await e.shutdown();
    expect(err.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain("use the opensearch exporter type");
  });
});
