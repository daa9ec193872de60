package awsproto

import (
	"bytes"
	"encoding/base64"
	"reflect"
	"strings"
)

// bigString is the size from which a JSON string is lifted out of the body
// before encoding/json sees it: a 50 MB zip arrives as 67 MB of base64, and
// encoding/json would scan it twice and decode it byte by byte.
const bigString = 1 << 20

// liftedBlob is a long base64 string found at a member path.
type liftedBlob struct {
	path []string
	text []byte
}

// liftBigStrings returns body with every long, escape-free string value
// replaced by null, and those strings with their member paths. Anything it
// does not understand is left for encoding/json to judge.
func liftBigStrings(body []byte, min int) ([]byte, []liftedBlob) {
	if len(body) < min {
		return body, nil
	}
	var out []byte
	var lifted []liftedBlob
	var keys []string // member path of the current object nesting
	var nest []byte   // open containers: '{' or '['
	var pending string
	last := 0
	i := 0
	for i < len(body) {
		switch c := body[i]; c {
		case '{':
			keys = append(keys, pending)
			nest = append(nest, '{')
			pending = ""
			i++
		case '[':
			nest = append(nest, '[')
			i++
		case '}', ']':
			if len(nest) == 0 || nest[len(nest)-1] != c-2 { // '{'+2 == '}', '['+2 == ']'
				return body, nil
			}
			nest = nest[:len(nest)-1]
			if c == '}' {
				keys = keys[:len(keys)-1]
			}
			i++
		case '"':
			end := bytes.IndexByte(body[i+1:], '"')
			if end < 0 {
				return body, nil
			}
			s := body[i+1 : i+1+end]
			if bytes.IndexByte(s, '\\') >= 0 {
				// An escape: find the real end the slow way.
				j := i + 1
				for j < len(body) && body[j] != '"' {
					if body[j] == '\\' {
						j++
					}
					j++
				}
				if j >= len(body) {
					return body, nil
				}
				s, end = body[i+1:j], j-i-1
			}
			next := i + 1 + end + 1
			k := next
			for k < len(body) && (body[k] == ' ' || body[k] == '\n' || body[k] == '\r' || body[k] == '\t') {
				k++
			}
			if k < len(body) && body[k] == ':' {
				pending = string(s)
			} else if len(s) >= min && bytes.IndexByte(s, '\\') < 0 && pending != "" && len(nest) > 0 && nest[len(nest)-1] == '{' {
				path := append(append([]string{}, keys[1:]...), pending)
				lifted = append(lifted, liftedBlob{path: path, text: s})
				out = append(out, body[last:i]...)
				out = append(out, "null"...)
				last = next
			}
			i = next
		default:
			i++
		}
	}
	if lifted == nil {
		return body, nil
	}
	return append(out, body[last:]...), lifted
}

// setBlob decodes b into the []byte member at its path in dst (a pointer
// to a generated shape), matching members by their JSON names. It reports
// false when the path is not a blob member.
func setBlob(dst any, b liftedBlob) (bool, error) {
	v := reflect.ValueOf(dst)
	for _, name := range b.path {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return false, nil
		}
		f, ok := fieldByJSON(v, name)
		if !ok {
			return false, nil
		}
		v = f
	}
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint8 {
		return false, nil
	}
	raw, err := decodeBase64Parallel(b.text)
	if err != nil {
		return true, err
	}
	v.SetBytes(raw)
	return true, nil
}

// decodeBase64Parallel decodes standard base64 on two cores: the first
// half, cut at a 4-character boundary, has no padding and decodes to an
// exact length, so both halves can be decoded in place at once.
func decodeBase64Parallel(text []byte) ([]byte, error) {
	raw := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	cut := len(text) / 2 / 4 * 4
	first := text[:cut]
	if cut < 1<<16 || bytes.IndexByte(first, '=') >= 0 || bytes.IndexByte(first, '\r') >= 0 || bytes.IndexByte(first, '\n') >= 0 {
		n, err := base64.StdEncoding.Decode(raw, text)
		return raw[:n], err
	}
	head := cut / 4 * 3
	var err1 error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err1 = base64.StdEncoding.Decode(raw[:head], first)
	}()
	n, err2 := base64.StdEncoding.Decode(raw[head:], text[cut:])
	<-done
	if err1 != nil {
		return nil, err1
	}
	if err2 != nil {
		return nil, err2
	}
	return raw[:head+n], nil
}

func fieldByJSON(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}
