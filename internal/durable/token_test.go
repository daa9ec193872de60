package durable

import (
	"encoding/base64"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
)

// The model's pattern for CheckpointToken and CallbackId.
var b64 = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)

var (
	key      = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
)

func TestTokensRoundTripInTheModelsAlphabet(t *testing.T) {
	for _, tok := range []Token{
		{Exec: "7b0c3a1e-2d4f-4e5a-9b6c-0d1e2f3a4b5c", Invocation: 1, Seq: 0},
		{Exec: "x", Invocation: math.MaxUint32, Seq: math.MaxUint64},
		{Exec: strings.Repeat("e", maxIDLen), Invocation: 7, Seq: 42},
	} {
		s, err := tok.Encode(key)
		if err != nil {
			t.Fatal(err)
		}
		if !b64.MatchString(s) || len(s) > 2048 {
			t.Errorf("token %q is not 1-2048 characters of standard base64", s)
		}
		got, err := CheckToken(s, key)
		if err != nil || got != tok {
			t.Errorf("CheckToken(Encode(%+v)) = %+v, %v", tok, got, err)
		}
		if exec, err := TokenExec(s); err != nil || exec != tok.Exec {
			t.Errorf("TokenExec = %q, %v; want %q", exec, err, tok.Exec)
		}
	}
	if _, err := (Token{}).Encode(key); err == nil {
		t.Error("a token without an execution was encoded")
	}
	if _, err := (Token{Exec: strings.Repeat("e", maxIDLen+1)}).Encode(key); err == nil {
		t.Error("a token with a 256-byte execution id was encoded")
	}
}

func TestEachCheckpointAndInvocationHasItsOwnToken(t *testing.T) {
	seen := map[string]Token{}
	for inv := uint32(1); inv <= 3; inv++ {
		for seq := uint64(0); seq < 3; seq++ {
			tok := Token{Exec: "e1", Invocation: inv, Seq: seq}
			s, err := tok.Encode(key)
			if err != nil {
				t.Fatal(err)
			}
			if prev, dup := seen[s]; dup {
				t.Fatalf("%+v and %+v share the token %s", prev, tok, s)
			}
			seen[s] = tok
		}
	}
}

func TestATokenCannotBeMadeUpOrAltered(t *testing.T) {
	tok := Token{Exec: "e1", Invocation: 2, Seq: 5}
	s, err := tok.Encode(key)
	if err != nil {
		t.Fatal(err)
	}
	// Another execution's key (a token of another execution, or one made
	// by someone who knows the execution id but not its key).
	if _, err := CheckToken(s, otherKey); !errors.Is(err, errSealed) {
		t.Errorf("a token checked with another key: %v, want errSealed", err)
	}
	// Every single-bit change of the decoded bytes is refused: the fields
	// (a later Seq, another Exec) and the MAC alike.
	raw, _ := base64.StdEncoding.DecodeString(s)
	for i := range raw {
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if got, err := CheckToken(base64.StdEncoding.EncodeToString(b), key); err == nil {
				t.Fatalf("byte %d bit %d flipped: accepted as %+v", i, bit, got)
			}
		}
	}
	for _, bad := range []string{
		"",
		"not base64!",
		s[:len(s)-4],              // truncated
		s + "AAAA",                // trailing bytes
		strings.TrimRight(s, "="), // unpadded spelling
		base64.URLEncoding.EncodeToString(raw) + "_", // the URL alphabet
		base64.StdEncoding.EncodeToString(raw[:macSize]),
	} {
		if got, err := CheckToken(bad, key); err == nil {
			t.Errorf("CheckToken(%q) accepted %+v", bad, got)
		}
	}
}

func TestCallbackIDsRoundTripAndAreNotTokens(t *testing.T) {
	cb := CallbackID{Exec: "e1", Operation: "c4ca4238a0b92382"}
	s, err := cb.Encode(key)
	if err != nil {
		t.Fatal(err)
	}
	if !b64.MatchString(s) || len(s) > 1024 {
		t.Errorf("callback id %q is not 1-1024 characters of standard base64", s)
	}
	if got, err := CheckCallbackID(s, key); err != nil || got != cb {
		t.Errorf("CheckCallbackID = %+v, %v; want %+v", got, err, cb)
	}
	if exec, err := CallbackExec(s); err != nil || exec != "e1" {
		t.Errorf("CallbackExec = %q, %v", exec, err)
	}
	if _, err := CheckCallbackID(s, otherKey); err == nil {
		t.Error("a callback id checked with another key was accepted")
	}
	// Sealed with the same key, a callback id is still not a token, nor a
	// token a callback id.
	if _, err := CheckToken(s, key); err == nil {
		t.Error("a callback id was accepted as a checkpoint token")
	}
	ts, _ := Token{Exec: "e1", Invocation: 1, Seq: 1}.Encode(key)
	if _, err := CheckCallbackID(ts, key); err == nil {
		t.Error("a checkpoint token was accepted as a callback id")
	}
	for _, bad := range []CallbackID{{Exec: "e1"}, {Operation: "op"}, {Exec: "e1", Operation: strings.Repeat("o", 256)}} {
		if _, err := bad.Encode(key); err == nil {
			t.Errorf("%+v was encoded", bad)
		}
	}
}

// FuzzCheckToken: no input panics, and an accepted token is the one
// spelling of what it stands for.
func FuzzCheckToken(f *testing.F) {
	s, _ := Token{Exec: "e1", Invocation: 1, Seq: 9}.Encode(key)
	c, _ := CallbackID{Exec: "e1", Operation: "op"}.Encode(key)
	for _, seed := range []string{s, c, "", "dA==", "dAAA", strings.Repeat("A", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		TokenExec(in)
		CallbackExec(in)
		CheckCallbackID(in, key)
		tok, err := CheckToken(in, key)
		if err != nil {
			return
		}
		if again, err := tok.Encode(key); err != nil || again != in {
			t.Fatalf("%q accepted as %+v, which encodes as %q", in, tok, again)
		}
	})
}
