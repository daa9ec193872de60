//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on every
// Linux architecture lambdad builds for.
const userHZ = 100

// cpuUsec is the CPU time the cgroup's processes have used, in µs: v2's
// cpu.stat usage_usec (kept whether or not the cpu controller is on), v1's
// cpuacct.usage where cpu and cpuacct are one hierarchy, or else the sum
// of the user and system times of the processes it holds now (a process
// gone takes its time with it: callers treat a drop as none).
func (c *envCgroup) cpuUsec() (int64, bool) {
	if c == nil || len(c.dirs) == 0 {
		return 0, false
	}
	for _, d := range c.dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.stat")); err == nil {
			for line := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
					n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
					return n, err == nil
				}
			}
		}
		if b, err := os.ReadFile(filepath.Join(d, "cpuacct.usage")); err == nil {
			n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
			return n / 1000, err == nil
		}
	}
	procs, err := os.ReadFile(filepath.Join(c.dirs[0], "cgroup.procs"))
	if err != nil {
		return 0, false
	}
	var ticks int64
	for pid := range strings.FieldsSeq(string(procs)) {
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// Fields after the command (which may hold spaces): state is
		// the 3rd field, utime the 14th and stime the 15th.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + st
	}
	return ticks * (1e6 / userHZ), true
}
