package main

import "testing"

// TestBlobsSetting: --blobs takes s3://bucket[/prefix] only, from the flag
// or LAMBDAD_BLOBS; --code-cache-mb has its documented default.
func TestBlobsSetting(t *testing.T) {
	cfg, _, err := parseSettings(nil, lookupIn(nil))
	if err != nil || cfg.Blobs != "" || cfg.CodeCacheMB != 4096 {
		t.Fatalf("defaults: blobs %q cache %d, %v", cfg.Blobs, cfg.CodeCacheMB, err)
	}
	cfg, _, err = parseSettings(nil, lookupIn(map[string]string{"LAMBDAD_BLOBS": "s3://code/lambdad", "LAMBDAD_CODE_CACHE_MB": "64"}))
	if err != nil || cfg.Blobs != "s3://code/lambdad" || cfg.CodeCacheMB != 64 {
		t.Fatalf("environment: blobs %q cache %d, %v", cfg.Blobs, cfg.CodeCacheMB, err)
	}
	for _, bad := range []string{"", "code/lambdad", "https://code/x", "s3:///x", "s3://code/x?y=1"} {
		if _, _, err := parseSettings([]string{"--blobs", bad}, lookupIn(nil)); err == nil {
			t.Errorf("--blobs %q accepted", bad)
		}
	}
	if _, _, err := parseSettings([]string{"--code-cache-mb", "0"}, lookupIn(nil)); err == nil {
		t.Error("--code-cache-mb 0 accepted")
	}
}
