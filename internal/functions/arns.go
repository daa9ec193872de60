package functions

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// ARNs are split by aws/arn; the checks below hold each part to the pattern
// AWS's model gives it, so lambdad accepts exactly what AWS does.

// lambdaARN splits s as an ARN of the Lambda service: an aws partition, a
// region and a 12-digit account. ok is false for anything else.
func lambdaARN(s string) (a arn.ARN, ok bool) {
	a, err := arn.Parse(s)
	if err != nil || !isPartition(a.Partition) || a.Service != "lambda" || !isRegion(a.Region) || !isAccount(a.AccountID) {
		return a, false
	}
	return a, true
}

// isPartition: aws, aws-cn, aws-us-gov, ...
func isPartition(p string) bool {
	rest, ok := strings.CutPrefix(p, "aws")
	return ok && all(rest, func(c byte) bool { return isLetter(c) || c == '-' })
}

// isRegion: us-east-1, eu-central-2, ...; not checked further, so that an
// unknown region is answered as unreachable rather than malformed.
func isRegion(r string) bool { return isLowerID(r) }

// isLowerID is lower-case letters, digits and -, as services and regions are.
func isLowerID(s string) bool {
	return s != "" && all(s, func(c byte) bool { return 'a' <= c && c <= 'z' || isDigit(c) || c == '-' })
}

func isAccount(a string) bool { return len(a) == 12 && isNumber(a) }

// isName is a function or layer name: letters, digits, - and _.
func isName(s string) bool {
	return s != "" && all(s, func(c byte) bool { return isLetter(c) || isDigit(c) || c == '-' || c == '_' })
}

func isNumber(s string) bool { return s != "" && all(s, isDigit) }

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func all(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// functionResource splits an ARN's resource "function:NAME[:QUALIFIER]",
// where the qualifier is $LATEST, a version or an alias.
func functionResource(res string) (name, qualifier string, ok bool) {
	rest, ok := strings.CutPrefix(res, "function:")
	if !ok {
		return "", "", false
	}
	name, qualifier, qualified := strings.Cut(rest, ":")
	if !isName(name) || qualified && qualifier != Latest && !isName(qualifier) {
		return "", "", false
	}
	return name, qualifier, true
}

// layerResource splits an ARN's resource "layer:NAME[:VERSION]".
func layerResource(res string) (name, version string, ok bool) {
	rest, ok := strings.CutPrefix(res, "layer:")
	if !ok {
		return "", "", false
	}
	name, version, versioned := strings.Cut(rest, ":")
	if !isName(name) || versioned && !isNumber(version) {
		return "", "", false
	}
	return name, version, true
}
