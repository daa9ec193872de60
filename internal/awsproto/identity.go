package awsproto

import (
	"context"
	"crypto/hmac"
	"github.com/lambdad/lambdad/internal/caller"
	"net/http"
	"strings"
	"time"
)

// Identity is the domain's caller identity, which awsproto derives from the
// SigV4 Authorization header.
type Identity = caller.Identity

// DefaultAccount and DefaultRegion apply when the credential does not say.
const (
	DefaultAccount = caller.DefaultAccount
	DefaultRegion  = caller.DefaultRegion
)

// IdentityFrom reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...".
// The account is the access key id when it is 12 digits (a convention of
// local AWS emulators), else account (DefaultAccount when empty).
func IdentityFrom(r *http.Request, account string) Identity {
	if account == "" {
		account = DefaultAccount
	}
	id := Identity{Account: account, Region: DefaultRegion}
	auth := r.Header.Get("Authorization")
	cred := ""
	if i := strings.Index(auth, "Credential="); i >= 0 {
		cred = auth[i+len("Credential="):]
		if j := strings.IndexAny(cred, ", "); j >= 0 {
			cred = cred[:j]
		}
	} else if c := r.URL.Query().Get("X-Amz-Credential"); c != "" {
		cred = c // presigned URL
	}
	if cred == "" {
		return id
	}
	parts := strings.Split(cred, "/")
	id.AccessKey = parts[0]
	if isAccountID(parts[0]) {
		id.Account = parts[0]
	}
	if len(parts) >= 3 && parts[2] != "" {
		id.Region = parts[2]
	}
	return id
}

// authenticate finds who r comes from. Requests signed with a function's key
// are that function's account, in that function's region only; their
// signature is always checked. With VerifyWith on, every request's is. The
// returned check, when not nil, still has to be run on the payload's hash.
func (s *Service) authenticate(r *http.Request, now time.Time) (Identity, *sigCheck, error) {
	id := IdentityFrom(r, s.account)
	var fk FunctionKey
	isFn := false
	if s.fnKeys != nil && id.AccessKey != "" {
		fk, isFn = s.fnKeys(r.Context(), id.AccessKey)
	}
	if !isFn && fromEnvironment(r.Context()) {
		// A function calls with the credentials lambdad gave its
		// environment, or not at all: whatever else it signs with, it
		// must not act as another account, checked or not.
		if !strings.HasPrefix(r.Header.Get("Authorization"), sigV4Prefix) {
			return id, nil, errMissingAuth()
		}
		return id, nil, errBadToken()
	}
	if s.creds == nil && !isFn {
		return id, nil, nil
	}
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return id, nil, err
	}
	if a.AccessKey != id.AccessKey {
		// A header read two ways (two Credential parts): the identity must
		// be the one whose signature is checked.
		return id, nil, errIncomplete()
	}
	id.Region = a.Region
	var secret string
	known := false
	if s.creds != nil {
		secret, known = s.creds(a.AccessKey)
	}
	switch {
	case known:
	case isFn:
		// A key issued to a function is valid with its session token, in
		// its region: elsewhere AWS answers that the token is invalid, as
		// it does for temporary credentials outside their regions.
		if !hmac.Equal([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(fk.SessionToken)) || a.Region != fk.Region {
			return id, nil, errBadToken()
		}
		secret = fk.Secret
		// The account is the function's, never read from the key.
		id.Account, id.Region, id.Function = fk.Account, fk.Region, fk.Function
	default:
		return id, nil, errBadToken()
	}
	at, err := signingTime(r, a, now)
	if err != nil {
		return id, nil, err
	}
	return id, &sigCheck{auth: a, secret: secret, at: at}, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type environmentKey struct{}

// FromEnvironmentContext marks ctx as a connection opened from inside an
// execution environment: requests on it must be signed with a function's
// own key.
func FromEnvironmentContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, environmentKey{}, true)
}

// FromEnvironment reports whether ctx is a connection opened from inside
// an execution environment (FromEnvironmentContext).
func FromEnvironment(ctx context.Context) bool { return fromEnvironment(ctx) }

func fromEnvironment(ctx context.Context) bool {
	v, _ := ctx.Value(environmentKey{}).(bool)
	return v
}
