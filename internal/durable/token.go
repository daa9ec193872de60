package durable

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Checkpoint tokens and callback ids are opaque to clients (docs/durable.md
// 1.4, 1.7) but must name what they belong to, so that lambdad finds the
// execution from them alone, and must not be made up from what a client can
// see (an execution ARN, an operation id). Each is sealed with the
// execution's own secret key: an HMAC over its fields, cut to macSize bytes.
// The wire form is standard base64, the model's pattern for both
// ("[A-Za-z0-9+/]+={0,2}").

const (
	macSize = 16
	// Kinds keep a callback id from passing as a checkpoint token.
	kindToken    byte = 't'
	kindCallback byte = 'c'
	// maxIDLen bounds the ids inside; the model allows tokens of 2048
	// characters and callback ids of 1024, far above what these reach.
	maxIDLen = 255
)

var errSealed = errors.New("durable: not a token or callback id of this lambdad")

// Token is what a checkpoint token stands for. The service accepts a token
// only when all three are the execution's current ones.
type Token struct {
	// Exec is the execution's id.
	Exec string
	// Invocation counts the execution's invocations: a new invocation's
	// token makes every earlier one stale.
	Invocation uint32
	// Seq counts the checkpoints taken: each one consumes its token.
	Seq uint64
}

// Encode seals t with the execution's key.
func (t Token) Encode(key []byte) (string, error) {
	if len(t.Exec) == 0 || len(t.Exec) > maxIDLen {
		return "", errors.New("durable: a token needs an execution id of 1 to 255 bytes")
	}
	b := []byte{kindToken, byte(len(t.Exec))}
	b = append(b, t.Exec...)
	b = binary.BigEndian.AppendUint32(b, t.Invocation)
	b = binary.BigEndian.AppendUint64(b, t.Seq)
	return seal(b, key), nil
}

// TokenExec is the execution a token names, read without checking it: the
// caller loads that execution's key and then calls CheckToken.
func TokenExec(s string) (string, error) {
	t, _, err := parseToken(s)
	return t.Exec, err
}

// CheckToken opens a token sealed with key.
func CheckToken(s string, key []byte) (Token, error) {
	t, b, err := parseToken(s)
	if err != nil || !verify(b, key) {
		return Token{}, errSealed
	}
	return t, nil
}

func parseToken(s string) (Token, []byte, error) {
	b, rest, ok := open(s, kindToken)
	if !ok {
		return Token{}, nil, errSealed
	}
	exec, rest, ok := cutID(rest)
	if !ok || len(rest) != 4+8 {
		return Token{}, nil, errSealed
	}
	return Token{
		Exec:       exec,
		Invocation: binary.BigEndian.Uint32(rest),
		Seq:        binary.BigEndian.Uint64(rest[4:]),
	}, b, nil
}

// CallbackID is what a callback id stands for: the CALLBACK operation of
// an execution. The service mints it when the operation starts.
type CallbackID struct {
	Exec      string
	Operation string
}

// Encode seals c with the execution's key.
func (c CallbackID) Encode(key []byte) (string, error) {
	if len(c.Exec) == 0 || len(c.Exec) > maxIDLen || len(c.Operation) == 0 || len(c.Operation) > maxIDLen {
		return "", errors.New("durable: a callback id needs execution and operation ids of 1 to 255 bytes")
	}
	b := []byte{kindCallback, byte(len(c.Exec))}
	b = append(b, c.Exec...)
	b = append(b, byte(len(c.Operation)))
	b = append(b, c.Operation...)
	return seal(b, key), nil
}

// CallbackExec is the execution a callback id names, read without
// checking it (see TokenExec).
func CallbackExec(s string) (string, error) {
	c, _, err := parseCallback(s)
	return c.Exec, err
}

// CheckCallbackID opens a callback id sealed with key.
func CheckCallbackID(s string, key []byte) (CallbackID, error) {
	c, b, err := parseCallback(s)
	if err != nil || !verify(b, key) {
		return CallbackID{}, errSealed
	}
	return c, nil
}

func parseCallback(s string) (CallbackID, []byte, error) {
	b, rest, ok := open(s, kindCallback)
	if !ok {
		return CallbackID{}, nil, errSealed
	}
	exec, rest, ok := cutID(rest)
	if !ok {
		return CallbackID{}, nil, errSealed
	}
	op, rest, ok := cutID(rest)
	if !ok || len(rest) != 0 {
		return CallbackID{}, nil, errSealed
	}
	return CallbackID{Exec: exec, Operation: op}, b, nil
}

// seal appends b's MAC and encodes the whole.
func seal(b, key []byte) string {
	return base64.StdEncoding.EncodeToString(append(b, mac(b, key)...))
}

func mac(b, key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(b)
	return h.Sum(nil)[:macSize]
}

// open decodes s and splits it into the sealed bytes (fields and MAC) and
// the fields after the kind byte, which must be kind. Only the canonical
// encoding is accepted, so one token has one spelling.
func open(s string, kind byte) (sealed, fields []byte, ok bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 1+macSize || b[0] != kind || base64.StdEncoding.EncodeToString(b) != s {
		return nil, nil, false
	}
	return b, b[1 : len(b)-macSize], true
}

// verify checks the MAC at the end of b in constant time.
func verify(b, key []byte) bool {
	n := len(b) - macSize
	return hmac.Equal(b[n:], mac(b[:n], key))
}

// cutID reads one length-prefixed id (1 to 255 bytes).
func cutID(b []byte) (id string, rest []byte, ok bool) {
	if len(b) < 1 || b[0] == 0 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}
