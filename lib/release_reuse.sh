#!/usr/bin/env bash
# A rebuild that changes nothing starts no Node.js. What the install step makes of a release (.execpack/binary,
# .execpack/commands and .execpack/binary.json) is decided by the release's bytes, the BINARY_* settings, the
# install step's code, the stack and the machine alone. After a build succeeded, the build cache keeps a copy
# of those three with a key made of all of these but the bytes; a build whose key is the same copies them into
# the slug instead of running the install step (no unpacking, no Node.js start: 0.2-0.3 s, more than the rest
# of such a build) when the bytes are the same too:
#   - with BINARY_SHA256 set, they are named by their digest: no request at all;
#   - otherwise, when BINARY_URL itself answers 304 Not Modified to curl's conditional request with the
#     ETag and Last-Modified the install step kept for that download. Any other answer, a redirect, an error,
#     a release named rather than addressed (resolved through GitHub's API), or no answer in time runs the
#     install step, which asks again and says what went wrong, with its codes, retries and masking. curl's
#     request carries no BINARY_TOKEN (a private release answers 401 or 404, and the install step asks) and
#     gets BINARY_URL on its stdin, never on its command line, where every process could read a password.
#
# The record lives in <cache>/installed/: key (written last, so a record without one is ignored), slug/ (the
# copy), stamp (the copy's listing with sizes and modification times), warnings (what the install step
# warned about, said again on reuse) and archive.json (the kept download's validators, fetch/cache.ts's
# record). A copy whose listing differs from its stamp is not used: the build runs the install step, which
# checks the kept archive against its SHA-256 and installs from it, and records anew. Any failure to record
# is said and leaves no record: the next build runs the install step.

# The record's layout; a buildpack with another one finds no key it knows and records anew.
readonly RELEASE_REUSE_FORMAT="1"

# Prints the key of the install a build would make with <env-dir>'s config vars, or nothing without a
# BINARY_URL. BINARY_TOKEN is left out (it changes who may read the bytes, not which bytes they are), and only
# digests of the values go into the key.
release_reuse::key() {
	local buildpack_dir="${1}"
	local env_dir="${2}"
	local settings=() file
	[[ -s "${env_dir}/BINARY_URL" ]] || return 0
	for file in "${env_dir}"/BINARY_*; do
		[[ -f "${file}" && "${file##*/}" != "BINARY_TOKEN" ]] && settings+=("${file##*/}")
	done
	{
		printf '%s\n' "format ${RELEASE_REUSE_FORMAT}" "stack ${STACK:-}" "machine $(uname -m)"
		cd "${env_dir}" && sha256sum -- "${settings[@]}"
		cd "${buildpack_dir}" && sha256sum -- dist/compile.cjs
	} | sha256sum
}

# Prints the listing a record's copy is checked against: every entry's type, mode and path, with size and
# modification time for files, targets for links. Directory sizes and inodes differ between file systems,
# and a cache restored from storage keeps the rest.
release_reuse::stamp() {
	local dir="${1}"
	find "${dir}" \( -type f -printf 'f %m %s %Ts %P\n' \) -o \( -type l -printf 'l %P -> %l\n' \) -o -printf '%y %m %P\n' | LC_ALL=C sort
}

# Copies the install recorded under <record> into <slug-dir> and says so, when the record was made for <key>,
# its copy is unchanged, and the release is pinned by <env-dir>'s BINARY_SHA256 or BINARY_URL answers 304;
# fails, copying nothing, otherwise.
release_reuse::restore() {
	local record="${1}"
	local key="${2}"
	local slug_dir="${3}"
	local env_dir="${4}"
	local why="BINARY_SHA256 and the other BINARY_* settings, the buildpack and the stack are unchanged; nothing was fetched or unpacked"
	[[ -n "${key}" && -f "${record}/key" && "$(<"${record}/key")" == "${key}" ]] || return 1
	[[ "$(release_reuse::stamp "${record}/slug")" == "$(<"${record}/stamp")" ]] || return 1
	if [[ ! -s "${env_dir}/BINARY_SHA256" ]]; then
		release_reuse::not_modified "${record}" "${env_dir}/BINARY_URL" || return 1
		why="BINARY_URL answered 304 Not Modified, and the BINARY_* settings, the buildpack and the stack are unchanged; nothing was unpacked"
	fi
	# Checked by hand: errexit does not hold in a function called as a condition. A copy that failed half-way
	# is taken back, and the install step runs.
	if ! cp -a --reflink=auto "${record}/slug/." "${slug_dir}/"; then
		rm -rf "${slug_dir}/binary" "${slug_dir}/commands" "${slug_dir}/binary.json"
		return 1
	fi
	output::step "Installing the release"
	output::indent "Reusing the release the last build installed: ${why}"
	release_reuse::describe "${slug_dir}/binary.json"
	if [[ -s "${record}/warnings" ]]; then
		cat "${record}/warnings" >&2
	fi
}

# Succeeds when the release at the URL in <url-file> is the one recorded under <record>: the server answers
# 304 Not Modified to a conditional request with the validators the install step kept for that download.
# Never for a release named rather than addressed (its manifest records the release it resolved to), nor
# without a validator, nor for a validator in a shape this does not read (the install step asks instead).
release_reuse::not_modified() {
	local record="${1}"
	local url_file="${2}"
	local manifest metadata url config="" status
	manifest="$(<"${record}/slug/binary.json")"
	[[ "${manifest}" != *'"release": {'* && -f "${record}/archive.json" ]] || return 1
	metadata="$(<"${record}/archive.json")"
	url="$(<"${url_file}")"
	url="${url#"${url%%[![:space:]]*}"}"
	url="${url%"${url##*[![:space:]]}"}"
	[[ "${url}" =~ ^https?:// && "${url}" != *[$'\n\r\t "\\']* ]] || return 1
	# An ETag as JSON writes it, quotes escaped, which is also how a quoted value in curl's config writes it;
	# one with a backslash or another escape inside is left to the install step.
	local etag_pattern='"etag": "((W/)?\\"[]!#-[^-~]*\\")",'
	local modified_pattern='"lastModified": "([A-Za-z0-9 ,:-]+)",'
	if [[ "${metadata}" =~ ${etag_pattern} ]]; then
		config+="header = \"If-None-Match: ${BASH_REMATCH[1]}\""$'\n'
	fi
	if [[ "${metadata}" =~ ${modified_pattern} ]]; then
		config+="header = \"If-Modified-Since: ${BASH_REMATCH[1]}\""$'\n'
	fi
	[[ -n "${config}" ]] || return 1
	status="$(curl --config - --silent --output /dev/null --write-out '%{http_code}' --max-redirs 0 \
		--connect-timeout 10 --max-time 30 <<<"${config}url = \"${url}\"" 2>/dev/null)" || return 1
	[[ "${status}" == "304" ]]
}

# Prints the installed entry and its SHA-256 from a manifest (JSON.stringify's layout, written by the install
# step; JSON escapes control characters, so the entry prints as it is quoted there).
release_reuse::describe() {
	local manifest
	manifest="$(<"${1}")"
	local entry_pattern='"entry": "(([^"\\]|\\.)*)"'
	local sha_pattern='"sha256": "([0-9a-f]{64})"'
	if [[ "${manifest}" =~ ${entry_pattern} ]]; then
		local entry="${BASH_REMATCH[1]}"
		[[ "${manifest}" =~ ${sha_pattern} ]] && output::indent "Installed '${entry}' (sha256 ${BASH_REMATCH[1]})"
	fi
	return 0
}

# Records the install the install step just made in <slug-dir> under <record> for <key>, with the warnings it
# wrote to <warnings> (moved into the record) and the kept download's <archive-json>. Without a key, drops
# any record. Never fails the build: a
# record that could not be written is removed and the next build runs the install step.
release_reuse::save() {
	local record="${1}"
	local key="${2}"
	local slug_dir="${3}"
	local warnings="${4}"
	local parts=() part
	local archive_json="${5}"
	rm -rf "${record}" "${record}.partial"
	if [[ -z "${key}" ]]; then
		rm -f "${warnings}"
		return 0
	fi
	for part in binary commands binary.json; do
		[[ -e "${slug_dir}/${part}" ]] && parts+=("${slug_dir}/${part}")
	done
	# Each step checked by hand: errexit does not hold in a function whose failure is handled by its caller.
	if mkdir -p "${record}.partial/slug" &&
		cp -a --reflink=auto "${parts[@]}" "${record}.partial/slug/" &&
		release_reuse::stamp "${record}.partial/slug" >"${record}.partial/stamp" &&
		{ [[ ! -e "${warnings}" ]] || mv "${warnings}" "${record}.partial/warnings"; } &&
		{ [[ ! -e "${archive_json}" ]] || cp "${archive_json}" "${record}.partial/archive.json"; } &&
		printf '%s\n' "${key}" >"${record}.partial/key" &&
		mv "${record}.partial" "${record}"; then
		return 0
	fi
	rm -rf "${record}.partial" "${warnings}"
	output::warning "Could not keep a copy of the installed release in the build cache; the next build installs it again"
	return 0
}
