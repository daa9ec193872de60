package functions

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Schema v0, frozen: the records lambdad stored before the schema had a
// version (up to commit ceb31ba), read only by migrateV0. The configuration
// types copy that commit's generated spec shapes, field for field and in
// order, so that a v0 digest can be recomputed byte for byte; they must not
// change.

type v0Function struct {
	Latest      v0Version         `json:"latest"`
	Tags        map[string]string `json:"tags,omitempty"`
	LastVersion int               `json:"lastVersion"`
	LastPublish *publishMark      `json:"lastPublish,omitempty"`
	Reserved    *int32            `json:"reserved,omitempty"`
}

type v0Version struct {
	Config       v0Config  `json:"config"`
	Code         v0Code    `json:"code"`
	Layers       []v0Code  `json:"layers,omitempty"`
	Trans        string    `json:"trans,omitempty"`
	Until        time.Time `json:"until"`
	NextRevision string    `json:"nextRevision,omitempty"`
}

type v0Code struct {
	SHA256Hex    string `json:"sha256,omitempty"`
	Size         int64  `json:"size"`
	Unzipped     int64  `json:"unzipped,omitempty"`
	HotReloadDir string `json:"hotReload,omitempty"`
	ImageURI     string `json:"imageUri,omitempty"`
}

type v0URL struct {
	ID         string  `json:"id"`
	AuthType   string  `json:"authType"`
	Cors       *v0Cors `json:"cors,omitempty"`
	InvokeMode string  `json:"invokeMode"`
	Created    string  `json:"created"`
	Modified   string  `json:"modified"`
}

// digest is v0's publishMark digest of the version.
func (v *v0Version) digest() (string, error) {
	c := v.Config
	c.RevisionId, c.LastModified, c.Version, c.FunctionArn = nil, nil, nil, nil
	raw, err := json.Marshal(struct {
		C v0Config
		D v0Code
	}{c, v.Code})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

func (c v0Code) v1() storedCode {
	return storedCode(c)
}

func (v *v0Version) v1() storedVersion {
	s := storedVersion{Config: v.Config.v1(), Code: v.Code.v1(), Transition: v.Trans, Until: v.Until, NextRevision: v.NextRevision}
	if v.Layers != nil {
		s.Layers = make([]storedCode, len(v.Layers))
		for i, l := range v.Layers {
			s.Layers[i] = l.v1()
		}
	}
	return s
}

// v1 keeps what v1 stores (see storedConfig); v0 never stored the rest.
func (c *v0Config) v1() storedConfig {
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

type v0Config struct {
	FunctionName               *string                   `json:"FunctionName,omitzero"`
	FunctionArn                *string                   `json:"FunctionArn,omitzero"`
	Runtime                    *string                   `json:"Runtime,omitzero"`
	Role                       *string                   `json:"Role,omitzero"`
	Handler                    *string                   `json:"Handler,omitzero"`
	CodeSize                   *int64                    `json:"CodeSize,omitzero"`
	Description                *string                   `json:"Description,omitzero"`
	Timeout                    *int32                    `json:"Timeout,omitzero"`
	MemorySize                 *int32                    `json:"MemorySize,omitzero"`
	LastModified               *string                   `json:"LastModified,omitzero"`
	CodeSha256                 *string                   `json:"CodeSha256,omitzero"`
	Version                    *string                   `json:"Version,omitzero"`
	VpcConfig                  *v0VpcConfigResponse      `json:"VpcConfig,omitzero"`
	DeadLetterConfig           *v0DeadLetterConfig       `json:"DeadLetterConfig,omitzero"`
	Environment                *v0EnvironmentResponse    `json:"Environment,omitzero"`
	KMSKeyArn                  *string                   `json:"KMSKeyArn,omitzero"`
	TracingConfig              *v0TracingConfigResponse  `json:"TracingConfig,omitzero"`
	MasterArn                  *string                   `json:"MasterArn,omitzero"`
	RevisionId                 *string                   `json:"RevisionId,omitzero"`
	Layers                     []v0Layer                 `json:"Layers,omitzero"`
	State                      *string                   `json:"State,omitzero"`
	StateReason                *string                   `json:"StateReason,omitzero"`
	StateReasonCode            *string                   `json:"StateReasonCode,omitzero"`
	LastUpdateStatus           *string                   `json:"LastUpdateStatus,omitzero"`
	LastUpdateStatusReason     *string                   `json:"LastUpdateStatusReason,omitzero"`
	LastUpdateStatusReasonCode *string                   `json:"LastUpdateStatusReasonCode,omitzero"`
	FileSystemConfigs          []v0FileSystemConfig      `json:"FileSystemConfigs,omitzero"`
	SigningProfileVersionArn   *string                   `json:"SigningProfileVersionArn,omitzero"`
	SigningJobArn              *string                   `json:"SigningJobArn,omitzero"`
	PackageType                *string                   `json:"PackageType,omitzero"`
	ImageConfigResponse        *v0ImageConfigResponse    `json:"ImageConfigResponse,omitzero"`
	Architectures              []string                  `json:"Architectures,omitzero"`
	EphemeralStorage           *v0EphemeralStorage       `json:"EphemeralStorage,omitzero"`
	SnapStart                  *v0SnapStartResponse      `json:"SnapStart,omitzero"`
	RuntimeVersionConfig       *v0RuntimeVersionConfig   `json:"RuntimeVersionConfig,omitzero"`
	LoggingConfig              *v0LoggingConfig          `json:"LoggingConfig,omitzero"`
	TenancyConfig              *v0TenancyConfig          `json:"TenancyConfig,omitzero"`
	CapacityProviderConfig     *v0CapacityProviderConfig `json:"CapacityProviderConfig,omitzero"`
	ConfigSha256               *string                   `json:"ConfigSha256,omitzero"`
	DurableConfig              *v0DurableConfig          `json:"DurableConfig,omitzero"`
}

type v0VpcConfigResponse struct {
	SubnetIds               []string `json:"SubnetIds,omitzero"`
	SecurityGroupIds        []string `json:"SecurityGroupIds,omitzero"`
	VpcId                   *string  `json:"VpcId,omitzero"`
	Ipv6AllowedForDualStack *bool    `json:"Ipv6AllowedForDualStack,omitzero"`
}

type v0DeadLetterConfig struct {
	TargetArn *string `json:"TargetArn,omitzero"`
}

type v0EnvironmentResponse struct {
	Variables map[string]string   `json:"Variables,omitzero"`
	Error     *v0EnvironmentError `json:"Error,omitzero"`
}

type v0EnvironmentError struct {
	ErrorCode *string `json:"ErrorCode,omitzero"`
	Message   *string `json:"Message,omitzero"`
}

type v0TracingConfigResponse struct {
	Mode *string `json:"Mode,omitzero"`
}

type v0Layer struct {
	Arn                      *string `json:"Arn,omitzero"`
	CodeSize                 *int64  `json:"CodeSize,omitzero"`
	SigningProfileVersionArn *string `json:"SigningProfileVersionArn,omitzero"`
	SigningJobArn            *string `json:"SigningJobArn,omitzero"`
}

type v0FileSystemConfig struct {
	Arn            *string `json:"Arn,omitzero"`
	LocalMountPath *string `json:"LocalMountPath,omitzero"`
}

type v0ImageConfigResponse struct {
	ImageConfig *v0ImageConfig      `json:"ImageConfig,omitzero"`
	Error       *v0ImageConfigError `json:"Error,omitzero"`
}

type v0ImageConfig struct {
	EntryPoint       []string `json:"EntryPoint,omitzero"`
	Command          []string `json:"Command,omitzero"`
	WorkingDirectory *string  `json:"WorkingDirectory,omitzero"`
}

type v0ImageConfigError struct {
	ErrorCode *string `json:"ErrorCode,omitzero"`
	Message   *string `json:"Message,omitzero"`
}

type v0EphemeralStorage struct {
	Size *int32 `json:"Size,omitzero"`
}

type v0SnapStartResponse struct {
	ApplyOn            *string `json:"ApplyOn,omitzero"`
	OptimizationStatus *string `json:"OptimizationStatus,omitzero"`
}

type v0RuntimeVersionConfig struct {
	RuntimeVersionArn *string                `json:"RuntimeVersionArn,omitzero"`
	Error             *v0RuntimeVersionError `json:"Error,omitzero"`
}

type v0RuntimeVersionError struct {
	ErrorCode *string `json:"ErrorCode,omitzero"`
	Message   *string `json:"Message,omitzero"`
}

type v0LoggingConfig struct {
	LogFormat           *string `json:"LogFormat,omitzero"`
	ApplicationLogLevel *string `json:"ApplicationLogLevel,omitzero"`
	SystemLogLevel      *string `json:"SystemLogLevel,omitzero"`
	LogGroup            *string `json:"LogGroup,omitzero"`
}

type v0TenancyConfig struct {
	TenantIsolationMode *string `json:"TenantIsolationMode,omitzero"`
}

type v0CapacityProviderConfig struct {
	LambdaManagedInstancesCapacityProviderConfig *v0LambdaManagedInstancesCapacityProviderConfig `json:"LambdaManagedInstancesCapacityProviderConfig,omitzero"`
}

type v0LambdaManagedInstancesCapacityProviderConfig struct {
	CapacityProviderArn                   *string  `json:"CapacityProviderArn,omitzero"`
	PerExecutionEnvironmentMaxConcurrency *int32   `json:"PerExecutionEnvironmentMaxConcurrency,omitzero"`
	ExecutionEnvironmentMemoryGiBPerVCpu  *float64 `json:"ExecutionEnvironmentMemoryGiBPerVCpu,omitzero"`
}

type v0DurableConfig struct {
	KMSKeyArn             *string `json:"KMSKeyArn,omitzero"`
	RetentionPeriodInDays *int32  `json:"RetentionPeriodInDays,omitzero"`
	ExecutionTimeout      *int32  `json:"ExecutionTimeout,omitzero"`
}

type v0Cors struct {
	AllowCredentials *bool    `json:"AllowCredentials,omitzero"`
	AllowHeaders     []string `json:"AllowHeaders,omitzero"`
	AllowMethods     []string `json:"AllowMethods,omitzero"`
	AllowOrigins     []string `json:"AllowOrigins,omitzero"`
	ExposeHeaders    []string `json:"ExposeHeaders,omitzero"`
	MaxAge           *int32   `json:"MaxAge,omitzero"`
}
