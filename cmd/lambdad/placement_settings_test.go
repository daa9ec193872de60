package main

import "testing"

// TestSpillAfterSetting: --spill-after and LAMBDAD_SPILL_AFTER set the
// cluster's spill threshold (0, the default, leaves it to the server);
// negative or non-numeric values are refused at start.
func TestSpillAfterSetting(t *testing.T) {
	cfg, _, err := parseSettings(nil, lookupIn(nil))
	if err != nil || cfg.Cluster.SpillAfter != 0 {
		t.Fatalf("default: %d %v", cfg.Cluster.SpillAfter, err)
	}
	cfg, _, err = parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_SPILL_AFTER": "7"}))
	if err != nil || cfg.Cluster.SpillAfter != 7 {
		t.Fatalf("from the environment: %d %v", cfg.Cluster.SpillAfter, err)
	}
	cfg, _, err = parseSettings([]string{"--spill-after", "3"}, lookupIn(map[string]string{"LAMBDAD_SPILL_AFTER": "7"}))
	if err != nil || cfg.Cluster.SpillAfter != 3 {
		t.Fatalf("flag over variable: %d %v", cfg.Cluster.SpillAfter, err)
	}
	for _, bad := range []string{"-1", "many"} {
		if _, _, err := parseSettings([]string{"--spill-after", bad}, lookupIn(nil)); err == nil {
			t.Errorf("--spill-after %s accepted", bad)
		}
	}
}
