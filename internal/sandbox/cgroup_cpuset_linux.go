//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// pinCPUs confines ec, the cgroup of environment name, to n of the host's
// cores (cpuset.cpus), before its process starts. Environments take their
// cores round-robin, so that several spread over the host. The kernel
// bounds sched_setaffinity by the cpuset: a function cannot widen it. It
// reports false where it cannot (no cpuset controller, or n not fewer
// than the host's cores: then only a quota can bound it, and n cores of n
// need no bound, but the caller decides).
func (r *cgroupRoot) pinCPUs(ec *envCgroup, name string, n int) bool {
	r.cpusetOnce.Do(r.probeCpuset)
	if n <= 0 || n >= len(r.hostCPUs) {
		return false
	}
	start := int(r.nextCPU.Add(uint64(n)) - uint64(n))
	cores := make([]string, n)
	for i := range cores {
		cores[i] = strconv.Itoa(r.hostCPUs[(start+i)%len(r.hostCPUs)])
	}
	list := []byte(strings.Join(cores, ","))
	if r.v2 {
		if !r.cpusetOK || len(ec.dirs) == 0 {
			return false
		}
		return os.WriteFile(filepath.Join(ec.dirs[0], "cpuset.cpus"), list, 0) == nil
	}
	if r.cpuset == "" {
		return false
	}
	d := filepath.Join(r.cpuset, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		return false
	}
	ec.dirs = append(ec.dirs, d) // removed with the environment, whatever happens next
	// A v1 cpuset takes no task until it has both cores and memory nodes.
	if os.WriteFile(filepath.Join(d, "cpuset.cpus"), list, 0) != nil ||
		os.WriteFile(filepath.Join(d, "cpuset.mems"), []byte(r.mems), 0) != nil {
		return false
	}
	ec.join = append(ec.join, filepath.Join(d, "tasks"))
	return true
}

// probeCpuset finds the cores lambdad may use and a place in the cpuset
// controller for its environments (v2: enabled under r.base; v1: this
// instance's directory, with its parent's cores and memory nodes).
func (r *cgroupRoot) probeCpuset() {
	if r.v2 {
		_ = os.WriteFile(filepath.Join(cgroupFS, "cgroup.subtree_control"), []byte("+cpuset"), 0)
		if os.WriteFile(filepath.Join(r.base, "cgroup.subtree_control"), []byte("+cpuset"), 0) != nil {
			return
		}
		b, err := os.ReadFile(filepath.Join(r.base, "cpuset.cpus.effective"))
		if err != nil {
			return
		}
		r.hostCPUs = parseCPUList(string(b))
		r.cpusetOK = len(r.hostCPUs) > 0
		return
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return
	}
	me, err := selfOwner()
	if err != nil {
		return
	}
	for line := range strings.Lines(string(self)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 || f[1] != "cpuset" {
			continue
		}
		parent := filepath.Join(cgroupFS, "cpuset", f[2])
		cpus, err1 := os.ReadFile(filepath.Join(parent, "cpuset.effective_cpus"))
		mems, err2 := os.ReadFile(filepath.Join(parent, "cpuset.effective_mems"))
		if err1 != nil || err2 != nil {
			return
		}
		sweepDead(parent, me)
		d := filepath.Join(parent, me.tag())
		if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
			return
		}
		r.mems = strings.TrimSpace(string(mems))
		if os.WriteFile(filepath.Join(d, "cpuset.cpus"), cpus, 0) != nil ||
			os.WriteFile(filepath.Join(d, "cpuset.mems"), []byte(r.mems), 0) != nil {
			_ = os.Remove(d)
			return
		}
		r.hostCPUs = parseCPUList(string(cpus))
		r.cpuset = d
		return
	}
}

// parseCPUList reads the kernel's list format ("0-3,8,10-11").
func parseCPUList(s string) []int {
	var out []int
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out
}
