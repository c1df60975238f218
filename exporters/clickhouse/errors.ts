/**
 * What a failed ClickHouse call means for the batch: a problem with the data
 * of some row (isolate the row, dead-letter it), a problem with the
 * schema, credentials or permissions (an operator has to act), or the
 * server being unreachable, slow or overloaded (try the batch again).
 */
import { ClickHouseError } from "@clickhouse/client";
import { SinkCode } from "../common/codes.js";

export type ClickHouseFailureKind = "data" | "config" | "unavailable";

export interface ClickHouseFailure {
  kind: ClickHouseFailureKind;
  reason: string;
  /** For data failures: the code a refused row is dead-lettered with. */
  recordCode?: SinkCode;
}

const VIOLATED_CONSTRAINT = 469;

/** Server error codes raised by the content of inserted rows. */
const DATA_CODES = new Set([
  6, // CANNOT_PARSE_TEXT
  26, // CANNOT_PARSE_QUOTED_STRING
  27, // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  32, // ATTEMPT_TO_READ_AFTER_EOF
  38, // CANNOT_PARSE_DATE
  41, // CANNOT_PARSE_DATETIME
  53, // TYPE_MISMATCH
  69, // ARGUMENT_OUT_OF_BOUND
  70, // CANNOT_CONVERT_TYPE
  72, // CANNOT_PARSE_NUMBER
  117, // INCORRECT_DATA
  131, // TOO_LARGE_STRING_SIZE
  190, // SIZES_OF_ARRAYS_DONT_MATCH
  321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  395, // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO (throwIf in a DEFAULT or MATERIALIZED expression)
  469, // VIOLATED_CONSTRAINT
  691, // UNKNOWN_ELEMENT_OF_ENUM
]);

/** Server error codes that no retry fixes until someone changes the schema, user or grants. */
const CONFIG_CODES = new Set([
  16, // NO_SUCH_COLUMN_IN_TABLE
  47, // UNKNOWN_IDENTIFIER
  60, // UNKNOWN_TABLE
  62, // SYNTAX_ERROR
  81, // UNKNOWN_DATABASE
  115, // UNKNOWN_SETTING
  164, // READONLY
  192, // UNKNOWN_USER
  193, // WRONG_PASSWORD
  194, // REQUIRED_PASSWORD
  291, // DATABASE_ACCESS_DENIED
  497, // ACCESS_DENIED
  516, // AUTHENTICATION_FAILED
]);

export function classifyClickHouseError(err: unknown): ClickHouseFailure {
  if (err instanceof ClickHouseError) {
    const code = Number(err.code);
    const reason = `${err.type ?? `code ${err.code}`}: ${err.message}`;
    if (DATA_CODES.has(code)) {
      // A constraint is a rule about values; every other data error is a value that does not fit its column.
      const recordCode =
        code === VIOLATED_CONSTRAINT ? SinkCode.SINK_REJECTED : SinkCode.SINK_MAPPING_CONFLICT;
      return { kind: "data", reason, recordCode };
    }
    if (CONFIG_CODES.has(code)) return { kind: "config", reason };
    // Memory limits, too many parts, timeouts, replicas away: all pass with time.
    return { kind: "unavailable", reason };
  }
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return { kind: "unavailable", reason: typeof code === "string" ? `${code}: ${message}` : message };
}
