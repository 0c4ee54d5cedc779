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
	nodejs::split_mirror "${mirror}" || return 1
	local base_url="${NODEJS_MIRROR_BARE}/v${NODEJS_VERSION}"
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
		if ! nodejs::curl --output "${tarball}.partial" "${base_url}/${name}.tar.gz"; then
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

# NODEJS_ORG_MIRROR may carry credentials for a private mirror. They never go on curl's command line (every
# process of the build could read them in `ps`): split_mirror sets NODEJS_MIRROR_BARE to the URL without
# them and NODEJS_MIRROR_CONFIG to a curl config holding them, which nodejs::curl feeds curl on its stdin.
# A mirror whose "@" comes after a "/", "?" or "#" is refused: that is a password with an unencoded "/",
# and its first part would be looked up as the host name.
nodejs::split_mirror() {
	local mirror="${1}"
	local scheme="${mirror%%://*}"
	local rest="${mirror#*://}"
	local authority="${rest%%[/?#\\]*}"
	local tail="${rest:${#authority}}"
	local before_at="${tail%@*}"
	NODEJS_MIRROR_BARE="${mirror}"
	NODEJS_MIRROR_CONFIG=""
	NODEJS_MIRROR_HAS_CREDENTIALS=""
	if [[ "${mirror}" != *://* ]]; then
		return 0
	fi
	if [[ "${tail}" == *@* && "${before_at: -1}" != "/" && "${before_at}" != *[=\&]* ]]; then
		output::error "node.mirror-ambiguous-credentials" "NODEJS_ORG_MIRROR has an \"@\" after its host part: it reads as credentials holding an unencoded \"/\", \"?\" or \"#\"" \
			"Seen: $(sed -E 's#(://).*@#\1*****@#' <<<"${mirror}")
Percent-encode the user and password (\"/\" as %2F, \"?\" as %3F, \"#\" as %23, \"@\" as %40). Nothing was looked up or sent."
		return 1
	fi
	if [[ "${authority}" == *@* ]]; then
		local userinfo="${authority%@*}"
		local decoded
		# Percent-escapes decoded as curl would decode them in a URL; a backslash stays a backslash.
		printf -v decoded '%b' "$(sed -E 's/%([0-9A-Fa-f]{2})/\\x\1/g' <<<"${userinfo//\\/\\\\}")"
		# Quoted for curl's config syntax: a line break in a password must not start a new option.
		decoded="${decoded//\\/\\\\}"
		decoded="${decoded//\"/\\\"}"
		decoded="${decoded//$'\n'/\\n}"
		decoded="${decoded//$'\r'/\\r}"
		NODEJS_MIRROR_CONFIG="user = \"${decoded}\""
		NODEJS_MIRROR_HAS_CREDENTIALS="yes"
		NODEJS_MIRROR_BARE="${scheme}://${authority##*@}${tail}"
	fi
}

# Prints a URL of the mirror (one under NODEJS_MIRROR_BARE) as it may be shown: "*****@" where its
# credentials were.
nodejs::display_url() {
	local url="${1}"
	if [[ -n "${NODEJS_MIRROR_HAS_CREDENTIALS:-}" ]]; then
		sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://)#\1*****@#' <<<"${url}"
	else
		echo "${url}"
	fi
}

# curl with the build's settings and the mirror's credentials, if any, from a config on its stdin.
nodejs::curl() {
	curl --config - --fail --silent --show-error --location --retry 3 --connect-timeout 10 "$@" <<<"${NODEJS_MIRROR_CONFIG:-}"
}

nodejs::fetch_text() {
	local url="${1}"
	nodejs::curl "${url}"
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
