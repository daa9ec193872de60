// Command goecho is a provided.al2023 function built by the invoke tests with
// aws-lambda-go. The event's "op" selects what it does, so one binary covers
// every behaviour the tests need.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Op    string          `json:"op"`
	Ms    int             `json:"ms"`
	Size  int             `json:"size"`
	Name  string          `json:"name"`
	Fail  bool            `json:"fail"`
	Value json.RawMessage `json:"value"`
}

// invocations counts calls into this process, so tests can tell warm from cold.
var invocations int

func handle(ctx context.Context, req request) (any, error) {
	invocations++
	lc, _ := lambdacontext.FromContext(ctx)
	switch req.Op {
	case "", "echo":
		return req.Value, nil
	case "error":
		return nil, errors.New("goecho failed on purpose")
	case "sleep":
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
		return map[string]any{"slept": req.Ms}, nil
	case "crash":
		fmt.Println("goecho crashing")
		os.Exit(3)
	case "big":
		return strings.Repeat("x", req.Size), nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return env, nil
	case "count":
		return invocations, nil
	case "marker":
		// Event tests watch MARKER_DIR to see the function really ran: one
		// file per attempt, named <name>-<request id>-<time>.
		time.Sleep(time.Duration(req.Ms) * time.Millisecond)
		id := ""
		if lc != nil {
			id = lc.AwsRequestID
		}
		file := fmt.Sprintf("%s-%s-%d", req.Name, id, time.Now().UnixNano())
		if err := os.WriteFile(filepath.Join(os.Getenv("MARKER_DIR"), file), req.Value, 0o644); err != nil {
			return nil, err
		}
		if req.Fail {
			return nil, errors.New("goecho marker attempt failed on purpose")
		}
		return "marked", nil
	}
	return nil, fmt.Errorf("unknown op %q", req.Op)
}

func main() { lambda.Start(handle) }
