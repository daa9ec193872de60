package server_test

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/testkit"
)

// crossNodeCaller calls lambdad's API through both nodes with its own
// environment's credentials (one of the two is not the node it runs on),
// then with a forged key and with its own key id under a wrong secret.
const crossNodeCaller = `import boto3, botocore, os
def handler(e, c):
    out = {}
    for name in ('URL_A', 'URL_B'):
        l = boto3.client('lambda', endpoint_url=os.environ[name])
        arn = l.get_function(FunctionName=c.function_name)['Configuration']['FunctionArn']
        out[name] = [arn, len(l.list_functions()['Functions'])]
    def refused(key, secret, token):
        l = boto3.client('lambda', endpoint_url=os.environ['URL_B'], aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token)
        try:
            l.list_functions()
            return 'accepted'
        except botocore.exceptions.ClientError as err:
            return err.response['Error']['Code']
    out['forged'] = refused('ASIA' + 'A' * 16, 'x' * 40, os.environ['AWS_SESSION_TOKEN'])
    out['wrongSecret'] = refused(os.environ['AWS_ACCESS_KEY_ID'], 'x' * 40, os.environ['AWS_SESSION_TOKEN'])
    return out
`

// TestSharedFunctionCredentials: on a shared PostgreSQL store, the
// credentials a node gives an environment are accepted by the other node
// too, as the function's own account; keys no node issued are not.
func TestSharedFunctionCredentials(t *testing.T) {
	url := testkit.Postgres(t)
	checked := func(c *server.Config) { c.Credentials = map[string]string{testkit.InvokeKey: "secret"} }
	da, a := pgNode(t, url, "", checked)
	db, _ := pgNode(t, url, "", checked)
	in := testkit.PyFunction(t, "crossnode", crossNodeCaller)
	in.Runtime = testkit.Boto3Runtime(t)
	in.Timeout = aws.Int32(30)
	in.Environment = &types.Environment{Variables: map[string]string{"URL_A": da.URL, "URL_B": db.URL}}
	created := testkit.CreateActive(t, a, in)
	out := testkit.MustInvoke(t, a, &lambda.InvokeInput{FunctionName: aws.String("crossnode")})
	if out.FunctionError != nil {
		t.Fatalf("%s: %s", *out.FunctionError, out.Payload)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Payload, &got); err != nil {
		t.Fatalf("%v: %s", err, out.Payload)
	}
	for _, node := range []string{"URL_A", "URL_B"} {
		r, _ := got[node].([]any)
		if len(r) != 2 || r[0] != *created.Configuration.FunctionArn || r[1] != float64(1) {
			t.Errorf("through %s: %v (want %s and one function)", node, got[node], *created.Configuration.FunctionArn)
		}
	}
	if got["forged"] != "UnrecognizedClientException" {
		t.Errorf("a forged key: %v", got["forged"])
	}
	if got["wrongSecret"] != "InvalidSignatureException" {
		t.Errorf("an issued key id with a wrong secret: %v", got["wrongSecret"])
	}
}
