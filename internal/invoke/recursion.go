package invoke

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
)

// Recursive loop detection, as Lambda documents it: an invocation's
// tracing header carries a lineage, one counter per function of the chain
// ("Lineage=<8 hex of the function>:<count>[|<other>:<count>...]"). The
// function sees it in _X_AMZN_TRACE_ID, and AWS's SDKs send that as
// X-Amzn-Trace-Id on the calls it makes, so an Invoke made from inside a
// function (directly, or as an Event) continues the chain. A function
// whose count reaches maxRecursion (it already ran 16 times in the chain)
// is not invoked again unless its RecursiveLoop is Allow: a synchronous
// caller gets RecursiveInvocationException, an Event invoke is dropped to
// the function's on-failure destination and dead-letter queue
// (events.go). Loops through SQS, SNS or S3 are not followed: lambdad's
// event sources do not carry the header.
const maxRecursion = 16

// recursionMessage is AWS's message [?: the exception's documented
// description; the message AWS sends was not found].
const recursionMessage = "Lambda has detected your function being invoked in a recursive loop with other AWS resources and stopped your function's invocation."

// lineageKey names a function in a lineage: 8 hex of a hash of its ARN.
func lineageKey(functionARN string) string {
	h := fnv.New32a()
	h.Write([]byte(functionARN))
	var b [8]byte
	const digits = "0123456789abcdef"
	v := h.Sum32()
	for i := 7; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// nextLineage is the lineage a run of snap gets: the caller's, with the
// function's count one more than the caller's (0 when the function is new
// to the chain). It refuses the run once the function ran maxRecursion
// times in the chain and its RecursiveLoop is Terminate.
func nextLineage(snap *functions.Snapshot, incoming string) (string, error) {
	key := lineageKey(snap.FunctionARN)
	count := 0
	var others []string
	for e := range strings.SplitSeq(incoming, "|") {
		if e == "" {
			continue
		}
		parts := strings.Split(e, ":")
		if len(parts) < 2 {
			continue
		}
		// AWS has written both <key>:<count> and <version>:<key>:<count>.
		k, c := parts[len(parts)-2], parts[len(parts)-1]
		if k == key {
			if n, err := strconv.Atoi(c); err == nil && n >= 0 {
				count = n + 1
			}
			continue
		}
		if len(others) < 16 { // a header is small: keep a bounded chain
			others = append(others, e)
		}
	}
	if count >= maxRecursion && !snap.AllowRecursion {
		return "", fault.New(fault.RecursiveInvocation, recursionMessage)
	}
	if count > 1<<20 {
		count = 1 << 20 // Allow: keep counting, in a bounded number
	}
	return strings.Join(append(others, key+":"+strconv.Itoa(count)), "|"), nil
}
