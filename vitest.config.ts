import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: [
            "{core,gateway,log,consumer,processors,exporters,conformance,service,cli,scripts}/**/*.test.ts",
          ],
          exclude: ["**/node_modules/**", "dist/**", "scripts/services/**"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts", "scripts/services/**/*.test.ts"],
          globalSetup: ["test/setup/kafka-global-setup.ts"],
          // The files share one broker and bind ports; one file at a time keeps
          // the 2-core machine from starving brokers and gateways of CPU.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
