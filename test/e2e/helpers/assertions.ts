/** Assertions the end-to-end suites share. */
import { expect } from "vitest";

/** An expected failure reaches the user as a code and a hint, never as a JavaScript stack trace. */
export function noStackTrace(text: string): void {
  expect(text).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
}
