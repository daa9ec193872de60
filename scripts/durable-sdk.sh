#!/usr/bin/env bash
# durable-sdk.sh: installs AWS's durable execution SDK for JavaScript
# (@aws/durable-execution-sdk-js, pinned below, with its dependency
# @aws-sdk/client-lambda) once, and prints the node_modules directory that
# holds it. Tests copy that directory next to a function's index.mjs and zip
# both, as a user of the SDK deploys it; the SDK then talks to lambdad at
# AWS_ENDPOINT_URL_LAMBDA.
#
# Where it goes: $LAMBDAD_DURABLE_SDK_CACHE if set, else
# ${XDG_CACHE_HOME:-~/.cache}/lambdad/durable-sdk-js-<version>. Concurrent
# calls are serialised by a lock and the install is renamed into place whole.
# npm from the host does the install; the SDK declares Node >= 22 for running
# it, which npm only warns about here.
set -euo pipefail

version=${DURABLE_SDK_VERSION:-2.4.0}
dir=${LAMBDAD_DURABLE_SDK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambdad/durable-sdk-js-$version}
mods=$dir/node_modules
stamp=$mods/@aws/durable-execution-sdk-js/package.json

installed() {
	[ -f "$stamp" ] && grep -q "\"version\": \"$version\"" "$stamp"
}

if installed; then
	echo "$mods"
	exit 0
fi
command -v npm >/dev/null || {
	echo "durable-sdk.sh: npm is needed to install @aws/durable-execution-sdk-js" >&2
	exit 1
}

parent=$(dirname "$dir")
mkdir -p "$parent"
exec 9>"$dir.lock"
flock 9
if installed; then
	echo "$mods"
	exit 0
fi

tmp=$(mktemp -d "$parent/.durable-sdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo '{"private": true}' >"$tmp/package.json"
if ! (cd "$tmp" && npm install --silent --no-audit --no-fund --omit=dev --no-package-lock \
	"@aws/durable-execution-sdk-js@$version" >/dev/null 2>"$tmp/npm.log"); then
	cat "$tmp/npm.log" >&2
	echo "durable-sdk.sh: npm install @aws/durable-execution-sdk-js@$version failed" >&2
	exit 1
fi
rm -f "$tmp/npm.log"
chmod -R a+rX "$tmp"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
installed || {
	echo "durable-sdk.sh: the install did not produce $stamp" >&2
	exit 1
}
echo "$mods"
