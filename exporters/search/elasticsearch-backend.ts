/** The search backend on the official Elasticsearch client (9.x), which only talks to Elasticsearch. */
import { readFileSync } from "node:fs";
import { Client } from "@elastic/elasticsearch";
import type { ClientOptions } from "@elastic/elasticsearch/client";
import {
  BULK_FILTER_PATH,
  type BulkResponseBody,
  type IndexTemplateBody,
  type SearchBackend,
} from "./backend.js";
import type { SearchConfig } from "./config.js";

export function elasticsearchClientOptions(config: SearchConfig): ClientOptions {
  const options: ClientOptions = {
    nodes: config.endpoints,
    requestTimeout: config.request_timeout,
    maxRetries: config.max_retries,
    name: "sluice",
  };
  if (config.auth) {
    options.auth =
      "api_key" in config.auth
        ? { apiKey: config.auth.api_key }
        : { username: config.auth.username, password: config.auth.password };
  }
  if (config.tls.ca_file || config.tls.insecure_skip_verify) {
    options.tls = {
      rejectUnauthorized: !config.tls.insecure_skip_verify,
      ...(config.tls.ca_file ? { ca: readFileSync(config.tls.ca_file) } : {}),
    };
  }
  return options;
}

export class ElasticsearchBackend implements SearchBackend {
  readonly flavor = "elasticsearch" as const;
  private readonly client: Client;

  constructor(config: SearchConfig) {
    this.client = new Client(elasticsearchClientOptions(config));
  }

  async putIndexTemplate(name: string, body: IndexTemplateBody): Promise<void> {
    await this.client.transport.request({
      method: "PUT",
      path: `/_index_template/${encodeURIComponent(name)}`,
      body: body as unknown as Record<string, unknown>,
    });
  }

  async bulk(ndjson: string): Promise<BulkResponseBody> {
    // The prepared NDJSON goes through as it is: one serialisation, and sizes known up front.
    return await this.client.transport.request<BulkResponseBody>({
      method: "POST",
      path: "/_bulk",
      querystring: { filter_path: BULK_FILTER_PATH },
      bulkBody: ndjson,
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
