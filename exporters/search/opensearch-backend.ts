/** The search backend on the official OpenSearch client. */
import { readFileSync } from "node:fs";
import { Client, type ClientOptions } from "@opensearch-project/opensearch";
import {
  BULK_FILTER_PATH,
  type BulkResponseBody,
  type IndexTemplateBody,
  type SearchBackend,
} from "./backend.js";
import type { SearchConfig } from "./config.js";

export function openSearchClientOptions(config: SearchConfig): ClientOptions {
  const options: ClientOptions = {
    nodes: config.endpoints,
    requestTimeout: config.request_timeout,
    maxRetries: config.max_retries,
  };
  if (config.auth) {
    if ("api_key" in config.auth) {
      // The client has no API-key option; the header is what proxies and API-token setups read.
      options.headers = { authorization: `ApiKey ${config.auth.api_key}` };
    } else {
      options.auth = { username: config.auth.username, password: config.auth.password };
    }
  }
  if (config.tls.ca_file || config.tls.insecure_skip_verify) {
    options.ssl = {
      rejectUnauthorized: !config.tls.insecure_skip_verify,
      ...(config.tls.ca_file ? { ca: readFileSync(config.tls.ca_file) } : {}),
    };
  }
  return options;
}

export class OpenSearchBackend implements SearchBackend {
  readonly flavor = "opensearch" as const;
  private readonly client: Client;

  constructor(config: SearchConfig) {
    this.client = new Client(openSearchClientOptions(config));
  }

  async putIndexTemplate(name: string, body: IndexTemplateBody): Promise<void> {
    await this.client.transport.request({
      method: "PUT",
      path: `/_index_template/${encodeURIComponent(name)}`,
      body: body as unknown as Record<string, unknown>,
    });
  }

  async bulk(ndjson: string): Promise<BulkResponseBody> {
    const res = await this.client.transport.request({
      method: "POST",
      path: "/_bulk",
      querystring: { filter_path: BULK_FILTER_PATH },
      bulkBody: ndjson,
    });
    return res.body as BulkResponseBody;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
