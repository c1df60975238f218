/**
 * The sluice command line. Every role runs from the same binary:
 *   start            every role in one process (embedded defaults without --config)
 *   gateway          the receivers only
 *   validate-config  checks a config file and prints what it resolves to
 */
import { Command, Option } from "commander";
import { buildConfig, type Config, loadConfigFile } from "../core/config/load-config.js";
import { isSluiceError } from "../core/errors.js";
import { createLogger } from "../core/logging/logger.js";
import { type Role, startService } from "../service/service.js";

interface CommonOptions {
  config?: string;
  dataDir?: string;
}

function readConfig(opts: CommonOptions): Config {
  return opts.config
    ? loadConfigFile(opts.config, { dataDir: opts.dataDir })
    : buildConfig({}, { dataDir: opts.dataDir });
}

async function run(roles: Role[], opts: CommonOptions): Promise<void> {
  const config = readConfig(opts);
  const logger = createLogger(config.telemetry.log_level);
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
  const service = await startService(config, roles, logger);
  logger.info(
    {
      roles,
      log: config.log.backend,
      dataDir: config.dataDir,
      endpoints: service.endpoints,
      admin: service.adminAddress,
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
    (opts: CommonOptions) => run(["gateway"], opts),
  );

  common(program.command("gateway").description("run the receivers only")).action((opts: CommonOptions) =>
    run(["gateway"], opts),
  );

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
