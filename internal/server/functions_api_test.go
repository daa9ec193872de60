package server_test

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/server/servertest"
	"github.com/lambdad/lambdad/internal/testkit"
)

var (
	lastModifiedRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$`)
	uuidRE         = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

func TestCreateFunctionDefaultsAndStates(t *testing.T) {
	t.Parallel()
	_, c := servertest.NewEnv(t, servertest.FastTransition)
	ctx := context.Background()
	zip := testkit.HandlerZip(t, "def handler(e, c):\n    return e\n")
	var st testkit.RawStatus
	out, err := c.CreateFunction(ctx, testkit.CreateInput("fn-defaults", zip), st.Option())
	if err != nil {
		t.Fatal(err)
	}
	if st.Code != 201 {
		t.Errorf("CreateFunction status = %d, want 201", st.Code)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"FunctionName", aws.ToString(out.FunctionName), "fn-defaults"},
		{"FunctionArn", aws.ToString(out.FunctionArn), testkit.FnARN("fn-defaults")},
		{"State", out.State, types.StatePending},
		{"StateReason", aws.ToString(out.StateReason), "The function is being created."},
		{"StateReasonCode", out.StateReasonCode, types.StateReasonCodeCreating},
		{"LastUpdateStatus", out.LastUpdateStatus, types.LastUpdateStatus("")},
		{"Architectures", out.Architectures, []types.Architecture{types.ArchitectureX8664}},
		{"EphemeralStorage", aws.ToInt32(out.EphemeralStorage.Size), int32(512)},
		{"MemorySize", aws.ToInt32(out.MemorySize), int32(128)},
		{"Timeout", aws.ToInt32(out.Timeout), int32(3)},
		{"Description", aws.ToString(out.Description), ""},
		{"TracingConfig", out.TracingConfig.Mode, types.TracingModePassThrough},
		{"SnapStart.ApplyOn", out.SnapStart.ApplyOn, types.SnapStartApplyOnNone},
		{"SnapStart.OptimizationStatus", out.SnapStart.OptimizationStatus, types.SnapStartOptimizationStatusOff},
		{"PackageType", out.PackageType, types.PackageTypeZip},
		{"Version", aws.ToString(out.Version), "$LATEST"},
		{"Runtime", out.Runtime, types.RuntimePython312},
		{"Handler", aws.ToString(out.Handler), "handler.handler"},
		{"Role", aws.ToString(out.Role), testkit.Role},
		{"LoggingConfig.LogFormat", out.LoggingConfig.LogFormat, types.LogFormatText},
		{"LoggingConfig.LogGroup", aws.ToString(out.LoggingConfig.LogGroup), "/aws/lambda/fn-defaults"},
		{"LoggingConfig.ApplicationLogLevel", out.LoggingConfig.ApplicationLogLevel, types.ApplicationLogLevel("")},
		{"CodeSha256", aws.ToString(out.CodeSha256), testkit.SHA256B64(zip)},
		{"CodeSize", out.CodeSize, int64(len(zip))},
		{"Environment", out.Environment == nil, true},
	}
	for _, ch := range checks {
		if !equal(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.what, ch.got, ch.want)
		}
	}
	if !lastModifiedRE.MatchString(aws.ToString(out.LastModified)) {
		t.Errorf("LastModified = %q, want 2006-01-02T15:04:05.000+0000", aws.ToString(out.LastModified))
	}
	lm, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(out.LastModified))
	if err != nil || time.Since(lm) > time.Minute || time.Until(lm) > time.Minute {
		t.Errorf("LastModified %q is not now (%v)", aws.ToString(out.LastModified), err)
	}
	if out.RuntimeVersionConfig == nil || !regexp.MustCompile(`^arn:aws:lambda:us-east-1::runtime:[0-9a-f]+$`).MatchString(aws.ToString(out.RuntimeVersionConfig.RuntimeVersionArn)) {
		t.Errorf("RuntimeVersionConfig = %+v, want arn:aws:lambda:us-east-1::runtime:<hash>", out.RuntimeVersionConfig)
	}
	rev1 := aws.ToString(out.RevisionId)
	if !uuidRE.MatchString(rev1) {
		t.Errorf("RevisionId = %q, want a UUID", rev1)
	}

	got := testkit.WaitActive(t, c, "fn-defaults")
	cfg := got.Configuration
	if cfg.State != types.StateActive || cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("after wait: State %s LastUpdateStatus %s, want Active/Successful", cfg.State, cfg.LastUpdateStatus)
	}
	if cfg.StateReason != nil || cfg.StateReasonCode != "" || cfg.LastUpdateStatusReason != nil {
		t.Errorf("Active config keeps reason fields: %q %q %q", aws.ToString(cfg.StateReason), cfg.StateReasonCode, aws.ToString(cfg.LastUpdateStatusReason))
	}
	if rev2 := aws.ToString(cfg.RevisionId); rev2 == rev1 || !uuidRE.MatchString(rev2) {
		t.Errorf("RevisionId on Active = %q, want a new UUID (create had %q)", rev2, rev1)
	}
	if aws.ToString(cfg.FunctionArn) != testkit.FnARN("fn-defaults") {
		t.Errorf("unqualified GetFunction ARN = %s", aws.ToString(cfg.FunctionArn))
	}
	if got.Tags != nil {
		t.Errorf("Tags = %v, want omitted when there are none", got.Tags)
	}
	if got.Code == nil || aws.ToString(got.Code.RepositoryType) != "S3" || aws.ToString(got.Code.Location) == "" {
		t.Errorf("Code = %+v, want S3 with a Location", got.Code)
	}

	// Duplicate names conflict and leave the first function alone.
	_, err = c.CreateFunction(ctx, testkit.CreateInput("fn-defaults", testkit.HandlerZip(t, "other")))
	testkit.APIErr(t, err, "ResourceConflictException", 409, "Function already exist: fn-defaults")
	if !testkit.IsType[*types.ResourceConflictException](err) {
		t.Errorf("duplicate create: want *types.ResourceConflictException, got %T", err)
	}
	again, err := c.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String("fn-defaults")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(again.CodeSha256) != testkit.SHA256B64(zip) || aws.ToString(again.RevisionId) != aws.ToString(cfg.RevisionId) {
		t.Errorf("duplicate create changed the function: sha %s rev %s", aws.ToString(again.CodeSha256), aws.ToString(again.RevisionId))
	}
}

func equal(a, b any) bool {
	switch x := a.(type) {
	case []types.Architecture:
		return slices.Equal(x, b.([]types.Architecture))
	case []string:
		return slices.Equal(x, b.([]string))
	}
	return a == b
}

func TestCreateFunctionStoresEveryField(t *testing.T) {
	t.Parallel()
	// Its dead-letter queue needs an SQS endpoint lambdad could reach
	// (never called here).
	d := servertest.StartLambdad(t, t.TempDir(), func(c *server.Config) { c.AWSEndpoint = "http://127.0.0.1:9" })
	c := d.Client(testkit.Account, testkit.Region)
	ctx := context.Background()
	in := testkit.CreateInput("fn-full", testkit.HandlerZip(t, "x = 1\n"))
	in.Description = aws.String("all the fields")
	in.MemorySize = aws.Int32(1024)
	in.Timeout = aws.Int32(42)
	in.Runtime = types.RuntimeNodejs20x
	in.Handler = aws.String("index.handler")
	in.Environment = &types.Environment{Variables: map[string]string{"VAR_A": "1", "VAR_B": "two"}}
	layerZip := testkit.HandlerZip(t, "# a layer\n")
	for _, name := range []string{"deps", "tools"} {
		lv, err := c.PublishLayerVersion(ctx, &lambda.PublishLayerVersionInput{LayerName: aws.String(name), Content: &types.LayerVersionContentInput{ZipFile: layerZip}})
		if err != nil {
			t.Fatalf("PublishLayerVersion %s: %v", name, err)
		}
		in.Layers = append(in.Layers, aws.ToString(lv.LayerVersionArn))
	}
	in.VpcConfig = &types.VpcConfig{SubnetIds: []string{"subnet-1", "subnet-2"}, SecurityGroupIds: []string{"sg-1"}}
	in.FileSystemConfigs = []types.FileSystemConfig{{
		Arn:            aws.String("arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0123456789abcdef0"),
		LocalMountPath: aws.String("/mnt/efs"),
	}}
	in.KMSKeyArn = aws.String("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	in.TracingConfig = &types.TracingConfig{Mode: types.TracingModeActive}
	in.DeadLetterConfig = &types.DeadLetterConfig{TargetArn: aws.String("arn:aws:sqs:us-east-1:123456789012:dlq")}
	in.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(2048)}
	in.SnapStart = &types.SnapStart{ApplyOn: types.SnapStartApplyOnPublishedVersions}
	in.LoggingConfig = &types.LoggingConfig{LogFormat: types.LogFormatJson, ApplicationLogLevel: types.ApplicationLogLevelDebug}
	in.Architectures = []types.Architecture{types.ArchitectureArm64}
	in.Tags = map[string]string{"team": "core", "env": "test"}

	created := testkit.Create(t, c, in)
	got := testkit.WaitActive(t, c, "fn-full")
	for _, cfg := range []*types.FunctionConfiguration{
		{ // the create response, as a FunctionConfiguration
			Description: created.Description, MemorySize: created.MemorySize, Timeout: created.Timeout,
			Runtime: created.Runtime, Handler: created.Handler, Environment: created.Environment,
			Layers: created.Layers, VpcConfig: created.VpcConfig, FileSystemConfigs: created.FileSystemConfigs,
			KMSKeyArn: created.KMSKeyArn, TracingConfig: created.TracingConfig, DeadLetterConfig: created.DeadLetterConfig,
			EphemeralStorage: created.EphemeralStorage, SnapStart: created.SnapStart, LoggingConfig: created.LoggingConfig,
			Architectures: created.Architectures,
		},
		got.Configuration,
	} {
		if aws.ToString(cfg.Description) != "all the fields" || aws.ToInt32(cfg.MemorySize) != 1024 || aws.ToInt32(cfg.Timeout) != 42 {
			t.Errorf("Description/MemorySize/Timeout = %q/%d/%d", aws.ToString(cfg.Description), aws.ToInt32(cfg.MemorySize), aws.ToInt32(cfg.Timeout))
		}
		if cfg.Runtime != types.RuntimeNodejs20x || aws.ToString(cfg.Handler) != "index.handler" {
			t.Errorf("Runtime/Handler = %s/%s", cfg.Runtime, aws.ToString(cfg.Handler))
		}
		if cfg.Environment == nil || len(cfg.Environment.Variables) != 2 || cfg.Environment.Variables["VAR_B"] != "two" {
			t.Errorf("Environment = %+v", cfg.Environment)
		}
		var layers []string
		for _, l := range cfg.Layers {
			layers = append(layers, aws.ToString(l.Arn))
			if l.CodeSize != int64(len(layerZip)) {
				t.Errorf("layer %s CodeSize = %d, want %d", aws.ToString(l.Arn), l.CodeSize, len(layerZip))
			}
		}
		if !slices.Equal(layers, in.Layers) {
			t.Errorf("Layers = %v, want %v", layers, in.Layers)
		}
		if cfg.VpcConfig == nil || !slices.Equal(cfg.VpcConfig.SubnetIds, in.VpcConfig.SubnetIds) || !slices.Equal(cfg.VpcConfig.SecurityGroupIds, []string{"sg-1"}) {
			t.Errorf("VpcConfig = %+v", cfg.VpcConfig)
		}
		if len(cfg.FileSystemConfigs) != 1 || aws.ToString(cfg.FileSystemConfigs[0].LocalMountPath) != "/mnt/efs" ||
			aws.ToString(cfg.FileSystemConfigs[0].Arn) != aws.ToString(in.FileSystemConfigs[0].Arn) {
			t.Errorf("FileSystemConfigs = %+v", cfg.FileSystemConfigs)
		}
		if aws.ToString(cfg.KMSKeyArn) != aws.ToString(in.KMSKeyArn) {
			t.Errorf("KMSKeyArn = %q", aws.ToString(cfg.KMSKeyArn))
		}
		if cfg.TracingConfig == nil || cfg.TracingConfig.Mode != types.TracingModeActive {
			t.Errorf("TracingConfig = %+v", cfg.TracingConfig)
		}
		if cfg.DeadLetterConfig == nil || aws.ToString(cfg.DeadLetterConfig.TargetArn) != "arn:aws:sqs:us-east-1:123456789012:dlq" {
			t.Errorf("DeadLetterConfig = %+v", cfg.DeadLetterConfig)
		}
		if cfg.EphemeralStorage == nil || aws.ToInt32(cfg.EphemeralStorage.Size) != 2048 {
			t.Errorf("EphemeralStorage = %+v", cfg.EphemeralStorage)
		}
		if cfg.SnapStart == nil || cfg.SnapStart.ApplyOn != types.SnapStartApplyOnPublishedVersions {
			t.Errorf("SnapStart = %+v", cfg.SnapStart)
		}
		lc := cfg.LoggingConfig
		if lc == nil || lc.LogFormat != types.LogFormatJson || lc.ApplicationLogLevel != types.ApplicationLogLevelDebug ||
			lc.SystemLogLevel != types.SystemLogLevelInfo || aws.ToString(lc.LogGroup) != "/aws/lambda/fn-full" {
			t.Errorf("LoggingConfig = %+v, want JSON/DEBUG/INFO//aws/lambda/fn-full", lc)
		}
		if !slices.Equal(cfg.Architectures, []types.Architecture{types.ArchitectureArm64}) {
			t.Errorf("Architectures = %v", cfg.Architectures)
		}
	}
	if len(got.Tags) != 2 || got.Tags["team"] != "core" || got.Tags["env"] != "test" {
		t.Errorf("GetFunction Tags = %v", got.Tags)
	}

	_ = ctx
}
