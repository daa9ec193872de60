package esm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// The client-certificate secret's private key, plain and encrypted as
// openssl writes them (testdata/kafkakeys, made once with OpenSSL 3.0:
// `openssl pkcs8 -topk8 -v1 PBE-MD5-DES|PBE-SHA1-DES|PBE-SHA1-3DES|
// PBE-SHA1-2DES|PBE-SHA1-RC2-40`,
// `-v2 aes-128-cbc`, and `openssl ec -aes128` for the legacy PEM
// encryption; password s3cret). Each key must pair with cert.pem.
func TestClientCertificateKeys(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "kafkakeys", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cert := read("cert.pem")
	cases := []struct {
		file, password, err string
	}{
		{"key.pem", "", ""},
		{"PBE-MD5-DES.pem", "s3cret", ""},
		{"PBE-SHA1-DES.pem", "s3cret", ""},
		{"legacy.pem", "s3cret", ""},
		{"PBE-MD5-DES.pem", "wrong", "wrong privateKeyPassword"},
		{"PBE-SHA1-DES.pem", "", "\"privateKeyPassword\" is empty"},
		{"legacy.pem", "wrong", "decrypting the private key"},
		{"pbes2.pem", "s3cret", "PBES2, which Lambda does not support"},
		{"p12-3des.pem", "s3cret", ""},
		{"p12-3des.pem", "wrong", "wrong privateKeyPassword"},
		{"p12-2des.pem", "s3cret", ""},
		{"p12-rc2.pem", "s3cret", "lambdad cannot decrypt"},
		{"cert.pem", "", "found a certificate rather than a key"},
	}
	for _, c := range cases {
		_, err := clientCertificate(cert, read(c.file), c.password)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.file, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s with %q: %v, want %q", c.file, c.password, err, c.err)
		}
	}
}

// What a client error shows as in LastProcessingResult.
func TestKafkaAuthResult(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("join: %w", kerr.SaslAuthenticationFailed), resultSASLFailed},
		{kerr.GroupAuthorizationFailed, resultNotAllowed},
		{kerr.TopicAuthorizationFailed, resultNotAllowed},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, resultServerAuth},
		{&net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, resultClientAuth},
		{&authError{resultInvalidCert, errors.New("bad key")}, resultInvalidCert},
		{io.EOF, ""},
		{kerr.NotCoordinator, ""},
	}
	for _, c := range cases {
		if got := authResult(c.err); got != c.want {
			t.Errorf("%v: %q, want %q", c.err, got, c.want)
		}
	}
	// A connection lost in a SASL exchange that never finished is the
	// cluster refusing the credentials; once the client worked, no more.
	p := &kafkaPoller{}
	w := &saslWatch{}
	p.sasl.Store(w)
	w.begun.Add(1)
	if got := p.authResult(io.EOF); got != resultSASLFailed {
		t.Errorf("unfinished exchange: %q", got)
	}
	w.reset()
	if got := p.authResult(io.EOF); got != "" {
		t.Errorf("after reset: %q", got)
	}
}
