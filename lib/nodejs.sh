#!/usr/bin/env bash
# Node.js for the bootstrapper. The stack images carry no Node.js, so whatever runs the bootstrapper at
# boot is copied into the slug: a Node.js already on PATH (heroku/nodejs ran first) when it can exec,
# else a pinned LTS build from the Node.js distribution site, verified against SHASUMS256.txt and cached.

# The pinned release. Bumping it is a one-line change; SHASUMS256.txt of that release is the trust anchor.
readonly NODEJS_VERSION="24.21.0"
readonly NODEJS_DEFAULT_MIRROR="https://nodejs.org/dist"

# Succeeds when the given node can run the bootstrapper: Node.js 22.19 or later (undici 8, the download client,
# needs it) with process.execve (22.15 on the 22 line, 23.11 on the next) for the hand-off.
nodejs::is_capable() {
	local node="${1}"
	nodejs::probe "${node}" >/dev/null
}

# Executables smaller than this are not Node.js itself (every release's `node` is some 100 MB): a version
# manager's launcher, or a `node` linked to a shared libnode.
readonly NODEJS_MIN_EXECUTABLE_BYTES=$((20 * 1024 * 1024))

# Prints "<arch> <version> <executable>" of the given node (`x64 v24.21.0 /app/.heroku/node/bin/node`) when it
# can run the bootstrapper, <executable> being the file that is Node.js (what goes into the slug); fails
# otherwise. A node that is a Node.js executable (an ELF of Node.js's size, links followed) is asked only
# `--version`, which answers before V8 starts (some 5 ms instead of 40 on a build machine), and its architecture
# is read from its ELF header: the version says whether it has process.execve. Anything else (a version
# manager's shim, script or small launcher; a `node` linked to a shared libnode) is started once and asked
# directly, and says where it really is, which must be a Node.js executable.
nodejs::probe() {
	local node="${1}"
	local executable arch version
	executable="$(readlink -f -- "${node}")" || return 1
	if arch="$(nodejs::elf_arch "${executable}")" && (($(stat --format %s -- "${executable}") > NODEJS_MIN_EXECUTABLE_BYTES)) &&
		version="$("${executable}" --version 2>/dev/null)" && [[ "${version}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		nodejs::version_is_capable "${version}" || return 1
		echo "${arch} ${version} ${executable}"
		return 0
	fi
	local answer
	answer="$("${node}" -e 'const [major, minor] = process.versions.node.split(".").map(Number);
if (!((major > 22 || (major === 22 && minor >= 19)) && typeof process.execve === "function")) process.exit(1);
console.log(process.arch, process.version, process.execPath)' 2>/dev/null)" || return 1
	read -r arch version executable <<<"${answer}"
	# For an architecture a dyno has (a 32-bit node may run on a 64-bit build machine).
	[[ "${arch}" == x64 || "${arch}" == arm64 ]] || return 1
	# Where it really is must be Node.js itself: a `node` linked to a shared libnode (a distribution's package)
	# would not start from the slug, which holds the executable alone.
	(($(stat --format %s -- "${executable}" 2>/dev/null || echo 0) > NODEJS_MIN_EXECUTABLE_BYTES)) || return 1
	echo "${answer}"
}

# Succeeds for a Node.js version (v24.21.0) that has undici 8's floor (22.19) and process.execve (22.15 on the
# 22 line; 23.11 on the next, which 23.0-23.10 lack).
nodejs::version_is_capable() {
	local version="${1}"
	nodejs::version_at_least "${version}" 23 11 ||
		{ nodejs::version_at_least "${version}" 22 19 && ! nodejs::version_at_least "${version}" 23 0; }
}

# Succeeds when a version as `node --version` prints it (v24.21.0) is <major>.<minor> or later.
nodejs::version_at_least() {
	local version="${1}"
	local major="${2}"
	local minor="${3}"
	[[ "${version}" =~ ^v([0-9]+)\.([0-9]+)\.[0-9]+$ ]] || return 1
	((BASH_REMATCH[1] > major || (BASH_REMATCH[1] == major && BASH_REMATCH[2] >= minor)))
}

# Prints the architecture, as Node.js names it (x64, arm64), of a 64-bit little-endian ELF executable (od
# follows links); fails for any other file. Bytes 0-5 of the header: the magic, the class (2: 64-bit), the byte
# order (1: little-endian); bytes 18-19: e_machine (62: x86-64, 183: AArch64).
nodejs::elf_arch() {
	local header
	header="$(od -An -tx1 -N20 -- "${1}" 2>/dev/null | tr -d ' \n')" || return 1
	case "${header}" in
		7f454c460201????????????????????????3e00) echo x64 ;;
		7f454c460201????????????????????????b700) echo arm64 ;;
		*) return 1 ;;
	esac
}

# Prints the architecture name Node.js uses in its release file names, for an architecture as `uname -m`
# or CNB_TARGET_ARCH names it (default: this machine's).
nodejs::platform() {
	local arch="${1:-$(uname -m)}"
	case "${arch}" in
		x86_64 | amd64 | x64) echo "linux-x64" ;;
		aarch64 | arm64) echo "linux-arm64" ;;
		*)
			output::error "node.unsupported-architecture" "Node.js is not available for the architecture '${arch}'" \
				"execpack supports x86_64 and arm64 dynos."
			return 1
			;;
	esac
}

# Prints the platform the slug or image is for: a Cloud Native Buildpack build is told its image's
# architecture (CNB_TARGET_ARCH); a classic build runs on the kind of machine its dynos are.
nodejs::target_platform() {
	nodejs::platform "${CNB_TARGET_ARCH:-$(uname -m)}"
}

# Installs the target's Node.js into <target>/bin/node: the one on PATH when it can run the bootstrapper and
# is for the target's architecture, else the pinned release from <cache-dir> or the distribution site. Sets
# NODEJS_BUILD_NODE to a node that runs here, for the build's own install step: the same one, unless the
# target is another architecture (a CNB build for an arm64 image on an amd64 machine); then a capable
# Node.js found on PATH, or the pinned release for this machine, verified and cached like the target's.
# shellcheck disable=SC2034 # NODEJS_BUILD_NODE is read by bin/build
nodejs::provision() {
	local target="${1}"
	local cache_dir="${2}"
	local mirror="${3:-${NODEJS_DEFAULT_MIRROR}}"
	local platform here found="" probe="" probed_arch="" probed_version=""
	platform="$(nodejs::target_platform)"
	here="$(nodejs::platform)"
	mkdir -p "${target}/bin"
	if found="$(command -v node)" && probe="$(nodejs::probe "${found}")"; then
		read -r probed_arch probed_version found <<<"${probe}"
	else
		# Say why one on PATH is passed over: a pinned download the user did not expect otherwise looks like a bug.
		[[ -z "${found}" ]] || output::indent "Node.js $("${found}" --version 2>/dev/null || echo "at ${found}") on PATH is older than 22.19, lacks process.execve, or is not a standalone x64 or arm64 executable: using the pinned v${NODEJS_VERSION}"
		found=""
	fi
	NODEJS_BUILD_NODE="${target}/bin/node"
	if [[ -n "${found}" && "$(nodejs::platform "${probed_arch}")" == "${platform}" ]]; then
		output::indent "Using Node.js ${probed_version} found on PATH"
		nodejs::place "${found}" "${target}/bin/node"
		return 0
	fi
	nodejs::install_pinned "${target}" "${cache_dir}" "${mirror%/}" "${platform}"
	if [[ "${platform}" != "${here}" ]]; then
		output::indent "The image is ${platform}; the build's own steps run on this ${here} machine's Node.js"
		if [[ -n "${found}" ]]; then
			NODEJS_BUILD_NODE="${found}"
		else
			nodejs::install_pinned "${cache_dir}/build-node" "${cache_dir}" "${mirror%/}" "${here}"
			NODEJS_BUILD_NODE="${cache_dir}/build-node/bin/node"
		fi
	fi
}

# The build cache keeps the pinned release's `node` executable, extracted from a tarball that matched its
# SHASUMS256.txt, beside a record of the executable's own SHA-256. A rebuild checks the executable against
# that record on this machine and copies it: no SHASUMS256.txt, no tarball, no unpacking, no network. An
# entry that fails the check is dropped and the release is fetched again.
nodejs::install_pinned() {
	local target="${1}"
	local cache_dir="${2}"
	local mirror="${3}"
	local platform="${4:-}"
	[[ -n "${platform}" ]] || platform="$(nodejs::platform)"
	local kept="${cache_dir}/node-v${NODEJS_VERSION}-${platform}"
	mkdir -p "${cache_dir}" "${target}/bin"
	if [[ -f "${kept}/bin/node" && -f "${kept}.sha256" ]]; then
		if [[ -f "${kept}.stamp" && "$(nodejs::stamp "${kept}/bin/node")" == "$(<"${kept}.stamp")" ]]; then
			output::indent "Using cached Node.js v${NODEJS_VERSION} (${platform}), unchanged since its SHA-256 was checked"
			nodejs::place "${kept}/bin/node" "${target}/bin/node"
			return 0
		fi
		if [[ "$(nodejs::sha256 "${kept}/bin/node")" == "$(<"${kept}.sha256")" ]]; then
			output::indent "Using cached Node.js v${NODEJS_VERSION} (${platform}), checked against its recorded SHA-256"
			nodejs::stamp "${kept}/bin/node" >"${kept}.stamp"
			nodejs::place "${kept}/bin/node" "${target}/bin/node"
			return 0
		fi
		output::indent "The cached Node.js v${NODEJS_VERSION} does not match its recorded SHA-256; downloading it again"
	fi
	rm -rf "${kept}" "${kept}.sha256" "${kept}.stamp"
	nodejs::download "${kept}" "${mirror}" "${platform}"
	nodejs::place "${kept}/bin/node" "${target}/bin/node"
}

# Puts a node into the slug: a hard link where it and the build share a file system (no 120 MB copy), else
# a copy. Sharing the inode is safe: neither side is written in place. The cache replaces its entry by rm and
# mv, the slug's node is only read, and a node found on PATH (heroku/nodejs's, in the build directory) is
# replaced by an install that unpacks a new file (GNU tar unlinks before it writes, unless told --overwrite).
# A node the build may not link to (another owner's, with protected_hardlinks) is copied.
nodejs::place() {
	local source="${1}"
	local target="${2}"
	ln -f "${source}" "${target}" 2>/dev/null || cp "${source}" "${target}"
}

# Downloads the pinned release's tarball, verifies it against SHASUMS256.txt before unpacking anything, and
# extracts bin/node alone into <kept>/bin/node, recording its SHA-256 in <kept>.sha256 last.
nodejs::download() {
	local kept="${1}"
	local mirror="${2}"
	local platform="${3}"
	local name="node-v${NODEJS_VERSION}-${platform}"
	local tarball="${kept}.tar.gz.partial"
	nodejs::split_mirror "${mirror}" || return 1
	local base_url="${NODEJS_MIRROR_BARE}/v${NODEJS_VERSION}"
	local sums expected actual

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

	output::indent "Downloading Node.js v${NODEJS_VERSION} (${platform})"
	if ! nodejs::curl --output "${tarball}" "${base_url}/${name}.tar.gz"; then
		rm -f "${tarball}"
		output::error "node.download-failed" "Could not download Node.js v${NODEJS_VERSION}" \
			"Tried: $(nodejs::display_url "${base_url}")/${name}.tar.gz"
		return 1
	fi
	actual="$(nodejs::sha256 "${tarball}")"
	if [[ "${actual}" != "${expected}" ]]; then
		rm -f "${tarball}"
		output::error "node.checksum-mismatch" "Node.js v${NODEJS_VERSION} does not match its SHASUMS256.txt" \
			"Expected ${expected}, got ${actual}. Nothing was installed; retry the build."
		return 1
	fi
	# Only bin/node: the bootstrapper needs nothing else of the release (no npm: its bundles are prebuilt).
	mkdir -p "${kept}.partial"
	tar -xzf "${tarball}" -C "${kept}.partial" --strip-components=1 --occurrence=1 "${name}/bin/node"
	rm -f "${tarball}"
	rm -rf "${kept}" && mv "${kept}.partial" "${kept}"
	nodejs::sha256 "${kept}/bin/node" >"${kept}.sha256"
	nodejs::stamp "${kept}/bin/node" >"${kept}.stamp"
}

# Prints a file's size and modification time (whole seconds): the stamp recorded beside the cached node once
# its SHA-256 was checked. While the stamp is unchanged, a build reuses the node without hashing its 120 MB
# again (0.14 s on an idle machine, up to 0.9 s on a busy one). Why that is enough: the SHA-256 recorded in
# the cache sits beside the file it vouches for, so, like the stamp, it guards against accidents (a partial
# write, a truncation, a file replaced), not against someone who can write the cache; every such accident
# changes the size or the time, unless a writer sets the time back on purpose. Not the inode or the ctime:
# hard-linking the node into the slug changes its ctime at every build, and a cache restored from storage
# (as Heroku's is) gets new inodes and ctimes, but keeps sizes and modification times. A stamp that differs
# sends the build through the full SHA-256 check, and a passed check records the new stamp.
nodejs::stamp() {
	local file="${1}"
	stat --format '%s %Y' -- "${file}"
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
	# openssl uses the CPU's SHA instructions: about 6x faster than coreutils' sha256sum on a 120 MB node.
	if command -v openssl >/dev/null; then
		openssl dgst -sha256 -r "${file}" | cut -d ' ' -f 1
	else
		sha256sum "${file}" | cut -d ' ' -f 1
	fi
}

# Tidies the Node.js cache: what other Node.js versions (an earlier pin) or earlier layouts left.
nodejs::tidy_cache() {
	local cache_dir="${1}"
	local entry keep
	keep="node-v${NODEJS_VERSION}-$(nodejs::platform)"
	for entry in "${cache_dir}"/node-v*; do
		[[ -e "${entry}" ]] || continue
		case "${entry##*/}" in
			"${keep}" | "${keep}.sha256" | "${keep}.stamp") ;;
			*) rm -rf "${entry}" ;;
		esac
	done
}
