package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// TestSharedCodeSurvivesConcurrentDeletes creates and deletes functions
// that share one zip, concurrently: no surviving function may lose its code
// to the collection of the blob another function stopped using.
func TestSharedCodeSurvivesConcurrentDeletes(t *testing.T) {
	t.Parallel()
	_, c := newEnv(t, fastTransition)
	ctx := context.Background()
	zip := handlerZip(t, "def handler(e, c):\n    return 'shared'\n")
	check := func(name string) error {
		out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			return err
		}
		resp, err := http.Get(aws.ToString(out.Code.Location))
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, zip) {
			return fmt.Errorf("%s lost its code: HTTP %d, %d bytes", name, resp.StatusCode, len(got))
		}
		return nil
	}
	// Each worker creates, checks and deletes, so the blob's last
	// reference keeps going away while other creates are under way.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				name := fmt.Sprintf("share-%d-%d", w, i)
				if _, err := c.CreateFunction(ctx, createInput(name, zip)); err != nil {
					t.Errorf("create %s: %v", name, err)
					return
				}
				if err := check(name); err != nil {
					t.Error(err)
					return
				}
				if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
					t.Errorf("delete %s: %v", name, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
