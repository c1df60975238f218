#!/usr/bin/env python3
"""ClickHouse's HTTP interface in front of an embedded ClickHouse engine (chdb).

No ClickHouse server build can be fetched on the test machines, but chdb ships the ClickHouse
engine itself as a Python extension. Every statement here runs in that engine against an on-disk
database, so SQL, table engines, merges, deduplication and error texts are ClickHouse's own. This
file only carries the HTTP protocol: where the query, settings, parameters and data come from, and
how results, summaries and errors go back, the way @clickhouse/client and curl expect.

Started by scripts/services/clickhouse.ts; standard library only besides chdb.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import gzip
import http.server
import json
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

from chdb import session as chdb_session

MAX_BODY_BYTES = 512 * 1024 * 1024
INSERT_CHUNK_BYTES = 1024 * 1024
KEEP_ALIVE_SECONDS = 10

# URL parameters that steer the HTTP layer; every other parameter is a ClickHouse setting,
# exactly as the real server treats them (an unknown one is an UNKNOWN_SETTING error).
PROTOCOL_PARAMS = {
    "query",
    "database",
    "default_format",
    "query_id",
    "session_id",
    "session_timeout",
    "session_check",
    "user",
    "password",
    "quota_key",
    "role",
    "compress",
    "decompress",
    "buffer_size",
    "wait_end_of_query",
    "enable_http_compression",
    "stacktrace",
}
# Settings this process must not change on its shared session: once set, readonly cannot be
# reset by the same session, which would lock every later request out of writing.
IGNORED_SETTINGS = {"readonly"}

# The HTTP status ClickHouse's HTTP handler answers with for an exception code.
STATUS_BY_ERROR = {
    "REQUIRED_PASSWORD": 401,
    "UNKNOWN_USER": 403,
    "WRONG_PASSWORD": 403,
    "AUTHENTICATION_FAILED": 403,
    "ACCESS_DENIED": 403,
    "READONLY": 403,
    "CANNOT_PARSE_TEXT": 400,
    "CANNOT_PARSE_ESCAPE_SEQUENCE": 400,
    "CANNOT_PARSE_QUOTED_STRING": 400,
    "CANNOT_PARSE_DATE": 400,
    "CANNOT_PARSE_DATETIME": 400,
    "CANNOT_PARSE_NUMBER": 400,
    "CANNOT_PARSE_INPUT_ASSERTION_FAILED": 400,
    "CANNOT_PARSE_BOOL": 400,
    "CANNOT_PARSE_UUID": 400,
    "CANNOT_PARSE_IPV4": 400,
    "CANNOT_PARSE_IPV6": 400,
    "UNKNOWN_ELEMENT_IN_AST": 400,
    "UNKNOWN_TYPE_OF_AST_NODE": 400,
    "TOO_DEEP_AST": 400,
    "TOO_BIG_AST": 400,
    "UNEXPECTED_AST_STRUCTURE": 400,
    "SYNTAX_ERROR": 400,
    "INCORRECT_DATA": 400,
    "TYPE_MISMATCH": 400,
    "BAD_ARGUMENTS": 400,
    "UNKNOWN_TABLE": 404,
    "UNKNOWN_FUNCTION": 404,
    "UNKNOWN_IDENTIFIER": 404,
    "UNKNOWN_TYPE": 404,
    "UNKNOWN_STORAGE": 404,
    "UNKNOWN_DATABASE": 404,
    "UNKNOWN_SETTING": 404,
    "UNKNOWN_DIRECTION_OF_SORTING": 404,
    "UNKNOWN_AGGREGATE_FUNCTION": 404,
    "UNKNOWN_FORMAT": 404,
    "UNKNOWN_DATABASE_ENGINE": 404,
    "UNKNOWN_TYPE_OF_QUERY": 404,
    "QUERY_IS_TOO_LARGE": 413,
    "NOT_IMPLEMENTED": 501,
    "SOCKET_TIMEOUT": 503,
    "CANNOT_OPEN_FILE": 503,
    "HTTP_LENGTH_REQUIRED": 411,
    "TIMEOUT_EXCEEDED": 500,
}

ERROR_CODES = {
    "BAD_ARGUMENTS": 36,
    "SYNTAX_ERROR": 62,
    "UNKNOWN_FORMAT": 73,
    "QUERY_IS_TOO_LARGE": 202,
    "NOT_IMPLEMENTED": 48,
    "AUTHENTICATION_FAILED": 516,
    "CANNOT_DECOMPRESS": 271,
    "HTTP_LENGTH_REQUIRED": 381,
}

INSERT_WITH_DATA = re.compile(
    r"^(?P<head>\s*INSERT\s+INTO\s.*?)\s+(?:FORMAT\s+(?P<format>[A-Za-z0-9_]+)|(?P<values>VALUES))\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# Names the chdb Python wrapper turns into Python objects; they are not ClickHouse formats.
WRAPPER_ONLY_FORMATS = {"dataframe", "datastore", "arrowtable"}
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
CODE_IN_MESSAGE = re.compile(r"Code: (\d+)\.")
TYPE_IN_MESSAGE = re.compile(r"\(([A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*)\)")


class QueryError(Exception):
    """An error with ClickHouse's text shape: `Code: N. DB::Exception: message (NAME)`."""

    def __init__(self, text: str, code: int, name: str):
        super().__init__(text)
        self.text = text
        self.code = code
        self.name = name

    @classmethod
    def make(cls, name: str, message: str) -> "QueryError":
        code = ERROR_CODES.get(name, 1001)
        return cls(f"Code: {code}. DB::Exception: {message}. ({name})", code, name)

    @classmethod
    def from_engine(cls, err: BaseException) -> "QueryError":
        text = str(err)
        # The Python wrapper prefixes some engine messages with its own words.
        start = text.find("Code: ")
        if start > 0:
            text = text[start:]
        code_match = CODE_IN_MESSAGE.search(text)
        names = TYPE_IN_MESSAGE.findall(text)
        if not code_match:
            return cls(f"Code: 1001. DB::Exception: {text}. (STD_EXCEPTION)", 1001, "STD_EXCEPTION")
        return cls(text, int(code_match.group(1)), names[-1] if names else "")


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def content_type_for(fmt: str) -> str:
    f = fmt.lower()
    if f.startswith("json") or f in ("ndjson", "jsonl"):
        return "application/json; charset=UTF-8"
    if f.startswith("tabseparated") or f.startswith("tsv"):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return "text/csv; charset=UTF-8"
    if f in ("native", "parquet", "arrow", "arrowstream", "orc", "avro", "protobuf", "msgpack") or f.startswith(
        "rowbinary"
    ):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


class Engine:
    """One chdb session on the data path; requests take turns because settings are per session."""

    def __init__(self, path: str, config_file: str):
        self.lock = threading.Lock()
        self.session = chdb_session.Session(f"{path}?config-file={config_file}")
        self.conn = self.session._conn
        # clickhouse-local turns these on for convenience; a server has them off.
        self.conn.query(
            "SET implicit_select = 0, allow_introspection_functions = 0, storage_file_read_method = 'pread'",
            "TabSeparated",
        )
        row = self.conn.query("SELECT version(), timezone(), displayName()", "TabSeparated").bytes()
        self.version, self.timezone, self.display_name = row.decode().rstrip("\n").split("\t")

    def close(self) -> None:
        with self.lock:
            self.session.close()

    def run(self, req: "ParsedRequest") -> tuple[bytes, dict[str, int], str]:
        with self.lock:
            changed: list[str] = []
            used_database = False
            try:
                if req.database:
                    self.conn.query(f"USE {quote_identifier(req.database)}", "TabSeparated")
                    used_database = True
                if req.settings:
                    assignments = ", ".join(f"{k} = {quote_string(v)}" for k, v in req.settings.items())
                    self.conn.query(f"SET {assignments}", "TabSeparated")
                    changed = list(req.settings)
                return self._execute(req)
            finally:
                self._reset(changed, used_database)

    def _execute(self, req: "ParsedRequest") -> tuple[bytes, dict[str, int], str]:
        started = time.monotonic()
        insert = INSERT_WITH_DATA.match(req.query) if req.body else None
        if insert:
            fmt = insert.group("format") or "Values"
            inserter = self.conn.send_insert(insert.group("head"), fmt)
            try:
                view = memoryview(req.body)
                for offset in range(0, len(view), INSERT_CHUNK_BYTES):
                    inserter.append(bytes(view[offset : offset + INSERT_CHUNK_BYTES]))
                result = inserter.finish()
            except BaseException:
                inserter.cancel()
                raise
            stats = {
                "written_rows": int(result.rows_written),
                "written_bytes": int(result.bytes_written),
                "elapsed_ns": int(result.elapsed * 1e9),
            }
            return b"", stats, fmt
        text = req.query
        if req.body:
            try:
                body_text = req.body.decode("utf-8")
            except UnicodeDecodeError as err:
                raise QueryError.make(
                    "NOT_IMPLEMENTED",
                    "binary data is only accepted after INSERT ... FORMAT <name> in the query parameter",
                ) from err
            text = f"{text}\n{body_text}" if text else body_text
        if not text.strip():
            raise QueryError.make("SYNTAX_ERROR", "Empty query")
        if req.default_format.lower() in WRAPPER_ONLY_FORMATS:
            raise QueryError.make("UNKNOWN_FORMAT", f"Unknown format {req.default_format}")
        match = TRAILING_FORMAT.search(text)
        fmt = match.group(1) if match else req.default_format
        result = self.conn.query(text, req.default_format, params=req.params)
        body = result.bytes() or b""
        stats = {
            "read_rows": int(result.rows_read()),
            "read_bytes": int(result.bytes_read()),
            "written_rows": int(result.rows_written()),
            "written_bytes": int(result.bytes_written()),
            "result_bytes": len(body),
            "elapsed_ns": int(max(result.elapsed(), time.monotonic() - started) * 1e9),
        }
        return body, stats, fmt

    def _reset(self, changed: list[str], used_database: bool) -> None:
        # Settings and the current database belong to the shared session: put them back so the
        # next request starts from the server defaults, as a fresh HTTP query would.
        try:
            if changed:
                self.conn.query("SET " + ", ".join(f"{k} = DEFAULT" for k in changed), "TabSeparated")
            if used_database:
                self.conn.query("USE default", "TabSeparated")
        except Exception as err:  # noqa: BLE001 - reported, then the server keeps serving
            print(f"could not reset session state: {err}", file=sys.stderr, flush=True)


class ParsedRequest:
    def __init__(self) -> None:
        self.query = ""
        self.body = b""
        self.database = ""
        self.default_format = "TabSeparated"
        self.query_id = ""
        self.settings: dict[str, str] = {}
        self.params: dict[str, str] = {}
        self.compress_response = False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections are closed after this many seconds without a request.
    timeout = 60
    engine: Engine
    user = "default"
    password = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def version_string(self) -> str:
        return "ClickHouse"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        self._send(200 if path in ("/", "/ping") else 404, b"", {"Content-Type": "text/html; charset=UTF-8"})

    def _handle(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query_id = ""
        try:
            try:
                body = self._read_body()
            except QueryError:
                # Whatever is left of the body would be read as the next request.
                self.close_connection = True
                raise
            if url.path in ("/ping", "/replicas_status"):
                self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            if url.path not in ("/", ""):
                self._send(
                    404,
                    f"There is no handle {url.path}\n\nUse / or /ping for health checks.\n".encode(),
                    {"Content-Type": "text/plain; charset=UTF-8"},
                )
                return
            pairs = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
            params = dict(pairs)
            self._authenticate(params)
            req = self._parse(params, body)
            query_id = req.query_id
            if self.command == "GET" and not req.query:
                self._send(200, b"Ok.\n", {"Content-Type": "text/html; charset=UTF-8"})
                return
            try:
                out, stats, fmt = self.engine.run(req)
            except QueryError:
                raise
            except Exception as err:  # noqa: BLE001 - engine errors become HTTP errors
                raise QueryError.from_engine(err) from err
            headers = {
                "Content-Type": content_type_for(fmt),
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Summary": json.dumps({k: str(v) for k, v in stats.items()}, separators=(",", ":")),
            }
            self._send(200, out, headers, req)
        except QueryError as err:
            self._send_error(err, query_id)

    def _authenticate(self, params: dict[str, str]) -> None:
        user = self.headers.get("X-ClickHouse-User")
        key = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization")
        if user is not None or key is not None:
            if auth or "user" in params or "password" in params:
                raise QueryError.make(
                    "AUTHENTICATION_FAILED",
                    "Invalid authentication: it is not allowed to use X-ClickHouse HTTP headers and other "
                    "authentication methods simultaneously",
                )
            name, secret = user or "default", key or ""
        elif auth:
            if "user" in params or "password" in params:
                raise QueryError.make(
                    "AUTHENTICATION_FAILED",
                    "Invalid authentication: it is not allowed to use Authorization HTTP header and "
                    "authentication via parameters simultaneously",
                )
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "basic":
                raise QueryError.make(
                    "AUTHENTICATION_FAILED", f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported"
                )
            try:
                name, _, secret = base64.b64decode(value.strip()).decode("utf-8").partition(":")
            except ValueError as err:
                raise QueryError.make("AUTHENTICATION_FAILED", "Invalid authentication: malformed Basic credentials") from err
        else:
            name, secret = params.get("user", "default"), params.get("password", "")
        if name != self.user or secret != self.password:
            raise QueryError.make(
                "AUTHENTICATION_FAILED",
                f"{name}: Authentication failed: password is incorrect, or there is no user with such name",
            )

    def _parse(self, params: dict[str, str], body: bytes) -> ParsedRequest:
        req = ParsedRequest()
        content_type = self.headers.get("Content-Type", "")
        if content_type.lower().startswith("multipart/form-data"):
            # Long query parameters arrive as form fields instead of URL parameters.
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {content_type}\r\n\r\n".encode() + body
            )
            for part in message.iter_parts():
                field = part.get_param("name", header="content-disposition")
                if field:
                    params[str(field)] = part.get_payload(decode=True).decode("utf-8")
            body = b""
        req.query = params.get("query", "")
        req.body = body
        req.database = params.get("database") or self.headers.get("X-ClickHouse-Database", "")
        req.default_format = params.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"
        req.query_id = params.get("query_id") or self.headers.get("X-ClickHouse-Query-Id") or str(uuid.uuid4())
        req.compress_response = params.get("enable_http_compression") == "1"
        for key, value in params.items():
            if key.startswith("param_"):
                req.params[key[len("param_") :]] = value
            elif key not in PROTOCOL_PARAMS and key not in IGNORED_SETTINGS:
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                    raise QueryError.make("BAD_ARGUMENTS", f"Invalid setting name {key!r}")
                req.settings[key] = value
        return req

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raw = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise QueryError.make("QUERY_IS_TOO_LARGE", f"request body of {length} bytes is too large")
            raw = self.rfile.read(length) if length else b""
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if not encoding or encoding == "identity":
            return raw
        try:
            if encoding == "gzip":
                return gzip.decompress(raw)
            if encoding == "deflate":
                return zlib.decompress(raw)
        except (OSError, zlib.error, EOFError) as err:
            raise QueryError.make("CANNOT_DECOMPRESS", f"cannot decompress the {encoding} request body: {err}") from err
        raise QueryError.make("NOT_IMPLEMENTED", f"Content-Encoding {encoding} is not supported here")

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise QueryError.make("BAD_ARGUMENTS", "request body ended inside a chunk")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailer section, ended by an empty line.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise QueryError.make("QUERY_IS_TOO_LARGE", "request body is too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _common_headers(self, query_id: str) -> dict[str, str]:
        return {
            "X-ClickHouse-Server-Display-Name": self.engine.display_name,
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "Keep-Alive": f"timeout={KEEP_ALIVE_SECONDS}",
        }

    def _send(self, status: int, body: bytes, headers: dict[str, str], req: ParsedRequest | None = None) -> None:
        all_headers = self._common_headers(req.query_id if req else "")
        all_headers.update(headers)
        if req and req.compress_response and body:
            accepted = self.headers.get("Accept-Encoding", "").lower()
            if "gzip" in accepted:
                body = gzip.compress(body, compresslevel=3)
                all_headers["Content-Encoding"] = "gzip"
            elif "deflate" in accepted:
                body = zlib.compress(body, 3)
                all_headers["Content-Encoding"] = "deflate"
        self.send_response(status)
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _send_error(self, err: QueryError, query_id: str) -> None:
        text = err.text.rstrip()
        if "(version " not in text:
            text = f"{text} (version {self.engine.version})"
        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "X-ClickHouse-Exception-Code": str(err.code),
        }
        all_headers = self._common_headers(query_id)
        all_headers.update(headers)
        body = f"{text}\n".encode()
        self.send_response(STATUS_BY_ERROR.get(err.name, 500))
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def write_config(path: str, display_name: str) -> None:
    # Parts are fsynced before an INSERT is acknowledged, so an answered insert survives a crash.
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            "<clickhouse>\n"
            f"  <display_name>{display_name}</display_name>\n"
            "  <merge_tree>\n"
            "    <fsync_after_insert>1</fsync_after_insert>\n"
            "    <fsync_part_directory>1</fsync_part_directory>\n"
            "  </merge_tree>\n"
            "</clickhouse>\n"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="database directory")
    parser.add_argument("--config", required=True, help="where to write the engine's config file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--display-name", default="sluice-clickhouse")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    args = parser.parse_args()

    write_config(args.config, args.display_name)
    engine = Engine(args.path, args.config)
    Handler.engine = engine
    Handler.user = args.user
    Handler.password = args.password
    server = http.server.ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            # shutdown() waits for serve_forever to return, so it cannot run on the serving thread.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        f"ClickHouse {engine.version} (chdb) listening on http://{args.host}:{args.port} as {args.display_name}",
        flush=True,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        # Waits for a running query to finish before the engine shuts down its tables.
        engine.close()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
