import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
    // End-to-end tests run real bin/* processes and compile a C binary; give them room.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
