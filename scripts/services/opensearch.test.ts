import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenSearchServer } from "./opensearch.js";

// A cold cache downloads and unpacks a ~160 MB distribution before the first start.
const SETUP_TIMEOUT_MS = 600_000;
const TEST_TIMEOUT_MS = 240_000;
const INDEX = "sluice-opensearch-fixture";

async function call(
  server: OpenSearchServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": contentType },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface SearchHits {
  hits: { total: { value: number }; hits: { _id: string; _source: { message: string } }[] };
}

async function searchAll(server: OpenSearchServer): Promise<SearchHits["hits"]> {
  const { status, json } = await call(server, "POST", `/${INDEX}/_search`, {
    query: { match_all: {} },
    sort: [{ seq: "asc" }],
  });
  expect(status).toBe(200);
  return (json as unknown as SearchHits).hits;
}

describe("OpenSearchServer", () => {
  let dataDir: string;
  let server: OpenSearchServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "sluice-opensearch-"));
    server = new OpenSearchServer({ dataDir });
    await server.start();
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await server?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it(
    "indexes with create semantics, searches, and keeps documents across a restart",
    async () => {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const firstPid = server.pid;
      expect(firstPid).toBeTypeOf("number");

      const root = await call(server, "GET", "/");
      expect((root.json.version as { number: string }).number).toBe(server.version);

      const created = await call(server, "PUT", `/${INDEX}`, {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: { properties: { message: { type: "text" }, seq: { type: "long" } } },
      });
      expect(created.status).toBe(200);

      const docs = [1, 2, 3].map((n) => ({ id: `evt-${n}`, message: `hello ${n}`, seq: n }));
      const bulkBody = `${docs
        .flatMap((d) => [
          JSON.stringify({ create: { _index: INDEX, _id: d.id } }),
          JSON.stringify({ message: d.message, seq: d.seq }),
        ])
        .join("\n")}\n`;
      const bulk = await call(server, "POST", "/_bulk?refresh=true", bulkBody, "application/x-ndjson");
      expect(bulk.status).toBe(200);
      expect(bulk.json.errors).toBe(false);
      const items = bulk.json.items as { create: { status: number; _id: string } }[];
      expect(items.map((i) => [i.create._id, i.create.status])).toEqual([
        ["evt-1", 201],
        ["evt-2", 201],
        ["evt-3", 201],
      ]);

      // The exporter relies on op_type=create so a redelivered event is a conflict, not a duplicate.
      const again = await call(server, "PUT", `/${INDEX}/_create/evt-2?refresh=true`, {
        message: "duplicate",
        seq: 2,
      });
      expect(again.status).toBe(409);
      const bulkAgain = await call(
        server,
        "POST",
        "/_bulk?refresh=true",
        `${JSON.stringify({ create: { _index: INDEX, _id: "evt-3" } })}\n${JSON.stringify({ message: "dup", seq: 3 })}\n`,
        "application/x-ndjson",
      );
      expect(bulkAgain.json.errors).toBe(true);
      expect((bulkAgain.json.items as { create: { status: number } }[])[0]?.create.status).toBe(409);

      const before = await searchAll(server);
      expect(before.total.value).toBe(3);
      expect(before.hits.map((h) => [h._id, h._source.message])).toEqual([
        ["evt-1", "hello 1"],
        ["evt-2", "hello 2"],
        ["evt-3", "hello 3"],
      ]);
      const matched = await call(server, "POST", `/${INDEX}/_search`, { query: { match: { message: "2" } } });
      expect((matched.json as unknown as SearchHits).hits.hits.map((h) => h._id)).toEqual(["evt-2"]);

      const url = server.url;
      await server.restart();
      expect(server.url).toBe(url);
      expect(server.pid).toBeTypeOf("number");
      expect(server.pid).not.toBe(firstPid);

      const after = await searchAll(server);
      expect(after.total.value).toBe(3);
      expect(after.hits.map((h) => h._id)).toEqual(["evt-1", "evt-2", "evt-3"]);
    },
    TEST_TIMEOUT_MS,
  );
});
