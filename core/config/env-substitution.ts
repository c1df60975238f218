/**
 * ${env:VAR} and ${env:VAR:-default} in string values, as the OpenTelemetry
 * Collector resolves them. Substitution happens after YAML parsing, on
 * values only, so an environment value can never inject YAML structure.
 * "$${" escapes a literal "${".
 */
import { ErrorCode, SluiceError } from "../errors.js";

const PATTERN = /\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, path = ""): unknown {
  if (typeof value === "string") return substituteString(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, `${path}[${i}]`));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

function substituteString(text: string, env: NodeJS.ProcessEnv, path: string): unknown {
  // A value that is exactly one reference takes the variable's YAML type
  // ("${env:PORT}" → 4318 as a number), as the Collector does.
  const whole = /^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}$/.exec(text);
  if (whole) return typed(lookup(whole[1] as string, whole[2], env, path));
  return text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) =>
    match === "$${" ? "${" : lookup(name as string, fallback, env, path),
  );
}

function lookup(name: string, fallback: string | undefined, env: NodeJS.ProcessEnv, path: string): string {
  const v = env[name];
  if (v !== undefined) return v;
  if (fallback !== undefined) return fallback;
  throw new SluiceError(
    ErrorCode.INVALID_CONFIG,
    `${path || "(root)"}: environment variable ${name} is not set and has no default (write \${env:${name}:-default})`,
  );
}

function typed(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === "true") return true;
  if (v === "false") return false;
  return v;
}
