import { describe, expect, it } from "vitest";
import { OTEL_LOGS_COLUMNS, toOtelLogsRow, toOtelLogsRows } from "./otel-logs-columns.js";
import { makeRecord, makeResource, makeScope } from "./test-support.js";

describe("toOtelLogsRow", () => {
  it("fills every column of the Collector's table plus EventId", () => {
    const r = makeRecord({
      eventId: "e1",
      traceId: "5b8efff798038103d269b633813fc60c",
      spanId: "eee19b7ec3c1b174",
      flags: 0x301,
      severityNumber: 17,
      severityText: "ERROR",
      eventName: "app.crash",
      body: "boom",
      attributes: { "exception.type": "E", ctx: { id: 7n } },
      resource: makeResource({ schemaUrl: "https://opentelemetry.io/schemas/1.26.0" }),
      scope: makeScope({ attributes: { "lib.kind": "core" }, schemaUrl: "scope-url" }),
    });
    const row = toOtelLogsRow(r);
    expect(row).toEqual({
      Timestamp: "2024-05-01 12:34:56.123456789",
      TimestampTime: "2024-05-01 12:34:56",
      TraceId: "5b8efff798038103d269b633813fc60c",
      SpanId: "eee19b7ec3c1b174",
      TraceFlags: 1,
      SeverityText: "ERROR",
      SeverityNumber: 17,
      ServiceName: "checkout",
      Body: "boom",
      ResourceSchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
      ResourceAttributes: { "service.name": "checkout", "host.name": "node-1" },
      ScopeSchemaUrl: "scope-url",
      ScopeName: "app.logger",
      ScopeVersion: "1.2.3",
      ScopeAttributes: { "lib.kind": "core" },
      LogAttributes: { "exception.type": "E", "ctx.id": "7" },
      EventName: "app.crash",
      EventId: "e1",
    });
    expect(Object.keys(row).sort()).toEqual(OTEL_LOGS_COLUMNS.map((c) => c.name).sort());
  });

  it("writes structured bodies as JSON and keeps nanoseconds exact", () => {
    const row = toOtelLogsRow(
      makeRecord({ timeUnixNano: 1_000_000_000_000_000_001n, body: { a: [1n, "b"] }, severityNumber: 300 }),
    );
    expect(row.Timestamp).toBe("2001-09-09 01:46:40.000000001");
    expect(row.Body).toBe('{"a":[1,"b"]}');
    expect(row.SeverityNumber).toBe(255);
    expect(toOtelLogsRow(makeRecord({ body: null })).Body).toBe("");
  });

  it("uses observed time when the record has none, and clamps to the int64 range", () => {
    const row = toOtelLogsRow(makeRecord({ timeUnixNano: 0n, observedTimeUnixNano: 1_500_000_000_5n }));
    expect(row.Timestamp).toBe("1970-01-01 00:00:15.000000005");
    expect(toOtelLogsRow(makeRecord({ timeUnixNano: 2n ** 64n - 1n })).Timestamp).toBe(
      "2262-04-11 23:47:16.854775806",
    );
  });

  it("flattens each shared resource once per batch", () => {
    const resource = makeResource();
    const rows = toOtelLogsRows([makeRecord({ resource }), makeRecord({ resource }), makeRecord()]);
    expect(rows[0]?.ResourceAttributes).toBe(rows[1]?.ResourceAttributes);
    expect(rows[2]?.ResourceAttributes).not.toBe(rows[0]?.ResourceAttributes);
    expect(rows[2]?.ResourceAttributes).toEqual(rows[0]?.ResourceAttributes);
  });
});
