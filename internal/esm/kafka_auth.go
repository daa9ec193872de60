package esm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// Kafka cluster authentication, as AWS's guide describes it for
// self-managed clusters: the credentials and certificates live in Secrets
// Manager secrets that SourceAccessConfigurations name, read when the
// poller starts and read again after the cluster refused them (so that a
// secret fixed with PutSecretValue is picked up without touching the
// mapping).
//   - BASIC_AUTH (SASL/PLAIN), SASL_SCRAM_256_AUTH, SASL_SCRAM_512_AUTH:
//     secret {"username","password"}, always over TLS (SASL_SSL): AWS does
//     not send SASL credentials in plaintext;
//   - CLIENT_CERTIFICATE_TLS_AUTH (mTLS): secret {"certificate" (PEM
//     chain, client first), "privateKey" (PEM), "privateKeyPassword"?};
//   - SERVER_ROOT_CA_CERTIFICATE: secret {"certificate": PEM}, the roots
//     the brokers' certificates are verified against instead of the
//     system's.
//
// A mapping without any of them connects in plaintext.

// The access configuration types.
const (
	accessBasic      = "BASIC_AUTH"
	accessScram256   = "SASL_SCRAM_256_AUTH"
	accessScram512   = "SASL_SCRAM_512_AUTH"
	accessClientCert = "CLIENT_CERTIFICATE_TLS_AUTH"
	accessRootCA     = "SERVER_ROOT_CA_CERTIFICATE"
)

// What a Kafka mapping reports in LastProcessingResult when it cannot get
// in. The SASL and authorization ones are AWS's (as users quote them); the
// others use the headings of AWS's Kafka troubleshooting guide [?].
const (
	resultSASLFailed   = "PROBLEM: SASL authentication failed."
	resultNotAllowed   = "PROBLEM: Cluster failed to authorize Lambda."
	resultServerAuth   = "PROBLEM: Lambda failed to authenticate server."             // [?]
	resultClientAuth   = "PROBLEM: Server failed to authenticate Lambda."             // [?]
	resultInvalidCert  = "PROBLEM: Provided certificate or private key is invalid."   // [?]
	resultSecretUnread = "PROBLEM: Lambda failed to read the Secrets Manager secret " // [?] + ARN + ": " + why
)

// kafkaAccess checks SourceAccessConfigurations: network placement is kept
// (and meaningless on one host); at most one authentication method, plus
// an optional root CA, each naming a Secrets Manager secret.
func (s *Service) kafkaAccess(in []spec.SourceAccessConfiguration) ([]accessSetting, error) {
	var out []accessSetting
	auth, secrets := "", false
	seen := map[string]bool{}
	for _, a := range in {
		t, u := aws.ToString(a.Type), aws.ToString(a.URI)
		switch t {
		case "VPC_SUBNET", "VPC_SECURITY_GROUP":
		case accessBasic, accessScram256, accessScram512, accessClientCert:
			if auth != "" {
				return nil, fault.InvalidParameterf("Only one authentication method can be specified for Kafka event sources, found %s and %s.", auth, t) // [?]
			}
			auth = t
			fallthrough
		case accessRootCA:
			if seen[t] {
				return nil, fault.InvalidParameterf("Duplicate SourceAccessConfiguration type %s.", t) // [?]
			}
			if arn, err := awsconn.ParseARN(u); err != nil || arn.Service != "secretsmanager" {
				return nil, fault.InvalidParameterf("The URI of %s must be the ARN of a Secrets Manager secret, got %s.", t, u) // [?]
			}
			secrets = true
		default:
			return nil, fault.InvalidParameterf("Unsupported SourceAccessConfiguration type %s for Kafka event sources.", t) // [?]
		}
		seen[t] = true
		out = append(out, accessSetting{Type: t, URI: u})
	}
	if secrets {
		if err := s.cfg.AWS.Check(awsconn.SecretsManager); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// authError is why a poller could not get into the cluster: what the
// mapping reports, and the cause for the log.
type authError struct {
	result string
	err    error
}

func (e *authError) Error() string { return e.result + " " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// kafkaClientOpts reads the mapping's secrets and makes the client options
// that authenticate with them; none for a plaintext mapping.
func (p *kafkaPoller) kafkaClientOpts(ctx context.Context) ([]kgo.Opt, error) {
	var (
		mech    sasl.Mechanism
		tlsConf *tls.Config
	)
	useTLS := func() *tls.Config {
		if tlsConf == nil {
			tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return tlsConf
	}
	for _, a := range p.m.Kafka.Access {
		switch a.Type {
		case accessBasic, accessScram256, accessScram512:
			var sec struct{ Username, Password string }
			if err := p.secret(ctx, a.URI, &sec); err != nil {
				return nil, err
			}
			if sec.Username == "" || sec.Password == "" {
				return nil, &authError{resultSecretUnread + a.URI + ": it has no username and password.", errors.New("secret without username and password")}
			}
			switch a.Type {
			case accessBasic:
				mech = plain.Auth{User: sec.Username, Pass: sec.Password}.AsMechanism()
			case accessScram256:
				mech = scram.Auth{User: sec.Username, Pass: sec.Password}.AsSha256Mechanism()
			default:
				mech = scram.Auth{User: sec.Username, Pass: sec.Password}.AsSha512Mechanism()
			}
			useTLS()
		case accessRootCA:
			var sec struct{ Certificate string }
			if err := p.secret(ctx, a.URI, &sec); err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(sec.Certificate)) {
				return nil, &authError{resultInvalidCert, fmt.Errorf("secret %s: no PEM certificate in \"certificate\"", a.URI)}
			}
			useTLS().RootCAs = pool
		case accessClientCert:
			var sec struct {
				Certificate        string `json:"certificate"`
				PrivateKey         string `json:"privateKey"`
				PrivateKeyPassword string `json:"privateKeyPassword"`
			}
			if err := p.secret(ctx, a.URI, &sec); err != nil {
				return nil, err
			}
			cert, err := clientCertificate(sec.Certificate, sec.PrivateKey, sec.PrivateKeyPassword)
			if err != nil {
				return nil, &authError{resultInvalidCert, fmt.Errorf("secret %s: %w", a.URI, err)}
			}
			useTLS().Certificates = []tls.Certificate{cert}
		}
	}
	if p.mskTLS {
		useTLS()
	}
	if p.mskIAM {
		useTLS()
		mech = p.iamMechanism() // kafka_msk.go
	}
	var opts []kgo.Opt
	if tlsConf != nil {
		opts = append(opts, kgo.DialTLSConfig(tlsConf))
	}
	p.sasl.Store(nil)
	if mech != nil {
		w := &saslWatch{}
		p.sasl.Store(w)
		opts = append(opts, kgo.SASL(watchedMech{mech, w}))
	}
	return opts, nil
}

// saslWatch counts the SASL exchanges the client began and finished. A
// broker that refuses credentials answers SASL_AUTHENTICATION_FAILED, but
// some (kfake among them) just close the connection, and the client then
// sees a bare EOF: an exchange left unfinished is how that shows.
type saslWatch struct{ begun, done atomic.Int64 }

func (w *saslWatch) unfinished() bool { return w != nil && w.begun.Load() > w.done.Load() }

// reset forgets exchanges cut by something else once the client worked.
func (w *saslWatch) reset() {
	if w != nil {
		w.begun.Store(w.done.Load())
	}
}

type watchedMech struct {
	sasl.Mechanism
	w *saslWatch
}

func (m watchedMech) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	s, first, err := m.Mechanism.Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	m.w.begun.Add(1)
	return watchedSession{s, m.w}, first, nil
}

type watchedSession struct {
	sasl.Session
	w *saslWatch
}

func (s watchedSession) Challenge(resp []byte) (bool, []byte, error) {
	done, out, err := s.Session.Challenge(resp)
	if done && err == nil {
		s.w.done.Add(1)
	}
	return done, out, err
}

// authResult is authResult for this poller's client: a connection lost in
// the middle of a SASL exchange is the cluster refusing the credentials.
func (p *kafkaPoller) authResult(err error) string {
	if r := authResult(err); r != "" {
		return r
	}
	if p.sasl.Load().unfinished() {
		return resultSASLFailed
	}
	return ""
}

// secret reads a Secrets Manager secret (in the region its ARN names) and
// decodes its JSON into v.
func (p *kafkaPoller) secret(ctx context.Context, arn string, v any) error {
	a, err := awsconn.ParseARN(arn)
	if err != nil {
		return &authError{resultSecretUnread + arn + ".", err}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := p.r.svc.cfg.AWS.SecretsManager(a.Region).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return &authError{resultSecretUnread + arn + ".", err}
	}
	if out.SecretString == nil {
		return &authError{resultSecretUnread + arn + ": it has no SecretString.", errors.New("binary secret")}
	}
	if err := json.Unmarshal([]byte(*out.SecretString), v); err != nil {
		return &authError{resultSecretUnread + arn + ": it is not a JSON object.", err}
	}
	return nil
}

// clientCertificate builds the mTLS certificate from the secret's PEM
// chain and key. An encrypted key is decrypted with the password when
// Go's standard library can: legacy PEM encryption (Proc-Type: ENCRYPTED)
// and PKCS#8 PBES1 (what AWS supports, kafka_pbes1.go); PBES2 is refused,
// as AWS refuses it.
func clientCertificate(certPEM, keyPEM, password string) (tls.Certificate, error) {
	block, _ := pem.Decode([]byte(keyPEM))
	if block == nil {
		return tls.Certificate{}, errors.New("no PEM private key in \"privateKey\"")
	}
	switch {
	case block.Type == "ENCRYPTED PRIVATE KEY":
		if password == "" {
			return tls.Certificate{}, errors.New("the private key is encrypted and \"privateKeyPassword\" is empty")
		}
		der, err := decryptPBES1(block.Bytes, []byte(password))
		if err != nil {
			return tls.Certificate{}, err
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	//lint:ignore SA1019 legacy PEM encryption is insecure, but it is what such a secret holds; it only unlocks a key the user gave
	case x509.IsEncryptedPEMBlock(block):
		if password == "" {
			return tls.Certificate{}, errors.New("the private key is encrypted and \"privateKeyPassword\" is empty")
		}
		//lint:ignore SA1019 see above
		der, err := x509.DecryptPEMBlock(block, []byte(password))
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("decrypting the private key: %w", err)
		}
		keyPEM = string(pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}))
	}
	return tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
}

// authResult sorts a client error into what the mapping reports: "" when
// it is no authentication problem.
func authResult(err error) string {
	var (
		ae      *authError
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		alert   tls.AlertError
		op      *net.OpError
	)
	switch {
	case errors.As(err, &ae):
		return ae.result
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.IllegalSaslState), errors.Is(err, kerr.UnsupportedSaslMechanism):
		return resultSASLFailed
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.GroupAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		// The cluster's ACLs keep the user from the topic or the group.
		return resultNotAllowed
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &host):
		return resultServerAuth
	case errors.As(err, &alert), errors.As(err, &op) && op.Op == "remote error":
		// The broker refused the handshake with an alert (crypto/tls
		// reports a peer's alert as a "remote error"): no client
		// certificate, or one it does not trust.
		return resultClientAuth
	}
	return ""
}
