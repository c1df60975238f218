/**
 * The sluice command line. Every role runs from the same binary:
 *   start            every role in one process (embedded defaults without --config)
 *   gateway          the receivers only
 *   process          the consumers only (processors and exporters)
 *   validate-config  checks a config file and prints what it resolves to
 *   lag              consumer lag per group and partition
 *   search, sql      look at the embedded search store and warehouse
 *   conformance      check any OTLP logs endpoint against the protocol
 */
import { Command, Option } from "commander";
import type { Config } from "../core/config/load-config.js";
import { parseDuration } from "../core/config/units.js";
import { isSluiceError } from "../core/errors.js";
import { createLogger } from "../core/logging/logger.js";
import { configFromSource, readConfigSource } from "../service/config-source.js";
import { type Role, startService } from "../service/service.js";
import { type ConformanceCliOptions, conformanceCommand } from "./commands/conformance.js";
import { collectLag, formatLag } from "./commands/lag.js";
import { formatTable, runSql, searchDbPath, searchRecords } from "./commands/query.js";

interface CommonOptions {
  config?: string;
  dataDir?: string;
}

function readConfig(opts: CommonOptions): Config {
  return configFromSource(readConfigSource(opts));
}

async function run(roles: Role[], opts: CommonOptions): Promise<void> {
  const source = readConfigSource(opts);
  const config = configFromSource(source);
  const logger = createLogger(config.telemetry.log_level);
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
  // Workers get the primary's resolved data directory, so a relative --data-dir means the same to all.
  const service = await startService(config, roles, logger, {
    configSource: { ...source, dataDir: config.dataDir },
  });
  const workerPids = service.workerPids();
  logger.info(
    {
      roles,
      log: config.log.backend,
      dataDir: config.dataDir,
      endpoints: service.endpoints,
      admin: service.adminAddress,
      ...(workerPids.length ? { gatewayWorkers: workerPids } : {}),
    },
    "sluice started",
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    service.shutdown().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

function common(cmd: Command): Command {
  return cmd
    .addOption(new Option("-c, --config <file>", "configuration file (YAML); embedded defaults when omitted"))
    .addOption(new Option("-d, --data-dir <dir>", "directory for embedded data (overrides data_dir)"));
}

export function buildCli(): Command {
  const program = new Command("sluice")
    .description("OpenTelemetry-compatible log and event gateway")
    .showHelpAfterError();

  common(program.command("start").description("run every role in one process")).action(
    (opts: CommonOptions) => run(["gateway", "processor"], opts),
  );

  common(program.command("gateway").description("run the receivers only")).action((opts: CommonOptions) =>
    run(["gateway"], opts),
  );

  common(program.command("process").description("run the consumers only: processors and exporters")).action(
    (opts: CommonOptions) => run(["processor"], opts),
  );

  common(program.command("lag").description("print consumer lag per group and partition")).action(
    async (opts: CommonOptions) => {
      process.stdout.write(`${formatLag(await collectLag(readConfig(opts)))}\n`);
    },
  );

  common(
    program
      .command("search")
      .description("full-text search of the embedded search store")
      .argument("<text>", "words or a phrase to find in bodies and attributes")
      .option("-s, --service <name>", "only this service.name")
      .option("--since <duration>", "only records newer than this, e.g. 15m, 2h")
      .option("-n, --limit <n>", "most records to print", "20"),
  ).action(
    async (text: string, opts: CommonOptions & { service?: string; since?: string; limit: string }) => {
      const config = readConfig(opts);
      const sinceAgo = opts.since === undefined ? undefined : parseDuration(opts.since);
      if (opts.since !== undefined && sinceAgo === undefined)
        throw new Error(`--since: not a duration: ${opts.since}`);
      const rows = searchRecords(searchDbPath(config), {
        text,
        service: opts.service,
        sinceMs: sinceAgo === undefined ? undefined : Date.now() - sinceAgo,
        limit: Number(opts.limit),
      });
      const columns = ["timestamp", "service", "severity", "event_name", "body"];
      const cells = rows.map((r) => [r.timestamp, r.service, r.severityText, r.eventName, r.body]);
      process.stdout.write(`${formatTable(columns, cells)}\n`);
    },
  );

  common(
    program
      .command("sql")
      .description("run SQL against the embedded warehouse (DuckDB)")
      .argument("<query>", "for example: SELECT ServiceName, count(*) FROM otel_logs GROUP BY 1"),
  ).action(async (query: string, opts: CommonOptions) => {
    const result = await runSql(readConfig(opts), query);
    process.stdout.write(`${formatTable(result.columns, result.rows)}\n`);
  });

  program
    .command("conformance")
    .description("check an OTLP logs endpoint (and optionally a Forward one) against the protocol")
    .option("--endpoint <host>", "host of an OTLP endpoint; checks HTTP on :4318 and gRPC on :4317")
    .option("--http <url>", "OTLP/HTTP base URL, e.g. http://127.0.0.1:4318")
    .option("--grpc <host:port>", "OTLP/gRPC endpoint, e.g. 127.0.0.1:4317")
    .option("--forward <host:port>", "Fluent Forward endpoint, e.g. 127.0.0.1:24224")
    .option("--shared-key <key>", "Forward shared key, to test the handshake")
    .option("--max-body-bytes <n>", "the endpoint's request size limit (enables the oversize checks)")
    .option("--max-grpc-bytes <n>", "the gRPC message limit, when it differs from --max-body-bytes")
    .option("--overload-probe <n>", "send a burst of n large concurrent requests to look for throttling")
    .option("--timeout <ms>", "budget for one request", "10000")
    .option("--json", "print the results as JSON")
    .option("--markdown", "print the results as a Markdown table")
    .action(async (opts: ConformanceCliOptions) => {
      process.exitCode = await conformanceCommand(opts);
    });

  common(
    program.command("validate-config").description("validate a configuration file and print it resolved"),
  ).action((opts: CommonOptions) => {
    const config = readConfig(opts);
    process.stdout.write(`${JSON.stringify(config, null, 2)}\nconfiguration is valid\n`);
  });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    if (isSluiceError(err)) {
      process.stderr.write(`sluice: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

await main(process.argv);
