package awsproto

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials finds the secret key of an access key id, for verifying SigV4
// signatures when that is switched on.
type Credentials func(accessKey string) (secret string, ok bool)

// FunctionKey is an access key lambdad issued to a function's environment:
// valid for that function's account and region only.
type FunctionKey struct {
	Secret, SessionToken string
	Account, Region      string
	// Function is the ARN of the function the key belongs to.
	Function string
}

// FunctionKeys finds a live function key; ctx bounds a look-up in a store
// other nodes share.
type FunctionKeys func(ctx context.Context, accessKey string) (FunctionKey, bool)

// maxSkew is how far a request's X-Amz-Date may be from now, as in AWS.
const maxSkew = 15 * time.Minute

const sigV4Prefix = "AWS4-HMAC-SHA256 "

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	AccessKey string
	// Date, Region and Service are the credential scope's; Scope is all of
	// it ("date/region/service/aws4_request").
	Date, Region, Service, Scope string
	SignedHeaders                []string
	Signature                    string
}

// AWS's answers to requests whose signature cannot be accepted (new values
// each time: an *Error may be amended by whoever gets it).
func errMissingAuth() *Error {
	return &Error{Code: "MissingAuthenticationTokenException", Status: http.StatusForbidden, Message: "Missing Authentication Token"}
}

func errIncomplete() *Error {
	return &Error{Code: "IncompleteSignatureException", Status: http.StatusForbidden, Message: "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
}

func errBadToken() *Error {
	return &Error{Code: "UnrecognizedClientException", Status: http.StatusForbidden, Message: "The security token included in the request is invalid."}
}

func errMismatch() *Error {
	return &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden, Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
}

// parseAuthorization reads "AWS4-HMAC-SHA256 Credential=KEY/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex".
func parseAuthorization(h string) (authHeader, error) {
	var a authHeader
	if !strings.HasPrefix(h, sigV4Prefix) {
		return a, errMissingAuth()
	}
	var cred, signed string
	for part := range strings.SplitSeq(h[len(sigV4Prefix):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.Signature = v
		}
	}
	key, scope, _ := strings.Cut(cred, "/")
	parts := strings.Split(scope, "/")
	if key == "" || len(parts) != 4 || signed == "" || a.Signature == "" {
		return authHeader{}, errIncomplete()
	}
	for _, p := range parts {
		if p == "" {
			return authHeader{}, errIncomplete()
		}
	}
	a.AccessKey, a.Scope = key, scope
	a.Date, a.Region, a.Service = parts[0], parts[1], parts[2]
	a.SignedHeaders = strings.Split(signed, ";")
	for _, s := range a.SignedHeaders {
		if s == "" || s != strings.ToLower(s) {
			return authHeader{}, errIncomplete()
		}
	}
	return a, nil
}

// signingTime checks X-Amz-Date against the scope and the clock.
func signingTime(r *http.Request, a authHeader, now time.Time) (time.Time, error) {
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || !strings.HasPrefix(amzDate, a.Date) {
		return t, &Error{Code: "IncompleteSignatureException", Status: http.StatusForbidden, Message: "Date must be in ISO-8601 'basic format'. Got '" + amzDate + "'."}
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return t, &Error{Code: "InvalidSignatureException", Status: http.StatusForbidden, Message: "Signature expired: " + amzDate + " is now earlier than " + now.Add(-maxSkew).UTC().Format("20060102T150405Z") + "."}
	}
	return t, nil
}

// sigCheck is a signature to verify once the payload's hash is known.
type sigCheck struct {
	auth   authHeader
	secret string
	at     time.Time
}

// verify recomputes the signature with aws-sdk-go-v2's signer over a copy of
// r made of the headers the client signed, and compares it.
func (c *sigCheck) verify(signer *v4.Signer, r *http.Request, payloadHash string) error {
	u := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	cp := &http.Request{Method: r.Method, URL: u, Host: r.Host, Header: make(http.Header, len(c.auth.SignedHeaders)+2)}
	for _, h := range c.auth.SignedHeaders {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = r.ContentLength
		default:
			if vs := r.Header.Values(h); len(vs) > 0 {
				cp.Header[textproto.CanonicalMIMEHeaderKey(h)] = vs
			}
		}
	}
	creds := aws.Credentials{AccessKeyID: c.auth.AccessKey, SecretAccessKey: c.secret}
	if err := signer.SignHTTP(context.Background(), creds, cp, payloadHash, c.auth.Service, c.auth.Region, c.at); err != nil {
		return err
	}
	got := cp.Header.Get("Authorization")
	i := strings.LastIndex(got, "Signature=")
	if i < 0 || !hmac.Equal([]byte(got[i+len("Signature="):]), []byte(c.auth.Signature)) {
		return errMismatch()
	}
	return nil
}

// newSigner is the SDK's signer as lambdad verifies with it: session tokens
// are signed as the client sent them, never added.
func newSigner() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableSessionToken = true })
}

// VerifySignature checks r's SigV4 Authorization header against creds. When
// the client did not send X-Amz-Content-Sha256 it reads the body to hash it,
// up to DefaultMaxBody (beyond that it refuses the request), and leaves it
// in r.Body.
func VerifySignature(r *http.Request, creds Credentials, now time.Time) error {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return err
	}
	secret, ok := creds(a.AccessKey)
	if !ok {
		return errBadToken()
	}
	at, err := signingTime(r, a, now)
	if err != nil {
		return err
	}
	hash := r.Header.Get("X-Amz-Content-Sha256")
	if hash == "" {
		body, err := io.ReadAll(io.LimitReader(r.Body, DefaultMaxBody+1))
		if err != nil {
			return Errorf("InvalidRequestContentException", "Could not read the request body: %v", err)
		}
		if len(body) > DefaultMaxBody {
			return BodyLimit{Max: DefaultMaxBody}.tooLarge(int64(len(body)))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		hash = hex.EncodeToString(sum[:])
	}
	return (&sigCheck{auth: a, secret: secret, at: at}).verify(newSigner(), r, hash)
}
