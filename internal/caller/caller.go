// Package caller is who makes a request, in the domain's terms: the account
// and region it acts in, the key it signed with, and the function it runs
// as when the request comes from one of lambdad's own environments. The
// wire layer (awsproto) derives it from SigV4; the domain only reads it.
package caller

// Identity is who calls and where.
type Identity struct {
	AccessKey string
	Account   string
	Region    string
	// Function is the ARN of the calling function when the request is
	// signed with credentials lambdad issued to one of its environments.
	Function string
}

// DefaultAccount and DefaultRegion apply when the credential does not say.
const (
	DefaultAccount = "000000000000"
	DefaultRegion  = "us-east-1"
)

// FromFunction reports whether the caller is a function running in lambdad.
func (id Identity) FromFunction() bool { return id.Function != "" }
