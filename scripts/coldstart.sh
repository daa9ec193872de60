#!/usr/bin/env bash
# coldstart.sh: cold starts through a real lambdad, as users get them. It
# creates N functions of a runtime, invokes each once with LogType Tail and
# prints the median and p90 of the REPORT line's Init Duration, beside the
# bare start of the interpreter (hyperfine when installed).
#
#   scripts/coldstart.sh [python3.12|nodejs20.x|provided.al2023] [N=30] [isolation=auto]
#
# CGO_ENABLED is passed to the lambdad build (0 gives a static binary).
set -euo pipefail
rt=${1:-python3.12}
n=${2:-30}
iso=${3:-auto}
. "$(dirname "$0")/lib.sh"
case $rt in
python*) handler=fn.handler; file=fn.py; src='def handler(e, c):\n    return e\n'; bare="python3 -S -c pass" ;;
nodejs*) handler=fn.handler; file=fn.js; src='exports.handler = async (e) => e;\n'; bare="node -e 0" ;;
provided*)
	handler=bootstrap; file=bootstrap; src=; bare="$work/bootstrap-bare"
	build_goecho
	;;
*) echo "unknown runtime $rt" >&2; exit 2 ;;
esac
zip_fn "$file" "$src"
start_lambdad "$iso"
for i in $(seq "$n"); do create_fn "cold-$i" "$rt" "$handler"; done
sleep 0.5
# One warm-up invoke of another function: the interpreter is probed once.
curl -sf -o /dev/null -H "Authorization: $auth" -d '{}' "$url/2015-03-31/functions/cold-$n/invocations"
for i in $(seq $((n - 1))); do
	curl -s -D - -o /dev/null -H "Authorization: $auth" -H 'X-Amz-Log-Type: Tail' -d '{"k":1}' \
		"$url/2015-03-31/functions/cold-$i/invocations" |
		awk -F': ' 'tolower($1) == "x-amz-log-result" {print $2}' | tr -d '\r' | base64 -d |
		grep -o 'Init Duration: [0-9.]* ms' | awk '{print $3}'
done | sort -n > "$work/init.txt"
awk '{a[NR] = $1} END {printf "Init Duration over %d cold starts: median %.1f ms, p90 %.1f ms\n", NR, a[int((NR + 1) / 2)], a[int(NR * 0.9)]}' "$work/init.txt"
if command -v hyperfine >/dev/null; then
	[ "$rt" = "${rt#provided}" ] || cp "$work/bootstrap" "$work/bootstrap-bare"
	# The bare Go bootstrap exits at once without AWS_LAMBDA_RUNTIME_API.
	env -i PATH=/usr/local/bin:/usr/bin:/bin hyperfine -N -i -w 3 -r 30 --style basic "$bare" 2>/dev/null | grep -E 'Time \(mean'
fi
