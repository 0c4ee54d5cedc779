#!/usr/bin/env bash
# The bootstrapper in the slug: the TypeScript of src/ with its types stripped, its runtime dependencies
# (no dev dependencies), and the launchers that `.profile.d/execpack.sh` puts on PATH.

# Builds the bootstrapper into <target> with <node>, reusing runtime dependencies cached under <cache-dir>.
bootstrapper::install() {
	local buildpack_dir="${1}"
	local target="${2}"
	local node="${3}"
	local cache_dir="${4}"
	local count
	count="$("${node}" --disable-warning=ExperimentalWarning "${buildpack_dir}/lib/build-bootstrapper.mjs" "${buildpack_dir}" "${target}")"
	output::indent "Built ${count} modules with Node.js $("${node}" --version)"
	bootstrapper::install_dependencies "${target}" "${node}" "${cache_dir}"
}

# npm ci --omit=dev, keyed on the lockfile and the Node.js version so a rebuild reuses the last install.
bootstrapper::install_dependencies() {
	local target="${1}"
	local node="${2}"
	local cache_dir="${3}"
	local key
	key="$(cat "${target}/package-lock.json" <("${node}" --version) | sha256sum | cut -c 1-16)"
	local cached="${cache_dir}/node_modules-${key}"
	if [[ -d "${cached}" ]]; then
		output::indent "Using cached runtime dependencies"
		cp -a "${cached}" "${target}/node_modules"
	else
		output::indent "Installing runtime dependencies"
		if ! (cd "${target}" && PATH="$(dirname "${node}"):${PATH}" "${NODEJS_NPM[@]}" ci --omit=dev --ignore-scripts \
			--no-audit --no-fund --loglevel=error >/dev/null); then
			output::error "bootstrapper.dependencies-failed" "npm could not install the bootstrapper's runtime dependencies" \
				"The npm output above says why. Retry the build; if it persists, report it."
			return 1
		fi
		rm -rf "${cache_dir}"/node_modules-*
		mkdir -p "${cache_dir}"
		cp -a "${target}/node_modules" "${cached}"
	fi
	rm -f "${target}/package-lock.json"
}

# Copies the launchers into <slug-dir>/bin.
bootstrapper::install_launchers() {
	local buildpack_dir="${1}"
	local slug_dir="${2}"
	mkdir -p "${slug_dir}/bin"
	cp "${buildpack_dir}/launchers/execpack" "${buildpack_dir}/launchers/execpackctl" "${slug_dir}/bin/"
	chmod 0755 "${slug_dir}/bin/execpack" "${slug_dir}/bin/execpackctl"
}
