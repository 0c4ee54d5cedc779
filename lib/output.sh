#!/usr/bin/env bash
# Build output in the shapes Heroku's buildpacks use. Sourced by bin/*; the TypeScript side
# (src/common/output.ts) prints the same shapes.

# Prints a step header: "-----> Installing Node.js".
output::step() {
	local message="${1}"
	echo "-----> ${message}"
}

# Prints a detail line under the current step, indented seven spaces.
output::indent() {
	local message="${1}"
	echo "       ${message}"
}

# Prints a warning block on stderr.
output::warning() {
	local message="${1}"
	local line
	while IFS= read -r line; do
		echo " !     ${line}" >&2
	done <<<"${message}"
}

# Prints an error block on stderr: "<summary> [<code>]", then the hint.
output::error() {
	local code="${1}"
	local summary="${2}"
	local hint="${3:-}"
	echo >&2
	output::warning "${summary} [${code}]"
	if [[ -n "${hint}" ]]; then
		output::warning "
${hint}"
	fi
	echo >&2
}
