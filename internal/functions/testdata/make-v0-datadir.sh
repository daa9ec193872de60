#!/usr/bin/env bash
# Regenerates testdata/v0-datadir: a data directory written by the lambdad of
# this checkout, driven with the AWS CLI. The migration test opens a copy of
# it with the current code and expects exactly what this script created.
#
# Run from the repository root, on the commit the README names:
#   internal/functions/testdata/make-v0-datadir.sh
set -euo pipefail

root=$(git rev-parse --show-toplevel)
out=$root/internal/functions/testdata/v0-datadir
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

(cd "$root" && go build -o "$work/lambdad" ./cmd/lambdad)
rm -rf "$out"
port=$((20000 + RANDOM % 10000))
# A throttled Event invoke must stay queued: retry it an hour later.
"$work/lambdad" --listen 127.0.0.1:$port --data-dir "$out" --isolation off \
	--event-throttle-base 1h --transition 1ms --log-level warn &
pid=$!

export AWS_ACCESS_KEY_ID=AKIDFIXTURE AWS_SECRET_ACCESS_KEY=fixture AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=
lambda() { aws --endpoint-url "http://127.0.0.1:$port" lambda "$@" --output json >>"$work/log"; }
for _ in $(seq 50); do curl -s "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

# Code: tiny zips.
mkdir -p "$work/py" "$work/node" "$work/l1/python" "$work/l2/python"
cat >"$work/py/app.py" <<'PY'
import os, greet
def handler(event, context):
    return {"greeting": greet.hello(os.environ["WHO"]), "event": event}
PY
cat >"$work/node/index.mjs" <<'JS'
export const handler = async (event) => ({ node: true, color: process.env.COLOR, event });
JS
echo 'def hello(who): return "hello v1 " + who' >"$work/l1/python/greet.py"
echo 'def hello(who): return "hello v2 " + who' >"$work/l2/python/greet.py"
# Fixed times, so the zips (and their hashes, which the test expects) are stable.
find "$work/py" "$work/node" "$work/l1" "$work/l2" -exec touch -d 2020-01-01T00:00:00Z {} +
export TZ=UTC
(cd "$work/py" && zip -qX ../py.zip app.py)
(cd "$work/node" && zip -qX ../node.zip index.mjs)
(cd "$work/l1" && zip -qX ../l1.zip python/greet.py)
(cd "$work/l2" && zip -qX ../l2.zip python/greet.py)

role=arn:aws:iam::000000000000:role/fixture
layer=arn:aws:lambda:us-east-1:000000000000:layer:greet

lambda publish-layer-version --layer-name greet --description "greet v1" \
	--compatible-runtimes python3.12 --license-info MIT --zip-file "fileb://$work/l1.zip"
lambda publish-layer-version --layer-name greet --description "greet v2" \
	--compatible-runtimes python3.12 python3.13 --compatible-architectures x86_64 --zip-file "fileb://$work/l2.zip"

lambda create-function --function-name hello --runtime python3.12 --handler app.handler --role $role \
	--zip-file "fileb://$work/py.zip" --description "python fixture" --memory-size 256 --timeout 7 \
	--environment 'Variables={WHO=fixture,MODE=v0}' --layers $layer:2 --tags team=core,env=test \
	--logging-config LogFormat=JSON,ApplicationLogLevel=DEBUG,SystemLogLevel=WARN \
	--ephemeral-storage Size=1024
lambda create-function --function-name nodefn --runtime nodejs20.x --handler index.handler --role $role \
	--zip-file "fileb://$work/node.zip" --environment 'Variables={COLOR=blue}' --architectures arm64
lambda create-function --function-name queued --runtime python3.12 --handler app.handler --role $role \
	--zip-file "fileb://$work/py.zip" --layers $layer:1

lambda put-function-concurrency --function-name hello --reserved-concurrent-executions 5
lambda put-function-concurrency --function-name queued --reserved-concurrent-executions 0

# Versions 1 and 2 of hello (2 after a configuration change), an alias with routing.
lambda wait function-active-v2 --function-name hello
lambda publish-version --function-name hello --description "first"
lambda update-function-configuration --function-name hello --timeout 9
lambda wait function-updated-v2 --function-name hello
lambda publish-version --function-name hello --description "second"
lambda create-alias --function-name hello --name live --function-version 1 \
	--description "mostly one" --routing-config '{"AdditionalVersionWeights":{"2":0.25}}'
lambda create-alias --function-name nodefn --name dev --function-version '$LATEST'

lambda add-permission --function-name hello --statement-id s3 --action lambda:InvokeFunction \
	--principal s3.amazonaws.com --source-arn arn:aws:s3:::fixture-bucket --source-account 000000000000
lambda add-permission --function-name hello --statement-id acct --action lambda:GetFunction \
	--principal 111122223333

lambda create-function-url-config --function-name hello --qualifier live --auth-type NONE \
	--cors 'AllowOrigins=https://example.com,AllowMethods=GET,POST,AllowHeaders=x-fixture,MaxAge=60,AllowCredentials=true'

lambda put-function-event-invoke-config --function-name hello --maximum-retry-attempts 1 \
	--maximum-event-age-in-seconds 600 --destination-config \
	'OnSuccess={Destination=arn:aws:lambda:us-east-1:000000000000:function:nodefn},OnFailure={Destination=arn:aws:lambda:us-east-1:000000000000:function:queued}'

# Throttled (reserved concurrency 0): it stays queued.
lambda invoke --function-name queued --invocation-type Event \
	--payload '{"queued":true}' "$work/out.json"
sleep 1

kill $pid
wait $pid || true
rm -rf "$out/logs" "$out/runtimes" "$out/sandbox" "$out/blobs/tmp" "$out/blobs/unpacked"
du -sh "$out"
