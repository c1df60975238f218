/** Converts decoded OTLP values to plain JS, to compare with what an SDK was given. */
import type { AnyValue, KeyValue } from "../../proto/gen/opentelemetry/proto/common/v1/common_pb.js";

export function anyToJs(v: AnyValue | undefined): unknown {
  const value = v?.value;
  switch (value?.case) {
    case "stringValue":
    case "boolValue":
    case "doubleValue":
      return value.value;
    case "intValue":
      return Number(value.value);
    case "bytesValue":
      return new Uint8Array(value.value);
    case "arrayValue":
      return value.value.values.map(anyToJs);
    case "kvlistValue":
      return kvToJs(value.value.values);
    default:
      return undefined;
  }
}

export function kvToJs(kvs: KeyValue[]): Record<string, unknown> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, anyToJs(kv.value)]));
}

export function hrTimeToNanos(t: [number, number]): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
