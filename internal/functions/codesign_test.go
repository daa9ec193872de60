package functions

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/lambdad/lambdad/internal/fault"
	"github.com/lambdad/lambdad/internal/spec"
)

// TestCodeSigningWarnLogs: under Warn a deployment lambdad cannot verify
// goes through with a warning in lambdad's log (AWS's metric stand-in);
// under Enforce it is refused and nothing is logged as deployed.
func TestCodeSigningWarnLogs(t *testing.T) {
	f := newFixture(t)
	var log bytes.Buffer
	f.s.cfg.Logger = slog.New(slog.NewTextHandler(&log, nil))
	csc, err := f.s.CreateCodeSigning(f.ctx, f.id, &spec.CreateCodeSigningConfigRequest{
		AllowedPublishers: &spec.AllowedPublishers{SigningProfileVersionArns: []string{"arn:aws:signer:us-east-1:123456789012:/signing-profiles/p"}}})
	if err != nil {
		t.Fatal(err)
	}
	f.create("warned", func(in *spec.CreateFunctionRequest) { in.CodeSigningConfigArn = csc.CodeSigningConfigArn })
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "function=arn:aws:lambda:us-east-1:123456789012:function:warned") ||
		!strings.Contains(log.String(), "codeSigningConfig="+*csc.CodeSigningConfigArn) {
		t.Errorf("no warning for a Warn deployment: %q", log.String())
	}
	log.Reset()
	if _, err := f.s.UpdateCodeSigning(f.ctx, f.id, &spec.UpdateCodeSigningConfigRequest{CodeSigningConfigArn: csc.CodeSigningConfigArn,
		CodeSigningPolicies: &spec.CodeSigningPolicies{UntrustedArtifactOnDeployment: str("Enforce")}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.s.UpdateCode(f.ctx, f.ref("warned", ""), &spec.UpdateFunctionCodeRequest{ZipFile: testZip(t, "x = 2")}, nil)
	if !fault.Is(err, fault.CodeVerificationFailed) || log.Len() != 0 {
		t.Errorf("Enforce: %v, log %q", err, log.String())
	}
}
