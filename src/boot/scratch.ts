/**
 * Where a dyno's start may write: a directory of this user's under $TMPDIR (else /tmp), never the install root.
 * On Heroku's Fir generation the install root is a launch layer, which the run image's user may not be able
 * to write (layers belong to the build's user and may be mounted read-only); /tmp is writable on every dyno,
 * Cedar and Fir alike, and as ephemeral as the dyno itself. The user id in the name keeps two users apart.
 * The boot-time fetch (boot-fetch.ts) and the profile step's record (profile-record.ts) live there.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";

export function bootScratchRoot(): string {
  return join(tmpdir(), `execpack-${process.getuid?.() ?? "user"}`);
}
