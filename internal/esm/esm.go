// Package esm is event source mappings: the resource (its records, states
// and rules, as AWS validates them) and the pollers that read each mapping's
// source and invoke its function. lambdad reads SQS (sqs.go), Kinesis and
// DynamoDB Streams (stream_*.go), self-managed Kafka and Amazon MSK
// (kafka*.go); the other kinds (Amazon MQ, DocumentDB) are refused with a
// not-implemented fault that names them.
package esm

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/awsconn"
	"github.com/lambdad/lambdad/internal/caller"
	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/ids"
	"github.com/lambdad/lambdad/internal/invoke"
	"github.com/lambdad/lambdad/internal/spec"
	"github.com/lambdad/lambdad/internal/store"
)

// bucket holds acct/region/uuid -> stored mapping (schema.go).
const bucket = "eventsourcemappings"

// States as the API names them.
const (
	Creating  = "Creating"
	Enabling  = "Enabling"
	Enabled   = "Enabled"
	Disabling = "Disabling"
	Disabled  = "Disabled"
	Updating  = "Updating"
	Deleting  = "Deleting"
)

// userInitiated is AWS's StateTransitionReason for SQS mappings.
const userInitiated = "USER_INITIATED"

// Functions is what the mappings need of the control plane.
type Functions interface {
	GetConfiguration(ctx context.Context, r functions.Ref) (*spec.FunctionConfiguration, error)
}

// Invoker runs a function synchronously (invoke.Service).
type Invoker interface {
	Invoke(ctx context.Context, ref functions.Ref, payload []byte, opts invoke.Options) (invoke.Result, error)
}

// Config wires the service.
type Config struct {
	Store     store.Store
	Functions Functions
	Invoker   Invoker
	AWS       *awsconn.Conn
	// Transition is how long Creating, Updating, Enabling, Disabling and
	// Deleting last before the mapping settles.
	Transition time.Duration
	Now        func() time.Time
	Logger     *slog.Logger
	// Destinations delivers stream mappings' on-failure records
	// (stream_batch.go).
	Destinations Destinations
	// MSKBrokers is --msk-bootstrap-brokers: an Amazon MSK cluster's
	// brokers by its ARN, for where the Kafka API cannot tell them
	// (kafka_msk.go).
	MSKBrokers map[string][]string
	// NodeID names this node in the leases it takes on mappings' pollers
	// (lease.go): unique among the nodes sharing Store (default "local").
	// LeaseTime is how long a lease lasts unrenewed (default 10 s).
	NodeID    string
	LeaseTime time.Duration
	// ExclusiveStore says no other process uses Store (the embedded
	// store): at start, every lease in it is a dead run's.
	ExclusiveStore bool
}

// Service is the event source mapping control plane and its pollers.
type Service struct {
	cfg Config
	run *runner
}

// New makes the service; Start runs the pollers.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "local"
	}
	if cfg.LeaseTime <= 0 {
		cfg.LeaseTime = DefaultLeaseTime
	}
	s := &Service{cfg: cfg}
	s.run = &runner{svc: s, pollers: map[string]mappingPoller{}, results: map[string]string{}, held: map[string]held{}}
	return s
}

// Ref names one mapping.
type Ref struct{ Account, Region, UUID string }

// ARN is the mapping's ARN.
func (r Ref) ARN() string {
	return "arn:aws:lambda:" + r.Region + ":" + r.Account + ":event-source-mapping:" + r.UUID
}

func (r Ref) key() string { return r.Account + "/" + r.Region + "/" + r.UUID }

// RefOf is the mapping uuid names for the caller.
func RefOf(id caller.Identity, uuid string) Ref {
	return Ref{Account: id.Account, Region: id.Region, UUID: uuid}
}

// ParseARN splits a mapping ARN; ok is false for anything else.
func ParseARN(arn string) (Ref, bool) {
	p := strings.Split(arn, ":")
	if len(p) != 7 || p[0] != "arn" || !strings.HasPrefix(p[1], "aws") || p[2] != "lambda" || p[5] != "event-source-mapping" || p[6] == "" {
		return Ref{}, false
	}
	return Ref{Account: p[4], Region: p[3], UUID: p[6]}, true
}

// IsARN tells mapping ARNs from others (TagResource dispatches on it).
func IsARN(s string) bool { return strings.Contains(s, ":event-source-mapping:") }

func notFound() error {
	return fault.NotFoundf("EventSourceMapping", "The resource you requested does not exist.")
}

// Create makes a mapping (AWS answers it Creating).
func (s *Service) Create(ctx context.Context, id caller.Identity, in *spec.CreateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
	src, err := sourceOf(in)
	if err != nil {
		return nil, err
	}
	if src.kind == kindKinesis || src.kind == kindDynamoDB {
		return s.createStream(ctx, id, in) // stream_api.go
	}
	if src.kind == kindKafka {
		return s.createKafka(ctx, id, in) // kafka.go
	}
	if src.kind != kindSQS {
		return nil, fault.Unsupported("event source mappings for " + src.kind)
	}
	m := &mapping{
		UUID: ids.UUID(), Account: id.Account, Region: id.Region,
		EventSourceARN: *in.EventSourceArn, Queue: src.arn,
		BatchSize: 10, Window: 0, Tags: in.Tags,
	}
	if in.StartingPosition != nil || in.StartingPositionTimestamp != nil {
		return nil, fault.InvalidParameterf("StartingPosition is not valid for SQS event sources.")
	}
	if err := refuseStreamSettings(in.DestinationConfig, in.ParallelizationFactor, in.MaximumRecordAgeInSeconds, in.BisectBatchOnFunctionError, in.MaximumRetryAttempts, in.TumblingWindowInSeconds); err != nil {
		return nil, err
	}
	if err := refuseOtherSources(in); err != nil {
		return nil, err
	}
	ch := change{BatchSize: in.BatchSize, Window: in.MaximumBatchingWindowInSeconds, Filter: in.FilterCriteria,
		Scaling: in.ScalingConfig, ResponseTypes: in.FunctionResponseTypes}
	if err := ch.apply(m); err != nil {
		return nil, err
	}
	fn, err := s.function(ctx, id, *in.FunctionName)
	if err != nil {
		return nil, err
	}
	m.Function = fn
	m.FunctionName = *in.FunctionName
	if err := s.checkQueue(ctx, src.arn); err != nil {
		return nil, err
	}
	return s.insert(ctx, m, in.Enabled, func(o *mapping) error {
		if o.EventSourceARN == m.EventSourceARN && o.Function == m.Function {
			return fault.Conflictf("EventSourceMapping", "An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please update or delete the existing mapping with UUID %s", m.EventSourceARN, m.FunctionName, o.UUID)
		}
		return nil
	})
}

// insert stores the new mapping m (Creating; enabled unless enabled says
// otherwise) unless clash finds a live mapping of its account and region
// that conflicts with it, and starts its poller.
func (s *Service) insert(ctx context.Context, m *mapping, enabled *bool, clash func(o *mapping) error) (*spec.EventSourceMappingConfiguration, error) {
	now := s.cfg.Now()
	m.Enabled = enabled == nil || *enabled
	m.State, m.SettleAt, m.LastModified = Creating, now.Add(s.cfg.Transition), now
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var conflict, lesser error
		err := scan(tx, m.Account+"/"+m.Region+"/", "", func(o *mapping) bool {
			if o.view(now).State == Deleting {
				return true
			}
			c := clash(o)
			if l, ok := c.(lesserClash); ok {
				if lesser == nil {
					lesser = l.error
				}
				return true
			}
			conflict = c
			return conflict == nil
		})
		if err != nil {
			return err
		}
		if conflict == nil {
			conflict = lesser
		}
		if conflict != nil {
			return conflict
		}
		return put(tx, m)
	})
	if err != nil {
		return nil, err
	}
	s.run.changed(m.ref())
	return s.wire(m, now), nil
}

// lesserClash is a conflict insert answers only when no other mapping
// clashes with the new one otherwise.
type lesserClash struct{ error }

// function resolves FunctionName to the function it names, which must
// exist and may not be tenant-isolated.
func (s *Service) function(ctx context.Context, id caller.Identity, name string) (fnRef, error) {
	ref, err := functions.ParseRef(id, name, nil)
	if err != nil {
		return fnRef{}, err
	}
	c, err := s.cfg.Functions.GetConfiguration(ctx, ref)
	if fault.Is(err, fault.NotFound) {
		return fnRef{}, fault.InvalidParameterf("Function does not exist")
	}
	if err != nil {
		return fnRef{}, err
	}
	if err := functions.RefuseTenantIsolated(c, "Event source mappings"); err != nil {
		return fnRef{}, err
	}
	return fnRef{Account: ref.Account, Region: ref.Region, Name: ref.Name, Qualifier: ref.Qualifier}, nil
}

// checkQueue asks SQS whether the queue is there, as AWS does on create.
func (s *Service) checkQueue(ctx context.Context, q queueARN) error {
	if s.cfg.AWS == nil {
		return fault.Unsupported("event source mappings (lambdad has no AWS connection)")
	}
	if err := s.cfg.AWS.Check(awsconn.SQS); err != nil {
		return err
	}
	_, err := q.url(ctx, s.cfg.AWS)
	if err != nil {
		if isNoQueue(err) {
			return fault.InvalidParameterf("Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified queue does not exist.")
		}
		// A server that cannot be reached is no reason to refuse: the
		// poller reports it in LastProcessingResult and retries.
		s.cfg.Logger.Warn("esm: cannot check the queue", "queue", q.ARN, "err", err)
	}
	return nil
}

// Get answers one mapping.
func (s *Service) Get(ctx context.Context, r Ref) (*spec.EventSourceMappingConfiguration, error) {
	m, err := s.load(ctx, r)
	if err != nil {
		return nil, err
	}
	return s.wire(m, s.cfg.Now()), nil
}

func (s *Service) load(ctx context.Context, r Ref) (*mapping, error) {
	var m *mapping
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		m, err = get(tx, r)
		return err
	})
	if err == nil && m.gone(s.cfg.Now()) {
		return nil, notFound()
	}
	return m, err
}

// Update changes a mapping's settings (AWS answers it Updating, or
// Enabling/Disabling when only Enabled changes).
func (s *Service) Update(ctx context.Context, r Ref, in *spec.UpdateEventSourceMappingRequest) (*spec.EventSourceMappingConfiguration, error) {
	now := s.cfg.Now()
	var out *mapping
	var fn *fnRef
	if in.FunctionName != nil {
		f, err := s.function(ctx, caller.Identity{Account: r.Account, Region: r.Region}, *in.FunctionName)
		if err != nil {
			return nil, err
		}
		fn = &f
	}
	if m, err := s.load(ctx, r); err == nil && m.Stream != nil {
		return s.updateStream(ctx, r, in, fn) // stream_api.go
	} else if err == nil && m.Kafka != nil {
		return s.updateKafka(ctx, r, in, fn) // kafka.go
	}
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
		if err := refuseStreamSettings(in.DestinationConfig, in.ParallelizationFactor, in.MaximumRecordAgeInSeconds, in.BisectBatchOnFunctionError, in.MaximumRetryAttempts, in.TumblingWindowInSeconds); err != nil {
			return err
		}
		ch := change{BatchSize: in.BatchSize, Window: in.MaximumBatchingWindowInSeconds, Filter: in.FilterCriteria,
			Scaling: in.ScalingConfig, ResponseTypes: in.FunctionResponseTypes}
		settings := ch.any() || fn != nil
		if err := ch.apply(m); err != nil {
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

// Delete starts deleting a mapping; it answers it Deleting, and is gone
// once the transition is over.
func (s *Service) Delete(ctx context.Context, r Ref) (*spec.EventSourceMappingConfiguration, error) {
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
		m.State, m.SettleAt, m.Deleted = Deleting, now.Add(s.cfg.Transition), true
		out = m
		if s.cfg.Transition <= 0 {
			if err := deleteCheckpoints(tx, r); err != nil { // shards.go
				return err
			}
			return tx.Delete(bucket, r.key())
		}
		return put(tx, m)
	})
	if err != nil {
		return nil, err
	}
	s.run.changed(r)
	w := s.wire(out, now)
	w.State = ptr(Deleting)
	return w, nil
}

// listMax is ListEventSourceMappings' page size when MaxItems is unset [?].
const listMax = 100

// List answers the caller's mappings, of one source and/or function,
// a page at a time (Marker is the last UUID of the page before).
func (s *Service) List(ctx context.Context, id caller.Identity, sourceARN, functionName, marker *string, maxItems *int32) (*spec.ListEventSourceMappingsResponse, error) {
	// AWS does not check that the function filtered on exists.
	var fn *functions.Ref
	if functionName != nil {
		ref, err := functions.ParseRef(id, *functionName, nil)
		if err != nil {
			return nil, err
		}
		fn = &ref
	}
	limit := listMax
	if maxItems != nil && int(*maxItems) > 0 {
		limit = int(*maxItems)
	}
	after := ""
	if marker != nil && *marker != "" {
		after = id.Account + "/" + id.Region + "/" + *marker
	}
	now := s.cfg.Now()
	out := &spec.ListEventSourceMappingsResponse{EventSourceMappings: []spec.EventSourceMappingConfiguration{}}
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		return scan(tx, id.Account+"/"+id.Region+"/", after, func(m *mapping) bool {
			if m.gone(now) || (sourceARN != nil && m.EventSourceARN != *sourceARN) {
				return true
			}
			// A function name matches its mappings of every qualifier;
			// a qualified one only those of that qualifier.
			if fn != nil && (m.Function.Name != fn.Name || (fn.Qualifier != "" && m.Function.Qualifier != fn.Qualifier)) {
				return true
			}
			if len(out.EventSourceMappings) == limit {
				last := out.EventSourceMappings[limit-1].UUID
				out.NextMarker = last
				return false
			}
			out.EventSourceMappings = append(out.EventSourceMappings, *s.wire(m, now))
			return true
		})
	})
	return out, err
}

// Tags answers a mapping's tags.
func (s *Service) Tags(ctx context.Context, r Ref) (map[string]string, error) {
	m, err := s.load(ctx, r)
	if err != nil {
		return nil, tagNotFound(r, err)
	}
	if m.Tags == nil {
		return map[string]string{}, nil
	}
	return m.Tags, nil
}

// Tag adds and removes tags.
func (s *Service) Tag(ctx context.Context, r Ref, add map[string]string, remove []string) error {
	now := s.cfg.Now()
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		m, err := get(tx, r)
		if err == nil && m.gone(now) {
			err = notFound()
		}
		if err != nil {
			return err
		}
		if m.Tags == nil {
			m.Tags = map[string]string{}
		}
		for k, v := range add {
			m.Tags[k] = v
		}
		for _, k := range remove {
			delete(m.Tags, k)
		}
		return put(tx, m)
	})
	return tagNotFound(r, err)
}

func tagNotFound(r Ref, err error) error {
	if fault.Is(err, fault.NotFound) {
		return fault.NotFoundf("EventSourceMapping", "Event source mapping not found: %s", r.ARN())
	}
	return err
}

// wire is the API's view of m at now.
func (s *Service) wire(m *mapping, now time.Time) *spec.EventSourceMappingConfiguration {
	v := m.view(now)
	out := &spec.EventSourceMappingConfiguration{
		UUID:                           ptr(m.UUID),
		EventSourceMappingArn:          ptr(m.ref().ARN()),
		EventSourceArn:                 ptr(m.EventSourceARN),
		FunctionArn:                    ptr(m.Function.ref().QualifiedARN()),
		BatchSize:                      ptr(m.BatchSize),
		MaximumBatchingWindowInSeconds: ptr(m.Window),
		FunctionResponseTypes:          append([]string{}, m.ResponseTypes...),
		LastModified:                   &spec.Timestamp{Time: m.LastModified.UTC()},
		State:                          ptr(v.State),
		StateTransitionReason:          ptr(userInitiated),
	}
	if len(m.Filters) > 0 {
		f := &spec.FilterCriteria{}
		for _, p := range m.Filters {
			f.Filters = append(f.Filters, spec.Filter{Pattern: ptr(p)})
		}
		out.FilterCriteria = f
	}
	if m.MaxConcurrency != 0 {
		out.ScalingConfig = &spec.ScalingConfig{MaximumConcurrency: ptr(m.MaxConcurrency)}
	}
	if r := s.run.result(m.UUID); r != "" {
		out.LastProcessingResult = ptr(r)
	} else if m.LastResult != "" {
		out.LastProcessingResult = ptr(m.LastResult)
	}
	if m.Stream != nil {
		s.wireStream(m, out) // stream_api.go
	} else if m.Kafka != nil {
		s.wireKafka(m, out) // kafka.go
	}
	return out
}

// change is the settings Create and Update share.
type change struct {
	BatchSize, Window *int32
	Filter            *spec.FilterCriteria
	Scaling           *spec.ScalingConfig
	ResponseTypes     []string
}

func (c change) any() bool {
	return c.BatchSize != nil || c.Window != nil || c.Filter != nil || c.Scaling != nil || c.ResponseTypes != nil
}

// SQS's limits: BatchSize up to 10,000 (10 for FIFO queues), a batching
// window up to 300 s, and a window needed beyond 10 messages.
func (c change) apply(m *mapping) error {
	if c.BatchSize != nil {
		m.BatchSize = *c.BatchSize
	}
	if c.Window != nil {
		m.Window = *c.Window
	}
	if c.ResponseTypes != nil {
		m.ResponseTypes = c.ResponseTypes
	}
	if c.Scaling != nil {
		m.MaxConcurrency = 0
		if c.Scaling.MaximumConcurrency != nil {
			m.MaxConcurrency = *c.Scaling.MaximumConcurrency
		}
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
	fifo := strings.HasSuffix(m.Queue.Name, ".fifo")
	switch {
	case m.BatchSize < 1 || m.BatchSize > 10000:
		// [?] AWS's words for an SQS batch size outside 1..10000.
		return fault.InvalidParameterf("BatchSize must be between 1 and 10000 for SQS event sources.")
	case fifo && m.BatchSize > 10:
		// [?]
		return fault.InvalidParameterf("Batch size for FIFO queues must be less than or equal to 10.")
	case m.BatchSize > 10 && m.Window == 0:
		return fault.InvalidParameterf("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
	case m.MaxConcurrency != 0 && (m.MaxConcurrency < 2 || m.MaxConcurrency > 1000):
		// The model's range check catches this first; kept for Update's
		// stored values.
		return fault.InvalidParameterf("MaximumConcurrency must be between 2 and 1000.") // [?]
	}
	for _, t := range m.ResponseTypes {
		if t != "ReportBatchItemFailures" {
			return fault.InvalidParameterf("Unsupported FunctionResponseType: %s", t) // [?]
		}
	}
	return nil
}

// refuseStreamSettings refuses, for SQS, what only streams take. AWS's
// words for DestinationConfig are recorded; the others follow them [?].
func refuseStreamSettings(dest *spec.DestinationConfig, par, age *int32, bisect *bool, retries, window *int32) error {
	bad := ""
	switch {
	case dest != nil:
		bad = "DestinationConfig"
	case par != nil:
		bad = "ParallelizationFactor"
	case age != nil:
		bad = "MaximumRecordAgeInSeconds"
	case bisect != nil:
		bad = "BisectBatchOnFunctionError"
	case retries != nil:
		bad = "MaximumRetryAttempts"
	case window != nil:
		bad = "TumblingWindowInSeconds"
	}
	if bad == "" {
		return nil
	}
	return fault.InvalidParameterf("Unsupported %s parameter for given event source mapping type.", bad)
}

// refuseOtherSources refuses the settings of Kafka, MQ and DocumentDB on
// an SQS mapping [?].
func refuseOtherSources(in *spec.CreateEventSourceMappingRequest) error {
	bad := ""
	switch {
	case len(in.Topics) > 0:
		bad = "Topics"
	case len(in.Queues) > 0:
		bad = "Queues"
	case len(in.SourceAccessConfigurations) > 0:
		bad = "SourceAccessConfigurations"
	case in.SelfManagedKafkaEventSourceConfig != nil:
		bad = "SelfManagedKafkaEventSourceConfig"
	case in.AmazonManagedKafkaEventSourceConfig != nil:
		bad = "AmazonManagedKafkaEventSourceConfig"
	case in.DocumentDBEventSourceConfig != nil:
		bad = "DocumentDBEventSourceConfig"
	}
	if bad == "" {
		return nil
	}
	return fault.InvalidParameterf("Unsupported %s parameter for given event source mapping type.", bad)
}

// Source kinds, as the not-implemented error names them.
const (
	kindSQS        = "SQS"
	kindKinesis    = "Kinesis"
	kindDynamoDB   = "DynamoDB Streams"
	kindKafka      = "Kafka"
	kindMQ         = "Amazon MQ"
	kindDocumentDB = "DocumentDB"
)

type source struct {
	kind string
	arn  queueARN
}

// sourceOf tells the kind of source a request names.
func sourceOf(in *spec.CreateEventSourceMappingRequest) (source, error) {
	if in.SelfManagedEventSource != nil {
		return source{kind: kindKafka}, nil
	}
	if in.EventSourceArn == nil {
		return source{}, fault.InvalidParameterf("Unrecognized event source.")
	}
	a, err := awsconn.ParseARN(*in.EventSourceArn)
	if err != nil {
		return source{}, fault.InvalidParameterf("Unrecognized event source.")
	}
	switch a.Service {
	case "sqs":
		if a.Region == "" || a.Account == "" || strings.Contains(a.Resource, ":") {
			return source{}, fault.InvalidParameterf("Unrecognized event source.") // [?]
		}
		return source{kind: kindSQS, arn: queueARN{ARN: *in.EventSourceArn, Region: a.Region, Account: a.Account, Name: a.Resource}}, nil
	case "kinesis":
		return source{kind: kindKinesis}, nil
	case "dynamodb":
		return source{kind: kindDynamoDB}, nil
	case "kafka":
		return source{kind: kindKafka}, nil
	case "mq":
		return source{kind: kindMQ}, nil
	case "rds", "docdb":
		return source{kind: kindDocumentDB}, nil
	}
	return source{}, fault.InvalidParameterf("Unrecognized event source.")
}

// Start runs the pollers of every enabled mapping (lambdad restarted:
// they resume), until ctx ends.
func (s *Service) Start(ctx context.Context) { s.run.start(ctx) }

// Wait stops the pollers and waits for them.
func (s *Service) Wait() { s.run.wait() }

func ptr[T any](v T) *T { return &v }

// sortedKeys is for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// updated stores m as UpdateEventSourceMapping in left it (v is how it
// stood before): its function changed when fn is set, and Updating, or
// Enabling/Disabling when only Enabled changed, until the transition ends.
func (s *Service) updated(tx store.Tx, m *mapping, v view, in *spec.UpdateEventSourceMappingRequest, fn *fnRef, settings bool, now time.Time) error {
	if fn != nil {
		m.Function, m.FunctionName = *fn, *in.FunctionName
	}
	state := Updating
	if in.Enabled != nil && *in.Enabled != v.enabled() && !settings {
		state = Disabling
		if *in.Enabled {
			state = Enabling
		}
	}
	if in.Enabled != nil {
		m.Enabled = *in.Enabled
	}
	m.State, m.SettleAt, m.LastModified = state, now.Add(s.cfg.Transition), now
	return put(tx, m)
}
