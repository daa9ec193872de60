package esm

import (
	"strings"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// Kafka error handling, as AWS's guide describes it ("Configuring error
// handling controls for Kafka event sources", "Using a Kafka topic as an
// on-failure destination"): MaximumRetryAttempts (-1 forever, else
// 0..10000), MaximumRecordAgeInSeconds (-1, else 60..604800),
// BisectBatchOnFunctionError, an on-failure destination (SQS, SNS, S3,
// or kafka://<topic> on the same cluster) and FunctionResponseTypes
// [ReportBatchItemFailures] are taken in provisioned mode
// only, that is with ProvisionedPollerConfig. Retrying forever with a
// destination means 10 retries. lambdad runs one poller per mapping
// whatever the poller counts say: they are kept and answered back.

// kafkaPollers is ProvisionedPollerConfig as stored.
type kafkaPollers struct {
	Min   int32  `json:"min"`
	Max   int32  `json:"max"`
	Group string `json:"group,omitempty"`
}

// kafkaErrors is the error handling of a mapping in provisioned mode; nil
// means AWS's defaults (retry forever, no age limit, no bisection, no
// destination).
type kafkaErrors struct {
	MaxRetries int32  `json:"maxRetries"`
	MaxAge     int32  `json:"maxAge"`
	Bisect     bool   `json:"bisect,omitempty"`
	OnFailure  string `json:"onFailure,omitempty"`
	// ReportFailures: FunctionResponseTypes [ReportBatchItemFailures].
	ReportFailures bool `json:"reportFailures,omitempty"`
}

var kafkaErrorDefaults = kafkaErrors{MaxRetries: -1, MaxAge: -1}

// kafkaDestPrefix marks a Kafka topic as the on-failure destination.
const kafkaDestPrefix = "kafka://"

// Kafka's provisioned-mode poller defaults (the model's documentation).
const (
	kafkaMinPollers = 1
	kafkaMaxPollers = 200
)

// kafkaChange is the provisioned-mode settings Create and Update share.
type kafkaChange struct {
	Pollers         *spec.ProvisionedPollerConfig
	Dest            *spec.DestinationConfig
	MaxAge, Retries *int32
	Bisect          *bool
	ResponseTypes   []string
	creating        bool
}

func (c kafkaChange) any() bool {
	return c.Pollers != nil || c.Dest != nil || c.MaxAge != nil || c.Retries != nil || c.Bisect != nil || c.ResponseTypes != nil
}

// applyKafka sets c on k and checks the result as AWS does.
func (s *Service) applyKafka(c kafkaChange, k *kafkaConf) error {
	if p := c.Pollers; p != nil {
		if p.MinimumPollers == nil && p.MaximumPollers == nil && p.PollerGroupName == nil && !c.creating {
			// An empty ProvisionedPollerConfig in an update leaves
			// provisioned mode; in a create it means the defaults [?].
			k.Pollers = nil
		} else {
			np := &kafkaPollers{Min: kafkaMinPollers, Max: kafkaMaxPollers}
			if p.MinimumPollers != nil {
				np.Min = *p.MinimumPollers
			}
			if p.MaximumPollers != nil {
				np.Max = *p.MaximumPollers
			}
			if p.PollerGroupName != nil {
				np.Group = *p.PollerGroupName
			}
			if np.Min > np.Max {
				return fault.InvalidParameterf("MinimumPollers must be less than or equal to MaximumPollers.") // [?]
			}
			k.Pollers = np
		}
	}
	e := kafkaErrorDefaults
	if k.Errors != nil {
		e = *k.Errors
	}
	named := "" // the first setting given that needs provisioned mode
	need := func(name string) {
		if named == "" {
			named = name
		}
	}
	if c.Retries != nil {
		e.MaxRetries = *c.Retries
		need("MaximumRetryAttempts")
	}
	if c.MaxAge != nil {
		e.MaxAge = *c.MaxAge
		need("MaximumRecordAgeInSeconds")
	}
	if c.Bisect != nil {
		e.Bisect = *c.Bisect
		need("BisectBatchOnFunctionError")
	}
	if c.ResponseTypes != nil {
		e.ReportFailures = false
		for _, t := range c.ResponseTypes {
			if t != "ReportBatchItemFailures" {
				return fault.InvalidParameterf("Unsupported FunctionResponseType: %s", t) // [?] as for streams
			}
			e.ReportFailures = true
			need("FunctionResponseTypes")
		}
	}
	if c.Dest != nil {
		if c.Dest.OnSuccess != nil && c.Dest.OnSuccess.Destination != nil {
			// [?] as for streams.
			return fault.InvalidParameterf("Unsupported DestinationConfig parameter for given event source mapping type.")
		}
		e.OnFailure = ""
		if c.Dest.OnFailure != nil && c.Dest.OnFailure.Destination != nil && *c.Dest.OnFailure.Destination != "" {
			d := *c.Dest.OnFailure.Destination
			if err := s.kafkaDestination(d, k.Topic); err != nil {
				return err
			}
			e.OnFailure = d
			need("DestinationConfig")
		}
	}
	switch {
	case e.MaxAge != -1 && (e.MaxAge < 60 || e.MaxAge > 604800):
		// [?] as for streams: the model allows -1..604800; AWS's guide
		// says 60..604800 or -1.
		return fault.InvalidParameterf("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
	case e.MaxRetries < -1 || e.MaxRetries > 10000:
		return fault.InvalidParameterf("MaximumRetryAttempts must be between -1 and 10000.") // [?]
	}
	if e == kafkaErrorDefaults {
		k.Errors = nil
		return nil
	}
	if k.Pollers == nil {
		if named == "" {
			// Provisioned mode left with error handling still set.
			return fault.InvalidParameterf("Error handling controls (MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, DestinationConfig, FunctionResponseTypes) require provisioned mode; reset them before removing ProvisionedPollerConfig.") // [?]
		}
		return fault.InvalidParameterf("%s is only supported for Kafka event source mappings in provisioned mode. Set ProvisionedPollerConfig.", named) // [?]
	}
	k.Errors = &e
	return nil
}

// kafkaDestination checks an on-failure destination: an SQS queue, SNS
// topic or S3 bucket, or a topic of the same cluster that is not the
// source topic (AWS blocks that recursion).
func (s *Service) kafkaDestination(d, topic string) error {
	if t, ok := strings.CutPrefix(d, kafkaDestPrefix); ok {
		if t == "" {
			return fault.InvalidParameterf("Invalid Kafka on-failure destination: %s", d) // [?]
		}
		if t == topic {
			return fault.InvalidParameterf("The Kafka on-failure destination topic cannot be the same as a source topic: %s", t) // [?]
		}
		return nil
	}
	a, err := awsconn.ParseARN(d)
	if err != nil || (a.Service != "sqs" && a.Service != "sns" && a.Service != "s3") {
		// [?] AWS's words for an on-failure target it does not take.
		return fault.InvalidParameterf("Unsupported on-failure destination type. Supported types are SQS, SNS, S3 and Kafka: %s", d)
	}
	if s.cfg.Destinations != nil {
		return s.cfg.Destinations.Check(d)
	}
	return nil
}

// wireKafkaErrors answers the provisioned-mode settings.
func wireKafkaErrors(k *kafkaConf, out *spec.EventSourceMappingConfiguration) {
	if p := k.Pollers; p != nil {
		out.ProvisionedPollerConfig = &spec.ProvisionedPollerConfig{MinimumPollers: ptr(p.Min), MaximumPollers: ptr(p.Max)}
		if p.Group != "" {
			out.ProvisionedPollerConfig.PollerGroupName = ptr(p.Group)
		}
	}
	if e := k.Errors; e != nil {
		out.MaximumRetryAttempts = ptr(e.MaxRetries)
		out.MaximumRecordAgeInSeconds = ptr(e.MaxAge)
		out.BisectBatchOnFunctionError = ptr(e.Bisect)
		out.DestinationConfig = &spec.DestinationConfig{OnFailure: &spec.OnFailure{}}
		if e.OnFailure != "" {
			out.DestinationConfig.OnFailure.Destination = ptr(e.OnFailure)
		}
		if e.ReportFailures {
			out.FunctionResponseTypes = []string{"ReportBatchItemFailures"}
		}
	}
}

// retries is how many retries a failed batch gets; -1 forever. Forever
// with a destination is 10 (AWS's guide).
func (e *kafkaErrors) retries() int {
	switch {
	case e == nil:
		return -1
	case e.MaxRetries == -1 && e.OnFailure != "":
		return 10
	}
	return int(e.MaxRetries)
}
