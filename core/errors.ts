/**
 * Every failure the gateway reports carries a stable code and says whether
 * trying again can succeed, so receivers can map it to the protocol's own
 * retryable or permanent answer without guessing from message text.
 */
export const ErrorCode = {
  /** The payload could not be decoded (protobuf, JSON, gzip, msgpack). */
  MALFORMED_PAYLOAD: "MALFORMED_PAYLOAD",
  /** The payload decoded but breaks the data model (bad id length, bad value). */
  INVALID_DATA: "INVALID_DATA",
  /** The request carried no records at all. */
  EMPTY_REQUEST: "EMPTY_REQUEST",
  /** The request body or message exceeds the configured limit. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** The content type or encoding is not one this receiver speaks. */
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  /** The gateway holds as many in-flight bytes as it is allowed to. */
  OVERLOADED: "OVERLOADED",
  /** The log did not take the append (down, slow, or timing out). */
  LOG_UNAVAILABLE: "LOG_UNAVAILABLE",
  /** The gateway is shutting down and takes no new work. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /** The configuration is invalid; reported at start-up only. */
  INVALID_CONFIG: "INVALID_CONFIG",
  /** A bug or an unexpected state; never the client's fault. */
  INTERNAL: "INTERNAL",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class SluiceError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** How long a client should wait before trying again, when retryable. */
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryable?: boolean; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SluiceError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isSluiceError(err: unknown): err is SluiceError {
  return err instanceof SluiceError;
}

/** Wraps anything thrown into a SluiceError, keeping the original as cause. */
export function asSluiceError(err: unknown, fallback: ErrorCode = ErrorCode.INTERNAL): SluiceError {
  if (err instanceof SluiceError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError(fallback, message, { cause: err });
}
