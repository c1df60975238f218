import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchConfigSchema } from "./config.js";
import { elasticsearchClientOptions } from "./elasticsearch-backend.js";
import { openSearchClientOptions } from "./opensearch-backend.js";

describe("client options", () => {
  let dir: string;
  let ca: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-search-ca-"));
    ca = join(dir, "ca.pem");
    await writeFile(ca, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const parse = (extra: Record<string, unknown>) =>
    searchConfigSchema.parse({ endpoints: ["https://127.0.0.1:9200", "https://127.0.0.1:9201"], ...extra });

  it("gives the Elasticsearch client nodes, basic auth or an API key, TLS, timeout and retries", () => {
    const o = elasticsearchClientOptions(
      parse({
        auth: { username: "elastic", password: "pw" },
        tls: { ca_file: ca },
        request_timeout: "7s",
        max_retries: 5,
      }),
    );
    expect(o).toMatchObject({
      nodes: ["https://127.0.0.1:9200", "https://127.0.0.1:9201"],
      auth: { username: "elastic", password: "pw" },
      requestTimeout: 7_000,
      maxRetries: 5,
      tls: { rejectUnauthorized: true },
    });
    expect(String(o.tls?.ca)).toContain("BEGIN CERTIFICATE");
    expect(elasticsearchClientOptions(parse({ auth: { api_key: "a2V5" } })).auth).toEqual({ apiKey: "a2V5" });
    expect(elasticsearchClientOptions(parse({})).tls).toBeUndefined();
  });

  it("gives the OpenSearch client the same, with an API key as a header", () => {
    const o = openSearchClientOptions(
      parse({ auth: { username: "admin", password: "pw" }, tls: { insecure_skip_verify: true } }),
    );
    expect(o).toMatchObject({
      nodes: ["https://127.0.0.1:9200", "https://127.0.0.1:9201"],
      auth: { username: "admin", password: "pw" },
      requestTimeout: 30_000,
      maxRetries: 3,
      ssl: { rejectUnauthorized: false },
    });
    expect(openSearchClientOptions(parse({ auth: { api_key: "a2V5" } })).headers).toEqual({
      authorization: "ApiKey a2V5",
    });
  });
});
