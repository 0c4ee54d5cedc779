/** Builds what several test files share, once and before any of them runs in parallel. */
import { probeBinary } from "./helpers/probe.js";
import { nodeMirror } from "./e2e/helpers/node-mirror.js";

export default function setup(): void {
  probeBinary();
  nodeMirror();
}
