package esm

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"

	"github.com/lambdad/lambdad/internal/awsconn"
)

// The broker string follows the mapping's authentication, as AWS's guide
// says: SCRAM and mTLS secrets pick their own; without a secret, IAM
// before unauthenticated TLS before plaintext.
func TestChooseBrokers(t *testing.T) {
	all := &kafka.GetBootstrapBrokersOutput{
		BootstrapBrokerString:          aws.String("p1:9092,p2:9092"),
		BootstrapBrokerStringTls:       aws.String("t1:9094,t2:9094"),
		BootstrapBrokerStringSaslScram: aws.String("s1:9096"),
		BootstrapBrokerStringSaslIam:   aws.String("i1:9098"),
	}
	scram := []accessSetting{{Type: accessScram512, URI: "arn:aws:secretsmanager:us-east-1:1:secret:s"}}
	cert := []accessSetting{{Type: accessClientCert, URI: "arn:aws:secretsmanager:us-east-1:1:secret:c"}}
	cases := []struct {
		name     string
		out      *kafka.GetBootstrapBrokersOutput
		acc      []accessSetting
		brokers  []string
		tls, iam bool
		fails    bool
	}{
		{"scram", all, scram, []string{"s1:9096"}, false, false, false},
		{"mtls", all, cert, []string{"t1:9094", "t2:9094"}, true, false, false},
		{"iam first", all, nil, []string{"i1:9098"}, true, true, false},
		{"then tls", &kafka.GetBootstrapBrokersOutput{BootstrapBrokerString: all.BootstrapBrokerString, BootstrapBrokerStringTls: all.BootstrapBrokerStringTls}, nil, []string{"t1:9094", "t2:9094"}, true, false, false},
		{"then plaintext", &kafka.GetBootstrapBrokersOutput{BootstrapBrokerString: all.BootstrapBrokerString}, nil, []string{"p1:9092", "p2:9092"}, false, false, false},
		{"scram not on", &kafka.GetBootstrapBrokersOutput{BootstrapBrokerString: all.BootstrapBrokerString}, scram, nil, false, false, true},
		{"none", &kafka.GetBootstrapBrokersOutput{}, nil, nil, false, false, true},
	}
	for _, c := range cases {
		b, tls, iam, err := chooseBrokers(c.out, c.acc)
		if (err != nil) != c.fails || !reflect.DeepEqual(b, c.brokers) || tls != c.tls || iam != c.iam {
			t.Errorf("%s: %v tls=%v iam=%v err=%v", c.name, b, tls, iam, err)
		}
	}
}

func TestIsMSKCluster(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:kafka:us-east-1:123456789012:cluster/demo/6fa1c9f2-3b1e-4c1a-9d6e-1f2a3b4c5d6e-2": true,
		"arn:aws:kafka:us-east-1:123456789012:cluster/6fa1c9f2":                                    true,
		"arn:aws:kafka:us-east-1:123456789012:cluster/":                                            false,
		"arn:aws:kafka:us-east-1:123456789012:topic/demo/x/t":                                      false,
		"arn:aws:sqs:us-east-1:123456789012:cluster/demo/x":                                        false,
		"arn:aws:kafka::123456789012:cluster/demo/x":                                               false,
	} {
		if got := isMSKCluster(arn); got != want {
			t.Errorf("%s: %v", arn, got)
		}
	}
}

// IAM authentication signs AWS_MSK_IAM with lambdad's own credentials,
// for the broker's region.
func TestIAMMechanism(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDLAMBDADTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	conn, err := awsconn.New(context.Background(), awsconn.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p := &kafkaPoller{r: &runner{svc: &Service{cfg: Config{AWS: conn}}}}
	mech := p.iamMechanism()
	if mech.Name() != "AWS_MSK_IAM" {
		t.Fatalf("mechanism %s", mech.Name())
	}
	_, first, err := mech.Authenticate(context.Background(), "b-1.demo.abc.c2.kafka.eu-west-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]string
	if err := json.Unmarshal(first, &msg); err != nil {
		t.Fatalf("%s: %v", first, err)
	}
	if c := msg["x-amz-credential"]; !strings.HasPrefix(c, "AKIDLAMBDADTEST/") || !strings.Contains(c, "/eu-west-1/kafka-cluster/") || msg["action"] != "kafka-cluster:Connect" {
		t.Errorf("first message %s", first)
	}
}
