#!/usr/bin/env bash
# Node.js for the bootstrapper. The stack images carry no Node.js, so whatever runs the bootstrapper at
# boot is copied into the slug: a Node.js already on PATH (heroku/nodejs ran first) when it can exec,
# else a pinned LTS build from the Node.js distribution site, verified against SHASUMS256.txt and cached.

# The pinned release. Bumping it is a one-line change; SHASUMS256.txt of that release is the trust anchor.
readonly NODEJS_VERSION="24.21.0"
readonly NODEJS_DEFAULT_MIRROR="https://nodejs.org/dist"

# Succeeds when the given node can run the bootstrapper: Node.js 22.19 or later (undici 8, the download
# client, needs it) with process.execve (22.15+) for the hand-off.
nodejs::is_capable() {
	local node="${1}"
	"${node}" -e 'const [major, minor] = process.versions.node.split(".").map(Number);
process.exit((major > 22 || (major === 22 && minor >= 19)) && typeof process.execve === "function" ? 0 : 1)' 2>/dev/null
}

# Prints the architecture name Node.js uses in its release file names.
nodejs::platform() {
	case "$(uname -m)" in
		x86_64 | amd64) echo "linux-x64" ;;
		aarch64 | arm64) echo "linux-arm64" ;;
		*)
			output::error "node.unsupported-architecture" "Node.js is not available for the architecture '$(uname -m)'" \
				"execpack supports x86_64 and arm64 dynos."
			return 1
			;;
	esac
}

# Installs Node.js into <target>/bin/node and sets the array NODEJS_NPM to a command that runs npm
# (npm is needed at build time only and does not go into the slug).
nodejs::provision() {
	local target="${1}"
	local cache_dir="${2}"
	local mirror="${3:-${NODEJS_DEFAULT_MIRROR}}"
	local found
	mkdir -p "${target}/bin"
	if found="$(command -v node)" && nodejs::is_capable "${found}"; then
		found="$(readlink -f "${found}")"
		output::indent "Using Node.js $("${found}" --version) found on PATH"
		cp "${found}" "${target}/bin/node"
		# shellcheck disable=SC2034 # read by bootstrapper::install_dependencies (lib/bootstrapper.sh)
		NODEJS_NPM=("$(command -v npm || echo npm)")
		return 0
	fi
	nodejs::download "${target}" "${cache_dir}" "${mirror%/}"
}

# Downloads (or reuses from the cache) the pinned release and verifies it before unpacking anything.
nodejs::download() {
	local target="${1}"
	local cache_dir="${2}"
	local mirror="${3}"
	local platform
	platform="$(nodejs::platform)"
	local name="node-v${NODEJS_VERSION}-${platform}"
	local tarball="${cache_dir}/${name}.tar.gz"
	local base_url="${mirror}/v${NODEJS_VERSION}"
	local sums expected actual

	mkdir -p "${cache_dir}"
	if ! sums="$(nodejs::fetch_text "${base_url}/SHASUMS256.txt")"; then
		output::error "node.download-failed" "Could not download SHASUMS256.txt for Node.js v${NODEJS_VERSION}" \
			"Tried: $(nodejs::display_url "${base_url}")/SHASUMS256.txt
Check the network, or set the config var NODEJS_ORG_MIRROR to a mirror of the Node.js distribution site."
		return 1
	fi
	expected="$(awk -v file="${name}.tar.gz" '$2 == file { print $1 }' <<<"${sums}")"
	if [[ -z "${expected}" ]]; then
		output::error "node.download-failed" "SHASUMS256.txt of Node.js v${NODEJS_VERSION} does not list ${name}.tar.gz" \
			"The mirror at $(nodejs::display_url "${mirror}") may be incomplete."
		return 1
	fi

	if [[ -f "${tarball}" ]] && [[ "$(nodejs::sha256 "${tarball}")" == "${expected}" ]]; then
		output::indent "Using cached Node.js v${NODEJS_VERSION} (${platform})"
	else
		output::indent "Downloading Node.js v${NODEJS_VERSION} (${platform})"
		rm -f "${tarball}"
		if ! curl --fail --silent --show-error --location --retry 3 --connect-timeout 10 \
			--output "${tarball}.partial" "${base_url}/${name}.tar.gz"; then
			rm -f "${tarball}.partial"
			output::error "node.download-failed" "Could not download Node.js v${NODEJS_VERSION}" \
				"Tried: $(nodejs::display_url "${base_url}")/${name}.tar.gz"
			return 1
		fi
		actual="$(nodejs::sha256 "${tarball}.partial")"
		if [[ "${actual}" != "${expected}" ]]; then
			rm -f "${tarball}.partial"
			output::error "node.checksum-mismatch" "Node.js v${NODEJS_VERSION} does not match its SHASUMS256.txt" \
				"Expected ${expected}, got ${actual}. Nothing was installed; retry the build."
			return 1
		fi
		mv "${tarball}.partial" "${tarball}"
	fi

	local unpacked="${cache_dir}/${name}"
	rm -rf "${unpacked}"
	tar -xzf "${tarball}" -C "${cache_dir}"
	cp "${unpacked}/bin/node" "${target}/bin/node"
	# shellcheck disable=SC2034 # read by bootstrapper::install_dependencies (lib/bootstrapper.sh)
	NODEJS_NPM=("${unpacked}/bin/node" "${unpacked}/lib/node_modules/npm/bin/npm-cli.js")
}

# Prints a URL with its user info masked: NODEJS_ORG_MIRROR may carry credentials for a private mirror.
nodejs::display_url() {
	local url="${1}"
	sed -E 's#(://)([^/]*)@#\1*****@#' <<<"${url}"
}

nodejs::fetch_text() {
	local url="${1}"
	curl --fail --silent --show-error --location --retry 3 --connect-timeout 10 "${url}"
}

nodejs::sha256() {
	local file="${1}"
	sha256sum "${file}" | cut -d ' ' -f 1
}

# Tidies the Node.js cache once the build no longer needs npm: the unpacked release goes (the verified tarball
# stays and is unpacked again by the next build that downloads rather than finds Node.js), and so do the
# tarballs of versions no longer pinned.
nodejs::tidy_cache() {
	local cache_dir="${1}"
	local entry
	rm -rf "${cache_dir}"/node-v*-linux-*/
	for entry in "${cache_dir}"/node-v*.tar.gz; do
		if [[ -f "${entry}" && "${entry##*/}" != "node-v${NODEJS_VERSION}-"* ]]; then
			rm -f "${entry}"
		fi
	done
}
