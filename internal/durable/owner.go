package durable

import (
	"context"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// The answers the API layer gives, in this package's words, when a caller
// names an execution or callback of another account: the same as for one
// that does not exist, so that nothing is learnt of others' executions.

// InvalidToken is the answer to a checkpoint token that is not the
// execution's current one.
func InvalidToken() error { return invalidToken() }

// ExecutionNotFound is the answer to an execution ARN that names none.
func ExecutionNotFound(arn string) error { return notFound(arn) }

// CallbackNotFound is the answer to a callback id that names none.
func CallbackNotFound() error { return fault.NotFoundf("Callback", msgCallbackNotFound) }

// CallbackExecution is the ARN of the execution callbackID belongs to, for
// the API layer to check its owner before acting on it.
func (s *Service) CallbackExecution(ctx context.Context, callbackID string) (string, error) {
	execID, err := CallbackExec(callbackID)
	if err != nil {
		return "", fault.InvalidParameterf(msgCallbackInvalid)
	}
	var arn string
	err = s.cfg.Store.View(ctx, func(tx store.Tx) error {
		ex, err := loadExec(tx, execID)
		if err != nil {
			return err
		}
		if ex == nil {
			return CallbackNotFound()
		}
		if _, err := CheckCallbackID(callbackID, ex.Key); err != nil {
			return CallbackNotFound()
		}
		arn = ex.ARN
		return nil
	})
	return arn, err
}
