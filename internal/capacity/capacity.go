// Package capacity is the control plane of Lambda Managed Instances'
// capacity providers: their records, states and rules. Functions that run
// on a provider (functions.CapacityProviderConfig) are the functions
// package's business; this package asks it, through Users, whether a
// provider is still in use before deleting it.
package capacity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/store"
)

// bucket holds acct/region/name -> stored provider.
const bucket = "capacityproviders"

// States of a provider, as the API names them (CapacityProviderState).
const (
	Pending  = "Pending"
	Active   = "Active"
	Failed   = "Failed"
	Deleting = "Deleting"
)

// Users counts the functions with a version that runs on a provider. It
// is called inside the transaction that deletes the provider, so a
// function cannot start using it in between.
type Users interface {
	CapacityProviderUsers(tx store.Tx, account, region, arn string) int
}

// Config wires the service.
type Config struct {
	Store store.Store
	// Transition is how long a new provider stays Pending.
	Transition time.Duration
	Now        func() time.Time
	// Users is consulted before a delete; nil: never in use.
	Users Users
}

// Service is the capacity provider control plane.
type Service struct{ cfg Config }

// New makes the service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}
}

// SetUsers wires the in-use check once functions exist (they are built
// after this service, which they ask whether a provider exists).
func (s *Service) SetUsers(u Users) { s.cfg.Users = u }

// Ref names one provider.
type Ref struct{ Account, Region, Name string }

// ARN is the provider's ARN.
func (r Ref) ARN() string {
	return "arn:aws:lambda:" + r.Region + ":" + r.Account + ":capacity-provider:" + r.Name
}

func (r Ref) key() string { return r.Account + "/" + r.Region + "/" + r.Name }

// ParseARN splits a provider ARN (the model's pattern has already held it).
func ParseARN(arn string) (Ref, bool) {
	p := strings.Split(arn, ":")
	if len(p) != 7 || p[0] != "arn" || !strings.HasPrefix(p[1], "aws") || p[2] != "lambda" || p[5] != "capacity-provider" || p[6] == "" {
		return Ref{}, false
	}
	return Ref{Account: p[4], Region: p[3], Name: p[6]}, true
}

// ParseName resolves a CapacityProviderName (a name or an ARN) for the
// caller's account and region. An ARN of another account is refused as
// functions refuse one, and one of another region is not found there [?].
func ParseName(account, region, name string) (Ref, error) {
	r, ok := ParseARN(name)
	if !ok {
		return Ref{Account: account, Region: region, Name: name}, nil
	}
	if r.Account != account {
		return r, fault.AccessDeniedf("User is not authorized to access %s: it belongs to another account.", name)
	}
	if r.Region != region {
		return r, notFound(r)
	}
	return r, nil
}

// Provider is one capacity provider's configuration, in the API's terms
// (the api package copies it to and from the wire shapes).
type Provider struct {
	ARN                  string                `json:"arn"`
	State                string                `json:"state"`
	SubnetIDs            []string              `json:"subnetIds"`
	SecurityGroupIDs     []string              `json:"securityGroupIds"`
	OperatorRoleARN      string                `json:"operatorRoleArn"`
	InstanceRequirements *InstanceRequirements `json:"instanceRequirements,omitzero"`
	Scaling              *Scaling              `json:"scaling,omitzero"`
	KMSKeyARN            string                `json:"kmsKeyArn,omitzero"`
	LastModified         string                `json:"lastModified"`
	Tags                 map[string]string     `json:"tags,omitzero"`
	PropagateTags        *PropagateTags        `json:"propagateTags,omitzero"`
	Logging              *Logging              `json:"logging,omitzero"`
	// ActiveAt is when a Pending provider becomes Active.
	ActiveAt time.Time `json:"activeAt,omitzero"`
}

// InstanceRequirements is what instances the provider may launch.
type InstanceRequirements struct {
	Architectures         []string `json:"architectures,omitzero"`
	AllowedInstanceTypes  []string `json:"allowed,omitzero"`
	ExcludedInstanceTypes []string `json:"excluded,omitzero"`
}

// Scaling is CapacityProviderScalingConfig.
type Scaling struct {
	MaxVCpuCount *int32   `json:"maxVCpuCount,omitzero"`
	ScalingMode  string   `json:"mode,omitzero"`
	Policies     []Policy `json:"policies,omitzero"`
}

// Policy is one target tracking scaling policy.
type Policy struct {
	Metric string  `json:"metric"`
	Target float64 `json:"target"`
}

// PropagateTags is the tag propagation configuration.
type PropagateTags struct {
	Mode         string            `json:"mode,omitzero"`
	ExplicitTags map[string]string `json:"explicitTags,omitzero"`
}

// Logging is TelemetryConfig.LoggingConfig.
type Logging struct {
	SystemLogLevel string `json:"systemLogLevel,omitzero"`
	LogGroup       string `json:"logGroup,omitzero"`
}

// Update is what UpdateCapacityProvider may change; nil leaves a part as is.
type Update struct {
	Scaling       *Scaling
	PropagateTags *PropagateTags
	Logging       *Logging
}

// autoWithoutPolicies refuses target tracking policies in ScalingMode
// Auto, where lambdad (as AWS) would not use them: AWS's answer, as a user
// quoted it after Terraform met it (nsb413/kiro-lambda-managed-instance,
// LESSONS_LEARNED.md).
func autoWithoutPolicies(sc *Scaling) error {
	if sc.ScalingMode == "Auto" && len(sc.Policies) > 0 {
		return fault.InvalidParameterf("A scaling policy can't be specified when the scalingMode is set to Auto")
	}
	return nil
}

func notFound(r Ref) error {
	// AWS's answer (LocalStack snapshot test_lambda_api:
	// TestLambdaTag.test_tag_exceptions[capacity_provider], for TagResource,
	// UntagResource and ListTags on a provider that does not exist).
	return fault.NotFoundf("CapacityProvider", "Capacity provider not found: %s", r.ARN())
}

// settle moves a Pending provider to Active once its transition is over.
func (p *Provider) settle(now time.Time) {
	if p.State == Pending && !now.Before(p.ActiveAt) {
		p.State = Active
		p.ActiveAt = time.Time{}
	}
}

func lastModified(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

func (s *Service) load(tx store.Tx, r Ref) (*Provider, error) {
	raw := tx.Get(bucket, r.key())
	if raw == nil {
		return nil, nil
	}
	var p Provider
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// loadExisting is load, with the provider's absence as AWS's not-found.
func (s *Service) loadExisting(tx store.Tx, r Ref) (*Provider, error) {
	p, err := s.load(tx, r)
	if err == nil && p == nil {
		err = notFound(r)
	}
	return p, err
}

func (s *Service) save(tx store.Tx, r Ref, p *Provider) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return tx.Put(bucket, r.key(), raw)
}

// Create is CreateCapacityProvider: the provider starts Pending.
func (s *Service) Create(ctx context.Context, r Ref, p Provider) (*Provider, error) {
	now := s.cfg.Now()
	p.ARN = r.ARN()
	p.State = Pending
	p.ActiveAt = now.Add(s.cfg.Transition)
	p.LastModified = lastModified(now)
	if p.Scaling == nil {
		p.Scaling = &Scaling{}
	}
	if p.Scaling.ScalingMode == "" {
		// AWS shows Auto when none was asked for.
		p.Scaling.ScalingMode = "Auto"
	}
	if err := autoWithoutPolicies(p.Scaling); err != nil {
		return nil, err
	}
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		if tx.Get(bucket, r.key()) != nil {
			// [?] AWS's wording for a duplicate capacity provider.
			return fault.Conflictf("CapacityProvider", "Capacity provider already exists: %s", r.ARN())
		}
		return s.save(tx, r, &p)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// Get is GetCapacityProvider.
func (s *Service) Get(ctx context.Context, r Ref) (*Provider, error) {
	var out *Provider
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		p, err := s.loadExisting(tx, r)
		out = p
		return err
	})
	if err != nil {
		return nil, err
	}
	out.settle(s.cfg.Now())
	return out, nil
}

// Exists reports whether the provider arn names exists, inside tx (the
// functions package checks it in the transaction that stores a function).
func (s *Service) Exists(tx store.Tx, arn string) bool {
	r, ok := ParseARN(arn)
	return ok && tx.Get(bucket, r.key()) != nil
}

// Update is UpdateCapacityProvider.
func (s *Service) Update(ctx context.Context, r Ref, u Update) (*Provider, error) {
	var out *Provider
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		p, err := s.loadExisting(tx, r)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		p.settle(now)
		if u.Scaling != nil {
			sc := *u.Scaling
			if sc.MaxVCpuCount == nil && p.Scaling != nil {
				sc.MaxVCpuCount = p.Scaling.MaxVCpuCount
			}
			if sc.ScalingMode == "" {
				sc.ScalingMode = p.Scaling.ScalingMode
			}
			if err := autoWithoutPolicies(&sc); err != nil {
				return err
			}
			if sc.Policies == nil && p.Scaling != nil && sc.ScalingMode != "Auto" {
				sc.Policies = p.Scaling.Policies
			}
			p.Scaling = &sc
		}
		if u.PropagateTags != nil {
			p.PropagateTags = u.PropagateTags
		}
		if u.Logging != nil {
			p.Logging = u.Logging
		}
		p.LastModified = lastModified(now)
		out = p
		return s.save(tx, r, p)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Delete is DeleteCapacityProvider: refused while any function version
// uses the provider; the answer shows it Deleting, and it is gone after.
func (s *Service) Delete(ctx context.Context, r Ref) (*Provider, error) {
	var out *Provider
	err := s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		p, err := s.loadExisting(tx, r)
		if err != nil {
			return err
		}
		if n := s.users(tx, r, p.ARN); n > 0 {
			// AWS's words, as CloudFormation users quote them (the count
			// is of functions, whatever their versions).
			return fault.Conflictf("CapacityProvider", "The capacity provider is currently in use by %d functions. To delete this capacity provider, first remove its association with %s.", n, p.ARN)
		}
		p.State = Deleting
		p.ActiveAt = time.Time{}
		out = p
		return tx.Delete(bucket, r.key())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) users(tx store.Tx, r Ref, arn string) int {
	if s.cfg.Users == nil {
		return 0
	}
	return s.cfg.Users.CapacityProviderUsers(tx, r.Account, r.Region, arn)
}

// MaxPageSize bounds a page of ListCapacityProviders.
const MaxPageSize = 50

// List is ListCapacityProviders: the account's providers in the region,
// by name, optionally only those in state.
func (s *Service) List(ctx context.Context, account, region, state string, marker *string, max *int32) ([]Provider, *string, error) {
	after := ""
	if marker != nil && *marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(*marker)
		if err != nil {
			return nil, nil, fault.InvalidParameterf("Invalid marker: %s", *marker)
		}
		after = string(raw)
	}
	n := MaxPageSize
	if max != nil && *max > 0 && *max < MaxPageSize {
		n = int(*max)
	}
	prefix := account + "/" + region + "/"
	start := ""
	if after != "" {
		start = prefix + after
	}
	now := s.cfg.Now()
	items := []Provider{}
	var next *string
	err := s.cfg.Store.View(ctx, func(tx store.Tx) error {
		var last string
		var ferr error
		err := tx.Scan(bucket, prefix, start, func(k string, raw []byte) bool {
			var p Provider
			if ferr = json.Unmarshal(raw, &p); ferr != nil {
				return false
			}
			p.settle(now)
			if state != "" && p.State != state {
				return true
			}
			if len(items) == n {
				m := base64.RawURLEncoding.EncodeToString([]byte(last))
				next = &m
				return false
			}
			items = append(items, p)
			last = k[len(prefix):]
			return true
		})
		if err != nil {
			return err
		}
		return ferr
	})
	if err != nil {
		return nil, nil, err
	}
	return items, next, nil
}

// Tags returns the provider's tags (TagResource/ListTags on its ARN).
func (s *Service) Tags(ctx context.Context, r Ref) (map[string]string, error) {
	p, err := s.Get(ctx, r)
	if err != nil {
		return nil, err
	}
	if p.Tags == nil {
		return map[string]string{}, nil
	}
	return p.Tags, nil
}

// maxTags is AWS's limit of tags on one resource.
const maxTags = 50

// Tag adds tags (TagResource); untag removes keys (UntagResource).
func (s *Service) Tag(ctx context.Context, r Ref, tags map[string]string, untag []string) error {
	return s.cfg.Store.Update(ctx, func(tx store.Tx) error {
		p, err := s.loadExisting(tx, r)
		if err != nil {
			return err
		}
		if p.Tags == nil {
			p.Tags = map[string]string{}
		}
		for k, v := range tags {
			p.Tags[k] = v
		}
		for _, k := range untag {
			delete(p.Tags, k)
		}
		if len(p.Tags) > maxTags {
			return fault.InvalidParameterf("Number of tags exceeds resource tag limit.")
		}
		if len(p.Tags) == 0 {
			p.Tags = nil
		}
		return s.save(tx, r, p)
	})
}
