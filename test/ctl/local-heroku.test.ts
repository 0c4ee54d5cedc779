import { describe, expect, it } from "vitest";
import { processTypes } from "../../src/ctl/local-heroku.js";

describe("processTypes", () => {
  it.each([
    ["a Procfile", "web: execpack serve\nrelease: execpack migrate\n", ["web", "release"]],
    ["bin/release's YAML, whose key line holds no command", "---\ndefault_process_types:\n  web: execpack\n", ["web"]],
    ["a type with an empty command", "web:\nworker: execpack work\n", ["worker"]],
  ])("lists the types of %s", (_name, source, types) => {
    expect(processTypes(source)).toEqual(types);
  });
});
