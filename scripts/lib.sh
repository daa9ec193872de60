# lib.sh: what load.sh and coldstart.sh share. Source it after `set -euo
# pipefail`; it sets root, work (removed on exit), and the functions below.
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
auth='AWS4-HMAC-SHA256 Credential=123456789012/20260101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0'
cd "$root"

# build_goecho: $work/bootstrap, the aws-lambda-go echo function of the tests.
build_goecho() {
	(cd internal/server/testdata/goecho && CGO_ENABLED=0 go build -tags lambda.norpc -o "$work/bootstrap" .)
}

# zip_fn NAME SOURCE: $work/fn.zip holding one executable file NAME with
# SOURCE (backslash escapes expanded), or $work/bootstrap when NAME is bootstrap.
zip_fn() {
	python3 - "$work" "$1" "$2" <<'PY'
import sys, zipfile
w, name, src = sys.argv[1], sys.argv[2], sys.argv[3].encode().decode("unicode_escape")
with zipfile.ZipFile(w + "/fn.zip", "w") as z:
    i = zipfile.ZipInfo(name); i.external_attr = 0o755 << 16
    z.writestr(i, open(w + "/bootstrap", "rb").read() if name == "bootstrap" else src)
PY
}

# start_lambdad ISOLATION [FLAG...]: builds and starts lambdad on a free-ish
# port with a fresh data dir; sets url and pid once it answers.
start_lambdad() {
	local iso=$1
	shift
	go build -o "$work/lambdad" ./cmd/lambdad
	local port=$((20000 + RANDOM % 20000))
	url=http://127.0.0.1:$port
	LAMBDAD_LOG_LEVEL=warn "$work/lambdad" --listen 127.0.0.1:$port --data-dir "$work/data" --isolation "$iso" "$@" &
	pid=$!
	for _ in $(seq 100); do curl -sf "$url/2015-03-31/functions/" >/dev/null && return; sleep 0.05; done
	echo "lambdad did not start" >&2
	exit 1
}

# create_fn NAME RUNTIME HANDLER [ENV_JSON]: creates NAME from $work/fn.zip.
create_fn() {
	python3 - "$work" "$1" "$2" "$3" "${4:-{\}}" <<'PY' > "$work/create.json"
import base64, json, sys
w, name, runtime, handler, env = sys.argv[1:]
print(json.dumps({"FunctionName": name, "Runtime": runtime, "Handler": handler,
  "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": base64.b64encode(open(w + "/fn.zip", "rb").read()).decode()},
  "Environment": {"Variables": json.loads(env)}}))
PY
	curl -sf -H "Authorization: $auth" --data-binary @"$work/create.json" "$url/2015-03-31/functions" >/dev/null
}
