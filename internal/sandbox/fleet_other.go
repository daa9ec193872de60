//go:build !linux

package sandbox

func (c *envCgroup) cpuUsec() (int64, bool) { return 0, false }
