/**
 * The S3 archive exporter: each batch becomes one gzip'd OTLP/JSON-lines
 * object per UTC hour, under Hive-style keys. S3 stores an object durably
 * before it answers a PUT, and a PUT to an existing key replaces it whole,
 * so `write` resolves after every PUT of the batch succeeded and a replay
 * overwrites instead of duplicating.
 */
import {
  CreateBucketCommand,
  type CreateBucketCommandInput,
  HeadBucketCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig,
  type StorageClass,
} from "@aws-sdk/client-s3";
import { ErrorCode, SluiceError } from "../../core/errors.js";
import type { Logger } from "../../core/logging/logger.js";
import type { ComponentDeps, ExportBatch, Exporter, ExportResult } from "../../core/pipeline/component.js";
import { sinkShuttingDown, sinkUnavailable } from "../common/codes.js";
import type { S3Config } from "./config.js";
import { archiveObjects } from "./objects.js";

/** The one call the exporter needs from the SDK client; tests stand in with it. */
export type S3Calls = Pick<S3Client, "send" | "destroy">;

export interface S3ExporterOptions {
  client?: (config: S3Config) => S3Calls;
}

/** At most this many PUTs of one batch at a time (a batch spanning many hours has one object per hour). */
const PUT_CONCURRENCY = 4;

export function s3ClientConfig(config: S3Config): S3ClientConfig {
  const c: S3ClientConfig = {
    region: config.region,
    forcePathStyle: config.force_path_style,
    requestHandler: { requestTimeout: config.timeout, connectionTimeout: Math.min(config.timeout, 10_000) },
  };
  if (config.endpoint) c.endpoint = config.endpoint;
  if (config.credentials) {
    c.credentials = {
      accessKeyId: config.credentials.access_key_id,
      secretAccessKey: config.credentials.secret_access_key,
      ...(config.credentials.session_token ? { sessionToken: config.credentials.session_token } : {}),
    };
  }
  return c;
}

interface S3Failure {
  status: number | undefined;
  name: string;
  message: string;
}

function describe(err: unknown): S3Failure {
  const o = (err ?? {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const name =
    typeof o.name === "string" && o.name !== "Error" ? o.name : typeof o.code === "string" ? o.code : "Error";
  return {
    status: o.$metadata?.httpStatusCode,
    name,
    message: typeof o.message === "string" && o.message !== "" ? o.message : String(err),
  };
}

export class S3Exporter implements Exporter {
  private client: S3Calls | undefined;
  private readonly logger: Logger;
  private stopping = false;

  constructor(
    readonly name: string,
    private readonly config: S3Config,
    deps: ComponentDeps,
    private readonly options: S3ExporterOptions = {},
  ) {
    this.logger = deps.logger.child({ exporter: name });
  }

  async start(): Promise<void> {
    this.stopping = false;
    this.client ??= (this.options.client ?? ((c) => new S3Client(s3ClientConfig(c))))(this.config);
    const client = this.client;
    const bucket = this.config.bucket;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return;
    } catch (err) {
      const f = describe(err);
      if (f.status === 404 || f.name === "NotFound" || f.name === "NoSuchBucket") {
        if (!this.config.create_bucket) {
          throw new SluiceError(
            ErrorCode.INVALID_CONFIG,
            `${this.name}: bucket ${bucket} does not exist (set create_bucket: true to create it)`,
            { cause: err },
          );
        }
      } else if (f.status === 403) {
        // Writers are often granted PutObject without ListBucket, which HeadBucket needs; the first PUT will tell.
        this.logger.warn({ bucket }, "cannot check the bucket (403); assuming it exists and is writable");
        return;
      } else if (f.status === 301 || f.status === 400) {
        throw new SluiceError(
          ErrorCode.INVALID_CONFIG,
          `${this.name}: bucket ${bucket}: ${f.name}: ${f.message} (is region ${this.config.region} right?)`,
          { cause: err },
        );
      } else {
        throw sinkUnavailable(
          this.name,
          new Error(`checking bucket ${bucket}: ${f.name}: ${f.message}`, { cause: err }),
        );
      }
    }
    await this.createBucket(client);
  }

  private async createBucket(client: S3Calls): Promise<void> {
    const input: CreateBucketCommandInput = { Bucket: this.config.bucket };
    // us-east-1 is the one region S3 refuses as an explicit location constraint.
    if (this.config.region !== "us-east-1") {
      input.CreateBucketConfiguration = { LocationConstraint: this.config.region as never };
    }
    try {
      await client.send(new CreateBucketCommand(input));
      this.logger.info({ bucket: this.config.bucket }, "bucket created");
    } catch (err) {
      const f = describe(err);
      if (f.name === "BucketAlreadyOwnedByYou") return;
      if (f.status !== undefined && f.status < 500 && f.status !== 429) {
        throw new SluiceError(
          ErrorCode.INVALID_CONFIG,
          `${this.name}: cannot create bucket ${this.config.bucket}: ${f.name}: ${f.message}`,
          { cause: err },
        );
      }
      throw sinkUnavailable(this.name, new Error(`creating bucket: ${f.name}: ${f.message}`, { cause: err }));
    }
  }

  async write(batch: ExportBatch): Promise<ExportResult> {
    if (this.stopping) throw sinkShuttingDown(this.name);
    const client = this.client;
    if (!client) throw new SluiceError(ErrorCode.INTERNAL, `${this.name}: write() before start()`);
    const objects = archiveObjects(batch, {
      prefix: this.config.prefix,
      compression: this.config.compression,
    });
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < objects.length; i = next++) {
        const o = objects[i] as (typeof objects)[number];
        const input: PutObjectCommandInput = {
          Bucket: this.config.bucket,
          Key: o.key,
          Body: o.body,
          ContentType: o.contentType,
          ContentLength: o.body.length,
          Metadata: o.metadata,
        };
        if (this.config.storage_class) input.StorageClass = this.config.storage_class as StorageClass;
        try {
          await client.send(new PutObjectCommand(input));
        } catch (err) {
          const f = describe(err);
          // Nothing in an archive object can be refused for its content, so every failure is the
          // store's or the configuration's: the batch waits rather than going to the dead letters.
          throw sinkUnavailable(
            this.name,
            new Error(`PUT ${o.key}: ${f.name}: ${f.message}`, { cause: err }),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, objects.length) }, worker));
    return { failed: [] };
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    const client = this.client;
    this.client = undefined;
    client?.destroy();
  }
}
