//go:build !linux

package sandbox

const peerChildEnv = "SANDBOX_PEER_TEST_CHILD"

func peerChild(string) int { return 2 }
