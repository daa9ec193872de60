package textcheck

import "testing"

func TestInvalidUTF8(t *testing.T) {
	const src = "\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled); "
	for _, tc := range []struct {
		name string
		in   string
		msg  string
	}{
		{"valid", `{"a":"été ✓ 𝄞"}`, ""},
		{"empty", "", ""},
		{"bad start byte", "{\"a\":\"\x80\"}", "Invalid UTF-8 start byte 0x80" + src + "line: 1, column: 8]"},
		{"bad middle byte on line 2", "{\n\"a\": \"\xe2\x28\xa1\"}", "Invalid UTF-8 middle byte 0x28" + src + "line: 2, column: 9]"},
		{"0xff", "\"\xff\"", "Invalid UTF-8 start byte 0xff" + src + "line: 1, column: 3]"},
		{"surrogate, well formed", "\"\xed\xa0\x80\"", "Invalid UTF-8 start byte 0xed" + src + "line: 1, column: 3]"},
		{"truncated at the end", "\"\xe2\x82", "Invalid UTF-8 start byte 0xe2" + src + "line: 1, column: 3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, bad := InvalidUTF8([]byte(tc.in))
			if bad != (tc.msg != "") || msg != tc.msg {
				t.Errorf("InvalidUTF8(%q) = %q, %v; want %q", tc.in, msg, bad, tc.msg)
			}
		})
	}
}
