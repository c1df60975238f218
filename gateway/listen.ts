/** Parses "host:port" and "[v6]:port" endpoints from the configuration. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(endpoint);
  if (!m) throw new Error(`invalid endpoint "${endpoint}"`);
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? "0.0.0.0" : host, port: Number(m[3]) };
}
