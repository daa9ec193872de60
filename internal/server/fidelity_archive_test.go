package server_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"hash/crc32"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

// zerosZip is handler.py plus a file of n MiB of zeros, deflated as
// tightly as deflate goes (~1,030:1): one MiB is compressed once and its
// flushed block repeated, so building 250 MB costs milliseconds.
func zerosZip(t *testing.T, handler string, n int) []byte {
	t.Helper()
	var stream bytes.Buffer
	fw, err := flate.NewWriter(&stream, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	block := func() []byte {
		if _, err := fw.Write(chunk); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		b := bytes.Clone(stream.Bytes())
		stream.Reset()
		return b
	}
	first, next := block(), block() // next refers back to zeros only: it repeats
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	body := append([]byte(nil), first...)
	crc := crc32.Update(0, crc32.IEEETable, chunk)
	for range n - 1 {
		body = append(body, next...)
		crc = crc32.Update(crc, crc32.IEEETable, chunk)
	}
	body = append(body, stream.Bytes()...)

	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	hw, err := w.Create("handler.py")
	if err == nil {
		_, err = hw.Write([]byte(handler))
	}
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.CreateRaw(&zip.FileHeader{Name: "zeros", Method: zip.Deflate, CRC32: crc,
		CompressedSize64: uint64(len(body)), UncompressedSize64: uint64(n) << 20})
	if err == nil {
		_, err = raw.Write(body)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHighlyCompressedCodeAccepted: 150 MB of zeros (about 150 KB zipped)
// is a valid package under AWS's 250 MB unzipped limit; 251 MB is refused
// with AWS's message.
func TestHighlyCompressedCodeAccepted(t *testing.T) {
	t.Parallel()
	_, c := servertest.InvokeEnv(t, nil)
	z := zerosZip(t, "import os\ndef handler(e, c):\n    return os.path.getsize('zeros')\n", 150)
	t.Logf("150 MB of zeros zips to %d bytes", len(z))
	testkit.CreateActive(t, c, testkit.CreateInput("zeros150", z))
	if got := string(testkit.Call(t, c, "zeros150", `{}`).Payload); got != "157286400" {
		t.Errorf("the function sees a zeros file of %s bytes", got)
	}

	_, err := c.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("zeros251"), Role: aws.String(testkit.Role), Runtime: types.RuntimePython312,
		Handler: aws.String("handler.handler"), Code: &types.FunctionCode{ZipFile: zerosZip(t, "", 251)},
	})
	testkit.APIErr(t, err, "InvalidParameterValueException", http.StatusBadRequest, "Unzipped size must be smaller than 262144000 bytes")
}
