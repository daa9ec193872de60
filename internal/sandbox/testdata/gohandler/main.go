// Command gohandler is a test function built with aws-lambda-go
// (-tags lambda.norpc), driven by an "op" field in the event.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Op    string   `json:"op"`
	Ms    int      `json:"ms"`
	Code  int      `json:"code"`
	Path  string   `json:"path"`
	Data  string   `json:"data"`
	Lines []string `json:"lines"`
}

var counter int

// procID tells processes apart where pids do not (each isolated
// environment has a PID namespace of its own).
var procID = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())

func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var ev event
	if len(raw) > 0 && raw[0] == '{' {
		_ = json.Unmarshal(raw, &ev)
	}
	counter++
	switch ev.Op {
	case "":
		return raw, nil
	case "counter":
		return map[string]int{"counter": counter, "pid": os.Getpid()}, nil
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		dl, _ := ctx.Deadline()
		return map[string]any{
			"requestId":    lc.AwsRequestID,
			"arn":          lc.InvokedFunctionArn,
			"deadlineMs":   dl.UnixMilli(),
			"clientCustom": lc.ClientContext.Custom,
			"identityId":   lc.Identity.CognitoIdentityID,
			"trace":        os.Getenv("_X_AMZN_TRACE_ID"),
			"env": map[string]string{
				"AWS_LAMBDA_RUNTIME_API": os.Getenv("AWS_LAMBDA_RUNTIME_API"),
				"LAMBDA_TASK_ROOT":       os.Getenv("LAMBDA_TASK_ROOT"),
				"LAMBDA_RUNTIME_DIR":     os.Getenv("LAMBDA_RUNTIME_DIR"),
				"MY_VAR":                 os.Getenv("MY_VAR"),
				"SECRET_PARENT":          os.Getenv("SECRET_PARENT"),
			},
		}, nil
	case "sleep":
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
		return map[string]int{"slept": ev.Ms}, nil
	case "span": // when this call ran, and in which process
		start := time.Now()
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
		return map[string]any{"pid": os.Getpid(), "proc": procID, "start": start.UnixNano(), "end": time.Now().UnixNano(),
			"max": os.Getenv("AWS_LAMBDA_MAX_CONCURRENCY")}, nil
	case "print":
		for i, l := range ev.Lines {
			if i%2 == 0 {
				fmt.Fprintln(os.Stdout, l)
			} else {
				fmt.Fprintln(os.Stderr, l)
			}
		}
		return "printed", nil
	case "error":
		return nil, errors.New("something broke")
	case "exit":
		os.Exit(ev.Code)
	case "exitlater":
		go func() {
			time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
			os.Exit(ev.Code)
		}()
		return "bye", nil
	case "write":
		err := os.WriteFile(ev.Path, []byte(ev.Data), 0o644)
		return map[string]string{"err": errString(err)}, nil
	case "read":
		b, err := os.ReadFile(ev.Path)
		return map[string]string{"data": string(b), "err": errString(err)}, nil
	case "ls":
		ents, err := os.ReadDir(ev.Path)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return map[string]any{"names": names, "err": errString(err)}, nil
	case "big":
		return strings.Repeat("x", ev.Code), nil
	}
	return nil, fmt.Errorf("unknown op %q", ev.Op)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	lambda.Start(handle)
}
