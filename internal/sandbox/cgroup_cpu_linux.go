//go:build linux

package sandbox

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cfsPeriod is the CFS period, in µs, of an environment's CPU quota.
const cfsPeriod = 100000

// limitCPU caps ec, the cgroup of environment name, at cpus CPUs of CPU
// time per period (cpu.max on v2, the CFS quota on v1), before its
// process starts: the vCPUs of a Lambda Managed Instances environment
// (Function.CPUs). The memory and pids controllers are required for
// isolation; the cpu controller is not, so without it (no cpu hierarchy,
// or one this process cannot write) this is a no-op reporting false.
//
// Whole vCPUs are whole cores where the cpuset controller allows
// (pinCPUs): a CFS quota puts the environment in a cpu cgroup of its own,
// and on cgroup v1 group scheduling alone (quota or none) cost a warm
// invoke about 60 µs of wake-up latency here (BenchmarkInvokeGoEchoManaged:
// p50 ~340 µs with the quota, ~220 µs pinned, ~250 µs on demand unbounded).
// A fraction of a vCPU needs the quota.
func (r *cgroupRoot) limitCPU(ec *envCgroup, name string, cpus float64) bool {
	if cpus <= 0 {
		return false
	}
	if cpus == math.Trunc(cpus) && r.pinCPUs(ec, name, int(cpus)) {
		return true
	}
	if n := len(r.hostCPUs); n > 0 && cpus >= float64(n) {
		return true // the whole host is within its vCPUs: nothing to bound
	}
	quota := []byte(strconv.FormatInt(int64(cpus*cfsPeriod), 10))
	if r.v2 {
		r.cpuOnce.Do(func() {
			// Best effort: the cpu controller is enabled for environments
			// only where the kernel and our place in the tree allow it.
			_ = os.WriteFile(filepath.Join(cgroupFS, "cgroup.subtree_control"), []byte("+cpu"), 0)
			r.cpuOK = os.WriteFile(filepath.Join(r.base, "cgroup.subtree_control"), []byte("+cpu"), 0) == nil
		})
		if !r.cpuOK || len(ec.dirs) == 0 {
			return false
		}
		v := append(quota, " "+strconv.Itoa(cfsPeriod)...)
		return os.WriteFile(filepath.Join(ec.dirs[0], "cpu.max"), v, 0) == nil
	}
	r.cpuOnce.Do(func() { r.cpu = cpuHierarchyV1() })
	if r.cpu == "" {
		return false
	}
	d := filepath.Join(r.cpu, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		return false
	}
	// Added before the quota is set, so that remove takes the directory
	// away whatever happens next.
	ec.dirs = append(ec.dirs, d)
	if os.WriteFile(filepath.Join(d, "cpu.cfs_period_us"), []byte(strconv.Itoa(cfsPeriod)), 0) != nil ||
		os.WriteFile(filepath.Join(d, "cpu.cfs_quota_us"), quota, 0) != nil {
		return false
	}
	ec.join = append(ec.join, filepath.Join(d, "tasks"))
	return true
}

// cpuHierarchyV1 makes this instance's directory in the v1 cpu hierarchy,
// sweeping those of dead instances; "" when there is none to use.
func cpuHierarchyV1() string {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	me, err := selfOwner()
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(self)) {
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			if c != "cpu" {
				continue
			}
			// A joint mount ("cpu,cpuacct") has a "cpu" link to it.
			parent := filepath.Join(cgroupFS, "cpu", f[2])
			sweepDead(parent, me)
			d := filepath.Join(parent, me.tag())
			if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
				return ""
			}
			return d
		}
	}
	return ""
}
