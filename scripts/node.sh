#!/usr/bin/env bash
# node.sh [MAJOR]: prints the path of a node binary of major version MAJOR
# (default 22). The host's `node` is used when it is that version; otherwise
# (older, as the durable execution SDK cannot use, or newer, as nodejsMAJOR.x
# should not run on) Node MAJOR.x is installed once from npm's
# node-linux-<arch> package (npm checks the tarball against the registry's
# integrity hash) and reused by later calls.
#
# Where it goes: $LAMBDAD_NODE_CACHE if set, else /usr/local/lib/lambdad/node<MAJOR>
# as root (readable by every user and outside the paths isolated environments
# mount their own /opt, /tmp, /var/task over, so they can run it), else
# ${XDG_CACHE_HOME:-~/.cache}/lambdad/node<MAJOR>. Concurrent calls are
# serialised by a lock and the install is renamed into place whole, so a
# half-extracted node is never seen.
#
# The durable execution SDK (@aws/durable-execution-sdk-js) needs Node >= 22;
# .ci/run calls this, and lambdad runs nodejs22.x with the path it prints when
# given it in --node-binaries.
set -euo pipefail

major=${1:-22}
case $major in '' | *[!0-9]*)
	echo "node.sh: MAJOR must be a number, not '$major'" >&2
	exit 2
	;;
esac

# node_major BINARY: the major version of BINARY, or nothing.
node_major() {
	local v
	v=$("$1" --version 2>/dev/null) || return 0
	v=${v#v}
	echo "${v%%.*}"
}

if host=$(command -v node 2>/dev/null); then
	m=$(node_major "$host")
	if [ "$m" = "$major" ]; then
		readlink -f "$host"
		exit 0
	fi
fi

if [ -n "${LAMBDAD_NODE_CACHE:-}" ]; then
	dir=$LAMBDAD_NODE_CACHE
elif [ "$(id -u)" = 0 ]; then
	dir=/usr/local/lib/lambdad/node$major
else
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/lambdad/node$major
fi
bin=$dir/bin/node

if [ -x "$bin" ] && [ "$(node_major "$bin")" = "$major" ]; then
	echo "$bin"
	exit 0
fi

case $(uname -m) in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "node.sh: no node-linux package for $(uname -m)" >&2
	exit 1
	;;
esac
command -v npm >/dev/null || {
	echo "node.sh: npm is needed to install Node $major" >&2
	exit 1
}

parent=$(dirname "$dir")
(umask 022 && mkdir -p "$parent")
exec 9>"$dir.lock"
flock 9
# Another call may have installed it while this one waited for the lock.
if [ -x "$bin" ] && [ "$(node_major "$bin")" = "$major" ]; then
	echo "$bin"
	exit 0
fi

tmp=$(mktemp -d "$parent/.node$major.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# npm pack picks the highest MAJOR.x release and verifies its integrity.
tgz=$(cd "$tmp" && npm pack --silent "node-linux-$arch@$major" 2>/dev/null | tail -n 1)
[ -f "$tmp/$tgz" ] || {
	echo "node.sh: npm pack node-linux-$arch@$major failed" >&2
	exit 1
}
mkdir "$tmp/node"
# Only the binary and its licence: the headers are not needed to run code.
tar -xzf "$tmp/$tgz" -C "$tmp/node" --strip-components=1 package/bin/node package/LICENSE
chmod -R a+rX "$tmp/node"
got=$(node_major "$tmp/node/bin/node")
[ "$got" = "$major" ] || {
	echo "node.sh: the installed node reports major '$got', not $major" >&2
	exit 1
}
rm -rf "$dir"
mv "$tmp/node" "$dir"
echo "$bin"
