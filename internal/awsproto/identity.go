package awsproto

import (
	"net/http"
	"strings"
)

// Identity is who calls and where: taken from the SigV4 Authorization header.
type Identity struct {
	AccessKey string
	Account   string
	Region    string
}

// DefaultAccount and DefaultRegion apply when the credential does not say.
const (
	DefaultAccount = "000000000000"
	DefaultRegion  = "us-east-1"
)

// IdentityFrom reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request, ...".
// The account is the access key id when it is 12 digits (a convention of
// local AWS emulators), else DefaultAccount.
func IdentityFrom(r *http.Request) Identity {
	id := Identity{Account: DefaultAccount, Region: DefaultRegion}
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
