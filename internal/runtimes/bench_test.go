package runtimes

import "testing"

// BenchmarkInvoke measures one warm invocation round trip through each bootstrap.
func BenchmarkInvoke(b *testing.B) {
	for _, tc := range []struct{ runtime, handler, file, code string }{
		{"python3.12", "app.handler", "app.py", "def handler(e, c):\n    return e\n"},
		{"nodejs20.x", "index.handler", "index.js", "exports.handler = async (e) => e;"},
	} {
		b.Run(tc.runtime, func(b *testing.B) {
			c := newCatalog(b)
			e := start(b, c, tc.runtime, tc.handler, writeFiles(b, map[string]string{tc.file: tc.code}), startOpts{})
			for b.Loop() {
				e.invoke(`{"k":"v"}`)
			}
		})
	}
}
