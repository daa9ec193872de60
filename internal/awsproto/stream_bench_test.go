package awsproto

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// BenchmarkDecodeStreaming50MB decodes a CreateFunction body carrying a
// 50 MB zip, read 256 KB at a time, without a sink: the decoder's own cost,
// its buffer growth included.
func BenchmarkDecodeStreaming50MB(b *testing.B) {
	zip := make([]byte, 50<<20)
	rand.Read(zip)
	body := []byte(`{"FunctionName":"f","Code":{"ZipFile":"` + base64.StdEncoding.EncodeToString(zip) + `"}}`)
	b.SetBytes(int64(len(zip)))
	b.ReportAllocs()
	for b.Loop() {
		var in spec.CreateFunctionRequest
		if _, _, err := decodeStreaming(context.Background(), bytes.NewReader(body), int64(len(body)), BodyLimit{Max: 1 << 30}, &in, bigBlob, nil, &streamed{}, streamBuffer); err != nil {
			b.Fatal(err)
		}
	}
}
