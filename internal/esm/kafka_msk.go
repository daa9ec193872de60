package esm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kafka"
	"github.com/aws/aws-sdk-go-v2/service/kafka/types"
	"github.com/twmb/franz-go/pkg/sasl"
	saslaws "github.com/twmb/franz-go/pkg/sasl/aws"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/fault"
)

// Amazon MSK mappings (EventSourceArn arn:aws:kafka:<region>:<account>:
// cluster/<name>/<uuid>) are Kafka mappings whose brokers lambdad looks
// up rather than being told. As AWS's guide says ("How Lambda chooses a
// bootstrap broker"), the cluster's GetBootstrapBrokers answers several
// broker strings, one per way in, and the mapping's authentication picks
// one:
//   - a SASL_SCRAM_512_AUTH secret: BootstrapBrokerStringSaslScram;
//   - a CLIENT_CERTIFICATE_TLS_AUTH secret: BootstrapBrokerStringTls,
//     with the client certificate;
//   - no secret: IAM (BootstrapBrokerStringSaslIam, AWS_MSK_IAM signed
//     with lambdad's own AWS credentials) when the cluster has it, else
//     unauthenticated TLS (BootstrapBrokerStringTls), else plaintext
//     (BootstrapBrokerString).
//
// MSK takes no other authentication (no SASL/PLAIN, no SCRAM-256) and no
// VPC settings or root CA: the cluster's own network and Amazon's public
// certificates are used [?].
//
// Local servers do not all have GetBootstrapBrokers (moto 5.2.1 has not):
// --msk-bootstrap-brokers names a cluster's brokers instead, used as they
// are (plaintext unless a secret says otherwise). The brokers are looked
// up each time the poller starts, never stored: a cluster's brokers change.

// MSKFlagHint names the setting that gives an MSK cluster's brokers.
const MSKFlagHint = "--msk-bootstrap-brokers (LAMBDAD_MSK_BOOTSTRAP_BROKERS)"

// resultNoBrokers is what an MSK mapping reports when it finds no brokers
// (lambdad's words: AWS's Kafka API always answers them).
const resultNoBrokers = "PROBLEM: Lambda could not get the bootstrap brokers of Amazon MSK cluster "

// isMSKCluster tells an MSK cluster ARN's shape: AWS's
// cluster/<name>/<uuid>, or moto's cluster/<uuid>.
func isMSKCluster(arn string) bool {
	a, err := awsconn.ParseARN(arn)
	if err != nil || a.Service != "kafka" || a.Region == "" || a.Account == "" {
		return false
	}
	p := strings.Split(a.Resource, "/")
	return (len(p) == 2 || len(p) == 3) && p[0] == "cluster" && !slices.Contains(p, "")
}

// mskSource checks an MSK mapping's cluster and authentication at create:
// the ARN names a cluster, the authentication is one MSK takes, lambdad
// can find the brokers (the flag names them, or the Kafka API is there),
// and the cluster exists where the API can tell.
func (s *Service) mskSource(ctx context.Context, arn string, acc []accessSetting) error {
	if !isMSKCluster(arn) {
		return fault.InvalidParameterf("Unrecognized event source.") // [?] as for other ARNs lambdad cannot read
	}
	if err := mskAccess(acc); err != nil {
		return err
	}
	_, override := s.cfg.MSKBrokers[arn]
	if err := s.cfg.AWS.Check(awsconn.Kafka); err != nil {
		if override {
			return nil
		}
		return fault.InvalidParameterf("lambdad cannot find the brokers of Amazon MSK cluster %s: it has no endpoint and no AWS credentials for the Amazon MSK API. Set %s to a local server, give lambdad AWS credentials, or name the brokers with %s.", arn, awsconn.FlagHint, MSKFlagHint)
	}
	return s.mskExists(ctx, arn)
}

// mskAccess refuses the authentication MSK does not take.
func mskAccess(acc []accessSetting) error {
	for _, a := range acc {
		if a.Type != accessScram512 && a.Type != accessClientCert {
			return fault.InvalidParameterf("Unsupported SourceAccessConfiguration type %s for Amazon MSK event sources.", a.Type) // [?]
		}
	}
	return nil
}

// mskExists refuses a cluster the Kafka API says does not exist; a
// server that cannot say (an error other than not found) does not stop
// the mapping, whose poller then reports what it finds.
func (s *Service) mskExists(ctx context.Context, arn string) error {
	a, _ := awsconn.ParseARN(arn)
	cl := s.cfg.AWS.Kafka(a.Region)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cl.DescribeClusterV2(ctx, &kafka.DescribeClusterV2Input{ClusterArn: aws.String(arn)})
	var nf *types.NotFoundException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf):
		return mskNotFound(arn)
	}
	// Some servers (moto) fail to describe an unknown cluster rather
	// than answer NotFoundException: their list tells.
	listed, lerr := listsCluster(ctx, cl, arn)
	if lerr != nil || listed {
		s.cfg.Logger.Warn("esm: cannot tell whether an MSK cluster exists", "cluster", arn, "err", err)
		return nil
	}
	return mskNotFound(arn)
}

func mskNotFound(arn string) error {
	return fault.InvalidParameterf("The Amazon MSK cluster %s does not exist.", arn) // [?]
}

func listsCluster(ctx context.Context, cl *kafka.Client, arn string) (bool, error) {
	p := kafka.NewListClustersV2Paginator(cl, &kafka.ListClustersV2Input{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(out.ClusterInfoList, func(c types.Cluster) bool { return aws.ToString(c.ClusterArn) == arn }) {
			return true, nil
		}
	}
	return false, nil
}

// resolveMSK finds an MSK mapping's brokers and the transport to them; a
// self-managed mapping keeps its own.
func (p *kafkaPoller) resolveMSK(ctx context.Context) error {
	arn := p.m.EventSourceARN
	if arn == "" {
		return nil
	}
	svc := p.r.svc
	p.mskTLS, p.mskIAM = false, false
	if b, ok := svc.cfg.MSKBrokers[arn]; ok {
		p.brokers = b
		return nil
	}
	hint := func(err error) error {
		return &authError{fmt.Sprintf("%s%s: %v. Where the Kafka API has no GetBootstrapBrokers, set %s to %s=<host:port,...>.", resultNoBrokers, arn, err, MSKFlagHint, arn), err}
	}
	if err := svc.cfg.AWS.Check(awsconn.Kafka); err != nil {
		return hint(err)
	}
	a, _ := awsconn.ParseARN(arn)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := svc.cfg.AWS.Kafka(a.Region).GetBootstrapBrokers(cctx, &kafka.GetBootstrapBrokersInput{ClusterArn: aws.String(arn)})
	if err != nil {
		return hint(err)
	}
	brokers, tls, iam, err := chooseBrokers(out, p.m.Kafka.Access)
	if err != nil {
		return hint(err)
	}
	p.brokers, p.mskTLS, p.mskIAM = brokers, tls, iam
	return nil
}

// chooseBrokers picks the broker string the mapping's authentication
// uses (see above): the brokers, and whether to use TLS and IAM.
func chooseBrokers(out *kafka.GetBootstrapBrokersOutput, acc []accessSetting) (brokers []string, useTLS, iam bool, err error) {
	split := func(s *string) []string {
		var b []string
		for _, h := range strings.Split(aws.ToString(s), ",") {
			if h = strings.TrimSpace(h); h != "" {
				b = append(b, h)
			}
		}
		return b
	}
	auth := ""
	for _, a := range acc {
		if a.Type == accessScram512 || a.Type == accessClientCert {
			auth = a.Type
		}
	}
	switch auth {
	case accessScram512:
		if b := split(out.BootstrapBrokerStringSaslScram); len(b) > 0 {
			return b, false, false, nil // the SCRAM secret turns TLS on itself
		}
		return nil, false, false, errors.New("the cluster has no SASL/SCRAM brokers")
	case accessClientCert:
		if b := split(out.BootstrapBrokerStringTls); len(b) > 0 {
			return b, true, false, nil
		}
		return nil, false, false, errors.New("the cluster has no TLS brokers")
	}
	if b := split(out.BootstrapBrokerStringSaslIam); len(b) > 0 {
		return b, true, true, nil
	}
	if b := split(out.BootstrapBrokerStringTls); len(b) > 0 {
		return b, true, false, nil
	}
	if b := split(out.BootstrapBrokerString); len(b) > 0 {
		return b, false, false, nil
	}
	return nil, false, false, errors.New("the cluster answered no brokers")
}

// iamMechanism is SASL AWS_MSK_IAM signed with lambdad's own AWS
// credentials (AWS signs with the mapping's execution role; lambdad has
// no role to assume).
func (p *kafkaPoller) iamMechanism() sasl.Mechanism {
	conn := p.r.svc.cfg.AWS
	return saslaws.ManagedStreamingIAM(func(ctx context.Context) (saslaws.Auth, error) {
		c, err := conn.Credentials(ctx)
		if err != nil {
			return saslaws.Auth{}, err
		}
		return saslaws.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: "lambdad"}, nil
	})
}
