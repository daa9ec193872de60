package functions

import (
	"regexp"
	"strings"

	"github.com/lambdad/lambdad/internal/awsproto"
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

var (
	nameRE      = regexp.MustCompile(`^[a-zA-Z0-9-_]+$`)
	qualifierRE = regexp.MustCompile(`^(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_$]{1,128})$`)
	// An ARN that stops at ":function" names the function "function", as in AWS.
	bareARNRE = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):lambda:([a-z0-9-]+):(\d{12}):function$`)
	arnRE     = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*):lambda:([a-z0-9-]+):(\d{12}):function:([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`)
	partialRE = regexp.MustCompile(`^(\d{12}):function:([a-zA-Z0-9-_]+)(?::(\$LATEST|[a-zA-Z0-9-_]+))?$`)
)

// ParseRef accepts every form AWS accepts: a name, name:qualifier, a partial
// ARN (123456789012:function:name) and a full ARN, each with an optional
// qualifier; the Qualifier parameter must agree with one in the name.
func ParseRef(id awsproto.Identity, name string, qualifier *string) (Ref, error) {
	ref := Ref{Account: id.Account, Region: id.Region}
	var q string
	switch {
	case strings.HasPrefix(name, "arn:"):
		m := arnRE.FindStringSubmatch(name)
		if b := bareARNRE.FindStringSubmatch(name); b != nil {
			m = []string{b[0], b[1], b[2], b[3], "function", ""}
		}
		if m == nil {
			return ref, invalidName(name)
		}
		if m[2] != id.Region {
			return ref, awsproto.NotFound("Functions from '%s' are not reachable in this region ('%s')", m[2], id.Region)
		}
		ref.Account, ref.Name, q = m[3], m[4], m[5]
		if ref.Account != id.Account {
			return ref, accessDenied(name)
		}
	case partialRE.MatchString(name):
		m := partialRE.FindStringSubmatch(name)
		ref.Account, ref.Name, q = m[1], m[2], m[3]
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
	if !nameRE.MatchString(ref.Name) {
		return ref, invalidName(name)
	}
	if qualifier != nil {
		if q != "" && q != *qualifier {
			return ref, awsproto.InvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
		}
		q = *qualifier
	}
	if q != "" && !qualifierRE.MatchString(q) {
		return ref, awsproto.Errorf("ValidationException", "1 validation error detected: %s",
			awsproto.ConstraintMessage(q, "qualifier", `Member must satisfy regular expression pattern: \$(LATEST(\.PUBLISHED)?)|[a-zA-Z0-9-_$]+`))
	}
	ref.Qualifier = q
	return ref, nil
}

// accessDenied answers a reference to another account's function: accounts
// are isolated from each other.
func accessDenied(name string) error {
	return awsproto.Errorf("AccessDeniedException", "User is not authorized to access %s: it belongs to another account.", name).WithStatus(403)
}

func invalidName(name string) error {
	return awsproto.Errorf("ValidationException", "1 validation error detected: %s",
		awsproto.ConstraintMessage(name, "functionName",
			`Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?`))
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
