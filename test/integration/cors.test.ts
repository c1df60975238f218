/** CORS on the OTLP/HTTP receiver is off by default and follows allowed_origins when configured. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type TestGateway } from "../support/gateway.js";

const preflight = (url: string, origin: string) =>
  fetch(`${url}/v1/logs`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type,x-tenant",
    },
  });

describe("OTLP/HTTP CORS", () => {
  let open: TestGateway;
  let closed: TestGateway;

  beforeAll(async () => {
    open = await startGateway({
      receivers: {
        otlp: {
          protocols: {
            grpc: null,
            http: {
              endpoint: "127.0.0.1:0",
              cors: {
                allowed_origins: ["https://*.example.com"],
                allowed_headers: ["X-Tenant"],
                max_age: 600,
              },
            },
          },
        },
      },
    });
    closed = await startGateway({
      receivers: { otlp: { protocols: { grpc: null, http: { endpoint: "127.0.0.1:0" } } } },
    });
  });
  afterAll(async () => {
    await open?.stop();
    await closed?.stop();
  });

  it("answers a preflight from an allowed origin with the allowed headers and max age", async () => {
    const res = await preflight(open.http, "https://app.example.com");
    expect(res.status).toBeLessThan(300);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-tenant");
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });

  it("gives no CORS grant to other origins, nor when CORS is not configured", async () => {
    const other = await preflight(open.http, "https://evil.test");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const off = await preflight(closed.http, "https://app.example.com");
    expect(off.headers.get("access-control-allow-origin")).toBeNull();
  });
});
