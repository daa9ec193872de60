package testkit

import "testing"

// TestDataDirOf: the directory StartProcess cleans up after a killed
// lambdad is the one lambdad used, by flag (both forms), by variable, or by
// default, with the flag winning and relative paths taken from wd.
func TestDataDirOf(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"default", nil, nil, "/wd/lambdad-data"},
		{"flag", nil, []string{"--data-dir", "/d"}, "/d"},
		{"flag with =", nil, []string{"--listen", "x", "--data-dir=rel"}, "/wd/rel"},
		{"variable", []string{"LAMBDAD_DATA_DIR=/v"}, nil, "/v"},
		{"flag over variable", []string{"LAMBDAD_DATA_DIR=/v"}, []string{"--data-dir", "/d"}, "/d"},
		{"flag without value", nil, []string{"--data-dir"}, "/wd/lambdad-data"},
	}
	for _, tt := range tests {
		if got := dataDirOf("/wd", tt.env, tt.args); got != tt.want {
			t.Errorf("%s: dataDirOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}
