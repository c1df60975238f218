/**
 * The two calls the search exporter makes, behind one small interface so the
 * Elasticsearch and OpenSearch clients (which refuse to talk to each other's
 * servers) are interchangeable, and so tests can stand in for a server.
 */

/** One item of a `_bulk` response, as both servers send it. */
export interface BulkItemResult {
  status: number;
  error?: {
    type?: string;
    reason?: string | null;
    caused_by?: { type?: string; reason?: string | null };
  };
}

export interface BulkResponseBody {
  errors: boolean;
  items: Array<Partial<Record<"create" | "index" | "update" | "delete", BulkItemResult>>>;
}

export interface IndexTemplateBody {
  index_patterns: string[];
  priority: number;
  data_stream?: Record<string, unknown>;
  template: {
    settings: Record<string, unknown>;
    mappings: Record<string, unknown>;
  };
  _meta?: Record<string, unknown>;
}

export interface SearchBackend {
  readonly flavor: "opensearch" | "elasticsearch";
  /** Creates or replaces a composable index template. */
  putIndexTemplate(name: string, body: IndexTemplateBody): Promise<void>;
  /** Sends one NDJSON `_bulk` body and returns the parsed response. */
  bulk(ndjson: string): Promise<BulkResponseBody>;
  close(): Promise<void>;
}

/** Asks the servers to leave out what the exporter never reads; item order is kept. */
export const BULK_FILTER_PATH = "errors,items.*.status,items.*.error";

/**
 * A failed request, described the same way for both clients: the HTTP status
 * and error type when the server answered, or a transport failure.
 */
export interface RequestFailure {
  /** No answer (connection refused, reset, timeout, no living node). */
  transport: boolean;
  status: number | undefined;
  type: string | undefined;
  reason: string;
  /** The client refused the server itself (e.g. the Elasticsearch client talking to OpenSearch). */
  wrongProduct: boolean;
}

function errorBodyOf(err: Record<string, unknown>): { type?: string; reason?: string } | undefined {
  const body = err.body ?? (err.meta as Record<string, unknown> | undefined)?.body;
  if (body && typeof body === "object") {
    const e = (body as Record<string, unknown>).error;
    if (e && typeof e === "object") {
      const o = e as Record<string, unknown>;
      return {
        type: typeof o.type === "string" ? o.type : undefined,
        reason: typeof o.reason === "string" ? o.reason : undefined,
      };
    }
    if (typeof e === "string") return { reason: e };
  }
  return undefined;
}

/** Reads an error thrown by either client (their error classes share names and shapes). */
export function describeRequestFailure(err: unknown): RequestFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (!err || typeof err !== "object") {
    return { transport: false, status: undefined, type: undefined, reason: message, wrongProduct: false };
  }
  const o = err as Record<string, unknown>;
  const name = typeof o.name === "string" ? o.name : "";
  if (name === "ProductNotSupportedError") {
    return { transport: false, status: undefined, type: undefined, reason: message, wrongProduct: true };
  }
  if (
    name === "ConnectionError" ||
    name === "TimeoutError" ||
    name === "NoLivingConnectionsError" ||
    name === "RequestAbortedError"
  ) {
    return {
      transport: true,
      status: undefined,
      type: undefined,
      reason: `${name}: ${message}`,
      wrongProduct: false,
    };
  }
  const status =
    typeof o.statusCode === "number"
      ? o.statusCode
      : typeof (o.meta as Record<string, unknown> | undefined)?.statusCode === "number"
        ? ((o.meta as Record<string, unknown>).statusCode as number)
        : undefined;
  const body = errorBodyOf(o);
  return {
    transport: false,
    status,
    type: body?.type,
    reason: body?.reason ? `${body.type ?? "error"}: ${body.reason}` : message,
    // OpenSearch answers the Elasticsearch 9 client's versioned media type with 406 before any product check.
    wrongProduct: status === 406,
  };
}
