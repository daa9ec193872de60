package esm

import (
	"context"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Stream mappings (Kinesis and DynamoDB Streams): their settings, as AWS
// validates and answers them. The recorded responses (LocalStack's
// snapshots of AWS) show the defaults: BatchSize 100, window 0,
// ParallelizationFactor 1, MaximumRecordAgeInSeconds and
// MaximumRetryAttempts -1 (forever), no bisect, TumblingWindowInSeconds
// 0, DestinationConfig {"OnFailure": {}}, LastProcessingResult "No
// records processed", StateTransitionReason "User action".

const (
	streamKinesis  = "kinesis"
	streamDynamoDB = "dynamodb"

	streamReason       = "User action"
	resultNoRecordsYet = "No records processed"
)

// streamConf is what a stream mapping adds to the stored mapping.
type streamConf struct {
	Kind              string    `json:"kind"` // streamKinesis or streamDynamoDB
	Region            string    `json:"region"`
	StartingPosition  string    `json:"startingPosition"`
	StartingTimestamp time.Time `json:"startingTimestamp,omitzero"`
	Parallelization   int32     `json:"parallelization"`
	Bisect            bool      `json:"bisect,omitempty"`
	MaxRetries        int32     `json:"maxRetries"`
	MaxAge            int32     `json:"maxAge"`
	OnFailure         string    `json:"onFailure,omitempty"`
	Tumbling          int32     `json:"tumbling,omitempty"`
}

// streamARN tells a Kinesis stream or DynamoDB table stream ARN apart
// from others; ok false for anything else.
func streamARN(s string) (kind, region string, ok bool) {
	a, err := awsconn.ParseARN(s)
	if err != nil || a.Region == "" || a.Account == "" {
		return "", "", false
	}
	switch a.Service {
	case "kinesis":
		name, found := strings.CutPrefix(a.Resource, "stream/")
		return streamKinesis, a.Region, found && name != "" && !strings.Contains(name, "/")
	case "dynamodb":
		p := strings.Split(a.Resource, "/")
		return streamDynamoDB, a.Region, len(p) == 4 && p[0] == "table" && p[1] != "" && p[2] == "stream" && p[3] != ""
	}
	return "", "", false
}

// streamChange is the settings Create and Update share for streams.
type streamChange struct {
	BatchSize, Window                        *int32
	Parallelization, MaxAge, Retries, Tumble *int32
	Bisect                                   *bool
	Dest                                     *spec.DestinationConfig
	Filter                                   *spec.FilterCriteria
	ResponseTypes                            []string
}

func (c streamChange) any() bool {
	return c.BatchSize != nil || c.Window != nil || c.Parallelization != nil || c.MaxAge != nil || c.Retries != nil ||
		c.Tumble != nil || c.Bisect != nil || c.Dest != nil || c.Filter != nil || c.ResponseTypes != nil
}

// apply sets c on m and checks the result as AWS does.
func (s *Service) applyStream(c streamChange, m *mapping) error {
	st := m.Stream
	if c.BatchSize != nil {
		m.BatchSize = *c.BatchSize
	}
	if c.Window != nil {
		m.Window = *c.Window
	}
	if c.Parallelization != nil {
		st.Parallelization = *c.Parallelization
	}
	if c.MaxAge != nil {
		st.MaxAge = *c.MaxAge
	}
	if c.Retries != nil {
		st.MaxRetries = *c.Retries
	}
	if c.Tumble != nil {
		st.Tumbling = *c.Tumble
	}
	if c.Bisect != nil {
		st.Bisect = *c.Bisect
	}
	if c.ResponseTypes != nil {
		m.ResponseTypes = c.ResponseTypes
	}
	if c.Filter != nil {
		var ps []string
		for _, f := range c.Filter.Filters {
			if f.Pattern == nil {
				return fault.InvalidParameterf("Invalid filter pattern definition.")
			}
			if _, err := ParsePattern(*f.Pattern); err != nil {
				return fault.InvalidParameterf("Invalid filter pattern definition.")
			}
			ps = append(ps, *f.Pattern)
		}
		m.Filters = ps
	}
	if c.Dest != nil {
		if c.Dest.OnSuccess != nil && c.Dest.OnSuccess.Destination != nil {
			// [?] AWS's words for an on-success destination on a stream.
			return fault.InvalidParameterf("Unsupported DestinationConfig parameter for given event source mapping type.")
		}
		st.OnFailure = ""
		if c.Dest.OnFailure != nil && c.Dest.OnFailure.Destination != nil {
			d := *c.Dest.OnFailure.Destination
			a, err := awsconn.ParseARN(d)
			if err != nil || (a.Service != "sqs" && a.Service != "sns" && a.Service != "s3") {
				// [?] AWS's words for an on-failure target it does not take.
				return fault.InvalidParameterf("Unsupported on-failure destination type. Supported types are SQS, SNS and S3: %s", d)
			}
			if s.cfg.Destinations != nil {
				if err := s.cfg.Destinations.Check(d); err != nil {
					return err
				}
			}
			st.OnFailure = d
		}
	}
	switch {
	case m.BatchSize < 1 || m.BatchSize > 10000:
		return fault.InvalidParameterf("BatchSize must be between 1 and 10000.") // [?]
	case st.MaxAge != -1 && (st.MaxAge < 60 || st.MaxAge > 604800):
		// [?] the model allows -1..604800; AWS refuses 0..59.
		return fault.InvalidParameterf("MaximumRecordAgeInSeconds must be -1 or between 60 and 604800.")
	case st.MaxRetries < -1 || st.MaxRetries > 10000:
		return fault.InvalidParameterf("MaximumRetryAttempts must be between -1 and 10000.") // [?]
	case st.Parallelization < 1 || st.Parallelization > 10:
		return fault.InvalidParameterf("ParallelizationFactor must be between 1 and 10.") // [?]
	case st.Tumbling < 0 || st.Tumbling > 900:
		return fault.InvalidParameterf("TumblingWindowInSeconds must be between 0 and 900.") // [?]
	}
	for _, t := range m.ResponseTypes {
		if t != "ReportBatchItemFailures" {
			return fault.InvalidParameterf("Unsupported FunctionResponseType: %s", t) // [?]
		}
	}
	return nil
}

// createStream is Create for a Kinesis or DynamoDB stream.
func (s *Service) createStream(ctx context.Context, id caller.Identity, in *spec.CreateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
	kind, region, ok := streamARN(*in.EventSourceArn)
	if !ok {
		return nil, fault.InvalidParameterf("Unrecognized event source.") // [?]
	}
	if err := refuseOtherSources(in); err != nil {
		return nil, err
	}
	if in.ScalingConfig != nil {
		return nil, fault.InvalidParameterf("Unsupported ScalingConfig parameter for given event source mapping type.") // [?]
	}
	st := &streamConf{Kind: kind, Region: region, Parallelization: 1, MaxRetries: -1, MaxAge: -1}
	switch pos := strOf(in.StartingPosition); pos {
	case "":
		// AWS's words, recorded (with the period).
		return nil, fault.InvalidParameterViolation(fault.Violation{Field: "startingPosition", Constraint: "Member must not be null."})
	case "TRIM_HORIZON", "LATEST":
		if in.StartingPositionTimestamp != nil {
			// [?]
			return nil, fault.InvalidParameterf("StartingPositionTimestamp is only valid with StartingPosition AT_TIMESTAMP.")
		}
		st.StartingPosition = pos
	case "AT_TIMESTAMP":
		if kind == streamDynamoDB {
			return nil, fault.InvalidParameterf("Unsupported starting position for arn type: %s", *in.EventSourceArn)
		}
		if in.StartingPositionTimestamp == nil {
			// [?]
			return nil, fault.InvalidParameterf("StartingPositionTimestamp must be provided when StartingPosition is AT_TIMESTAMP.")
		}
		st.StartingPosition, st.StartingTimestamp = pos, in.StartingPositionTimestamp.Time
	default:
		// Not reached from the API: the model's enum check answers first,
		// with AWS's ValidationException (LocalStack snapshot
		// test_lambda_api: TestLambdaEventSourceMappings.
		// test_create_event_source_validation{,_kinesis}, awsproto's
		// shownEnums).
		return nil, fault.InvalidParameterf("Unsupported starting position: %s", pos)
	}
	m := &mapping{
		UUID: ids.UUID(), Account: id.Account, Region: id.Region,
		EventSourceARN: *in.EventSourceArn, BatchSize: 100, Tags: in.Tags, Stream: st,
		ResponseTypes: []string{},
	}
	ch := streamChange{BatchSize: in.BatchSize, Window: in.MaximumBatchingWindowInSeconds, Parallelization: in.ParallelizationFactor,
		MaxAge: in.MaximumRecordAgeInSeconds, Retries: in.MaximumRetryAttempts, Tumble: in.TumblingWindowInSeconds,
		Bisect: in.BisectBatchOnFunctionError, Dest: in.DestinationConfig, Filter: in.FilterCriteria, ResponseTypes: in.FunctionResponseTypes}
	if err := s.applyStream(ch, m); err != nil {
		return nil, err
	}
	fn, err := s.function(ctx, id, *in.FunctionName)
	if err != nil {
		return nil, err
	}
	m.Function, m.FunctionName = fn, *in.FunctionName
	if err := s.checkStream(ctx, st, m.EventSourceARN); err != nil {
		return nil, err
	}
	return s.insert(ctx, m, in.Enabled, func(o *mapping) error {
		if o.EventSourceARN == m.EventSourceARN && o.Function == m.Function {
			return fault.Conflictf("EventSourceMapping", "The event source arn (\" %s \") and function (\" %s \") provided mapping already exists. Please update or delete the existing mapping with UUID %s", m.EventSourceARN, m.FunctionName, o.UUID)
		}
		return nil
	})
}

// checkStream asks the stream's service whether it is there, as AWS does
// on create; an unreachable service is left to the poller to report.
func (s *Service) checkStream(ctx context.Context, st *streamConf, arn string) error {
	if s.cfg.AWS == nil {
		return fault.Unsupported("event source mappings (lambdad has no AWS connection)")
	}
	src := s.streamSource(st, arn)
	if err := s.cfg.AWS.Check(src.service()); err != nil {
		return err
	}
	if _, err := src.shards(ctx); err != nil {
		if isNoStream(err) {
			return fault.InvalidParameterf("Stream not found: %s", arn)
		}
		s.cfg.Logger.Warn("esm: cannot check the stream", "stream", arn, "err", err)
	}
	return nil
}

// updateStream is Update for a stream mapping.
func (s *Service) updateStream(ctx context.Context, r Ref, in *spec.UpdateEventSourceMappingRequest, fn *fnRef) (*spec.EventSourceMappingConfiguration, error) {
	if in.ScalingConfig != nil {
		return nil, fault.InvalidParameterf("Unsupported ScalingConfig parameter for given event source mapping type.") // [?]
	}
	now := s.cfg.Now()
	var out *mapping
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		m, err := get(tx, r)
		if err != nil {
			return err
		}
		if m.gone(now) {
			return notFound()
		}
		v := m.view(now)
		if v.State == Deleting {
			return fault.Conflictf("EventSourceMapping", "Cannot update the event source mapping because it is in use.") // [?]
		}
		ch := streamChange{BatchSize: in.BatchSize, Window: in.MaximumBatchingWindowInSeconds, Parallelization: in.ParallelizationFactor,
			MaxAge: in.MaximumRecordAgeInSeconds, Retries: in.MaximumRetryAttempts, Tumble: in.TumblingWindowInSeconds,
			Bisect: in.BisectBatchOnFunctionError, Dest: in.DestinationConfig, Filter: in.FilterCriteria, ResponseTypes: in.FunctionResponseTypes}
		settings := ch.any() || fn != nil
		if err := s.applyStream(ch, m); err != nil {
			return err
		}
		out = m
		return s.updated(tx, m, v, in, fn, settings, now)
	})
	if err != nil {
		return nil, err
	}
	s.run.changed(r)
	return s.wire(out, now), nil
}

// wireStream adds a stream mapping's settings to its API view.
func (s *Service) wireStream(m *mapping, out *spec.EventSourceMappingConfiguration) {
	st := m.Stream
	out.StartingPosition = ptr(st.StartingPosition)
	if !st.StartingTimestamp.IsZero() {
		out.StartingPositionTimestamp = &spec.Timestamp{Time: st.StartingTimestamp}
	}
	out.ParallelizationFactor = ptr(st.Parallelization)
	out.BisectBatchOnFunctionError = ptr(st.Bisect)
	out.MaximumRetryAttempts = ptr(st.MaxRetries)
	out.MaximumRecordAgeInSeconds = ptr(st.MaxAge)
	out.TumblingWindowInSeconds = ptr(st.Tumbling)
	out.DestinationConfig = &spec.DestinationConfig{OnFailure: &spec.OnFailure{}}
	if st.OnFailure != "" {
		out.DestinationConfig.OnFailure.Destination = ptr(st.OnFailure)
	}
	out.StateTransitionReason = ptr(streamReason)
	if out.LastProcessingResult == nil {
		out.LastProcessingResult = ptr(resultNoRecordsYet)
	}
}

func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
