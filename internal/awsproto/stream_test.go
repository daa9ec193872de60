package awsproto

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/lambdad/lambdad/internal/spec"
)

// chunkReader hands out its bytes n at a time, to put buffer edges
// everywhere.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}

// memSink keeps what each writer received, to compare with the decoded blob.
type memSink struct {
	mu      sync.Mutex
	writers []*memWriter
}

type memWriter struct {
	got               []byte
	closed, discarded bool
}

func (w *memWriter) Append(p []byte) error { w.got = append(w.got, p...); return nil }
func (w *memWriter) Close() error          { w.closed = true; return nil }
func (w *memWriter) Discard()              { w.discarded = true }

func (s *memSink) open(context.Context) (BlobWriter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := &memWriter{}
	s.writers = append(s.writers, w)
	return w, nil
}

func decodeChunked(body []byte, chunk, buf, min int, sink BlobSink) (*spec.CreateFunctionRequest, BlobWriter, *streamed, error) {
	var in spec.CreateFunctionRequest
	st := &streamed{}
	lim := BodyLimit{Max: 1 << 30}
	_, landed, err := decodeStreaming(context.Background(), &chunkReader{body, chunk}, int64(len(body)), lim, &in, min, sink, st, buf)
	return &in, landed, st, err
}

// matchesJSON decodes body through the streaming decoder (reads of chunk
// bytes, a buffer of buf, blobs from min bytes to a sink) and reports how
// it differs from encoding/json: in failing or not, in the decoded input,
// or in the writer it hands over: the one that received the blob the input
// holds, and none when the input holds no blob streamed.
func matchesJSON(body []byte, chunk, buf, min int) error {
	var want spec.CreateFunctionRequest
	wantErr := json.Unmarshal(body, &want)
	if len(bytes.TrimSpace(body)) == 0 {
		wantErr = nil // an empty body is no input, not an error
	}
	sink := &memSink{}
	got, landed, _, gotErr := decodeChunked(body, chunk, buf, min, sink.open)
	if (wantErr == nil) != (gotErr == nil) {
		return fmt.Errorf("errors differ: %v vs %v", wantErr, gotErr)
	}
	if wantErr != nil {
		return nil
	}
	a, _ := json.Marshal(want)
	b, _ := json.Marshal(got)
	if !bytes.Equal(a, b) {
		return fmt.Errorf("decoded differently:\n%.300s\n%.300s", a, b)
	}
	if got.Code == nil || len(got.Code.ZipFile) < min {
		if landed != nil {
			return errors.New("a writer handed over for a blob the input does not hold")
		}
		return nil
	}
	z := got.Code.ZipFile
	if w, _ := landed.(*memWriter); w == nil || !w.closed || !bytes.Equal(w.got, z) {
		return errors.New("the writer handed over did not receive the input's blob")
	}
	return nil
}

// TestStreamDecodeMatchesJSON checks the streaming decoder gives exactly
// what encoding/json gives, whatever the read and buffer sizes.
func TestStreamDecodeMatchesJSON(t *testing.T) {
	zip := bytes.Repeat([]byte("PK\x03\x04lambdad"), 30000) // 330 KB
	b64 := base64.StdEncoding.EncodeToString(zip)
	cases := map[string]string{
		"create":           `{"FunctionName":"f","Code":{"ZipFile":"` + b64 + `","S3Bucket":"b"},"Description":"d"}`,
		"spaces":           "{ \"Code\" : { \"ZipFile\" :\n\"" + b64 + "\" } , \"FunctionName\":\"f\"}",
		"escaped slash":    `{"FunctionName":"f","Code":{"ZipFile":"` + strings.ReplaceAll(b64, "/", `\/`) + `"}}`,
		"escaped newlines": `{"Code":{"ZipFile":"` + b64[:4000] + `\n` + b64[4000:8000] + `\r\n\u000a` + b64[8000:] + `"}}`,
		"unicode escape":   `{"Code":{"ZipFile":"\u0051UFB` + b64 + `"}}`,
		"not a blob":       `{"FunctionName":"f","Description":"` + strings.Repeat("x", 200<<10) + `","Code":{}}`,
		"in a list":        `{"FunctionName":"f","Layers":["` + strings.Repeat("x", 200<<10) + `"],"Code":{}}`,
		"twice":            `{"Code":{"ZipFile":"` + b64 + `","ZipFile":"QUFB"}}`,
		"twice, folded":    `{"Code":{"ZipFile":"` + b64 + `","zipfile":"QUFB"}}`,
		"twice, null":      `{"Code":{"ZipFile":"` + b64 + `","ZipFile":null}}`,
		"parent nulled":    `{"Code":{"ZipFile":"` + b64 + `"},"Code":null}`,
		"parent merged":    `{"Code":{"ZipFile":"` + b64 + `"},"Code":{"S3Key":"k"}}`,
		"parent again":     `{"Code":{"ZipFile":"` + b64 + `"},"code":{"ZipFile":"QUFB"}}`,
		"escaped key":      `{"Code":{"Zip\u0046ile":"` + b64 + `"}}`,
		"empty":            `{"Code":{"ZipFile":""}}`,
		"bad base64":       `{"Code":{"ZipFile":"` + strings.Repeat("!", 200<<10) + `"}}`,
		"padding inside":   `{"Code":{"ZipFile":"QQ==` + b64 + `"}}`,
		"unpadded":         `{"Code":{"ZipFile":"` + b64 + `QQ"}}`,
		"raw newline":      "{\"Code\":{\"ZipFile\":\"" + b64[:4000] + "\n" + b64[4000:] + "\"}}",
		"bad escape":       `{"Code":{"ZipFile":"` + b64 + `\x"}}`,
		"truncated":        `{"FunctionName":"f","Code":{"ZipFile":"` + b64 + `"}`,
		"truncated inside": `{"FunctionName":"f","Code":{"ZipFile":"` + b64,
		"not json":         `{"Code":{"ZipFile":"` + b64 + `"}}}`,
		"blank":            "  \n",
	}
	for name, body := range cases {
		for _, rd := range []struct{ chunk, buf int }{{1 << 30, streamBuffer}, {4093, 8192}, {7, 9}} {
			if err := matchesJSON([]byte(body), rd.chunk, rd.buf, 64<<10); err != nil {
				t.Errorf("%s %v: %v", name, rd, err)
			}
		}
	}
}

func TestStreamDecodeLimits(t *testing.T) {
	body := []byte(`{"Code":{"ZipFile":"` + strings.Repeat("QUFB", 1000) + `"}}`)
	var in spec.CreateFunctionRequest
	lim := BodyLimit{Max: 100, Err: func(n int64) error { return Errorf("RequestEntityTooLargeException", "too large: %d", n) }}
	_, _, err := decodeStreaming(context.Background(), bytes.NewReader(body), -1, lim, &in, 8, nil, &streamed{}, 64)
	var e *Error
	if !errors.As(err, &e) || e.Code != "RequestEntityTooLargeException" {
		t.Fatalf("over the limit: %v", err)
	}
	failing := io.MultiReader(bytes.NewReader(body[:50]), errReader{errors.New("connection reset")})
	_, _, err = decodeStreaming(context.Background(), failing, -1, BodyLimit{Max: 1 << 20}, &in, 8, nil, &streamed{}, 64)
	if !errors.As(err, &e) || e.Code != "InvalidRequestContentException" || !strings.Contains(e.Message, "connection reset") {
		t.Fatalf("read error: %v", err)
	}
	sinkFails := func(context.Context) (BlobWriter, error) { return nil, errors.New("disk full") }
	_, _, err = decodeStreaming(context.Background(), bytes.NewReader(body), -1, BodyLimit{Max: 1 << 20}, &in, 8, sinkFails, &streamed{}, 64)
	if err == nil || errors.As(err, &e) {
		t.Fatalf("a sink failure must be lambdad's (500), got %v", err)
	}
}

func TestStreamDecodeDiscardsUnclaimed(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 100))
	body := []byte(`{"Code":{"ZipFile":"` + b64 + `","ZipFile":"` + b64 + `"}}`)
	sink := &memSink{}
	_, landed, st, err := decodeChunked(body, 13, 32, 16, sink.open)
	if err != nil {
		t.Fatal(err)
	}
	if len(sink.writers) != 2 || len(st.writers) != 2 {
		t.Fatalf("writers %d, kept for discarding %d", len(sink.writers), len(st.writers))
	}
	if landed != sink.writers[1] {
		t.Fatal("the writer handed over is not the later member's, which encoding/json keeps")
	}
	st.discard()
	for _, w := range sink.writers {
		if !w.discarded {
			t.Error("a writer was not discarded")
		}
	}
}

// TestOnUploadHandsOverTheWriter: a handler registered with OnUpload gets,
// as its Upload, the writer that received the blob member it finds in its
// input, and that writer is discarded once the request is answered; a small
// blob is decoded only.
func TestOnUploadHandsOverTheWriter(t *testing.T) {
	s := NewService(slog.New(slog.DiscardHandler))
	sink := &memSink{}
	var got Upload[*memWriter]
	var zip []byte
	var discardedInHandler bool
	OnUpload(s, "CreateFunction", func(ctx context.Context) (*memWriter, error) {
		w, err := sink.open(ctx)
		return w.(*memWriter), err
	}, func(ctx context.Context, id Identity, in *spec.CreateFunctionRequest, up Upload[*memWriter]) (*spec.FunctionConfiguration, error) {
		got, zip = up, in.Code.ZipFile
		discardedInHandler = up.Streamed && up.Writer.discarded
		return &spec.FunctionConfiguration{}, nil
	})
	send := func(zip []byte) int {
		body := `{"FunctionName":"f","Role":"arn:aws:iam::123456789012:role/r","Code":{"ZipFile":"` + base64.StdEncoding.EncodeToString(zip) + `"}}`
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("POST", "/2015-03-31/functions", strings.NewReader(body)))
		return w.Code
	}

	big := bytes.Repeat([]byte("PK\x03\x04lambdad"), 200000) // 2.2 MB
	if code := send(big); code != 201 {
		t.Fatalf("status %d", code)
	}
	if !got.Streamed || got.Writer == nil || !got.Writer.closed || !bytes.Equal(got.Writer.got, big) || !bytes.Equal(zip, big) {
		t.Fatalf("a large zip: streamed %v, writer %v", got.Streamed, got.Writer != nil)
	}
	if discardedInHandler || !got.Writer.discarded {
		t.Errorf("the writer must be discarded after the handler, not before (before: %v)", discardedInHandler)
	}

	n := len(sink.writers)
	if code := send([]byte("PK\x05\x06small")); code != 201 {
		t.Fatalf("status %d", code)
	}
	if got.Streamed || got.Writer != nil || len(sink.writers) != n || string(zip) != "PK\x05\x06small" {
		t.Errorf("a small zip is decoded only: %+v, writers %d -> %d", got, n, len(sink.writers))
	}
}

// TestOnUploadNeedsOneBlobMember: an operation without exactly one blob
// member has nothing to hand over, which is a wiring mistake.
func TestOnUploadNeedsOneBlobMember(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("OnUpload accepted ListFunctions")
		}
	}()
	s := NewService(slog.New(slog.DiscardHandler))
	OnUpload(s, "ListFunctions", nil, func(context.Context, Identity, *spec.ListFunctionsRequest, Upload[*memWriter]) (*spec.ListFunctionsResponse, error) {
		return nil, nil
	})
}
