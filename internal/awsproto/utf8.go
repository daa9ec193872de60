package awsproto

import "github.com/lambdad/lambdad/internal/textcheck"

// InvalidUTF8 is textcheck.InvalidUTF8, for the body decoders here.
func InvalidUTF8(b []byte) (msg string, bad bool) { return textcheck.InvalidUTF8(b) }
