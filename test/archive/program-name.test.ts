import { describe, expect, it } from "vitest";
import { programName } from "../../src/archive/program-name.js";

describe("programName", () => {
  it.each([
    // Bare and compressed single-file assets
    ["caddy_linux_amd64", "caddy"],
    ["app-v1.2-linux-x86_64.gz", "app"],
    ["yq_linux_arm64", "yq"],
    ["jq-linux64", "jq"],
    ["gotify-linux-amd64", "gotify"],
    ["docker-compose-linux-x86_64", "docker-compose"],
    ["hello", "hello"],
    ["server.xz", "server"],
    ["app.bin", "app"],
    ["k3s-arm64", "k3s"],
    ["app-linux-armv7l.gz", "app"],
    ["app_2023.10.01_linux", "app"],
    ["app-nightly-linux-amd64", "app"],
    ["app-64bit", "app"],
    // Archives
    ["prometheus-2.42.0.linux-amd64.tar.gz", "prometheus"],
    ["etcd-v3.4.23-linux-amd64.zip", "etcd"],
    ["caddy_2.7.6_linux_amd64.tar.gz", "caddy"],
    ["traefik_v2.10.4_linux_amd64.tar.gz", "traefik"],
    ["node-v22.15.0-linux-x64.tar.xz", "node"],
    ["ripgrep-14.1.0-x86_64-unknown-linux-musl.tar.gz", "ripgrep"],
    ["deno-x86_64-unknown-linux-gnu.zip", "deno"],
    ["static-web-server-v2.24.2-x86_64-unknown-linux-gnu.tar.gz", "static-web-server"],
    ["pocketbase_0.20.0_linux_amd64.zip", "pocketbase"],
    ["app.tgz", "app"],
    ["app.tar.bz2", "app"],
    ["probe_1.4.0_linux_amd64/probe", "probe"],
    ["releases/download/v1/app_linux_amd64.zip", "app"],
    // Separators left over at the cut, and case
    ["app--linux", "app"],
    ["App_Linux_AMD64", "App"],
  ])("%s is %s", (fileName, expected) => {
    expect(programName(fileName)).toBe(expected);
  });

  it.each([
    ["nothing but release tokens", "linux-amd64.tar.gz"],
    ["only a version", "v1.2.zip"],
    ["latest", "latest.zip"],
    ["empty", ""],
    ["only an extension", ".tar.gz"],
    ["hidden", ".app_linux"],
    ["taken for an option", "-app-linux"],
    ["a directory", "release/"],
  ])("has none in a name that is %s (%j)", (_what, fileName) => {
    expect(programName(fileName)).toBeUndefined();
  });
});
