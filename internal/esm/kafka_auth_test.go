package esm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The client-certificate secret's private key, plain and encrypted as
// openssl writes them (testdata/kafkakeys, made once with OpenSSL 3.0:
// `openssl pkcs8 -topk8 -v1 PBE-MD5-DES|PBE-SHA1-DES|PBE-SHA1-3DES`,
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
		{"p12-3des.pem", "s3cret", "lambdad cannot decrypt"},
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
