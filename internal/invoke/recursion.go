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

// appendLineageKey appends the 8 hex of a hash of a function's ARN that
// name it in a lineage.
func appendLineageKey(b []byte, functionARN string) []byte {
	h := fnv.New32a()
	h.Write([]byte(functionARN))
	v := h.Sum32()
	const digits = "0123456789abcdef"
	for shift := 28; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>shift)&0xf])
	}
	return b
}

// appendLineage appends the lineage a run of snap gets: the caller's, with
// the function's count one more than the caller's (0 when the function is
// new to the chain). It refuses the run once the function ran maxRecursion
// times in the chain and its RecursiveLoop is Terminate.
func appendLineage(b []byte, snap *functions.Snapshot, incoming string) ([]byte, error) {
	var keyBuf [8]byte
	key := appendLineageKey(keyBuf[:0], snap.FunctionARN)
	count, kept := 0, 0
	mark := len(b)
	for incoming != "" {
		var e string
		e, incoming, _ = strings.Cut(incoming, "|")
		// AWS has written both <key>:<count> and <version>:<key>:<count>.
		i := strings.LastIndexByte(e, ':')
		if i < 0 {
			continue
		}
		k, c := e[:i], e[i+1:]
		if j := strings.LastIndexByte(k, ':'); j >= 0 {
			k = k[j+1:]
		}
		if k == string(key) {
			if n, err := strconv.Atoi(c); err == nil && n >= 0 {
				count = min(n, 1<<20) + 1 // Allow: keep counting, in a bounded number
			}
			continue
		}
		if kept < 16 { // a header is small: keep a bounded chain
			b = append(append(b, e...), '|')
			kept++
		}
	}
	if count >= maxRecursion && !snap.AllowRecursion {
		return b[:mark], fault.New(fault.RecursiveInvocation, recursionMessage)
	}
	b = append(b, key...)
	b = append(b, ':')
	return strconv.AppendInt(b, int64(count), 10), nil
}
