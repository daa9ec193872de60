#!/usr/bin/env bash
# smoke.sh: build lambdad, start it on a free loopback port with a throwaway
# data directory, and drive the core Lambda flow with the real AWS CLI (v1)
# and then boto3 (scripts/smoke_boto3.py). Every check asserts on the JSON
# the clients got back, not only on exit codes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
PID=""

cleanup() {
	if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $1" >&2; }

# SMOKE_ENDPOINTS="http://HOST:PORT ..." runs the checks against lambdads
# already running (the nodes of a cluster, scripts/cluster-smoke.sh) instead
# of starting one: each AWS CLI call goes to the next node in turn, so every
# write is read back on another node.
if [[ -n "${SMOKE_ENDPOINTS:-}" ]]; then
	read -r -a EPS <<<"$SMOKE_ENDPOINTS"
	EP=${EPS[0]}
	: >"$TMP/lambdad.log"
else
	echo "smoke: building lambdad"
	(cd "$ROOT" && go build -o "$TMP/lambdad" ./cmd/lambdad)

	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
	EP="http://127.0.0.1:$PORT"
	EPS=("$EP")
	"$TMP/lambdad" --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" --transition 300ms --log-level info --runtime-fallback \
		>"$TMP/lambdad.log" 2>&1 &
	PID=$!

	for _ in $(seq 1 100); do
		if curl -fsS "$EP/_lambdad/health" >/dev/null 2>&1; then break; fi
		if ! kill -0 "$PID" 2>/dev/null; then
			echo "smoke: lambdad exited early:" >&2
			cat "$TMP/lambdad.log" >&2
			exit 1
		fi
		sleep 0.1
	done
fi
for ep in "${EPS[@]}"; do
	if curl -fsS "$ep/_lambdad/health" | grep -q '"ok"'; then ok "health endpoint $ep"; else bad "health endpoint $ep"; exit 1; fi
done

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
# Keep any real AWS config on this machine out of the way.
export AWS_CONFIG_FILE="$TMP/aws-config" AWS_SHARED_CREDENTIALS_FILE="$TMP/aws-credentials"
unset AWS_PROFILE AWS_SESSION_TOKEN || true

ACCOUNT=000000000000 # the access key "test" is not 12 digits
FN=smoke-py
ARN="arn:aws:lambda:us-east-1:$ACCOUNT:function:$FN"
ROLE="arn:aws:iam::123456789012:role/lambda-role"

# next_ep: the endpoint for the next call (round robin over EPS; a file,
# since calls run in subshells).
echo 0 >"$TMP/next"
next_ep() {
	local n
	n=$(cat "$TMP/next")
	echo $((n + 1)) >"$TMP/next"
	echo "${EPS[n % ${#EPS[@]}]}"
}
awsl() { aws --endpoint-url "$(next_ep)" lambda "$@"; }

# run NAME CMD...: run a command that must succeed; its stdout lands in $OUT.
OUT=""
run() {
	local name=$1
	shift
	if OUT=$("$@" 2>"$TMP/stderr"); then
		ok "$name"
	else
		bad "$name: $(cat "$TMP/stderr")"
		OUT='{}'
	fi
}

# fails NAME CODE CMD...: run a command that must fail with error CODE.
fails() {
	local name=$1 code=$2
	shift 2
	if "$@" >"$TMP/stdout" 2>"$TMP/stderr"; then
		bad "$name: succeeded, expected $code"
	elif grep -q "($code)" "$TMP/stderr"; then
		ok "$name"
	else
		bad "$name: expected $code, got: $(cat "$TMP/stderr")"
	fi
}

# jcheck NAME JSON EXPR: EXPR is a python expression over d (the parsed JSON).
jcheck() {
	local name=$1 json=$2 expr=$3
	if python3 -c '
import json, sys
d = json.loads(sys.argv[1] or "null")
env = {"d": d, "ARN": sys.argv[3], "FN": sys.argv[4]}
if not eval(sys.argv[2], env):
    sys.exit("assertion failed: %s\n  on: %s" % (sys.argv[2], json.dumps(d)[:1500]))
' "$json" "$expr" "$ARN" "$FN" 2>"$TMP/jerr"; then
		ok "$name"
	else
		bad "$name: $(cat "$TMP/jerr")"
	fi
}

# The function: a tiny python handler, zipped with python's zipfile.
python3 - "$TMP/fn.zip" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("handler.py", "import os\n\ndef handler(event, context):\n    return {\"echo\": event, \"env\": os.environ.get(\"SMOKE\")}\n")
EOF
ZIP_SHA=$(python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha256(open(sys.argv[1],"rb").read()).digest()).decode())' "$TMP/fn.zip")
ZIP_SIZE=$(stat -c %s "$TMP/fn.zip")

echo "smoke: AWS CLI $(aws --version 2>&1) against ${EPS[*]}"

run "create-function" awsl create-function --function-name "$FN" --runtime python3.12 --role "$ROLE" \
	--handler handler.handler --zip-file "fileb://$TMP/fn.zip" --environment 'Variables={SMOKE=yes}' --tags team=smoke
CREATED=$OUT
jcheck "create: identity fields" "$CREATED" \
	"d['FunctionName']==FN and d['FunctionArn']==ARN and d['Version']=='\$LATEST' and d['Runtime']=='python3.12' and d['Handler']=='handler.handler' and d['PackageType']=='Zip'"
jcheck "create: code sha and size" "$CREATED" "d['CodeSha256']=='$ZIP_SHA' and d['CodeSize']==$ZIP_SIZE"
jcheck "create: Pending/Creating, no LastUpdateStatus" "$CREATED" \
	"d['State']=='Pending' and d['StateReasonCode']=='Creating' and d['StateReason']=='The function is being created.' and 'LastUpdateStatus' not in d"
jcheck "create: defaults" "$CREATED" \
	"d['MemorySize']==128 and d['Timeout']==3 and d['Architectures']==['x86_64'] and d['EphemeralStorage']=={'Size':512} and d['TracingConfig']=={'Mode':'PassThrough'} and d['Environment']=={'Variables':{'SMOKE':'yes'}} and 'Tags' not in d"
REV_CREATE=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("RevisionId",""))' "$CREATED")

fails "create-function again: ResourceConflictException" ResourceConflictException \
	awsl create-function --function-name "$FN" --runtime python3.12 --role "$ROLE" \
	--handler handler.handler --zip-file "fileb://$TMP/fn.zip"

run "wait function-active-v2" awsl wait function-active-v2 --function-name "$FN"

run "get-function" awsl get-function --function-name "$FN"
GOT=$OUT
jcheck "get-function: Active/Successful without reasons" "$GOT" \
	"d['Configuration']['State']=='Active' and d['Configuration']['LastUpdateStatus']=='Successful' and not {'StateReason','StateReasonCode','LastUpdateStatusReason'} & set(d['Configuration'])"
jcheck "get-function: unqualified ARN, code, tags" "$GOT" \
	"d['Configuration']['FunctionArn']==ARN and d['Configuration']['CodeSha256']=='$ZIP_SHA' and d['Code']['RepositoryType']=='S3' and d['Code']['Location'].startswith('http') and d['Tags']=={'team':'smoke'}"
jcheck "get-function: RevisionId moved on activation" "$GOT" \
	"d['Configuration']['RevisionId'] not in ('', '$REV_CREATE')"
LOC=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("Code",{}).get("Location",""))' "$GOT")
if python3 -c '
import base64, hashlib, sys, urllib.request
body = urllib.request.urlopen(sys.argv[1], timeout=10).read()
sys.exit(0 if base64.b64encode(hashlib.sha256(body).digest()).decode() == sys.argv[2] else 1)
' "$LOC" "$ZIP_SHA" 2>"$TMP/jerr"; then ok "Code.Location serves the same bytes"; else bad "Code.Location download: $(cat "$TMP/jerr")"; fi

run "get-function-configuration" awsl get-function-configuration --function-name "$FN"
jcheck "get-function-configuration: fields" "$OUT" \
	"d['FunctionArn']==ARN and d['State']=='Active' and d['MemorySize']==128 and d['CodeSha256']=='$ZIP_SHA' and 'Tags' not in d"
run "get-function-configuration \$LATEST" awsl get-function-configuration --function-name "$FN" --qualifier '$LATEST'
jcheck "qualifier \$LATEST gives qualified ARN" "$OUT" "d['FunctionArn']==ARN+':\$LATEST'"

run "update-function-configuration" awsl update-function-configuration --function-name "$FN" \
	--memory-size 256 --timeout 10 --description updated
jcheck "update: InProgress/Creating" "$OUT" \
	"d['State']=='Active' and d['LastUpdateStatus']=='InProgress' and d['LastUpdateStatusReasonCode']=='Creating' and d['MemorySize']==256 and d['Timeout']==10 and d['Description']=='updated'"
run "wait function-updated-v2" awsl wait function-updated-v2 --function-name "$FN"
run "get-function-configuration after update" awsl get-function-configuration --function-name "$FN"
jcheck "update settled" "$OUT" \
	"d['LastUpdateStatus']=='Successful' and 'LastUpdateStatusReason' not in d and d['MemorySize']==256 and d['Timeout']==10 and d['Description']=='updated'"

run "publish-version" awsl publish-version --function-name "$FN" --description v1
jcheck "publish: version 1" "$OUT" \
	"d['Version']=='1' and d['FunctionArn']==ARN+':1' and d['Description']=='v1' and d['CodeSha256']=='$ZIP_SHA' and d['MemorySize']==256"
V1_REV=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("RevisionId",""))' "$OUT")
run "wait published-version-active" awsl wait published-version-active --function-name "$FN" --qualifier 1
run "publish-version unchanged" awsl publish-version --function-name "$FN"
jcheck "publish unchanged returns version 1 again" "$OUT" "d['Version']=='1' and d['RevisionId']=='$V1_REV'"
run "get-function-configuration :1" awsl get-function-configuration --function-name "$FN" --qualifier 1
jcheck "version 1 config" "$OUT" "d['Version']=='1' and d['FunctionArn']==ARN+':1' and d['State']=='Active' and d['MemorySize']==256"
fails "get-function missing version: ResourceNotFoundException" ResourceNotFoundException \
	awsl get-function --function-name "$FN" --qualifier 42

run "list-functions" awsl list-functions
jcheck "list-functions: one unqualified item without State" "$OUT" \
	"[f['FunctionArn'] for f in d['Functions'] if f['FunctionName']==FN]==[ARN] and all('State' not in f and 'LastUpdateStatus' not in f for f in d['Functions'])"
run "list-functions ALL" awsl list-functions --function-version ALL
jcheck "list-functions ALL: \$LATEST and 1" "$OUT" \
	"sorted(f['FunctionArn'] for f in d['Functions'] if f['FunctionName']==FN)==sorted([ARN+':\$LATEST', ARN+':1'])"
run "list-versions-by-function" awsl list-versions-by-function --function-name "$FN"
jcheck "list-versions: order and ARNs" "$OUT" \
	"[v['Version'] for v in d['Versions']]==['\$LATEST','1'] and d['Versions'][0]['FunctionArn']==ARN+':\$LATEST' and d['Versions'][1]['FunctionArn']==ARN+':1'"

run "tag-resource" awsl tag-resource --resource "$ARN" --tags stage=dev,owner=me
run "list-tags" awsl list-tags --resource "$ARN"
jcheck "list-tags after tag" "$OUT" "d['Tags']=={'team':'smoke','stage':'dev','owner':'me'}"
run "untag-resource" awsl untag-resource --resource "$ARN" --tag-keys team owner
run "list-tags after untag" awsl list-tags --resource "$ARN"
jcheck "list-tags after untag" "$OUT" "d['Tags']=={'stage':'dev'}"
fails "tag-resource on a version: InvalidParameterValueException" InvalidParameterValueException \
	awsl tag-resource --resource "$ARN:1" --tags a=b

run "get-account-settings" awsl get-account-settings
jcheck "account settings" "$OUT" \
	"set(d['AccountLimit'])=={'CodeSizeUnzipped','CodeSizeZipped','ConcurrentExecutions','TotalCodeSize','UnreservedConcurrentExecutions'} and d['AccountUsage']['FunctionCount']==1 and d['AccountUsage']['TotalCodeSize']>=$ZIP_SIZE"

if aws --endpoint-url "$(next_ep)" lambda invoke --function-name "$FN" \
	--payload '{"x":1}' "$TMP/invoke.out" >"$TMP/stdout" 2>"$TMP/stderr"; then
	jcheck "invoke: status and version" "$(cat "$TMP/stdout")" "d['StatusCode']==200 and d['ExecutedVersion']=='\$LATEST' and 'FunctionError' not in d"
	jcheck "invoke: payload" "$(cat "$TMP/invoke.out")" "d=={'echo':{'x':1},'env':'yes'}"
else
	bad "invoke: $(cat "$TMP/stderr")"
fi

awslogs() { aws --endpoint-url "$(next_ep)" logs "$@"; }
run "logs filter-log-events" awslogs filter-log-events --log-group-name "/aws/lambda/$FN" --filter-pattern REPORT
jcheck "logs: the invoke's REPORT" "$OUT" "len(d['events'])>=1 and d['events'][0]['message'].startswith('REPORT RequestId: ')"
run "logs describe-log-streams" awslogs describe-log-streams --log-group-name "/aws/lambda/$FN" --order-by LastEventTime --descending
jcheck "logs: streams named as AWS names them" "$OUT" "(lambda n: len(n)==52 and n[4]==n[7]=='/' and n[10:20]=='/[\$LATEST]' and all(c in '0123456789abcdef' for c in n[20:]))(d['logStreams'][0]['logStreamName'])"
STREAM=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["logStreams"][0]["logStreamName"])' "$OUT" 2>/dev/null || true)
run "logs get-log-events" awslogs get-log-events --log-group-name "/aws/lambda/$FN" --log-stream-name "$STREAM" --start-from-head
jcheck "logs: INIT_START then START first, f/ and b/ tokens" "$OUT" "d['events'][0]['message'].startswith('INIT_START Runtime Version: ') and d['events'][1]['message'].startswith('START RequestId: ') and d['nextForwardToken'].startswith('f/') and d['nextBackwardToken'].startswith('b/')"
fails "logs of a missing group: ResourceNotFoundException" ResourceNotFoundException awslogs filter-log-events --log-group-name /aws/lambda/no-such-function

fails "get-function missing: ResourceNotFoundException" ResourceNotFoundException \
	awsl get-function --function-name no-such-function
if grep -q "Function not found: arn:aws:lambda:us-east-1:$ACCOUNT:function:no-such-function" "$TMP/stderr"; then
	ok "missing function message"
else
	bad "missing function message: $(cat "$TMP/stderr")"
fi
fails "invalid name: ValidationException" ValidationException awsl get-function --function-name 'bad!name'

run "delete-function" awsl delete-function --function-name "$FN"
fails "get-function after delete: ResourceNotFoundException" ResourceNotFoundException awsl get-function --function-name "$FN"
fails "delete-function again: ResourceNotFoundException" ResourceNotFoundException awsl delete-function --function-name "$FN"

echo "smoke: boto3"
if python3 "$ROOT/scripts/smoke_boto3.py" --endpoint "$(IFS=,; echo "${EPS[*]}")" >"$TMP/boto3.out" 2>&1; then :; fi
cat "$TMP/boto3.out"
COUNTS=$(sed -n 's/^smoke_boto3: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$TMP/boto3.out" | tail -n 1)
if [[ -z "$COUNTS" ]]; then
	bad "smoke_boto3.py did not finish"
else
	PASS=$((PASS + ${COUNTS% *}))
	FAIL=$((FAIL + ${COUNTS#* }))
fi

if [[ $FAIL -ne 0 ]]; then
	echo "--- lambdad log (tail)" >&2
	tail -n 40 "$TMP/lambdad.log" >&2
fi
echo "smoke: $PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
