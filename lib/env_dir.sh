#!/usr/bin/env bash
# Reading config vars in bin/compile: Heroku passes them as files in ENV_DIR, not in the environment.

# Prints the value of one config var from ENV_DIR, or the fallback when it is not set there.
env_dir::read() {
	local env_dir="${1}"
	local name="${2}"
	local fallback="${3:-}"
	if [[ -f "${env_dir}/${name}" ]]; then
		cat "${env_dir}/${name}"
	else
		echo -n "${fallback}"
	fi
}
