package functions

import "slices"

// ownBuckets are the buckets the control plane writes; a snapshot is made
// from some of them.
var ownBuckets = []string{
	bFunctions, bVersions, bCodeRefs, bAliases, bPolicies, bInvokeConfigs, bLatestPublished,
	bLayers, bLayerNext, bLayerPolicies, bProvisioned, bScaling, bURLs, bURLIDs,
	bCodeSigning, bFnCodeSigning, bMeta, bReservations,
}

// StoreChanged is told that another lambdad sharing the store committed
// writes to buckets (nil: anything may have changed). Cached snapshots made
// from them are dropped, as after a write of this node's own.
func (s *Service) StoreChanged(buckets []string) {
	if buckets == nil || slices.ContainsFunc(buckets, func(b string) bool { return slices.Contains(ownBuckets, b) }) {
		s.gen.Add(1)
	}
}
