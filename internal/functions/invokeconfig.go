package functions

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bInvokeConfigs holds event invoke configs: acct/region/name/qualifier.
const bInvokeConfigs = "invokeconfigs"

// Defaults of asynchronous invocation, as AWS has them.
const (
	DefaultRetryAttempts = 2
	DefaultMaxEventAge   = 6 * time.Hour
)

// EventConfig is how asynchronous invokes of one version or alias behave.
type EventConfig struct {
	RetryAttempts *int32 `json:"retries,omitempty"`
	MaxAgeSeconds *int32 `json:"maxAge,omitempty"`
	OnSuccess     string `json:"onSuccess,omitempty"`
	OnFailure     string `json:"onFailure,omitempty"`
	Modified      string `json:"modified"`
}

// Attempts is how many times an event runs at most.
func (c *EventConfig) Attempts() int {
	if c == nil || c.RetryAttempts == nil {
		return 1 + DefaultRetryAttempts
	}
	return 1 + int(*c.RetryAttempts)
}

// MaxAge is how old an event may get before it is given up.
func (c *EventConfig) MaxAge() time.Duration {
	if c == nil || c.MaxAgeSeconds == nil {
		return DefaultMaxEventAge
	}
	return time.Duration(*c.MaxAgeSeconds) * time.Second
}

func invokeConfigKey(ref Ref) string {
	q := ref.Qualifier
	if q == "" {
		q = Latest
	}
	return fnKey(ref) + "/" + q
}

func noInvokeConfig(ref Ref) error {
	return fault.NotFoundf("EventInvokeConfig", "The function %s doesn't have an EventInvokeConfig", ref.VersionARN())
}

func (c *EventConfig) view(ref Ref) *spec.FunctionEventInvokeConfig {
	t, _ := time.Parse(time.RFC3339Nano, c.Modified)
	out := &spec.FunctionEventInvokeConfig{
		FunctionArn: str(ref.VersionARN()), LastModified: &spec.Timestamp{Time: t},
		MaximumRetryAttempts: c.RetryAttempts, MaximumEventAgeInSeconds: c.MaxAgeSeconds,
		DestinationConfig: &spec.DestinationConfig{OnSuccess: &spec.OnSuccess{}, OnFailure: &spec.OnFailure{}},
	}
	if c.OnSuccess != "" {
		out.DestinationConfig.OnSuccess.Destination = str(c.OnSuccess)
	}
	if c.OnFailure != "" {
		out.DestinationConfig.OnFailure.Destination = str(c.OnFailure)
	}
	return out
}

// destinationService is the service of a destination ARN: any service,
// region and resource, in an aws partition, with an account or none.
func destinationService(dest string) (string, bool) {
	a, err := arn.Parse(dest)
	if err != nil || !isPartition(a.Partition) || !isLowerID(a.Service) ||
		a.Region != "" && !isRegion(a.Region) || a.AccountID != "" && !isAccount(a.AccountID) ||
		strings.Contains(a.Resource, "\n") {
		return "", false
	}
	return a.Service, true
}

// checkDestination allows Lambda functions of the same account and region,
// and SQS, SNS, EventBridge and S3 destinations lambdad can reach
// (destinations.go).
func (s *Service) checkDestination(tx store.Tx, self Ref, dest string, onSuccess bool, in *spec.DestinationConfig) error {
	if dest == "" {
		return nil
	}
	service, ok := destinationService(dest)
	if !ok {
		return invalidDestinations(in)
	}
	switch service {
	case "lambda":
		target, err := ParseRef(caller.Identity{Account: self.Account, Region: self.Region}, dest, nil)
		if err != nil || tx.Get(bFunctions, fnKey(target)) == nil {
			return fault.InvalidParameterf("The destination ARN %s is invalid.", dest)
		}
		if target.Name == self.Name {
			return fault.InvalidParameterf("You can't specify the function as a destination for itself.")
		}
		return nil
	case "sqs", "sns", "events", "s3":
		return s.checkServiceDestination(dest, onSuccess)
	}
	return invalidDestinations(in)
}

func invalidDestinations(in *spec.DestinationConfig) error {
	show := func(kind string, d *string) string {
		if d == nil {
			return "null"
		}
		return fmt.Sprintf("%s(destination=%s)", kind, *d)
	}
	var succ, fail *string
	if in.OnSuccess != nil {
		succ = in.OnSuccess.Destination
	}
	if in.OnFailure != nil {
		fail = in.OnFailure.Destination
	}
	return fault.InvalidParameterf("The provided destination config DestinationConfig(onSuccess=%s, onFailure=%s) is invalid.", show("OnSuccess", succ), show("OnFailure", fail))
}

// PutEventConfig is PutFunctionEventInvokeConfig (replace) and, with merge,
// UpdateFunctionEventInvokeConfig.
func (s *Service) PutEventConfig(ctx context.Context, ref Ref, retries, maxAge *int32, dest *spec.DestinationConfig, merge bool) (*spec.FunctionEventInvokeConfig, error) {
	if retries == nil && maxAge == nil && dest == nil {
		return nil, fault.InvalidParameterf("You must specify at least one of error handling or destination setting.")
	}
	var out *spec.FunctionEventInvokeConfig
	err := s.update(ctx, func(tx store.Tx) error {
		target := ref
		if target.Qualifier == Latest { // an explicit $LATEST is the unqualified function (AWS accepts it here)
			target.Qualifier = ""
		}
		if err := s.checkTarget(tx, target); err != nil {
			return fault.NotFoundf("Function", "The function doesn't exist.")
		}
		cfg := &EventConfig{}
		if raw := tx.Get(bInvokeConfigs, invokeConfigKey(ref)); merge {
			if raw == nil {
				return noInvokeConfig(ref)
			}
			if err := decodeEventConfig(raw, cfg); err != nil {
				return err
			}
		}
		if retries != nil {
			cfg.RetryAttempts = retries
		}
		if maxAge != nil {
			cfg.MaxAgeSeconds = maxAge
		}
		if dest != nil {
			var succ, fail string
			if dest.OnSuccess != nil && dest.OnSuccess.Destination != nil {
				succ = *dest.OnSuccess.Destination
			}
			if dest.OnFailure != nil && dest.OnFailure.Destination != nil {
				fail = *dest.OnFailure.Destination
			}
			for i, d := range []string{succ, fail} {
				if err := s.checkDestination(tx, ref, d, i == 0, dest); err != nil {
					return err
				}
			}
			cfg.OnSuccess, cfg.OnFailure = succ, fail
		}
		cfg.Modified = s.cfg.Now().UTC().Format(time.RFC3339Nano)
		raw, _ := encodeEventConfig(cfg)
		out = cfg.view(ref)
		return tx.Put(bInvokeConfigs, invokeConfigKey(ref), raw)
	})
	return out, err
}

// EventConfig returns the event invoke config of a version or alias (nil when none).
func (s *Service) EventConfig(ctx context.Context, ref Ref) (*EventConfig, error) {
	var cfg *EventConfig
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		raw := tx.Get(bInvokeConfigs, invokeConfigKey(ref))
		if raw == nil {
			return nil
		}
		cfg = new(EventConfig)
		return decodeEventConfig(raw, cfg)
	})
	return cfg, err
}

// GetEventConfig is GetFunctionEventInvokeConfig.
func (s *Service) GetEventConfig(ctx context.Context, ref Ref) (*spec.FunctionEventInvokeConfig, error) {
	cfg, err := s.EventConfig(ctx, ref)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, noInvokeConfig(ref)
	}
	return cfg.view(ref), nil
}

// DeleteEventConfig is DeleteFunctionEventInvokeConfig.
func (s *Service) DeleteEventConfig(ctx context.Context, ref Ref) error {
	return s.update(ctx, func(tx store.Tx) error {
		if tx.Get(bInvokeConfigs, invokeConfigKey(ref)) == nil {
			return noInvokeConfig(ref)
		}
		return tx.Delete(bInvokeConfigs, invokeConfigKey(ref))
	})
}

// ListEventConfigs is ListFunctionEventInvokeConfigs.
func (s *Service) ListEventConfigs(ctx context.Context, fn Ref, marker *string, max *int32) (*spec.ListFunctionEventInvokeConfigsResponse, error) {
	configs, next, err := listPage(ctx, s, marker, max, func(tx store.Tx, p page) ([]spec.FunctionEventInvokeConfig, *string, error) {
		if tx.Get(bFunctions, fnKey(fn)) == nil {
			return nil, nil, fault.NotFoundf("Function", "The function doesn't exist.")
		}
		configs, next := pageUnder(tx, bInvokeConfigs, fn, p, func(q string, raw []byte) (spec.FunctionEventInvokeConfig, bool) {
			cfg := new(EventConfig)
			if decodeEventConfig(raw, cfg) != nil {
				return spec.FunctionEventInvokeConfig{}, false
			}
			r := fn
			r.Qualifier = q
			return *cfg.view(r), true
		})
		return configs, next, nil
	})
	if err != nil {
		return nil, err
	}
	return &spec.ListFunctionEventInvokeConfigsResponse{FunctionEventInvokeConfigs: configs, NextMarker: next}, nil
}
