package cluster

import (
	"cmp"
	"slices"
)

// Owner is the live node preferred for key (a function version's key, say)
// by rendezvous hashing: each node scores hash(key, node id) and the
// highest wins, so every node agrees given the same live view, and a node
// joining or leaving moves only the keys it wins or won. self reports
// whether that is this node. With no view yet, this node owns everything.
func (n *Node) Owner(key string) (owner Member, self bool) {
	ms := n.Members()
	if len(ms) == 0 {
		return n.Self(), true
	}
	var best uint64
	for i, m := range ms {
		if s := score(key, m.ID); i == 0 || s > best {
			owner, best = m, s
		}
	}
	return owner, owner.ID == n.cfg.NodeID
}

// Rank is every live node in key's order of preference, Owner first: where
// an invoke spills when the owner is busy, the same order on every node.
func (n *Node) Rank(key string) []Member {
	ms := n.Members()
	if len(ms) == 0 {
		return []Member{n.Self()}
	}
	type scored struct {
		m Member
		s uint64
	}
	ss := make([]scored, len(ms))
	for i, m := range ms {
		ss[i] = scored{m, score(key, m.ID)}
	}
	slices.SortFunc(ss, func(a, b scored) int { return cmp.Compare(b.s, a.s) })
	out := make([]Member, len(ss))
	for i, x := range ss {
		out[i] = x.m
	}
	return out
}

// score is FNV-1a over key, a separator and id, then mixed (splitmix64's
// finalizer) so that ids differing in one byte still score apart. The same
// on every node and every run, unlike hash/maphash.
func score(key, id string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
