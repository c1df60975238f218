import { describe, expect, it } from "vitest";
import { SinkCode } from "../common/codes.js";
import { makeRecord } from "../common/test-support.js";
import type { BulkResponseBody } from "./backend.js";
import { bulkDoc, bulkOutcomes, chunkDocs, classifyItem } from "./bulk.js";

// Answers recorded from OpenSearch 3.8 (_bulk?filter_path=errors,items.*.status,items.*.error).
const MIXED_RESPONSE: BulkResponseBody = {
  errors: true,
  items: [
    {
      create: {
        status: 400,
        error: {
          type: "mapper_parsing_exception",
          reason:
            "failed to parse field [severity_text] of type [integer] in document with id 'c1'. Preview of field's value: 'INFO'",
          caused_by: { type: "number_format_exception", reason: 'For input string: "INFO"' },
        },
      },
    },
    { create: { status: 201 } },
    {
      create: {
        status: 403,
        error: {
          type: "cluster_block_exception",
          reason: "index [blocked-idx] blocked by: [FORBIDDEN/8/index write (api)];",
        },
      },
    },
    {
      create: {
        status: 409,
        error: {
          type: "version_conflict_engine_exception",
          reason: "[c2]: version conflict, document already exists (current version [1])",
        },
      },
    },
  ],
};

const IMMENSE_TERM_ITEM = {
  status: 400,
  error: {
    type: "illegal_argument_exception",
    reason:
      'Document contains at least one immense term in field="attributes._value" (whose UTF8 encoding is longer than the max length 32766), all of which were skipped.',
    caused_by: {
      type: "max_bytes_length_exceeded_exception",
      reason: "bytes can be at most 32766 in length; got 40000",
    },
  },
};

// Elasticsearch 8.8+ names the parse failure document_parsing_exception and pushes back with 429.
const ES_PARSING_ITEM = {
  status: 400,
  error: {
    type: "document_parsing_exception",
    reason: "[1:52] failed to parse field [severity_text] of type [integer] in document with id 'x'.",
  },
};
const ES_REJECTED_ITEM = {
  status: 429,
  error: {
    type: "es_rejected_execution_exception",
    reason: "rejected execution of coordinating operation",
  },
};

describe("classifyItem", () => {
  it("treats created and version conflicts (already stored) as stored", () => {
    expect(classifyItem({ status: 201 })).toEqual({ kind: "stored" });
    expect(classifyItem(MIXED_RESPONSE.items[3]?.create ?? { status: 0 })).toEqual({ kind: "stored" });
  });

  it("fails mapping conflicts for the record alone, with the server's reason", () => {
    const o = classifyItem(MIXED_RESPONSE.items[0]?.create ?? { status: 0 });
    expect(o.kind).toBe("failed");
    if (o.kind !== "failed") return;
    expect(o.code).toBe(SinkCode.SINK_MAPPING_CONFLICT);
    expect(o.reason).toContain("mapper_parsing_exception: failed to parse field [severity_text]");
    expect(o.reason).toContain("number_format_exception");
    expect(classifyItem(ES_PARSING_ITEM)).toMatchObject({
      kind: "failed",
      code: SinkCode.SINK_MAPPING_CONFLICT,
    });
    expect(classifyItem(IMMENSE_TERM_ITEM)).toMatchObject({
      kind: "failed",
      code: SinkCode.SINK_MAPPING_CONFLICT,
    });
  });

  it("retries pushback, server errors and index state an operator can fix", () => {
    expect(classifyItem(ES_REJECTED_ITEM).kind).toBe("retry");
    expect(classifyItem({ status: 503, error: { type: "unavailable_shards_exception" } }).kind).toBe("retry");
    expect(classifyItem(MIXED_RESPONSE.items[2]?.create ?? { status: 0 }).kind).toBe("retry");
    expect(
      classifyItem({ status: 404, error: { type: "index_not_found_exception", reason: "no such index [x]" } })
        .kind,
    ).toBe("retry");
  });

  it("rejects other client errors for the record alone", () => {
    expect(classifyItem({ status: 400, error: { type: "something_else", reason: "no" } })).toMatchObject({
      kind: "failed",
      code: SinkCode.SINK_REJECTED,
    });
  });
});

describe("bulkOutcomes", () => {
  it("pairs items with documents in order", () => {
    const docs = [1, 2, 3, 4].map(() => bulkDoc(makeRecord(), "i", {}));
    expect(bulkOutcomes(docs, MIXED_RESPONSE)?.map((o) => o.kind)).toEqual([
      "failed",
      "stored",
      "retry",
      "stored",
    ]);
  });

  it("refuses an answer that does not cover every document", () => {
    const docs = [1, 2].map(() => bulkDoc(makeRecord(), "i", {}));
    expect(bulkOutcomes(docs, { errors: false, items: [{ create: { status: 201 } }] })).toBeUndefined();
  });
});

describe("bulkDoc and chunkDocs", () => {
  it("writes create with _id = eventId, one action and one source line", () => {
    const r = makeRecord({ eventId: "0123456789abcdef0123456789abcdef" });
    const d = bulkDoc(r, "logs-generic-default", { a: "é" });
    expect(d.lines).toBe(
      '{"create":{"_index":"logs-generic-default","_id":"0123456789abcdef0123456789abcdef"}}\n{"a":"é"}\n',
    );
    expect(d.bytes).toBe(Buffer.byteLength(d.lines));
  });

  it("keeps chunks under the byte limit, a large document alone", () => {
    const docs = [10, 10, 10, 100, 10].map((n) => bulkDoc(makeRecord(), "i", { s: "x".repeat(n) }));
    const limit = (docs[0]?.bytes ?? 0) * 2;
    const chunks = chunkDocs(docs, limit);
    expect(chunks.map((c) => c.length)).toEqual([2, 1, 1, 1]);
    expect(chunks.flat()).toEqual(docs);
  });
});
