/**
 * Encodes log envelopes (proto/sluice/log/v1/envelope.proto) on the hot
 * path: the per-request header fields are encoded once, and each group's
 * ResourceLogs pieces are copied straight after them. The result decodes
 * with the generated Envelope schema; a test holds the two together.
 */
import { SourceProtocol } from "../../proto/gen/sluice/log/v1/envelope_pb.js";
import type { ResourceGroup } from "./otlp-logs-splitter.js";
import { putVarint, varintSize } from "./wire.js";

export { SourceProtocol };

export interface EnvelopeHeader {
  receiveTimeUnixNano: bigint;
  tenant: string;
  sourceProtocol: SourceProtocol;
  receiver: string;
  schemaId?: string;
}

// Tags of Envelope fields: (field number << 3) | wire type.
const TAG_RECEIVE_TIME = (1 << 3) | 1;
const TAG_TENANT = (2 << 3) | 2;
const TAG_SOURCE = (3 << 3) | 0;
const TAG_RECEIVER = (4 << 3) | 2;
const TAG_SCHEMA_ID = (5 << 3) | 2;
const TAG_RESOURCE_LOGS = (6 << 3) | 2;

/** Encodes every Envelope field but resource_logs. */
export function encodeEnvelopeHeader(h: EnvelopeHeader): Uint8Array {
  const tenant = Buffer.from(h.tenant, "utf8");
  const receiver = Buffer.from(h.receiver, "utf8");
  const schema = Buffer.from(h.schemaId ?? "", "utf8");
  const size =
    9 +
    (tenant.length ? 1 + varintSize(tenant.length) + tenant.length : 0) +
    (h.sourceProtocol ? 1 + varintSize(h.sourceProtocol) : 0) +
    (receiver.length ? 1 + varintSize(receiver.length) + receiver.length : 0) +
    (schema.length ? 1 + varintSize(schema.length) + schema.length : 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = TAG_RECEIVE_TIME;
  view.setBigUint64(1, h.receiveTimeUnixNano, true);
  let pos = 9;
  const str = (tag: number, bytes: Uint8Array) => {
    if (bytes.length === 0) return;
    out[pos++] = tag;
    pos = putVarint(out, pos, bytes.length);
    out.set(bytes, pos);
    pos += bytes.length;
  };
  str(TAG_TENANT, tenant);
  if (h.sourceProtocol) {
    out[pos++] = TAG_SOURCE;
    pos = putVarint(out, pos, h.sourceProtocol);
  }
  str(TAG_RECEIVER, receiver);
  str(TAG_SCHEMA_ID, schema);
  return out;
}

/** A copy of a header from encodeEnvelopeHeader with another receive time. */
export function withReceiveTime(header: Uint8Array, receiveTimeUnixNano: bigint): Uint8Array {
  const out = header.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setBigUint64(1, receiveTimeUnixNano, true);
  return out;
}

/** One Envelope: the shared header plus this group's ResourceLogs, in one allocation. */
export function encodeEnvelope(header: Uint8Array, group: ResourceGroup): Buffer {
  const size = header.length + 1 + varintSize(group.byteLength) + group.byteLength;
  const out = Buffer.allocUnsafe(size);
  out.set(header, 0);
  let pos = header.length;
  out[pos++] = TAG_RESOURCE_LOGS;
  pos = putVarint(out, pos, group.byteLength);
  for (const piece of group.pieces) {
    out.set(piece, pos);
    pos += piece.length;
  }
  return out;
}
