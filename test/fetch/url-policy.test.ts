import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { acceptHeader, assertTransportAllowed } from "../../src/fetch/url-policy.js";

const PIN = createHash("sha256").update("release archive bytes\n").digest("hex");

describe("assertTransportAllowed", () => {
  it.each([
    ["http://example.com/x", {}, false],
    ["http://127.example.com/x", {}, false],
    ["http://example.com/x", { sha256: PIN }, true],
    ["http://example.com/x", { allowInsecureHttp: true }, true],
    ["http://127.0.0.5/x", {}, true],
    ["http://[::1]:8080/x", {}, true],
    ["http://localhost/x", {}, true],
    ["https://example.com/x", {}, true],
  ])("%s with %o allowed: %s", (url, policy, allowed) => {
    const check = () => assertTransportAllowed(new URL(url), policy);
    if (allowed) expect(check).not.toThrow();
    else expect(check).toThrow(expect.objectContaining({ code: "download.insecure-url" }));
  });
});

describe("acceptHeader", () => {
  it.each([
    ["https://api.github.com/repos/o/r/releases/assets/123456", "application/octet-stream"],
    ["https://api.github.com/repos/o/r/releases/latest", "*/*"],
    ["https://github.com/o/r/releases/download/v1/app.zip", "*/*"],
    ["https://example.org/releases/assets/1", "*/*"],
  ])("asks %s for %s", (url, accept) => {
    expect(acceptHeader(new URL(url))).toBe(accept);
  });
});
