#!/usr/bin/env bash
# The bootstrapper in the slug: src/ bundled by esbuild into one CommonJS file per command (execpack,
# execpackctl, compile, build, and boot-fetch: the boot-time fetch's own process), committed under dist/ by
# `npm run build:dist`, and the launchers that `.profile.d/execpack.sh` puts on PATH. A build copies the
# bundles: it needs no npm, no esbuild and no package registry, and the slug gets no node_modules.

# Copies the bootstrapper's bundles into <target>. <node> and <cache-dir> are unused (kept for bin/build's call).
bootstrapper::install() {
	local buildpack_dir="${1}"
	local target="${2}"
	local bundles=("${buildpack_dir}"/dist/*.cjs)
	if [[ ! -f "${bundles[0]}" ]]; then
		output::error "bootstrapper.missing" "The buildpack has no bundles in dist/" \
			"This checkout of the buildpack is incomplete: run \`npm run build:dist\` in it, or use a released version."
		return 1
	fi
	mkdir -p "${target}"
	cp "${bundles[@]}" "${target}/"
	output::indent "Installed ${#bundles[@]} bundles from the buildpack's dist/"
}

# The Node.js flags of the install step (bin/compile, bin/build), and of the boot-time fetch and bench/fetch.ts,
# whose processes src/install/node-flags.ts starts with the same list (a test holds the two equal). All run under
# MALLOC_ARENA_MAX=2 besides: two malloc arenas instead of one per thread, a few MB. Measured with
# bench/compile-memory.ts (peak RSS for a 500 MB archive) and bench/fetch.ts (time):
#   --max-semi-space-size=1  a 1 MB young generation returns spent stream buffers early: 167 -> 120 MB, faster.
#   --expose-gc              lets the extraction collect every few MiB it writes (src/archive/byte-stream.ts).
#   --liftoff-only           undici's WebAssembly HTTP parser is never recompiled by V8's optimizing compiler,
#                            whose working memory was some 9 MB of the peak (the parser is a sliver of the time).
#   --max-opt=2              Maglev, V8's mid-tier compiler, at most, never TurboFan: TurboFan's own code pages
#                            (file-backed, counted in RSS) and working memory were some 4 MB of the peak, and the
#                            hot loops here are zlib's, OpenSSL's and the kernel's: no slower (bench/fetch.ts).
readonly BOOTSTRAPPER_INSTALL_NODE_FLAGS=(--max-semi-space-size=1 --expose-gc --liftoff-only --max-opt=2)

# Runs a bootstrapper command (<node> <bundle> ARGS...). Its own failures are explained by the bootstrapper
# (status 1: an error with a code; 70: an internal error); a Node.js killed by a signal (an abort inside a
# dependency, a segfault, the kernel's OOM killer) printed nothing of ours, so that is said here.
bootstrapper::run() {
	local status=0
	"$@" || status="$?"
	if ((status > 128)); then
		output::error "internal.crashed" "execpack: internal error: the install step died with signal $(kill -l "${status}" 2>/dev/null || echo "$((status - 128))") (status ${status})" \
			"Nothing was installed. If the build ran out of memory, retry it; otherwise this is a bug in execpack. Please report it with the lines above: https://github.com/execpack/execpack/issues"
	elif ((status != 0 && status != 1 && status != 70)); then
		# Not a status of execpack's (1: an error it explained; 70: a bug it reported): Node.js itself did not
		# start the step, as a Node.js found on PATH that answers --version but cannot run JavaScript would.
		output::error "internal.crashed" "execpack: internal error: the install step's Node.js exited with status ${status} before execpack ran" \
			"Nothing was installed. The Node.js is ${1}: if the build said it uses a Node.js found on PATH, that one may not run here (remove it from PATH, and the build installs the pinned one); otherwise please report it with the lines above: https://github.com/execpack/execpack/issues"
	fi
	return "${status}"
}

# With BINARY_FETCH=boot, every dyno start runs boot-fetch.cjs in a Node.js of its own, which compiles the
# 0.8 MB bundle before it fetches a byte. Loading it once here, with Node.js's compile cache pointed at
# <slug-dir>/compile-cache, leaves V8's code for it in the slug (portable: the cache names the bundle relative to
# itself, so it holds when the slug moves from /tmp/build_<id> to /app), and src/boot/boot-fetch.ts points the
# boot's fetch at it: some 20 ms less at every start (bench/boot-fetch.ts). Node.js checks each entry against
# the bundle's content and its own version and flags, and compiles afresh when one does not match: so this runs
# with the flags the boot starts the fetch with (the install step's, src/install/node-flags.ts). A Node.js
# before 24.12 (one found on PATH) keys its cache by the bundle's absolute path instead: it would find nothing
# once the slug moved to /app and write entries of its own into the slug at every boot, so it gets no cache.
# A failure costs only that speed, so it is not the build's.
bootstrapper::warm_boot_fetch() {
	local node="${1}"
	local slug_dir="${2}"
	nodejs::version_at_least "$("${node}" --version 2>/dev/null)" 24 12 || return 0
	NODE_COMPILE_CACHE="${slug_dir}/compile-cache" NODE_COMPILE_CACHE_PORTABLE=1 \
		"${node}" "${BOOTSTRAPPER_INSTALL_NODE_FLAGS[@]}" "${slug_dir}/bootstrapper/boot-fetch.cjs" --compile-cache-only >/dev/null 2>&1 || rm -rf "${slug_dir}/compile-cache"
}

# Copies the launchers into <slug-dir>/bin.
bootstrapper::install_launchers() {
	local buildpack_dir="${1}"
	local slug_dir="${2}"
	mkdir -p "${slug_dir}/bin"
	cp "${buildpack_dir}/launchers/execpack" "${buildpack_dir}/launchers/execpackctl" "${slug_dir}/bin/"
	chmod 0755 "${slug_dir}/bin/execpack" "${slug_dir}/bin/execpackctl"
	mkdir -p "${slug_dir}/libexec"
	cp "${buildpack_dir}/launchers/execpack-shell" "${buildpack_dir}/launchers/execpack-profile" \
		"${buildpack_dir}/launchers/execpack-profile-step" "${buildpack_dir}/launchers/execpack-derive.awk" "${slug_dir}/libexec/"
	# A Node.js without process.execve would hand the final exec to bash (the shell-handoff marker, see
	# launchers/execpack-shell). nodejs::provision installs only a Node.js that nodejs::is_capable accepted or
	# the pinned release, both with process.execve, so no marker is written, and no Node.js is started to ask.
}

# Runs the profile step once at build time (src/cli/profile-loader.ts, src/cli/profile.ts) from the install at
# <root> (a slug's .execpack, Fir's execpack layer) with <flags> (--write-code-cache, --write-plan), and prints
# what it prints on stdout: binary.env's syntax errors, which --write-plan finds. The environment is clean but
# for a URL of every scheme, a malformed and a placeholder one, so the code a dyno start runs is the code that
# runs (and, with --write-code-cache, gets compiled). A failure only costs what the flags would have written.
bootstrapper::run_profile_step() {
	local node="${1}"
	local root="${2}"
	shift 2
	local scratch
	scratch="$(mktemp -d)"
	env -i PATH="/usr/bin:/bin" PORT=5000 \
		DATABASE_URL="postgres://u:p%40ss@db.internal:5432/db?sslmode=require" JAWSDB_URL="mysql://u:p@mysql.internal:3306/db" \
		CLEARDB_DATABASE_URL="mysql://u:p@cleardb.internal/heroku_db?reconnect=true" REDIS_URL="redis://h:p@cache.internal:6379" \
		REDIS_TLS_URL="rediss://:p@cache.internal:6380" CLOUDAMQP_URL="amqp://u:p@mq.internal/vhost" \
		MONGODB_URI="mongodb://u:p@m1.internal,m2.internal:27018/db" MONGO_SRV_URL="mongodb+srv://u:p@cluster.internal/db" \
		IPV6_DATABASE_URL="postgresql://u:p@[::1]:5432/db" BROKEN_URL="postgres://u:p@db.internal:port/db" \
		PENDING_URL="mysql://u:p@changeme:3306/db" \
		"${node}" "${root}/bootstrapper/profile-loader.cjs" "${scratch}/record" "$@" 2>/dev/null || true
	rm -rf "${scratch}"
}

# Prints binary.env's syntax errors, one per line with its code as the profile step found them at build time
# (src/cli/profile.ts, --write-plan), as build warnings, if there are any.
bootstrapper::binary_env_problems() {
	local problems="${1}"
	[[ -n "${problems}" ]] || return 0
	output::warning "${problems}"
	output::warning "The build goes on, but execpack stops with this error at every boot until binary.env is fixed: \`heroku run execpackctl check\` lists every problem."
}
