package esm

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// Kafka mappings: self-managed clusters (SelfManagedEventSource) and
// Amazon MSK clusters (EventSourceArn arn:aws:kafka:..., whose brokers
// kafka_msk.go looks up), read in a consumer group (kafka_poller.go), in
// plaintext or with the authentication SourceAccessConfigurations name
// (kafka_auth.go); VPC_SUBNET and VPC_SECURITY_GROUP are network
// placement, kept and answered back, meaningless on one host.

// Kafka's defaults and limits (AWS's guide: batch size 100 by default, up
// to 10,000; a 500 ms batching window unless set).
const (
	kafkaBatchSize     = 100
	kafkaDefaultWindow = 500 * time.Millisecond
	bootstrapKey       = "KAFKA_BOOTSTRAP_SERVERS"
)

// kafkaConf is a Kafka mapping's own settings (schema.go's Kafka).
type kafkaConf struct {
	Brokers []string `json:"brokers"`
	Topic   string   `json:"topic"`
	// Group is the consumer group: ConsumerGroupId, else the mapping's
	// UUID, as AWS names it.
	Group   string    `json:"group"`
	Start   string    `json:"start"`
	StartAt time.Time `json:"startAt,omitzero"`
	// WindowSet: MaximumBatchingWindowInSeconds was given (0 means no
	// window then); unset means AWS's 500 ms.
	WindowSet bool            `json:"windowSet,omitempty"`
	Access    []accessSetting `json:"access,omitempty"`
	// Pollers is ProvisionedPollerConfig (provisioned mode), Errors the
	// error handling it allows (kafka_retry.go).
	Pollers *kafkaPollers `json:"pollers,omitempty"`
	Errors  *kafkaErrors  `json:"errors,omitempty"`
}

type accessSetting struct {
	Type string `json:"type"`
	URI  string `json:"uri"`
}

// window is how long a batch gathers records.
func (k *kafkaConf) window(m *mapping) time.Duration {
	if !k.WindowSet {
		return kafkaDefaultWindow
	}
	return time.Duration(m.Window) * time.Second
}

// createKafka makes a self-managed or MSK Kafka mapping.
func (s *Service) createKafka(ctx context.Context, id caller.Identity, in *spec.CreateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
	msk := in.SelfManagedEventSource == nil
	if msk && in.SelfManagedKafkaEventSourceConfig != nil {
		return nil, fault.InvalidParameterf("Unsupported SelfManagedKafkaEventSourceConfig parameter for given event source mapping type.") // [?]
	}
	if !msk && in.AmazonManagedKafkaEventSourceConfig != nil {
		return nil, fault.InvalidParameterf("Unsupported AmazonManagedKafkaEventSourceConfig parameter for given event source mapping type.") // [?]
	}
	if !msk && in.EventSourceArn != nil {
		return nil, fault.InvalidParameterf("Unrecognized event source, must be either an event source ARN or a self managed event source.") // [?]
	}
	if len(in.Topics) == 0 {
		return nil, fault.InvalidParameterf("Topics must be specified for Kafka event sources.") // [?]
	}
	// A self-managed mapping without a StartingPosition starts at
	// TRIM_HORIZON: AWS's answer (LocalStack snapshot test_lambda_api:
	// TestLambdaEventSourceMappings.test_create_event_source_self_managed).
	k := &kafkaConf{Topic: in.Topics[0], Start: "TRIM_HORIZON"}
	switch {
	case in.StartingPosition != nil:
		k.Start = *in.StartingPosition
	case msk:
		return nil, fault.InvalidParameterf("StartingPosition must be specified for Kafka event sources.") // [?]
	}
	switch {
	case k.Start == "AT_TIMESTAMP" && in.StartingPositionTimestamp == nil:
		return nil, fault.InvalidParameterf("StartingPositionTimestamp must be specified for AT_TIMESTAMP starting position.") // [?]
	case k.Start != "AT_TIMESTAMP" && in.StartingPositionTimestamp != nil:
		return nil, fault.InvalidParameterf("StartingPositionTimestamp is only valid for AT_TIMESTAMP starting position.") // [?]
	case k.Start == "AT_TIMESTAMP":
		k.StartAt = in.StartingPositionTimestamp.Time
	}
	// ParallelizationFactor and tumbling windows are Kinesis's and
	// DynamoDB's alone [?].
	if err := refuseStreamSettings(nil, in.ParallelizationFactor, nil, nil, nil, in.TumblingWindowInSeconds); err != nil {
		return nil, err
	}
	if err := s.applyKafka(kafkaChange{Pollers: in.ProvisionedPollerConfig, Dest: in.DestinationConfig, MaxAge: in.MaximumRecordAgeInSeconds,
		Retries: in.MaximumRetryAttempts, Bisect: in.BisectBatchOnFunctionError, ResponseTypes: in.FunctionResponseTypes, creating: true}, k); err != nil { // kafka_retry.go
		return nil, err
	}
	if err := refuseNotKafka(in.Queues, in.DocumentDBEventSourceConfig, in.ScalingConfig); err != nil {
		return nil, err
	}
	filters, err := kafkaFilters(in.FilterCriteria)
	if err != nil {
		return nil, err
	}
	acc, err := s.kafkaAccess(in.SourceAccessConfigurations)
	if err != nil {
		return nil, err
	}
	k.Access = acc
	m := &mapping{UUID: ids.UUID(), Account: id.Account, Region: id.Region, BatchSize: kafkaBatchSize, Tags: in.Tags, Kafka: k, Filters: filters}
	k.Group = m.UUID
	if msk {
		if err := s.mskSource(ctx, *in.EventSourceArn, acc); err != nil { // kafka_msk.go
			return nil, err
		}
		m.EventSourceARN = *in.EventSourceArn
		if c := in.AmazonManagedKafkaEventSourceConfig; c != nil && c.ConsumerGroupId != nil {
			k.Group = *c.ConsumerGroupId
		}
	} else {
		for key, v := range in.SelfManagedEventSource.Endpoints {
			if key != bootstrapKey {
				return nil, fault.InvalidParameterf("Unsupported endpoint type %s.", key) // [?]
			}
			k.Brokers = append(k.Brokers, v...)
		}
		if len(k.Brokers) == 0 {
			return nil, fault.InvalidParameterf("%s must be specified for self managed Kafka event sources.", bootstrapKey) // [?]
		}
		if c := in.SelfManagedKafkaEventSourceConfig; c != nil && c.ConsumerGroupId != nil {
			k.Group = *c.ConsumerGroupId
		}
	}
	if in.BatchSize != nil {
		m.BatchSize = *in.BatchSize
	}
	if in.MaximumBatchingWindowInSeconds != nil {
		m.Window, k.WindowSet = *in.MaximumBatchingWindowInSeconds, true
	}
	fn, err := s.function(ctx, id, *in.FunctionName)
	if err != nil {
		return nil, err
	}
	m.Function, m.FunctionName = fn, *in.FunctionName
	// A duplicate is found before a consumer group in use: AWS answered a
	// create whose group another mapping had with the duplicate of a
	// third, whose brokers were some of the new one's (LocalStack snapshot
	// test_lambda_api: TestLambdaEventSourceMappings.
	// test_create_event_source_self_managed, "multiple-duplicate-source").
	return s.insert(ctx, m, in.Enabled, func(o *mapping) error {
		switch {
		case o.Kafka == nil:
			return nil
		case o.Kafka.Topic == k.Topic && o.Function == m.Function && m.EventSourceARN != "" && o.EventSourceARN == m.EventSourceARN:
			// AWS's words for MSK, as users quote them (aws-sam-cli
			// issue 2308); the function as given [?].
			return fault.Conflictf("EventSourceMapping", "An event source mapping with event source arn (\"%s\"), function (\"%s\") and topics (\"%s\") already exists. Please update or delete the existing mapping with UUID %s", m.EventSourceARN, m.FunctionName, k.Topic, o.UUID)
		case o.Kafka.Topic == k.Topic && o.Function == m.Function && m.EventSourceARN == "" && o.EventSourceARN == "" && shareBroker(o.Kafka.Brokers, k.Brokers):
			// AWS's answer, naming the new mapping's brokers and the
			// function's ARN (the snapshot above, "duplicate-source").
			// That one broker in common is enough is inferred from
			// "multiple-duplicate-source" [?].
			return fault.Conflictf("EventSourceMapping", "An event source mapping with event source (\"%s\"), function (\"%s\"), topics (\"%s\") already exists. Please update or delete the existing mapping with UUID %s", strings.Join(k.Brokers, ","), m.Function.ref().QualifiedARN(), k.Topic, o.UUID)
		case o.Kafka.Group == k.Group:
			// AWS: the group must be unique among Kafka event sources [?].
			return lesserClash{fault.Conflictf("EventSourceMapping", "An event source mapping with consumer group id %s already exists. Please update or delete the existing mapping with UUID %s", k.Group, o.UUID)}
		}
		return nil
	})
}

// shareBroker tells whether two bootstrap server lists have one in common.
func shareBroker(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// refuseNotKafka refuses, for Kafka, what only SQS, MQ or DocumentDB
// mappings take [?].
func refuseNotKafka(queues []string, docdb *spec.DocumentDBEventSourceConfig, scaling *spec.ScalingConfig) error {
	bad := ""
	switch {
	case len(queues) > 0:
		bad = "Queues"
	case docdb != nil:
		bad = "DocumentDBEventSourceConfig"
	case scaling != nil:
		bad = "ScalingConfig"
	}
	if bad == "" {
		return nil
	}
	return fault.InvalidParameterf("Unsupported %s parameter for given event source mapping type.", bad)
}

// kafkaFilters checks FilterCriteria's patterns, as for SQS.
func kafkaFilters(f *spec.FilterCriteria) ([]string, error) {
	if f == nil {
		return nil, nil
	}
	var ps []string
	for _, x := range f.Filters {
		if x.Pattern == nil {
			return nil, fault.InvalidParameterf("Invalid filter pattern definition.")
		}
		if _, err := ParsePattern(*x.Pattern); err != nil {
			return nil, fault.InvalidParameterf("Invalid filter pattern definition.")
		}
		ps = append(ps, *x.Pattern)
	}
	return ps, nil
}

// updateKafka changes what a Kafka mapping lets change: BatchSize, the
// batching window, the function, Enabled, access configurations, filters
// and the provisioned-mode error handling.
func (s *Service) updateKafka(ctx context.Context, r Ref, in *spec.UpdateEventSourceMappingRequest, fn *fnRef) (*spec.EventSourceMappingConfiguration, error) {
	if err := refuseStreamSettings(nil, in.ParallelizationFactor, nil, nil, nil, in.TumblingWindowInSeconds); err != nil {
		return nil, err
	}
	errCh := kafkaChange{Pollers: in.ProvisionedPollerConfig, Dest: in.DestinationConfig, MaxAge: in.MaximumRecordAgeInSeconds,
		Retries: in.MaximumRetryAttempts, Bisect: in.BisectBatchOnFunctionError, ResponseTypes: in.FunctionResponseTypes}
	if err := refuseNotKafka(nil, in.DocumentDBEventSourceConfig, in.ScalingConfig); err != nil {
		return nil, err
	}
	filters, err := kafkaFilters(in.FilterCriteria)
	if err != nil {
		return nil, err
	}
	if in.SelfManagedKafkaEventSourceConfig != nil || in.AmazonManagedKafkaEventSourceConfig != nil {
		// AWS: the consumer group id cannot be updated [?].
		return nil, fault.InvalidParameterf("Updating the consumer group ID of an event source mapping is not supported.") // [?]
	}
	acc, err := s.kafkaAccess(in.SourceAccessConfigurations)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	var out *mapping
	err = s.cfg.Store.Update(ctx, func(tx store.Tx) error {
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
		settings := in.BatchSize != nil || in.MaximumBatchingWindowInSeconds != nil || fn != nil || in.SourceAccessConfigurations != nil || in.FilterCriteria != nil || errCh.any()
		if errCh.any() {
			k := *m.Kafka
			if err := s.applyKafka(errCh, &k); err != nil { // kafka_retry.go
				return err
			}
			m.Kafka = &k
		}
		if in.FilterCriteria != nil {
			m.Filters = filters
		}
		if in.BatchSize != nil {
			m.BatchSize = *in.BatchSize
		}
		if in.MaximumBatchingWindowInSeconds != nil {
			m.Window, m.Kafka.WindowSet = *in.MaximumBatchingWindowInSeconds, true
		}
		if in.SourceAccessConfigurations != nil {
			if m.EventSourceARN != "" {
				if err := mskAccess(acc); err != nil { // kafka_msk.go
					return err
				}
			}
			m.Kafka.Access = acc
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

// wireKafka fills in a Kafka mapping's own fields.
func (s *Service) wireKafka(m *mapping, out *spec.EventSourceMappingConfiguration) {
	k := m.Kafka
	out.FunctionResponseTypes = nil
	out.Topics = []string{k.Topic}
	out.StartingPosition = ptr(k.Start)
	if k.Start == "AT_TIMESTAMP" {
		out.StartingPositionTimestamp = &spec.Timestamp{Time: k.StartAt}
	}
	if m.EventSourceARN != "" {
		// MSK: the cluster's ARN, no brokers (AWS answers none).
		out.AmazonManagedKafkaEventSourceConfig = &spec.AmazonManagedKafkaEventSourceConfig{ConsumerGroupId: ptr(k.Group)}
	} else {
		out.EventSourceArn = nil
		out.SelfManagedEventSource = &spec.SelfManagedEventSource{Endpoints: map[string][]string{bootstrapKey: k.Brokers}}
		out.SelfManagedKafkaEventSourceConfig = &spec.SelfManagedKafkaEventSourceConfig{ConsumerGroupId: ptr(k.Group)}
	}
	for _, a := range k.Access {
		out.SourceAccessConfigurations = append(out.SourceAccessConfigurations, spec.SourceAccessConfiguration{Type: ptr(a.Type), URI: ptr(a.URI)})
	}
	wireKafkaErrors(k, out) // kafka_retry.go
}
