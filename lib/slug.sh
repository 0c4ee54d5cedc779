#!/usr/bin/env bash
# The slug side of bin/compile: what the dyno sources at start, and cleaning up after a failure.

# Writes .profile.d/execpack.sh. Dynos source it after config vars are set, with HOME=/app: the paths are
# $HOME-relative because the build ran in /tmp/build_<id> and no build path may survive into the slug.
# The release's programs come after the stack's own commands on PATH, so they never shadow one of those.
# BINARY_HOME names the release that execpack runs: with BINARY_FETCH=boot, the folder the boot fetches into,
# named by the PID that the Procfile's shell hands to execpack by exec, under the dyno's temporary directory
# and the user's id (src/boot/boot-fetch.ts, bootScratchRoot): boot-time fetches never write into the slug.
#
# Then, in bash (Heroku's dyno shell), the profile step (launchers/execpack-profile, src/boot/profile.ts) runs
# the slug's Node.js once: it exports the variables derived from add-on URLs (DATABASE_HOST...), so a Procfile
# line and `heroku run bash` see them, and leaves a record that lets `execpack` exec the binary without
# starting Node.js again (launchers/execpack). It is a file of its own, sourced only by bash: the NUL-separated
# reads it needs are bash's, and another shell must not even parse them.
# With a <cache-dir>, the code cache comes from the build cache when nothing that makes it changed.
slug::write_profile() {
	local build_dir="${1}"
	mkdir -p "${build_dir}/.profile.d"
	cat >"${build_dir}/.profile.d/execpack.sh" <<'PROFILE'
export PATH="${HOME}/.execpack/bin:${PATH}:${HOME}/.execpack/commands"
case "${BINARY_FETCH:-}" in
[Bb][Oo][Oo][Tt]) export BINARY_HOME="${TMPDIR:-/tmp}/execpack-${UID:-$(id -u)}/boot-binary/$$/binary" ;;
*) export BINARY_HOME="${HOME}/.execpack/binary" ;;
esac
if [ -n "${BASH_VERSION:-}" ] && [ -f "${HOME}/.execpack/libexec/execpack-profile" ]; then
	. "${HOME}/.execpack/libexec/execpack-profile"
fi
PROFILE
	slug::warm_profile "${build_dir}" "${2:-}"
}

# Runs the profile step once (bootstrapper::run_profile_step) to write the plan of its shell path
# (.execpack/profile-plan, src/boot/profile-plan.ts: most dyno starts then need no Node.js at all) and V8's code
# cache of its compiled functions (src/cli/profile-loader.ts): a start that does need the Node.js step skips
# compiling them. A failure only costs the cache and the plan. With a <cache-dir>, the build
# cache keeps both under a key of what makes them (the bundles, the app's binary.env and install manifest, the
# Node.js, this function), and a build with the same key copies them instead of starting Node.js
# (lib/release_reuse.sh's rebuilds start none). A stale code cache would only be rejected by V8.
# binary.env's syntax errors, which that run finds, are printed as warnings (kept with the rest for rebuilds):
# the build goes on, and every boot stops on them with the same error.
slug::warm_profile() {
	local build_dir="${1}"
	local cache_dir="${2:-}"
	local key="" problems=""
	if [[ -n "${cache_dir}" ]]; then
		key="$({
			"${build_dir}/.execpack/node/bin/node" --version
			declare -f slug::warm_profile bootstrapper::run_profile_step
			cd "${build_dir}" && sha256sum -- .execpack/bootstrapper/profile.cjs .execpack/bootstrapper/profile-loader.cjs .execpack/binary.json
			[[ ! -f "${build_dir}/binary.env" ]] || cat "${build_dir}/binary.env"
		} | sha256sum)" || key=""
		if [[ -n "${key}" && -f "${cache_dir}/key" && "$(<"${cache_dir}/key")" == "${key}" ]] &&
			cp "${cache_dir}/profile-code-cache" "${build_dir}/.execpack/profile-code-cache" 2>/dev/null &&
			cp "${cache_dir}/profile-plan" "${build_dir}/.execpack/profile-plan" 2>/dev/null; then
			bootstrapper::binary_env_problems "$(cat "${cache_dir}/binary-env-problems" 2>/dev/null)"
			return 0
		fi
		rm -f "${build_dir}/.execpack/profile-code-cache" "${build_dir}/.execpack/profile-plan"
	fi
	problems="$(bootstrapper::run_profile_step "${build_dir}/.execpack/node/bin/node" "${build_dir}/.execpack" --write-code-cache --write-plan)"
	bootstrapper::binary_env_problems "${problems}"
	if [[ -n "${key}" && -f "${build_dir}/.execpack/profile-code-cache" && -f "${build_dir}/.execpack/profile-plan" ]]; then
		# Key last, so a half-written entry is never used; a failure only costs the next build a Node.js start.
		rm -rf "${cache_dir}"
		if ! { mkdir -p "${cache_dir}" && cp "${build_dir}/.execpack/profile-code-cache" "${build_dir}/.execpack/profile-plan" "${cache_dir}/" &&
			printf '%s' "${problems}" >"${cache_dir}/binary-env-problems" && printf '%s\n' "${key}" >"${cache_dir}/key"; }; then
			rm -rf "${cache_dir}"
		fi
	fi
}

# Writes the export file that buildpacks running after this one source (multi-buildpack apps): they can run
# `execpack ARGS` (the binary with its derived environment) and every program of the release by its own
# name. Those go last on PATH so that no name shadows a command those buildpacks already have.
slug::write_export() {
	local buildpack_dir="${1}"
	local build_dir="${2}"
	{
		echo "export PATH=\"${build_dir}/.execpack/bin:\${PATH}:${build_dir}/.execpack/commands\""
		echo "export BINARY_HOME=\"${build_dir}/.execpack/binary\""
	} >"${buildpack_dir}/export"
}

# EXIT trap of bin/compile: when the compile failed, nothing it added stays in the build directory.
slug::remove_on_failure() {
	local build_dir="${1}"
	local status="${2}"
	if [[ "${status}" -ne 0 ]]; then
		rm -rf "${build_dir}/.execpack" "${build_dir}/.profile.d/execpack.sh"
		output::warning "The build failed; nothing was installed."
	fi
}
