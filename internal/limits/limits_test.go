package limits

import "testing"

// TestRelations checks the limits that AWS derives from one another.
func TestRelations(t *testing.T) {
	// A request carrying the largest zip, base64-encoded, must fit the
	// request limit, with room for the JSON around it.
	if b64 := (ZippedCodeBytes + 2) / 3 * 4; b64 >= CodeRequestBytes {
		t.Errorf("a %d-byte zip is %d bytes in base64, over the %d-byte request limit", ZippedCodeBytes, b64, CodeRequestBytes)
	}
	if InvokeResponseBytes != InvokeRequestBytes+100 {
		t.Errorf("response limit %d is not the request limit %d plus 100 bytes", InvokeResponseBytes, InvokeRequestBytes)
	}
	if UnzippedCodeBytes <= ZippedCodeBytes || TotalCodeBytes <= UnzippedCodeBytes {
		t.Error("code limits out of order")
	}
	if MinUnreservedConcurrency >= DefaultConcurrentExecutions {
		t.Error("the unreserved minimum leaves nothing to reserve")
	}
}
