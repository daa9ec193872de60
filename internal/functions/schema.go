package functions

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/lambdad/lambdad/internal/spec"
)

// The schema of stored records.
//
// The store holds lambdad's own record types, with JSON names lambdad chose,
// never the generated wire shapes of internal/spec: regenerating the model
// must not change what is on disk (TestStoredRecordsGolden pins every stored
// type's JSON). The in-memory version keeps spec.FunctionConfiguration; it is
// converted to and from storedConfig here, at the store's edge.
//
// The schema has one version for the whole store, kept in bucket "meta" under
// key "schema" (a decimal number). Version 0 is the layout before it existed
// (no key): function configurations and URL CORS settings stored as spec JSON.
// Migrate upgrades an older store at start, in one transaction, and refuses a
// store newer than this binary. When a stored type changes, bump
// SchemaVersion, freeze the old type under a versioned name (as migrate.go
// does for v0) and add a step to migrations.
//
// Every record of this package has its stored type here (stored*), apart from
// its in-memory type, so either can change without the other; publishMark is
// stored as is. invoke's queued events are part of the schema too, pinned by
// their own golden test. Policy statements are kept in AWS's policy language,
// as written.
//
// Version 2 added two buckets: reservations (an index of reserved
// concurrency, built from function records by the upgrade) and codegc
// (collections of shared code archives, codegc.go).
const SchemaVersion = 2

const (
	bMeta         = "meta"
	metaKeySchema = "schema"
)

// storedFunction is a function record (bucket functions).
type storedFunction struct {
	Latest      storedVersion     `json:"latest"`
	Tags        map[string]string `json:"tags,omitempty"`
	LastVersion int               `json:"lastVersion"`
	LastPublish *publishMark      `json:"lastPublish,omitempty"`
	Reserved    *int32            `json:"reserved,omitempty"`
	// Recursion is the function's recursive loop setting ("" is
	// Terminate, AWS's default; recursion.go).
	Recursion string `json:"recursion,omitempty"`
}

// storedVersion is $LATEST inside storedFunction, or a published version
// (bucket versions).
type storedVersion struct {
	Config       storedConfig `json:"config"`
	Code         storedCode   `json:"code"`
	Layers       []storedCode `json:"layers,omitempty"`
	Transition   string       `json:"transition,omitempty"`
	Until        time.Time    `json:"until,omitzero"`
	NextRevision string       `json:"nextRevision,omitempty"`
	// RuntimeUpdate is the version's UpdateRuntimeOn when not Auto.
	RuntimeUpdate string `json:"runtimeUpdate,omitempty"`
}

// storedConfig is a version's configuration. Pointers and slices keep the
// difference between absent and empty that the API shows. Not stored, because
// they are derived at read time or lambdad never sets them: State*,
// LastUpdateStatus*, MasterArn, SigningProfileVersionArn, SigningJobArn,
// ConfigSha256, and the Error members of Environment, ImageConfigResponse and
// RuntimeVersionConfig, and an ImageConfigResponse without ImageConfig
// (TestStoredConfigRoundTrip lists them).
type storedConfig struct {
	Name              *string                 `json:"name,omitzero"`
	ARN               *string                 `json:"arn,omitzero"`
	Runtime           *string                 `json:"runtime,omitzero"`
	Role              *string                 `json:"role,omitzero"`
	Handler           *string                 `json:"handler,omitzero"`
	CodeSize          *int64                  `json:"codeSize,omitzero"`
	Description       *string                 `json:"description,omitzero"`
	TimeoutSeconds    *int32                  `json:"timeoutSeconds,omitzero"`
	MemoryMB          *int32                  `json:"memoryMB,omitzero"`
	LastModified      *string                 `json:"lastModified,omitzero"`
	CodeSHA256        *string                 `json:"codeSha256,omitzero"` // base64, as the API shows it
	Version           *string                 `json:"version,omitzero"`
	RevisionID        *string                 `json:"revisionId,omitzero"`
	PackageType       *string                 `json:"packageType,omitzero"`
	Architectures     []string                `json:"architectures,omitzero"`
	Environment       *storedEnvironment      `json:"environment,omitzero"`
	Layers            []storedLayer           `json:"layers,omitzero"`
	VPC               *storedVPC              `json:"vpc,omitzero"`
	DeadLetter        *storedDeadLetter       `json:"deadLetter,omitzero"`
	KMSKeyARN         *string                 `json:"kmsKeyArn,omitzero"`
	Tracing           *storedTracing          `json:"tracing,omitzero"`
	FileSystems       []storedFileSystem      `json:"fileSystems,omitzero"`
	Image             *storedImage            `json:"image,omitzero"`
	EphemeralStorage  *storedEphemeral        `json:"ephemeralStorage,omitzero"`
	SnapStart         *storedSnapStart        `json:"snapStart,omitzero"`
	RuntimeVersion    *storedRuntimeVersion   `json:"runtimeVersion,omitzero"`
	Logging           *storedLogging          `json:"logging,omitzero"`
	Tenancy           *storedTenancy          `json:"tenancy,omitzero"`
	CapacityProvider  *storedCapacityProvider `json:"capacityProvider,omitzero"`
	DurableExecutions *storedDurable          `json:"durable,omitzero"`
}

type storedEnvironment struct {
	Variables map[string]string `json:"variables,omitzero"`
}

type storedLayer struct {
	ARN      *string `json:"arn,omitzero"`
	CodeSize *int64  `json:"codeSize,omitzero"`
}

type storedVPC struct {
	SubnetIDs        []string `json:"subnetIds"`
	SecurityGroupIDs []string `json:"securityGroupIds"`
	VPCID            *string  `json:"vpcId,omitzero"`
	IPv6DualStack    *bool    `json:"ipv6DualStack,omitzero"`
}

type storedDeadLetter struct {
	TargetARN *string `json:"targetArn,omitzero"`
}

type storedTracing struct {
	Mode *string `json:"mode,omitzero"`
}

type storedFileSystem struct {
	ARN            *string `json:"arn,omitzero"`
	LocalMountPath *string `json:"localMountPath,omitzero"`
}

// storedImage is ImageConfigResponse.ImageConfig (lambdad sets both or neither).
type storedImage struct {
	EntryPoint       []string `json:"entryPoint,omitzero"`
	Command          []string `json:"command,omitzero"`
	WorkingDirectory *string  `json:"workingDirectory,omitzero"`
}

type storedEphemeral struct {
	SizeMB *int32 `json:"sizeMB,omitzero"`
}

type storedSnapStart struct {
	ApplyOn            *string `json:"applyOn,omitzero"`
	OptimizationStatus *string `json:"optimizationStatus,omitzero"`
}

type storedRuntimeVersion struct {
	ARN *string `json:"arn,omitzero"`
}

type storedLogging struct {
	Format           *string `json:"format,omitzero"`
	ApplicationLevel *string `json:"applicationLevel,omitzero"`
	SystemLevel      *string `json:"systemLevel,omitzero"`
	Group            *string `json:"group,omitzero"`
}

type storedTenancy struct {
	IsolationMode *string `json:"isolationMode,omitzero"`
}

type storedCapacityProvider struct {
	ManagedInstances *storedManagedInstances `json:"managedInstances,omitzero"`
}

type storedManagedInstances struct {
	ARN                  *string  `json:"arn,omitzero"`
	MaxConcurrencyPerEnv *int32   `json:"maxConcurrencyPerEnvironment,omitzero"`
	MemoryGiBPerVCPU     *float64 `json:"memoryGiBPerVCpu,omitzero"`
}

type storedDurable struct {
	KMSKeyARN        *string `json:"kmsKeyArn,omitzero"`
	RetentionDays    *int32  `json:"retentionDays,omitzero"`
	ExecutionTimeout *int32  `json:"executionTimeoutSeconds,omitzero"`
}

// storedURL is a function URL's configuration (bucket urls).
type storedURL struct {
	ID         string      `json:"id"`
	AuthType   string      `json:"authType"`
	Cors       *storedCors `json:"cors,omitzero"`
	InvokeMode string      `json:"invokeMode"`
	Created    string      `json:"created"`
	Modified   string      `json:"modified"`
}

type storedCors struct {
	AllowCredentials *bool    `json:"allowCredentials,omitzero"`
	AllowHeaders     []string `json:"allowHeaders,omitzero"`
	AllowMethods     []string `json:"allowMethods,omitzero"`
	AllowOrigins     []string `json:"allowOrigins,omitzero"`
	ExposeHeaders    []string `json:"exposeHeaders,omitzero"`
	MaxAgeSeconds    *int32   `json:"maxAgeSeconds,omitzero"`
}

// Encoding and decoding of the records that differ from their in-memory form.

func encodeRecord(rec *record) ([]byte, error) {
	return json.Marshal(storedFunction{
		Latest: storeVersion(&rec.Latest), Tags: rec.Tags, LastVersion: rec.LastVersion,
		LastPublish: rec.LastPublish, Reserved: rec.Reserved, Recursion: rec.Recursion,
	})
}

func decodeRecord(raw []byte, rec *record) error {
	var s storedFunction
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*rec = record{Latest: s.Latest.load(), Tags: s.Tags, LastVersion: s.LastVersion, LastPublish: s.LastPublish, Reserved: s.Reserved, Recursion: s.Recursion}
	return nil
}

func encodeVersion(v *version) ([]byte, error) { return json.Marshal(storeVersion(v)) }

func decodeVersion(raw []byte, v *version) error {
	var s storedVersion
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*v = s.load()
	return nil
}

func encodeURL(c *URLConfig) ([]byte, error) {
	s := storedURL{ID: c.ID, AuthType: c.AuthType, InvokeMode: c.InvokeMode, Created: c.Created, Modified: c.Modified}
	if x := c.Cors; x != nil {
		s.Cors = &storedCors{AllowCredentials: x.AllowCredentials, AllowHeaders: x.AllowHeaders, AllowMethods: x.AllowMethods,
			AllowOrigins: x.AllowOrigins, ExposeHeaders: x.ExposeHeaders, MaxAgeSeconds: x.MaxAge}
	}
	return json.Marshal(s)
}

func decodeURL(raw []byte, c *URLConfig) error {
	var s storedURL
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*c = URLConfig{ID: s.ID, AuthType: s.AuthType, InvokeMode: s.InvokeMode, Created: s.Created, Modified: s.Modified}
	if x := s.Cors; x != nil {
		c.Cors = &spec.Cors{AllowCredentials: x.AllowCredentials, AllowHeaders: x.AllowHeaders, AllowMethods: x.AllowMethods,
			AllowOrigins: x.AllowOrigins, ExposeHeaders: x.ExposeHeaders, MaxAge: x.MaxAgeSeconds}
	}
	return nil
}

func storeVersion(v *version) storedVersion {
	return storedVersion{Config: storeConfig(&v.Config), Code: storeCode(v.Code), Layers: storeCodes(v.Layers), Transition: v.Trans,
		Until: v.Until, NextRevision: v.NextRevision, RuntimeUpdate: v.RuntimeUpdate}
}

func (s *storedVersion) load() version {
	return version{Config: s.Config.load(), Code: s.Code.load(), Layers: loadCodes(s.Layers), Trans: s.Transition,
		Until: s.Until, NextRevision: s.NextRevision, RuntimeUpdate: s.RuntimeUpdate}
}

// digest identifies a version's code and configuration, ignoring what
// changes on every write (RevisionId, LastModified) and the version's name.
// It is stored (publishMark), so it hashes the stored form, which a
// regenerated model does not change.
func (s *storedVersion) digest() string {
	c := s.Config
	c.RevisionID, c.LastModified, c.Version, c.ARN = nil, nil, nil, nil
	raw, _ := json.Marshal(struct {
		C storedConfig `json:"config"`
		D storedCode   `json:"code"`
	}{c, s.Code})
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func storeConfig(c *spec.FunctionConfiguration) storedConfig {
	s := storedConfig{
		Name: c.FunctionName, ARN: c.FunctionArn, Runtime: c.Runtime, Role: c.Role, Handler: c.Handler,
		CodeSize: c.CodeSize, Description: c.Description, TimeoutSeconds: c.Timeout, MemoryMB: c.MemorySize,
		LastModified: c.LastModified, CodeSHA256: c.CodeSha256, Version: c.Version, RevisionID: c.RevisionId,
		PackageType: c.PackageType, Architectures: c.Architectures, KMSKeyARN: c.KMSKeyArn,
	}
	if e := c.Environment; e != nil {
		s.Environment = &storedEnvironment{Variables: e.Variables}
	}
	if c.Layers != nil {
		s.Layers = make([]storedLayer, len(c.Layers))
		for i, l := range c.Layers {
			s.Layers[i] = storedLayer{ARN: l.Arn, CodeSize: l.CodeSize}
		}
	}
	if v := c.VpcConfig; v != nil {
		s.VPC = &storedVPC{SubnetIDs: v.SubnetIds, SecurityGroupIDs: v.SecurityGroupIds, VPCID: v.VpcId, IPv6DualStack: v.Ipv6AllowedForDualStack}
	}
	if d := c.DeadLetterConfig; d != nil {
		s.DeadLetter = &storedDeadLetter{TargetARN: d.TargetArn}
	}
	if t := c.TracingConfig; t != nil {
		s.Tracing = &storedTracing{Mode: t.Mode}
	}
	if c.FileSystemConfigs != nil {
		s.FileSystems = make([]storedFileSystem, len(c.FileSystemConfigs))
		for i, f := range c.FileSystemConfigs {
			s.FileSystems[i] = storedFileSystem{ARN: f.Arn, LocalMountPath: f.LocalMountPath}
		}
	}
	if r := c.ImageConfigResponse; r != nil && r.ImageConfig != nil {
		i := r.ImageConfig
		s.Image = &storedImage{EntryPoint: i.EntryPoint, Command: i.Command, WorkingDirectory: i.WorkingDirectory}
	}
	if e := c.EphemeralStorage; e != nil {
		s.EphemeralStorage = &storedEphemeral{SizeMB: e.Size}
	}
	if x := c.SnapStart; x != nil {
		s.SnapStart = &storedSnapStart{ApplyOn: x.ApplyOn, OptimizationStatus: x.OptimizationStatus}
	}
	if r := c.RuntimeVersionConfig; r != nil {
		s.RuntimeVersion = &storedRuntimeVersion{ARN: r.RuntimeVersionArn}
	}
	if l := c.LoggingConfig; l != nil {
		s.Logging = &storedLogging{Format: l.LogFormat, ApplicationLevel: l.ApplicationLogLevel, SystemLevel: l.SystemLogLevel, Group: l.LogGroup}
	}
	if t := c.TenancyConfig; t != nil {
		s.Tenancy = &storedTenancy{IsolationMode: t.TenantIsolationMode}
	}
	if p := c.CapacityProviderConfig; p != nil {
		s.CapacityProvider = &storedCapacityProvider{}
		if m := p.LambdaManagedInstancesCapacityProviderConfig; m != nil {
			s.CapacityProvider.ManagedInstances = &storedManagedInstances{ARN: m.CapacityProviderArn,
				MaxConcurrencyPerEnv: m.PerExecutionEnvironmentMaxConcurrency, MemoryGiBPerVCPU: m.ExecutionEnvironmentMemoryGiBPerVCpu}
		}
	}
	if d := c.DurableConfig; d != nil {
		s.DurableExecutions = &storedDurable{KMSKeyARN: d.KMSKeyArn, RetentionDays: d.RetentionPeriodInDays, ExecutionTimeout: d.ExecutionTimeout}
	}
	return s
}

func (s *storedConfig) load() spec.FunctionConfiguration {
	c := spec.FunctionConfiguration{
		FunctionName: s.Name, FunctionArn: s.ARN, Runtime: s.Runtime, Role: s.Role, Handler: s.Handler,
		CodeSize: s.CodeSize, Description: s.Description, Timeout: s.TimeoutSeconds, MemorySize: s.MemoryMB,
		LastModified: s.LastModified, CodeSha256: s.CodeSHA256, Version: s.Version, RevisionId: s.RevisionID,
		PackageType: s.PackageType, Architectures: s.Architectures, KMSKeyArn: s.KMSKeyARN,
	}
	if e := s.Environment; e != nil {
		c.Environment = &spec.EnvironmentResponse{Variables: e.Variables}
	}
	if s.Layers != nil {
		c.Layers = make([]spec.Layer, len(s.Layers))
		for i, l := range s.Layers {
			c.Layers[i] = spec.Layer{Arn: l.ARN, CodeSize: l.CodeSize}
		}
	}
	if v := s.VPC; v != nil {
		c.VpcConfig = &spec.VpcConfigResponse{SubnetIds: v.SubnetIDs, SecurityGroupIds: v.SecurityGroupIDs, VpcId: v.VPCID, Ipv6AllowedForDualStack: v.IPv6DualStack}
	}
	if d := s.DeadLetter; d != nil {
		c.DeadLetterConfig = &spec.DeadLetterConfig{TargetArn: d.TargetARN}
	}
	if t := s.Tracing; t != nil {
		c.TracingConfig = &spec.TracingConfigResponse{Mode: t.Mode}
	}
	if s.FileSystems != nil {
		c.FileSystemConfigs = make([]spec.FileSystemConfig, len(s.FileSystems))
		for i, f := range s.FileSystems {
			c.FileSystemConfigs[i] = spec.FileSystemConfig{Arn: f.ARN, LocalMountPath: f.LocalMountPath}
		}
	}
	if i := s.Image; i != nil {
		c.ImageConfigResponse = &spec.ImageConfigResponse{ImageConfig: &spec.ImageConfig{EntryPoint: i.EntryPoint, Command: i.Command, WorkingDirectory: i.WorkingDirectory}}
	}
	if e := s.EphemeralStorage; e != nil {
		c.EphemeralStorage = &spec.EphemeralStorage{Size: e.SizeMB}
	}
	if x := s.SnapStart; x != nil {
		c.SnapStart = &spec.SnapStartResponse{ApplyOn: x.ApplyOn, OptimizationStatus: x.OptimizationStatus}
	}
	if r := s.RuntimeVersion; r != nil {
		c.RuntimeVersionConfig = &spec.RuntimeVersionConfig{RuntimeVersionArn: r.ARN}
	}
	if l := s.Logging; l != nil {
		c.LoggingConfig = &spec.LoggingConfig{LogFormat: l.Format, ApplicationLogLevel: l.ApplicationLevel, SystemLogLevel: l.SystemLevel, LogGroup: l.Group}
	}
	if t := s.Tenancy; t != nil {
		c.TenancyConfig = &spec.TenancyConfig{TenantIsolationMode: t.IsolationMode}
	}
	if p := s.CapacityProvider; p != nil {
		c.CapacityProviderConfig = &spec.CapacityProviderConfig{}
		if m := p.ManagedInstances; m != nil {
			c.CapacityProviderConfig.LambdaManagedInstancesCapacityProviderConfig = &spec.LambdaManagedInstancesCapacityProviderConfig{
				CapacityProviderArn: m.ARN, PerExecutionEnvironmentMaxConcurrency: m.MaxConcurrencyPerEnv, ExecutionEnvironmentMemoryGiBPerVCpu: m.MemoryGiBPerVCPU}
		}
	}
	if d := s.DurableExecutions; d != nil {
		c.DurableConfig = &spec.DurableConfig{KMSKeyArn: d.KMSKeyARN, RetentionPeriodInDays: d.RetentionDays, ExecutionTimeout: d.ExecutionTimeout}
	}
	return c
}

// schemaOf reads the stored schema version; a store without one is v0.
func schemaOf(raw []byte) (int, error) {
	if raw == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("schema version %q is not a version number", raw)
	}
	return n, nil
}

// storedCode is where a version's or layer's code lives.
type storedCode struct {
	SHA256Hex    string `json:"sha256,omitempty"`
	Size         int64  `json:"size"`
	Unzipped     int64  `json:"unzipped,omitempty"`
	HotReloadDir string `json:"hotReload,omitempty"`
	ImageURI     string `json:"imageUri,omitempty"`
}

// Where a stored type has the same members as its in-memory one, it is a
// conversion: it stops compiling when the two part, which is the moment to
// decide whether the schema changes.

func storeCode(c Code) storedCode { return storedCode(c) }

func (c storedCode) load() Code { return Code(c) }

func storeCodes(cs []Code) []storedCode {
	if cs == nil {
		return nil
	}
	out := make([]storedCode, len(cs))
	for i, c := range cs {
		out[i] = storeCode(c)
	}
	return out
}

func loadCodes(cs []storedCode) []Code {
	if cs == nil {
		return nil
	}
	out := make([]Code, len(cs))
	for i, c := range cs {
		out[i] = c.load()
	}
	return out
}

// storedAlias is an alias (bucket aliases).
type storedAlias struct {
	Name        string             `json:"name"`
	Version     string             `json:"version"`
	Description string             `json:"description"`
	Weights     map[string]float64 `json:"weights,omitempty"`
	RevisionID  string             `json:"revisionId"`
}

func encodeAlias(a *alias) ([]byte, error) {
	return json.Marshal(storedAlias(*a))
}

func decodeAlias(raw []byte, a *alias) error {
	var s storedAlias
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*a = alias(s)
	return nil
}

// storedLayerVersion is a published layer version (bucket layers).
type storedLayerVersion struct {
	Name          string     `json:"name"`
	Version       int64      `json:"version"`
	Description   string     `json:"description"`
	Runtimes      []string   `json:"runtimes"`
	Architectures []string   `json:"architectures"`
	License       *string    `json:"license,omitempty"`
	Created       string     `json:"created"`
	Code          storedCode `json:"code"`
}

func encodeLayer(l *layerVersion) ([]byte, error) {
	return json.Marshal(storedLayerVersion{Name: l.Name, Version: l.Version, Description: l.Description, Runtimes: l.Runtimes,
		Architectures: l.Architectures, License: l.License, Created: l.Created, Code: storeCode(l.Code)})
}

func decodeLayer(raw []byte, l *layerVersion) error {
	var s storedLayerVersion
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*l = layerVersion{Name: s.Name, Version: s.Version, Description: s.Description, Runtimes: s.Runtimes,
		Architectures: s.Architectures, License: s.License, Created: s.Created, Code: s.Code.load()}
	return nil
}

// storedEventConfig is an event invoke config (bucket invokeconfigs).
type storedEventConfig struct {
	RetryAttempts *int32 `json:"retries,omitempty"`
	MaxAgeSeconds *int32 `json:"maxAge,omitempty"`
	OnSuccess     string `json:"onSuccess,omitempty"`
	OnFailure     string `json:"onFailure,omitempty"`
	Modified      string `json:"modified"`
}

func encodeEventConfig(c *EventConfig) ([]byte, error) {
	return json.Marshal(storedEventConfig(*c))
}

func decodeEventConfig(raw []byte, c *EventConfig) error {
	var s storedEventConfig
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*c = EventConfig(s)
	return nil
}

// storedPolicy is a resource policy (bucket policies): its statements in
// AWS's policy language, kept as they were written.
type storedPolicy struct {
	Statements []json.RawMessage `json:"statements"`
	RevisionID string            `json:"revisionId"`
}

func encodePolicy(p *policy) ([]byte, error) {
	return json.Marshal(storedPolicy(*p))
}

func decodePolicy(raw []byte, p *policy) error {
	var s storedPolicy
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*p = policy(s)
	return nil
}
