package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// envStream gives an environment a log stream of its own, as AWS does:
// the function's stream name ("YYYY/MM/DD/[version]<32 hex>") dated the
// day the environment starts, with fresh hex digits after the version.
func envStream(name string) string {
	i := strings.LastIndexByte(name, ']')
	if i < 0 {
		return name
	}
	var b [16]byte
	rand.Read(b[:])
	if len(name) > 11 && name[4] == '/' && name[7] == '/' && name[10] == '/' {
		name = time.Now().UTC().Format("2006/01/02") + name[10:]
	}
	return name[:i+1] + hex.EncodeToString(b[:])
}
