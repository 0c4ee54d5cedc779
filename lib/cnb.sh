#!/usr/bin/env bash
# Cloud Native Buildpack (buildpack API 0.10) side of execpack, for Heroku's Fir generation: layer metadata,
# the keys that decide whether a layer from the last build is still good, and launch.toml.
#
# The classic slug keeps everything under <app>/.execpack/. Under CNB the app directory is not the place for
# it, so the same tree is split into launch layers that each hold their slice of it at the same relative
# path, and the execpack layer, which is the root the launchers and the bootstrapper expect, links the
# other slices in (layers keep their absolute paths in the image, so relative links between them hold):
#
#   <layers>/node/node/bin/node             Node.js                 (launch, build, cache; metadata: version)
#   <layers>/execpack/bin/execpack[ctl]     launchers, on PATH      (launch, build, cache; metadata: bootstrapper)
#   <layers>/execpack/commands/<name>       a launcher per program of the release, on PATH after the image's
#   <layers>/execpack/env/                  PATH.append (commands/), BINARY_HOME.override (binary/)
#   <layers>/execpack/exec.d/execpack       the profile step before every process: the add-on variables
#   <layers>/execpack/profile-plan          binary.env and the install's layout for the step's shell path
#   <layers>/execpack/bootstrapper/*.cjs    the bootstrapper
#   <layers>/execpack/app-dir               the app directory's path (CNB_APP_DIR): binary.env is there
#   <layers>/execpack/node -> ../node/node
#   <layers>/execpack/binary -> ../binary/binary
#   <layers>/execpack/binary.json -> ../binary/binary.json
#   <layers>/binary/binary/<name>           the released binary     (launch, build, cache; metadata: key)
#   <layers>/binary/binary.json             what was installed
#   <layers>/cache/…                        downloads kept between builds (cache only)
#
# Node.js and the binary have layers of their own so that a new release re-exports only the binary layer.
# All three are build layers: buildpacks that run after execpack get `execpack`, `execpackctl` and the
# release's programs on PATH and BINARY_HOME during their own builds, as the classic `export` file gives them.
# A build layer is restored for the next build only from the cache (never from the image), so each of them is
# a cache layer too: a rebuild that changes nothing finds them all in place and downloads nothing.

# Succeeds when a CNB lifecycle runs this buildpack: it passes the platform directory and plan paths as
# environment variables (API 0.8+), classic Heroku passes positional arguments.
cnb::is_cnb() {
	[[ -n "${CNB_PLATFORM_DIR:-}" || -n "${CNB_BUILD_PLAN_PATH:-}" || -n "${CNB_LAYERS_DIR:-}" ]]
}

# Prints the string value of <key> in the [metadata] table of <layers-dir>/<layer>.toml, or nothing. The
# lifecycle restores that file re-encoded (indented, without [types]), so the match allows for whitespace.
cnb::layer_metadata() {
	local layers_dir="${1}"
	local layer="${2}"
	local key="${3}"
	local file="${layers_dir}/${layer}.toml"
	[[ -f "${file}" ]] || return 0
	awk -v key="${key}" '
		/^[[:space:]]*\[/ { in_metadata = ($0 ~ /^[[:space:]]*\[metadata\][[:space:]]*$/); next }
		in_metadata && match($0, "^[[:space:]]*" key "[[:space:]]*=[[:space:]]*\"") {
			value = substr($0, RLENGTH + 1)
			sub(/"[[:space:]]*$/, "", value)
			print value
			exit
		}
	' "${file}"
}

# Succeeds when <layers-dir>/<layer>.toml records <key> = "<expected>".
cnb::layer_is_current() {
	local layers_dir="${1}"
	local layer="${2}"
	local key="${3}"
	local expected="${4}"
	[[ "$(cnb::layer_metadata "${layers_dir}" "${layer}" "${key}")" == "${expected}" ]]
}

# Writes <layers-dir>/<layer>.toml: the types named in <types> ("launch cache") are true, the others false,
# and each further KEY=VALUE argument becomes a string in [metadata]. Values are versions and hashes.
cnb::write_layer_toml() {
	local layers_dir="${1}"
	local layer="${2}"
	local types="${3}"
	shift 3
	local type pair
	{
		echo "[types]"
		for type in launch build cache; do
			if [[ " ${types} " == *" ${type} "* ]]; then
				echo "${type} = true"
			else
				echo "${type} = false"
			fi
		done
		echo
		echo "[metadata]"
		for pair in "$@"; do
			echo "${pair%%=*} = \"${pair#*=}\""
		done
	} >"${layers_dir}/${layer}.toml"
}

# Prints the version of the Node.js that nodejs::provision would install now: the one on PATH when it can
# run the bootstrapper and is for the image's architecture (a Node.js buildpack ran first), else the pinned
# release.
cnb::wanted_node_version() {
	local found probe arch version
	if found="$(command -v node)" && probe="$(nodejs::probe "${found}")" && read -r arch version _ <<<"${probe}" &&
		[[ "$(nodejs::platform "${arch}")" == "$(nodejs::target_platform)" ]]; then
		echo "${version}"
	else
		echo "v${NODEJS_VERSION}"
	fi
}

# Prints the key of the execpack layer: the buildpack's source and lockfile, the Node.js that runs it, and
# the app directory it points to. Any change rebuilds the bootstrapper (and the binary, see below).
cnb::bootstrapper_key() {
	local buildpack_dir="${1}"
	local node_version="${2}"
	local app_dir="${3}"
	{
		(cd "${buildpack_dir}" && find bin lib launchers src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
		(cd "${buildpack_dir}" && sha256sum buildpack.toml package.json package-lock.json)
		echo "node ${node_version}"
		echo "app ${app_dir}"
	} | sha256sum | cut -d ' ' -f 1
}

# Prints the key of the binary layer: what decides which file is installed (BINARY_URL, BINARY_SHA256,
# BINARY_NAME, BINARY_FETCH as set in <env-dir>) and the bootstrapper that installs it. Layer metadata is
# readable by anyone who can pull the image, so the URL's user:password part stays out of it, hashed or not.
cnb::binary_key() {
	local env_dir="${1}"
	local bootstrapper_key="${2}"
	local url
	url="$(env_dir::read "${env_dir}" BINARY_URL)"
	if [[ "${url}" =~ ^([A-Za-z][A-Za-z0-9+.-]*://)[^/]*@(.*)$ ]]; then
		url="${BASH_REMATCH[1]}${BASH_REMATCH[2]}"
	fi
	{
		echo "url ${url}"
		echo "sha256 $(env_dir::read "${env_dir}" BINARY_SHA256)"
		echo "name $(env_dir::read "${env_dir}" BINARY_NAME)"
		echo "fetch $(env_dir::read "${env_dir}" BINARY_FETCH)"
		echo "bootstrapper ${bootstrapper_key}"
	} | sha256sum | cut -d ' ' -f 1
}

# Makes the execpack layer the install root: links in the node and binary layers' slices, and records where
# the app is (the bootstrapper reads binary.env there). CNB keeps the app at the same path in the image.
cnb::link_layers() {
	local root="${1}"
	local app_dir="${2}"
	ln -sfn ../node/node "${root}/node"
	ln -sfn ../binary/binary "${root}/binary"
	ln -sfn ../binary/binary.json "${root}/binary.json"
	printf '%s\n' "${app_dir}" >"${root}/app-dir"
}

# Writes the execpack layer's env/ files, which the lifecycle applies for later buildpacks' builds and the
# launcher at launch: the release's programs (commands/, made by the bootstrapper's build step) after the
# image's own PATH, so that they never shadow one of its commands, and BINARY_HOME naming the installed
# release. With BINARY_FETCH=boot the binary itself gets the release it fetched as its BINARY_HOME.
cnb::write_layer_env() {
	local root="${1}"
	mkdir -p "${root}/env"
	printf '%s' "${root}/commands" >"${root}/env/PATH.append"
	printf '%s' ":" >"${root}/env/PATH.delim"
	printf '%s' "${root}/binary" >"${root}/env/BINARY_HOME.override"
}

# Writes the plan of the profile step's shell path into the execpack layer (src/boot/profile-plan.ts), so that
# exec.d resolves an ordinary process start without Node.js, as .profile.d does on classic dynos; prints
# binary.env's syntax errors as warnings. At every build: the plan follows the binary layer and the app's
# binary.env, which change apart from the execpack layer. Without a plan, exec.d runs the Node.js step.
cnb::write_profile_plan() {
	local node="${1}"
	local execpack_layer="${2}"
	rm -f "${execpack_layer}/profile-plan"
	bootstrapper::binary_env_problems "$(bootstrapper::run_profile_step "${node}" "${execpack_layer}" --write-plan)"
}

# Installs the execpack layer's exec.d program (launchers/execpack-exec-d), which the launcher runs before every
# process: Fir has no .profile.d, and this is how the variables derived from add-on URLs (DATABASE_HOST...)
# reach a process's environment and a shell process's command line there (buildpack API 0.5+).
cnb::install_exec_d() {
	local buildpack_dir="${1}"
	local root="${2}"
	mkdir -p "${root}/exec.d"
	cp "${buildpack_dir}/launchers/execpack-exec-d" "${root}/exec.d/execpack"
	chmod 0755 "${root}/exec.d/execpack"
}

# Removes what an earlier pin or an earlier cache layout left in the cache layer's Node.js cache; the verified
# node of the pinned release stays for the next build (lib/nodejs.sh).
cnb::trim_cache() {
	local node_cache="${1}"
	[[ -d "${node_cache}" ]] || return 0
	nodejs::tidy_cache "${node_cache}"
}

# Writes <layers-dir>/launch.toml: `web` runs `execpack` (what bin/release offers on classic Heroku). A later
# buildpack's `web` (heroku/procfile reading the Procfile) replaces it.
cnb::write_launch_toml() {
	local layers_dir="${1}"
	cat >"${layers_dir}/launch.toml" <<'TOML'
[[processes]]
type = "web"
command = ["execpack"]
default = true
TOML
}
