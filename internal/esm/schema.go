package esm

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/functions"
	"github.com/lambdad/lambdad/internal/store"
)

// recordVersion is the version of the stored mapping below: a record of
// another version is refused rather than misread (bump it, and convert,
// when the shape changes).
const recordVersion = 1

// mapping is one stored mapping (bucket eventsourcemappings, key
// acct/region/uuid), in lambdad's own JSON names.
type mapping struct {
	V              int               `json:"v"`
	UUID           string            `json:"uuid"`
	Account        string            `json:"account"`
	Region         string            `json:"region"`
	EventSourceARN string            `json:"eventSourceArn"`
	Queue          queueARN          `json:"queue"`
	Function       fnRef             `json:"function"`
	FunctionName   string            `json:"functionName"` // as given, for AWS's conflict message
	Enabled        bool              `json:"enabled"`
	BatchSize      int32             `json:"batchSize"`
	Window         int32             `json:"window"`
	Filters        []string          `json:"filters,omitempty"`
	MaxConcurrency int32             `json:"maxConcurrency,omitempty"`
	ResponseTypes  []string          `json:"responseTypes,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	// State is the transitional state the last change left, until
	// SettleAt; then Enabled or Disabled (or gone, once Deleted).
	State        string    `json:"state"`
	SettleAt     time.Time `json:"settleAt"`
	Deleted      bool      `json:"deleted,omitempty"`
	LastModified time.Time `json:"lastModified"`
	LastResult   string    `json:"lastResult,omitempty"`
	// Stream is a Kinesis or DynamoDB stream mapping's own settings
	// (stream_api.go); nil for SQS.
	Stream *streamConf `json:"stream,omitempty"`
	// Kafka is a Kafka mapping's own settings (kafka.go); nil for others.
	Kafka *kafkaConf `json:"kafka,omitempty"`
}

// fnRef is the function a mapping invokes.
type fnRef struct {
	Account   string `json:"account"`
	Region    string `json:"region"`
	Name      string `json:"name"`
	Qualifier string `json:"qualifier,omitempty"`
}

func (f fnRef) ref() functions.Ref {
	return functions.Ref{Account: f.Account, Region: f.Region, Name: f.Name, Qualifier: f.Qualifier}
}

// queueARN is an SQS queue's ARN and its parts.
type queueARN struct {
	ARN     string `json:"arn"`
	Region  string `json:"region"`
	Account string `json:"account"`
	Name    string `json:"name"`
}

func (m *mapping) ref() Ref { return Ref{Account: m.Account, Region: m.Region, UUID: m.UUID} }

// view is m as it stands at now.
type view struct{ State string }

func (v view) enabled() bool { return v.State != Disabled && v.State != Disabling }

func (m *mapping) view(now time.Time) view {
	if m.Deleted {
		return view{Deleting}
	}
	if now.Before(m.SettleAt) {
		return view{m.State}
	}
	if m.Enabled {
		return view{Enabled}
	}
	return view{Disabled}
}

// gone: a deleted mapping whose Deleting is over.
func (m *mapping) gone(now time.Time) bool { return m.Deleted && !now.Before(m.SettleAt) }

func get(tx store.Tx, r Ref) (*mapping, error) {
	b := tx.Get(bucket, r.key())
	if b == nil {
		return nil, notFound()
	}
	return decode(b)
}

func decode(b []byte) (*mapping, error) {
	var m mapping
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("esm: stored mapping: %w", err)
	}
	if m.V != recordVersion {
		return nil, fmt.Errorf("esm: stored mapping %s has version %d, this lambdad reads %d", m.UUID, m.V, recordVersion)
	}
	return &m, nil
}

func put(tx store.Tx, m *mapping) error {
	m.V = recordVersion
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Put(bucket, m.ref().key(), b)
}

// scan calls fn with the mappings under prefix, after key after, in key
// order, until fn answers false.
func scan(tx store.Tx, prefix, after string, fn func(*mapping) bool) error {
	var err error
	serr := tx.Scan(bucket, prefix, after, func(_ string, b []byte) bool {
		var m *mapping
		m, err = decode(b)
		if err != nil {
			return false
		}
		return fn(m)
	})
	if serr != nil {
		return serr
	}
	return err
}

// source names what m reads, for logs: its ARN, or a self-managed Kafka
// cluster's topic and brokers.
func (m *mapping) source() string {
	if m.Kafka != nil && m.EventSourceARN == "" {
		return "kafka topic " + m.Kafka.Topic + " on " + strings.Join(m.Kafka.Brokers, ",")
	}
	return m.EventSourceARN
}
