package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/lambdad/lambdad/internal/testkit"
)

// testPKI is a certificate authority made for one test, and a
// certificate it signed.
type testPKI struct {
	caPEM   []byte
	pool    *x509.CertPool
	cert    tls.Certificate // signed by the CA, for 127.0.0.1
	certPEM []byte
	keyPEM  []byte // PKCS#8
}

func newTestPKI(t testing.TB, cn string) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := &testPKI{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:    x509.NewCertPool(),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}),
	}
	p.pool.AddCert(ca)
	if p.cert, err = tls.X509KeyPair(p.certPEM, p.keyPEM); err != nil {
		t.Fatal(err)
	}
	return p
}

func secretsClient(url string) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{Region: testkit.Region, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

// secret stores v as a JSON secret in moto and returns its ARN.
func secret(t testing.TB, sm *secretsmanager.Client, name string, v any) string {
	t.Helper()
	b, _ := json.Marshal(v)
	out, err := sm.CreateSecret(context.Background(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// lastResult waits until the mapping's LastProcessingResult is want (or
// starts with it, for a want ending in "…").
func (e *esmEnv) lastResult(uuid, want string, within time.Duration) {
	e.t.Helper()
	got := ""
	prefix, isPrefix := strings.CutSuffix(want, "…")
	ok := false
	deadline := time.Now().Add(within)
	for !ok && time.Now().Before(deadline) {
		g, err := e.c.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
		if err != nil {
			e.t.Fatal(err)
		}
		got = aws.ToString(g.LastProcessingResult)
		ok = got == want || isPrefix && strings.HasPrefix(got, prefix)
		if !ok {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !ok {
		e.t.Fatalf("LastProcessingResult %q, want %q", got, want)
	}
}

// SASL/SCRAM-SHA-512 over TLS against a cluster with a private CA, with
// the credentials and the root CA read from Secrets Manager (moto): a
// wrong password is reported as AWS reports it and delivers nothing; the
// secret fixed with PutSecretValue is read again and the record comes.
// SASL/PLAIN (BASIC_AUTH) and SCRAM-SHA-256 on the same cluster deliver
// too; without the root CA the broker's certificate is refused; a secret
// that does not exist is reported.
func TestESMKafkaSASL(t *testing.T) {
	e := newESMEnv(t, nil)
	ctx := context.Background()
	pki := newTestPKI(t, "broker")
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "secure", "plain", "s256"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{pki.cert}, MinVersion: tls.VersionTLS12}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "lambda", "right"), kfake.Superuser("PLAIN", "plainuser", "plainpw"), kfake.Superuser("SCRAM-SHA-256", "user256", "pw256"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool}),
		kgo.SASL(scram.Auth{User: "lambda", Pass: "right"}.AsSha512Mechanism()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)

	sm := secretsClient(e.moto)
	caARN := secret(t, sm, "kafka-ca", map[string]string{"certificate": string(pki.caPEM)})
	credsARN := secret(t, sm, "kafka-scram", map[string]string{"username": "lambda", "password": "wrong"})
	plainARN := secret(t, sm, "kafka-plain", map[string]string{"username": "plainuser", "password": "plainpw"})
	s256ARN := secret(t, sm, "kafka-scram256", map[string]string{"username": "user256", "password": "pw256"})

	probe, _ := e.queue("esm-kafka-sasl-probe", nil)
	fn := testkit.PyFunction(t, "esm-kafka-sasl", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, fn)
	produce(t, cl, &kgo.Record{Topic: "secure", Value: []byte("one")}, &kgo.Record{Topic: "plain", Value: []byte("plain-one")},
		&kgo.Record{Topic: "s256", Value: []byte("s256-one")})

	mapping := func(topic string, access ...ltypes.SourceAccessConfiguration) string {
		out := e.mapping(&lambda.CreateEventSourceMappingInput{
			FunctionName:                   aws.String("esm-kafka-sasl"),
			SelfManagedEventSource:         &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
			Topics:                         []string{topic},
			StartingPosition:               ltypes.EventSourcePositionTrimHorizon,
			MaximumBatchingWindowInSeconds: aws.Int32(0),
			SourceAccessConfigurations:     access,
		})
		if !reflect.DeepEqual(out.SourceAccessConfigurations, access) {
			t.Fatalf("access configurations answered back: %+v", out.SourceAccessConfigurations)
		}
		return aws.ToString(out.UUID)
	}
	scram512 := ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeSaslScram512Auth, URI: aws.String(credsARN)}
	rootCA := ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeServerRootCaCertificate, URI: aws.String(caARN)}
	uuid := mapping("secure", scram512, rootCA)

	// Wrong password: the problem shows, nothing comes.
	e.lastResult(uuid, "PROBLEM: SASL authentication failed.", 30*time.Second)
	if evs := e.events(probe, 1, 2*time.Second); len(evs) != 0 {
		t.Fatalf("delivered with a wrong password: %v", kafkaValues(t, evs))
	}
	// Fixed: read again on the next attempt, and the record comes.
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(credsARN),
		SecretString: aws.String(`{"username":"lambda","password":"right"}`)}); err != nil {
		t.Fatal(err)
	}
	if v := kafkaValues(t, e.events(probe, 1, 40*time.Second)); !reflect.DeepEqual(v, []string{"one"}) {
		t.Fatalf("after the secret was fixed: %v", v)
	}
	e.lastResult(uuid, "OK", 10*time.Second)

	// SASL/PLAIN over TLS.
	plainUUID := mapping("plain", ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeBasicAuth, URI: aws.String(plainARN)}, rootCA)
	if v := kafkaValues(t, e.events(probe, 1, 40*time.Second)); !reflect.DeepEqual(v, []string{"plain-one"}) {
		t.Fatalf("BASIC_AUTH: %v", v)
	}
	e.lastResult(plainUUID, "OK", 10*time.Second)
	// SASL/SCRAM-SHA-256.
	s256UUID := mapping("s256", ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeSaslScram256Auth, URI: aws.String(s256ARN)}, rootCA)
	if v := kafkaValues(t, e.events(probe, 1, 40*time.Second)); !reflect.DeepEqual(v, []string{"s256-one"}) {
		t.Fatalf("SASL_SCRAM_256_AUTH: %v", v)
	}
	for _, u := range []string{uuid, plainUUID, s256UUID} {
		if _, err := e.c.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(u)}); err != nil {
			t.Fatal(err)
		}
	}

	// Without the root CA the private CA's certificate is not trusted.
	noCA := mapping("secure", scram512)
	e.lastResult(noCA, "PROBLEM: Lambda failed to authenticate server.", 30*time.Second)
	// A secret that is not there.
	gone := strings.Replace(caARN, "kafka-ca", "kafka-nope", 1)
	missing := mapping("plain", ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeBasicAuth, URI: aws.String(gone)})
	e.lastResult(missing, "PROBLEM: Lambda failed to read the Secrets Manager secret "+gone+".", 30*time.Second)
	if evs := e.events(probe, 1, time.Second); len(evs) != 0 {
		t.Fatalf("delivered without authenticating: %v", kafkaValues(t, evs))
	}
}

// Mutual TLS: the broker requires a client certificate its CA signed; the
// mapping's comes from a CLIENT_CERTIFICATE_TLS_AUTH secret. Without it
// the broker refuses the handshake; with it (added by an update) the
// record comes.
func TestESMKafkaMTLS(t *testing.T) {
	e := newESMEnv(t, nil)
	server, client := newTestPKI(t, "broker"), newTestPKI(t, "lambda")
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "mtls"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{server.cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: client.pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	brokers := kc.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DialTLSConfig(&tls.Config{RootCAs: server.pool, Certificates: []tls.Certificate{client.cert}}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	sm := secretsClient(e.moto)
	caARN := secret(t, sm, "mtls-ca", map[string]string{"certificate": string(server.caPEM)})
	certARN := secret(t, sm, "mtls-client", map[string]string{"certificate": string(client.certPEM), "privateKey": string(client.keyPEM)})

	probe, _ := e.queue("esm-kafka-mtls-probe", nil)
	fn := testkit.PyFunction(t, "esm-kafka-mtls", kafkaProbeFn)
	fn.Environment = &ltypes.Environment{Variables: map[string]string{"PROBE": probe}}
	testkit.CreateActive(t, e.c, fn)
	produce(t, cl, &kgo.Record{Topic: "mtls", Value: []byte("mutual")})

	create := func(access ...ltypes.SourceAccessConfiguration) string {
		return aws.ToString(e.mapping(&lambda.CreateEventSourceMappingInput{
			FunctionName:               aws.String("esm-kafka-mtls"),
			SelfManagedEventSource:     &ltypes.SelfManagedEventSource{Endpoints: map[string][]string{"KAFKA_BOOTSTRAP_SERVERS": brokers}},
			Topics:                     []string{"mtls"},
			StartingPosition:           ltypes.EventSourcePositionTrimHorizon,
			SourceAccessConfigurations: access,
		}).UUID)
	}
	rootCA := ltypes.SourceAccessConfiguration{Type: ltypes.SourceAccessTypeServerRootCaCertificate, URI: aws.String(caARN)}
	noCert := create(rootCA)
	e.lastResult(noCert, "PROBLEM: Server failed to authenticate Lambda.", 30*time.Second)
	if evs := e.events(probe, 1, time.Second); len(evs) != 0 {
		t.Fatalf("delivered without a client certificate: %v", kafkaValues(t, evs))
	}
	// The certificate added by UpdateEventSourceMapping: the poller
	// starts again with it.
	access := []ltypes.SourceAccessConfiguration{{Type: ltypes.SourceAccessTypeClientCertificateTlsAuth, URI: aws.String(certARN)}, rootCA}
	up, err := e.c.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: aws.String(noCert), SourceAccessConfigurations: access})
	if err != nil || !reflect.DeepEqual(up.SourceAccessConfigurations, access) {
		t.Fatalf("update: %v %+v", err, up)
	}
	withCert := noCert
	if v := kafkaValues(t, e.events(probe, 1, 40*time.Second)); !reflect.DeepEqual(v, []string{"mutual"}) {
		t.Fatalf("mTLS: %v", v)
	}
	e.lastResult(withCert, "OK", 10*time.Second)
}
