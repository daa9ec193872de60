package server_test

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// pySigV4 is a Python module that calls lambdad's API signed by hand with
// hmac/hashlib (botocore is not on a function's path), by default with the
// credentials the function finds in its environment.
const pySigV4 = `import datetime, hashlib, hmac, json, os, urllib.error, urllib.parse, urllib.request

def call(method, path, body=b'', region=None, key=None, secret=None, token=None):
    region = region or os.environ['AWS_REGION']
    key = key or os.environ['AWS_ACCESS_KEY_ID']
    secret = secret or os.environ['AWS_SECRET_ACCESS_KEY']
    token = os.environ.get('AWS_SESSION_TOKEN') if token is None else token
    ep = os.environ['AWS_ENDPOINT_URL_LAMBDA']
    t = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
    h = {'host': urllib.parse.urlsplit(ep).netloc, 'x-amz-date': t}
    if token:
        h['x-amz-security-token'] = token
    signed = ';'.join(sorted(h))
    canon = '\n'.join([method, path, '', ''.join(k + ':' + h[k] + '\n' for k in sorted(h)), signed, hashlib.sha256(body).hexdigest()])
    scope = t[:8] + '/' + region + '/lambda/aws4_request'
    sts = '\n'.join(['AWS4-HMAC-SHA256', t, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ('AWS4' + secret).encode()
    for p in (t[:8], region, 'lambda', 'aws4_request'):
        k = hmac.new(k, p.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h['authorization'] = 'AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s' % (key, scope, signed, sig)
    req = urllib.request.Request(ep + path, data=body or None, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return {'status': r.status, 'type': '', 'body': r.read().decode()}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'type': e.headers.get('X-Amzn-ErrorType', ''), 'body': e.read().decode()}
`

// pyCreds is a handler that reports its environment's credentials and what
// lambdad answers it, signed with them, for ListFunctions and
// GetAccountSettings.
const pyCreds = pySigV4 + `
def handler(event, context):
    return {
        'key': os.environ['AWS_ACCESS_KEY_ID'],
        'secret': os.environ['AWS_SECRET_ACCESS_KEY'],
        'token': os.environ['AWS_SESSION_TOKEN'],
        'list': call('GET', '/2015-03-31/functions/'),
        'settings': call('GET', '/2016-08-19/account-settings/'),
    }
`

type pyAnswer struct {
	Status int    `json:"status"`
	Type   string `json:"type"`
	Body   string `json:"body"`
}

type credsReport struct {
	Key, Secret, Token string
	List, Settings     pyAnswer
}

// TestFunctionCredentialsAreTheirOwn: each environment gets its own key,
// valid for its function's account and region only and only while it runs.
// Before, every function shared one secret and, with --credentials on, any
// 12-digit key was accepted with it, in any region: a function could act as
// any account.
func TestFunctionCredentialsAreTheirOwn(t *testing.T) {
	t.Parallel()
	const acct, other = "111111111111", "222222222222"
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) {
		c.Credentials = map[string]string{acct: "admin-secret", other: "other-secret"}
	})
	client := func(key, secret, token, region string) *lambda.Client {
		return lambda.New(lambda.Options{Region: region, BaseEndpoint: aws.String(d.URL),
			Credentials: credentials.NewStaticCredentialsProvider(key, secret, token),
			Retryer:     aws.NopRetryer{}})
	}
	ctx := context.Background()
	admin := client(acct, "admin-secret", "", testkit.Region)
	testkit.CreateActive(t, client(other, "other-secret", "", testkit.Region), testkit.PyFunction(t, "other-accounts-fn", "def handler(e, c):\n    return 1\n"))
	testkit.CreateActive(t, admin, testkit.PyFunction(t, "whoami", pyCreds))
	testkit.CreateActive(t, admin, testkit.PyFunction(t, "whoami-too", pyCreds))

	run := func(name string) credsReport {
		t.Helper()
		out := testkit.MustInvoke(t, admin, &lambda.InvokeInput{FunctionName: aws.String(name)})
		if out.FunctionError != nil {
			t.Fatalf("%s: %s", name, out.Payload)
		}
		return testkit.DecodeJSON[credsReport](t, out.Payload)
	}
	r := run("whoami")
	if !regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`).MatchString(r.Key) || r.Secret == "" || r.Token == "" {
		t.Errorf("credentials %q/%q/%q are not shaped like AWS temporary credentials", r.Key, r.Secret, r.Token)
	}
	// The function calls lambdad in its own account.
	if r.List.Status != 200 || !strings.Contains(r.List.Body, `"whoami"`) || strings.Contains(r.List.Body, "other-accounts-fn") {
		t.Errorf("ListFunctions with the function's credentials: %+v", r.List)
	}
	if r.Settings.Status != 200 {
		t.Errorf("GetAccountSettings with the function's credentials: %+v", r.Settings)
	}
	if r2 := run("whoami-too"); r2.Key == r.Key || r2.Secret == r.Secret {
		t.Errorf("two functions got the same credentials: %s", r.Key)
	}

	// The same credentials from outside: their account, their region.
	fn := client(r.Key, r.Secret, r.Token, testkit.Region)
	list, err := fn.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 2 {
		t.Fatalf("ListFunctions with the function's credentials: %v %d functions", err, len(list.Functions))
	}
	_, err = client(r.Key, r.Secret, r.Token, "eu-west-1").ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "UnrecognizedClientException", 403, "The security token included in the request is invalid.")
	_, err = client(r.Key, r.Secret, "", testkit.Region).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "UnrecognizedClientException", 403, "The security token included in the request is invalid.")
	for _, pretend := range []string{other, "999999999999", acct} {
		_, err = client(pretend, r.Secret, r.Token, testkit.Region).ListFunctions(ctx, &lambda.ListFunctionsInput{})
		if testkit.HTTPStatus(err) != 403 {
			t.Errorf("the function's secret with key %s: %v", pretend, err)
		}
	}
	_, err = client(r.Key, r.Secret, r.Token, testkit.Region).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:" + other + ":function:other-accounts-fn")})
	testkit.APIErrPrefix(t, err, "AccessDeniedException", 403, "")

	// Once its environment stops, the key is refused.
	if _, err := admin.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("whoami")}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the deleted function's key is refused", func() bool {
		_, err := fn.ListFunctions(ctx, &lambda.ListFunctionsInput{})
		return testkit.HTTPStatus(err) == 403
	})
	_, err = fn.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "UnrecognizedClientException", 403, "The security token included in the request is invalid.")
}

// TestFunctionKeysCheckedWithoutCredentials: with --credentials off, other
// keys are taken at their word, but a function's key is still checked and
// still stands for its function's account only.
func TestFunctionKeysCheckedWithoutCredentials(t *testing.T) {
	t.Parallel()
	d, c := servertest.InvokeEnv(t, nil)
	testkit.CreateActive(t, c, testkit.PyFunction(t, "whoami", pyCreds))
	r := testkit.DecodeJSON[credsReport](t, testkit.Call(t, c, "whoami", "{}").Payload)
	if r.List.Status != 200 || !strings.Contains(r.List.Body, `"whoami"`) {
		t.Fatalf("ListFunctions from the function: %+v", r.List)
	}
	ctx := context.Background()
	forged := lambda.New(lambda.Options{Region: testkit.Region, BaseEndpoint: aws.String(d.URL),
		Credentials: credentials.NewStaticCredentialsProvider(r.Key, "not-the-secret", r.Token), Retryer: aws.NopRetryer{}})
	_, err := forged.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	testkit.APIErr(t, err, "InvalidSignatureException", 403, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	var body map[string]any
	if err := json.Unmarshal([]byte(r.Settings.Body), &body); err != nil || r.Settings.Status != 200 {
		t.Errorf("GetAccountSettings from the function: %+v", r.Settings)
	}
}

// TestFunctionsHeldToOwnCredentials: without --credentials lambdad checks
// no caller's signature, but a call that comes from inside an isolated
// environment must still carry that function's own credentials: unsigned,
// or signed with a made-up 12-digit key to act as another account, it is
// refused. Before, a function could act as any account this way.
func TestFunctionsHeldToOwnCredentials(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("environments are only told apart from other callers when isolated (root)")
	}
	d := servertest.StartLambdad(t, t.TempDir(), nil)
	c := servertest.InvokeClient(d)
	src := pySigV4 + `
def handler(event, context):
    unsigned = urllib.request.Request(os.environ['AWS_ENDPOINT_URL_LAMBDA'] + '/2015-03-31/functions/')
    try:
        with urllib.request.urlopen(unsigned, timeout=10) as r:
            bare = {'status': r.status, 'type': '', 'body': r.read().decode()}
    except urllib.error.HTTPError as e:
        bare = {'status': e.code, 'type': e.headers.get('X-Amzn-ErrorType', ''), 'body': e.read().decode()}
    return {
        'unsigned': bare,
        'other': call('GET', '/2015-03-31/functions/', key='999999999999', secret='x', token=''),
        'own': call('GET', '/2015-03-31/functions/'),
        # Invoke is read by lambdad's own front, not net/http: it must know
        # environments apart all the same.
        'invoke_unsigned': invoke_unsigned(),
        'invoke_other': call('POST', '/2015-03-31/functions/nobody/invocations', body=b'{}', key='999999999999', secret='x', token=''),
        'invoke_own': call('POST', '/2015-03-31/functions/nobody/invocations', body=b'{}'),
    }

def invoke_unsigned():
    req = urllib.request.Request(os.environ['AWS_ENDPOINT_URL_LAMBDA'] + '/2015-03-31/functions/nobody/invocations', data=b'{}', method='POST')
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return {'status': r.status, 'type': '', 'body': r.read().decode()}
    except urllib.error.HTTPError as e:
        return {'status': e.code, 'type': e.headers.get('X-Amzn-ErrorType', ''), 'body': e.read().decode()}
`
	testkit.CreateActive(t, c, testkit.PyFunction(t, "caller", src))
	got := testkit.DecodeJSON[map[string]pyAnswer](t, testkit.Call(t, c, "caller", "{}").Payload)
	if a := got["unsigned"]; a.Status != 403 || a.Type != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned call from a function: %+v", a)
	}
	if a := got["other"]; a.Status != 403 || a.Type != "UnrecognizedClientException" {
		t.Errorf("a function acting as account 999999999999: %+v", a)
	}
	if a := got["own"]; a.Status != 200 || !strings.Contains(a.Body, `"FunctionName":"caller"`) {
		t.Errorf("a function's own credentials: %+v", a)
	}
	if a := got["invoke_unsigned"]; a.Status != 403 || a.Type != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned Invoke from a function: %+v", a)
	}
	if a := got["invoke_other"]; a.Status != 403 || a.Type != "UnrecognizedClientException" {
		t.Errorf("a function invoking as account 999999999999: %+v", a)
	}
	if a := got["invoke_own"]; a.Status != 404 || a.Type != "ResourceNotFoundException" {
		t.Errorf("a function invoking with its own credentials: %+v", a)
	}
	// The same unsigned call from outside an environment still works.
	if _, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
		t.Fatal(err)
	}
}
