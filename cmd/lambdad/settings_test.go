package main

import (
	"flag"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
)

func lookupIn(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// TestSettingsFromEnvironment checks that good LAMBDAD_* values are used,
// and that a flag wins over its variable.
func TestSettingsFromEnvironment(t *testing.T) {
	env := map[string]string{
		"LAMBDAD_CONCURRENCY_LIMIT":   "7",
		"LAMBDAD_IDLE_TIMEOUT":        "90s",
		"LAMBDAD_TRANSITION":          "0s",
		"LAMBDAD_ISOLATION":           "off",
		"LAMBDAD_LOG_LEVEL":           "debug",
		"LAMBDAD_BODY_MEMORY_MB":      "3",
		"LAMBDAD_CREDENTIALS":         "AKID:secret, AKID2:other",
		"LAMBDAD_EVENT_RETRY_BASE":    "5ms",
		"LAMBDAD_EVENT_THROTTLE_BASE": "6ms",
		"LAMBDAD_READ_TIMEOUT":        "2m",
	}
	cfg, lv, err := parseSettings(nil, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConcurrencyLimit != 7 || cfg.IdleTimeout != 90*time.Second || cfg.Transition != 0 ||
		cfg.Isolation != "off" || lv != slog.LevelDebug || cfg.BodyMemory != 3<<20 ||
		cfg.RetryBase != 5*time.Millisecond || cfg.ThrottleBase != 6*time.Millisecond || cfg.ReadTimeout != 2*time.Minute {
		t.Errorf("environment not applied: %+v level %v", cfg, lv)
	}
	if len(cfg.Credentials) != 2 || cfg.Credentials["AKID"] != "secret" || cfg.Credentials["AKID2"] != "other" {
		t.Errorf("credentials = %v", cfg.Credentials)
	}
	cfg, _, err = parseSettings([]string{"--concurrency-limit", "9", "--isolation=auto"}, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConcurrencyLimit != 9 || cfg.Isolation != "auto" {
		t.Errorf("flags did not win: limit %d isolation %q", cfg.ConcurrencyLimit, cfg.Isolation)
	}
	cfg, lv, err = parseSettings(nil, lookupIn(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConcurrencyLimit != 1000 || cfg.Isolation != "auto" || lv != slog.LevelInfo || cfg.Credentials != nil {
		t.Errorf("defaults: %+v level %v", cfg, lv)
	}
}

// TestEveryFlagNamesItsVariable keeps each flag's usage text honest about
// the variable applyEnv derives from its name.
func TestEveryFlagNamesItsVariable(t *testing.T) {
	var st settings
	n := 0
	st.flags().VisitAll(func(f *flag.Flag) {
		n++
		if !strings.Contains(f.Usage, "("+envName(f.Name)+")") {
			t.Errorf("--%s: usage %q does not name %s", f.Name, f.Usage, envName(f.Name))
		}
	})
	if n == 0 {
		t.Fatal("no flags")
	}
}

// TestNodeBinariesSetting checks --node-binaries and LAMBDAD_NODE_BINARIES:
// a comma list, trimmed, the flag winning; an empty item stops lambdad.
func TestNodeBinariesSetting(t *testing.T) {
	env := map[string]string{"LAMBDAD_NODE_BINARIES": "/opt/lambdad-node22/bin/node, node24"}
	cfg, _, err := parseSettings(nil, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Nodes, []string{"/opt/lambdad-node22/bin/node", "node24"}) {
		t.Errorf("Nodes = %q", cfg.Nodes)
	}
	cfg, _, err = parseSettings([]string{"--node-binaries", "/usr/local/bin/node22"}, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Nodes, []string{"/usr/local/bin/node22"}) {
		t.Errorf("the flag did not win: Nodes = %q", cfg.Nodes)
	}
	if cfg, _, err = parseSettings(nil, lookupIn(nil)); err != nil || cfg.Nodes != nil {
		t.Errorf("default: Nodes = %q, %v; want none", cfg.Nodes, err)
	}
	_, _, err = parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_NODE_BINARIES": "a,,b"}))
	if want := `invalid value "a,,b" for LAMBDAD_NODE_BINARIES: an empty item in the list`; err == nil || err.Error() != want {
		t.Errorf("an empty item: %v, want %q", err, want)
	}
}

// TestOrganizationsSetting checks --organizations and LAMBDAD_ORGANIZATIONS:
// ACCOUNT:ORG pairs, both checked, the flag winning.
func TestOrganizationsSetting(t *testing.T) {
	env := map[string]string{"LAMBDAD_ORGANIZATIONS": "111111111111:o-abcdefghij, 222222222222:o-abcdefghij"}
	cfg, _, err := parseSettings(nil, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Organizations) != 2 || cfg.Organizations["111111111111"] != "o-abcdefghij" || cfg.Organizations["222222222222"] != "o-abcdefghij" {
		t.Errorf("organizations = %v", cfg.Organizations)
	}
	cfg, _, err = parseSettings([]string{"--organizations", "333333333333:o-0123456789"}, lookupIn(env))
	if err != nil || len(cfg.Organizations) != 1 || cfg.Organizations["333333333333"] != "o-0123456789" {
		t.Errorf("flag: %v %v", err, cfg.Organizations)
	}
	for _, bad := range []string{"111111111111", "1111:o-abcdefghij", "111111111111:org-1", "111111111111:o-abc"} {
		if _, _, err := parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_ORGANIZATIONS": bad})); err == nil || !strings.Contains(err.Error(), "LAMBDAD_ORGANIZATIONS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestAccountSetting checks --account and LAMBDAD_ACCOUNT: a 12-digit id,
// 000000000000 by default, the flag winning.
func TestAccountSetting(t *testing.T) {
	if cfg, _, err := parseSettings(nil, lookupIn(nil)); err != nil || cfg.Account != "000000000000" {
		t.Errorf("default: %q %v", cfg.Account, err)
	}
	env := map[string]string{"LAMBDAD_ACCOUNT": "123456789012"}
	if cfg, _, err := parseSettings(nil, lookupIn(env)); err != nil || cfg.Account != "123456789012" {
		t.Errorf("environment: %q %v", cfg.Account, err)
	}
	if cfg, _, err := parseSettings([]string{"--account", "111122223333"}, lookupIn(env)); err != nil || cfg.Account != "111122223333" {
		t.Errorf("flag: %q %v", cfg.Account, err)
	}
	_, _, err := parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_ACCOUNT": "FOOBARKEY"}))
	if want := `invalid value "FOOBARKEY" for LAMBDAD_ACCOUNT: not a 12-digit account id`; err == nil || err.Error() != want {
		t.Errorf("bad account: %v", err)
	}
}

// TestFunctionURLHostSetting checks --function-url-host and
// LAMBDAD_FUNCTION_URL_HOST: localhost by default, path, or a domain.
func TestFunctionURLHostSetting(t *testing.T) {
	if cfg, _, err := parseSettings(nil, lookupIn(nil)); err != nil || cfg.FunctionURLHost != "localhost" {
		t.Errorf("default: %q %v", cfg.FunctionURLHost, err)
	}
	for _, ok := range []string{"path", "127.0.0.1.nip.io", "lambdad.test"} {
		if cfg, _, err := parseSettings([]string{"--function-url-host", ok}, lookupIn(nil)); err != nil || cfg.FunctionURLHost != ok {
			t.Errorf("%q: %q %v", ok, cfg.FunctionURLHost, err)
		}
	}
	for _, bad := range []string{"", "http://x", "a/b", "-x.test", "x..y"} {
		if _, _, err := parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_FUNCTION_URL_HOST": bad})); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAdminKeysSetting: --admin-keys must name keys of --credentials.
func TestAdminKeysSetting(t *testing.T) {
	cfg, _, err := parseSettings([]string{"--credentials", "A:s,B:t", "--admin-keys", "A"}, lookupIn(nil))
	if err != nil || !slices.Equal(cfg.AdminKeys, []string{"A"}) {
		t.Errorf("%v %v", cfg.AdminKeys, err)
	}
	if _, _, err := parseSettings([]string{"--admin-keys", "A"}, lookupIn(nil)); err == nil {
		t.Error("an admin key without --credentials accepted")
	}
}

// TestMSKBootstrapBrokersSetting checks --msk-bootstrap-brokers and
// LAMBDAD_MSK_BOOTSTRAP_BROKERS: CLUSTER_ARN=HOST:PORT,... entries split by
// ";", each part checked, the flag winning.
func TestMSKBootstrapBrokersSetting(t *testing.T) {
	a := "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6fa1c9f2-3b1e-4c1a-9d6e-1f2a3b4c5d6e-2"
	b := "arn:aws:kafka:eu-west-1:123456789012:cluster/other/x-1"
	env := map[string]string{"LAMBDAD_MSK_BOOTSTRAP_BROKERS": a + "=b-1.local:9092, b-2.local:9092; " + b + "=127.0.0.1:19092"}
	cfg, _, err := parseSettings(nil, lookupIn(env))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.MSKBootstrapBrokers
	if len(got) != 2 || strings.Join(got[a], ",") != "b-1.local:9092,b-2.local:9092" || strings.Join(got[b], ",") != "127.0.0.1:19092" {
		t.Errorf("brokers = %v", got)
	}
	cfg, _, err = parseSettings([]string{"--msk-bootstrap-brokers", b + "=[::1]:9092"}, lookupIn(env))
	if err != nil || len(cfg.MSKBootstrapBrokers) != 1 || cfg.MSKBootstrapBrokers[b][0] != "[::1]:9092" {
		t.Errorf("flag: %v %v", err, cfg.MSKBootstrapBrokers)
	}
	for _, bad := range []string{
		"b-1.local:9092",       // no ARN
		a,                      // no brokers
		a + "=",                // empty broker list
		a + "=b-1.local",       // no port
		a + "=b-1.local:0",     // port out of range
		a + "=b-1.local:9092,", // empty broker
		"arn:aws:sqs:us-east-1:123456789012:q=h:1",               // not a cluster
		"arn:aws:kafka:us-east-1:123456789012:cluster/=h:1",      // no name
		"arn:aws:kafka:us-east-1:123456789012:cluster/a/b/c=h:1", // too many parts
		a + "=h:1;" + a + "=h:2",                                 // named twice
	} {
		if _, _, err := parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_MSK_BOOTSTRAP_BROKERS": bad})); err == nil || !strings.Contains(err.Error(), "LAMBDAD_MSK_BOOTSTRAP_BROKERS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
