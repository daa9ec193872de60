package logs

import "testing"

func TestFilterPatterns(t *testing.T) {
	msgs := map[string]string{
		"err":   "[ERROR]\t2026-12-05T03:00:00.000Z\tr\tdisk full on /dev/sda",
		"info":  "[INFO]\t2026-12-05T03:00:00.000Z\tr\tall good",
		"json":  `{"level":"ERROR","n":42,"user":{"id":"u-17","tags":["a","b"]},"ok":false,"nothing":null}`,
		"json2": `{"level":"INFO","n":3,"user":{"id":"x"}}`,
	}
	cases := []struct {
		pattern string
		want    []string
	}{
		{"", []string{"err", "info", "json", "json2"}},
		{"ERROR", []string{"err", "json"}},
		{"ERROR disk", []string{"err"}},
		{`"disk full"`, []string{"err"}},
		{`"full disk"`, nil},
		{"ERROR -disk", []string{"json"}},
		{"?good ?disk", []string{"err", "info"}},
		{"error", nil}, // case-sensitive
		{`{ $.level = "ERROR" }`, []string{"json"}},
		{`{ $.level != "ERROR" }`, []string{"json2"}},
		{`{ $.n > 10 }`, []string{"json"}},
		{`{ $.n <= 3 }`, []string{"json2"}},
		{`{ $.n = 42 && $.user.id = "u-*" }`, []string{"json"}},
		{`{ $.n = 3 || $.user.tags[1] = "b" }`, []string{"json", "json2"}},
		{`{ ($.level = "INFO") && ($.n < 5) }`, []string{"json2"}},
		{`{ $.ok = false }`, []string{"json"}},
		{`{ $.nothing IS NULL }`, []string{"json"}},
		{`{ $.ok NOT EXISTS }`, []string{"json2"}},
		{`{ $.level = * }`, []string{"json", "json2"}},
		{`{ $.level = ERR* }`, []string{"json"}},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		var got []string
		for _, k := range []string{"err", "info", "json", "json2"} {
			if p.Match(msgs[k]) {
				got = append(got, k)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%q matches %v, want %v", c.pattern, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q matches %v, want %v", c.pattern, got, c.want)
				break
			}
		}
	}
	access := `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326`
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{`[ip, id, user, timestamp, request, status_code, size]`, true},
		{`[ip, id, user, timestamp, request, status_code = 404, size > 1000]`, true},
		{`[ip, id, user, timestamp, request, status_code = 4*, size]`, true},
		{`[ip, id, user, timestamp, request = "GET *", status_code != 404, size]`, false},
		{`[ip = 127.0.0.1, ..., size < 3000]`, true},
		{`[..., status_code = 200 || status_code = 404, size]`, true},
		{`[..., status_code >= 400 && status_code < 404, size]`, false},
		{`[ip, user]`, false},
		{`[user = frank, ...]`, false},
	} {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Errorf("%q: %v", c.pattern, err)
			continue
		}
		if got := p.Match(access); got != c.want {
			t.Errorf("%q on an access log line: %v, want %v", c.pattern, got, c.want)
		}
	}
	for _, bad := range []string{`[]`, `[a, b = ]`, `[a, = 3]`, `[a, b > "x"]`, `[a`, `{ $.a = }`, `{ $.a = "x" `, `{ a = 1 }`, `"open`, `{ $.a > "x" }`, `{ $.a = 1 && }`, `-`} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"ERROR", `"a b" -c ?d`, `{ $.level = "ERROR" && ($.n > 3 || $.x[0] != * ) }`, `{ $.a IS NULL }`, `{ $.a = 1e400 }`, `{ $..a = 1 }`} {
		f.Add(s, `{"level":"ERROR","n":4,"x":[1]}`)
		f.Add("[a, ..., b = 4* || b < 3, c]", `x "y z" [w] 404 5`)
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		p.Match(msg)
	})
}
