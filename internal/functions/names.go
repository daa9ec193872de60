package functions

import (
	"regexp"
	"strings"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
)

// Ref names one function (and optionally a qualifier) in an account and region.
type Ref struct {
	Account, Region, Name string
	Qualifier             string // "" means unqualified ($LATEST)
}

// ARN is the function's unqualified ARN.
func (r Ref) ARN() string {
	return "arn:aws:lambda:" + r.Region + ":" + r.Account + ":function:" + r.Name
}

// IsLatest reports whether the reference names $LATEST.
func (r Ref) IsLatest() bool { return r.Qualifier == "" || r.Qualifier == Latest }

// Unqualified drops the qualifier.
func (r Ref) Unqualified() Ref { r.Qualifier = ""; return r }

// QualifiedARN is the ARN with the qualifier, or the unqualified ARN.
func (r Ref) QualifiedARN() string {
	if r.Qualifier == "" {
		return r.ARN()
	}
	return r.ARN() + ":" + r.Qualifier
}

// VersionARN is the ARN with the qualifier, $LATEST included.
func (r Ref) VersionARN() string {
	q := r.Qualifier
	if q == "" || q == Latest {
		q = Latest
	}
	return r.ARN() + ":" + q
}

// Latest is the unpublished version's name.
const Latest = "$LATEST"

var qualifierRE = regexp.MustCompile(`^(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_$]{1,128})$`)

// ParseRef accepts every form AWS accepts: a name, name:qualifier, a partial
// ARN (123456789012:function:name) and a full ARN, each with an optional
// qualifier; the Qualifier parameter must agree with one in the name.
func ParseRef(id caller.Identity, name string, qualifier *string) (Ref, error) {
	ref := Ref{Account: id.Account, Region: id.Region}
	var q string
	switch {
	case strings.HasPrefix(name, "arn:"):
		a, ok := lambdaARN(name)
		var n string
		switch {
		case !ok:
		case a.Resource == "function":
			// An ARN that stops at ":function" names the function
			// "function", as in AWS.
			n = "function"
		default:
			n, q, ok = functionResource(a.Resource)
		}
		if !ok {
			return ref, invalidName(name)
		}
		if a.Region != id.Region {
			return ref, fault.NotFoundf("Function", "Functions from '%s' are not reachable in this region ('%s')", a.Region, id.Region)
		}
		ref.Account, ref.Name = a.AccountID, n
		if ref.Account != id.Account {
			return ref, accessDenied(name)
		}
	case isPartialARN(name):
		// 123456789012:function:NAME[:QUALIFIER]
		account, res, _ := strings.Cut(name, ":")
		ref.Account = account
		ref.Name, q, _ = functionResource(res)
		if ref.Account != id.Account {
			return ref, accessDenied(name)
		}
	default:
		n, qq, _ := strings.Cut(name, ":")
		ref.Name, q = n, qq
		if strings.Contains(qq, ":") {
			return ref, invalidName(name)
		}
	}
	if !isName(ref.Name) {
		return ref, invalidName(name)
	}
	if qualifier != nil {
		if q != "" && q != *qualifier {
			return ref, fault.InvalidParameterf("The derived qualifier from the function name does not match the specified qualifier.")
		}
		q = *qualifier
	}
	if q != "" && !qualifierRE.MatchString(q) {
		return ref, fault.Invalidf(fault.Violation{Field: "qualifier", Value: q,
			Constraint: `Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+`})
	}
	ref.Qualifier = q
	return ref, nil
}

// isPartialARN reports whether name is ACCOUNT:function:NAME[:QUALIFIER].
func isPartialARN(name string) bool {
	account, res, ok := strings.Cut(name, ":")
	if !ok || !isAccount(account) {
		return false
	}
	_, _, ok = functionResource(res)
	return ok
}

// accessDenied answers a reference to another account's function: accounts
// are isolated from each other.
func accessDenied(name string) error {
	return fault.AccessDeniedf("User is not authorized to access %s: it belongs to another account.", name)
}

func invalidName(name string) error {
	return fault.Invalidf(fault.Violation{Field: "functionName", Value: name,
		Constraint: `Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`})
}

// isVersionNumber reports whether q names a published version (not an alias).
func isVersionNumber(q string) bool {
	if q == "" {
		return false
	}
	for _, c := range q {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
