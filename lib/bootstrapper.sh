#!/usr/bin/env bash
# The bootstrapper in the slug: src/ bundled by esbuild into one CommonJS file per command (execpack,
# execpackctl, compile, build, and boot-fetch: the boot-time fetch's own process), and the launchers that `.profile.d/execpack.sh`
# puts on PATH. The npm dependencies it is built from stay in the build cache: the slug gets no node_modules.

# Builds the bootstrapper into <target> with <node>, reusing the dependencies cached under <cache-dir>.
bootstrapper::install() {
	local buildpack_dir="${1}"
	local target="${2}"
	local node="${3}"
	local cache_dir="${4}"
	local count
	bootstrapper::install_dependencies "${buildpack_dir}" "${node}" "${cache_dir}"
	mkdir -p "${target}"
	count="$("${node}" "${buildpack_dir}/lib/build-bootstrapper.mjs" "${buildpack_dir}" "${target}" "${BOOTSTRAPPER_NODE_MODULES}")"
	output::indent "Bundled ${count} modules for Node.js $("${node}" --version)"
}

# npm ci --omit=dev of the buildpack's own dependencies (the bundler and what the bootstrapper bundles),
# keyed on the lockfile and the Node.js version so a rebuild reuses them. Sets BOOTSTRAPPER_NODE_MODULES.
bootstrapper::install_dependencies() {
	local buildpack_dir="${1}"
	local node="${2}"
	local cache_dir="${3}"
	local key
	key="$(cat "${buildpack_dir}/package-lock.json" <("${node}" --version) | sha256sum | cut -c 1-16)"
	local installed="${cache_dir}/dependencies-${key}"
	BOOTSTRAPPER_NODE_MODULES="${installed}/node_modules"
	if [[ -d "${BOOTSTRAPPER_NODE_MODULES}" ]]; then
		output::indent "Using cached build dependencies"
		return 0
	fi
	output::indent "Installing build dependencies"
	local staging="${installed}.partial"
	rm -rf "${cache_dir}"/dependencies-* && mkdir -p "${staging}"
	cp "${buildpack_dir}/package.json" "${buildpack_dir}/package-lock.json" "${staging}/"
	if ! (cd "${staging}" && PATH="$(dirname "${node}"):${PATH}" "${NODEJS_NPM[@]}" ci --omit=dev --ignore-scripts \
		--no-audit --no-fund --loglevel=error >/dev/null); then
		rm -rf "${staging}"
		output::error "bootstrapper.dependencies-failed" "npm could not install the buildpack's dependencies" \
			"The npm output above says why. Retry the build; if it persists, report it."
		return 1
	fi
	mv "${staging}" "${installed}"
}

# Runs a bootstrapper command (<node> <bundle> ARGS...). Its own failures are explained by the bootstrapper
# (status 1: an error with a code; 70: an internal error); a Node.js killed by a signal (an abort inside a
# dependency, a segfault, the kernel's OOM killer) printed nothing of ours, so that is said here.
bootstrapper::run() {
	local status=0
	"$@" || status="$?"
	if ((status > 128)); then
		output::error "internal.crashed" "execpack: internal error: the install step died with signal $(kill -l "${status}" 2>/dev/null || echo "$((status - 128))") (status ${status})" \
			"Nothing was installed. If the build ran out of memory, retry it; otherwise this is a bug in execpack. Please report it with the lines above: https://github.com/execpack/execpack/issues"
	fi
	return "${status}"
}

# Copies the launchers into <slug-dir>/bin.
bootstrapper::install_launchers() {
	local buildpack_dir="${1}"
	local slug_dir="${2}"
	mkdir -p "${slug_dir}/bin"
	cp "${buildpack_dir}/launchers/execpack" "${buildpack_dir}/launchers/execpackctl" "${slug_dir}/bin/"
	chmod 0755 "${slug_dir}/bin/execpack" "${slug_dir}/bin/execpackctl"
	mkdir -p "${slug_dir}/libexec"
	cp "${buildpack_dir}/launchers/execpack-shell" "${slug_dir}/libexec/"
	# A Node.js without process.execve hands the final exec to bash. bin/compile installs one that can
	# exec, so this marker is written only if that ever stops being true.
	if [[ -x "${slug_dir}/node/bin/node" ]] && ! "${slug_dir}/node/bin/node" -e 'process.exit(typeof process.execve === "function" ? 0 : 1)'; then
		touch "${slug_dir}/shell-handoff"
	fi
}
