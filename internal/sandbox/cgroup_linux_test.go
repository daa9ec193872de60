package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestSweepDead checks that cgroups left by a lambdad that died are removed,
// and nothing of a running one, of an old name, or still in use.
func TestSweepDead(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "30")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer live.Process.Kill()

	parent := t.TempDir()
	deadPID, livePID, self := strconv.Itoa(dead.Process.Pid), strconv.Itoa(live.Process.Pid), strconv.Itoa(os.Getpid())
	mk := func(parts ...string) {
		if err := os.MkdirAll(filepath.Join(append([]string{parent}, parts...)...), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk("lambdad-"+deadPID+"-0a0a0a0a", "e1")
	mk("lambdad-"+deadPID+"-0a0a0a0a", "e2")
	mk("lambdad-"+deadPID+"-busybusy", "e1", "in-use") // rmdir refuses it, as a cgroup with a process
	mk("lambdad-" + livePID + "-1b1b1b1b")
	mk("lambdad-" + self + "-2c2c2c2c")
	mk("lambdad-deadbeef") // the old name, without a pid
	mk("other")

	if n := sweepDead(parent); n != 1 {
		t.Errorf("removed %d, want 1", n)
	}
	for name, want := range map[string]bool{
		"lambdad-" + deadPID + "-0a0a0a0a": false,
		"lambdad-" + deadPID + "-busybusy": true,
		"lambdad-" + livePID + "-1b1b1b1b": true,
		"lambdad-" + self + "-2c2c2c2c":    true,
		"lambdad-deadbeef":                 true,
		"other":                            true,
	} {
		if _, err := os.Stat(filepath.Join(parent, name)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", name, err == nil, want)
		}
	}
}
